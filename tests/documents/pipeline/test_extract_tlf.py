"""Results tables (TLFs): one table block with its number, title, population, header rows and
footnotes, whatever the file type; quotes of its title and rows verify where the block says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from documents.pipeline.errors import SourceError
from documents.pipeline.extract import alnum, extract_text, source_from_json, source_to_json
from documents.pipeline.qc import verify_citation
from documents.pipeline.types import Block, Citation, ExtractedSource, SourceDescriptor
from tests.fixtures import tlfs
from tests.helpers.citations import citation_verifies

CORPUS = Path(__file__).resolve().parents[3].parent / "shared"
corpus = pytest.mark.skipif(
    not (CORPUS / "corpus").is_dir(), reason=f"shared corpus not found at {CORPUS}"
)


def extract(path: Path) -> ExtractedSource:
    return extract_text(
        SourceDescriptor(
            file_path=f"org/documents/{path.name}",
            file_name=path.name,
            sha256="0" * 64,
            file_type=path.suffix.lstrip("."),
            local_path=str(path),
        ),
        in_process=True,
    )


def the_table(src: ExtractedSource) -> Block:
    tables = [b for b in src.blocks if b.kind == "table" and b.table_number]
    assert len(tables) == 1, [b.caption for b in tables]
    return tables[0]


def data_rows(table: Block) -> list[tuple[str, ...]]:
    end = len(table.rows) - len(table.footnotes)
    return [r for r in table.rows[table.header_rows : end] if any(r)]


BUILDERS = {
    "rtf": tlfs.build_sas_rtf,
    "out": tlfs.build_listing,
    "pdf": tlfs.build_tlf_pdf,
    "xlsx": tlfs.build_tlf_xlsx,
}


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_a_results_table_is_one_block_with_its_parts(tmp_path, kind) -> None:
    path = BUILDERS[kind](tmp_path / f"t_pfs.{kind}")
    src = extract(path)
    table = the_table(src)
    assert table.caption == tlfs.CAPTION
    assert table.table_number == tlfs.NUMBER
    assert table.population == tlfs.POPULATION
    # Joined over its two pages or sections: every data row once, in order.
    rows = data_rows(table)
    assert [r[0] for r in rows] == [r[0] for r in tlfs.ROWS]
    assert [alnum(" ".join(r)) for r in rows] == [alnum(" ".join(r)) for r in tlfs.ROWS]
    header = " ".join(" ".join(r) for r in table.rows[: table.header_rows])
    assert "N=305" in header.replace(" ", "") and "N=151" in header.replace(" ", "")
    assert all(alnum(f) in alnum(" ".join(table.footnotes)) for f in tlfs.FOOTNOTES)
    again = source_from_json(json.loads(json.dumps(source_to_json(src))))
    assert again == src


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_quotes_of_the_title_and_rows_verify_where_the_block_points(tmp_path, kind) -> None:
    path = BUILDERS[kind](tmp_path / f"t_pfs.{kind}")
    src = extract(path)
    table = the_table(src)
    quotes = [(0, tlfs.TITLE)] + [
        (table.rows.index(r), " ".join(r)) for r in (data_rows(table)[0], data_rows(table)[-1])
    ]
    for row_index, quote in quotes:
        if src.file_type == "pdf":
            page = table.row_pages[row_index] if table.row_pages else table.page
            citation = Citation(src.file_path, path.name, page, None, quote)
            assert alnum(quote) in alnum(src.pages[page - 1]), quote
        else:
            block = table.block + row_index
            citation = Citation(src.file_path, path.name, None, block, quote)
        assert verify_citation(citation, [src]), (kind, quote)
        assert citation_verifies(citation.as_dict(), {path.name: path}), (kind, quote)
    if src.file_type == "pdf":
        assert set(table.row_pages) == {1, 2}


def test_a_text_file_that_is_binary_is_refused(tmp_path) -> None:
    path = tmp_path / "data.txt"
    path.write_bytes(b"\x00\x01\x02binary\x00")
    with pytest.raises(SourceError) as err:
        extract(path)
    assert err.value.code == "invalid_file_type"


def test_an_rtf_without_its_header_is_refused(tmp_path) -> None:
    path = tmp_path / "fake.rtf"
    path.write_text("just text, not RTF")
    with pytest.raises(SourceError) as err:
        extract(path)
    assert err.value.code == "invalid_file_type"


def test_plain_text_notes_are_paragraphs(tmp_path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("First note about the study.\n\nSecond note,\nwrapped over two lines.\n")
    src = extract(path)
    assert [b.text for b in src.blocks] == [
        "First note about the study.",
        "Second note, wrapped over two lines.",
    ]
    assert [b.block for b in src.blocks] == [1, 2]


# --- the corpus and the dev set -------------------------------------------------------------


@corpus
def test_the_lzzt_rtf_and_listing_outputs(tmp_path) -> None:
    primary = the_table(extract(CORPUS / "corpus" / "tlf" / "tlf-primary.rtf"))
    assert primary.table_number == "14-3.01"
    assert primary.caption.startswith("Table 14-3.01 Primary Endpoint Analysis: ADAS Cog (11)")
    assert primary.population == "Population: Efficacy"
    assert ("n", "79", "81", "74") in primary.rows
    assert any(f.startswith("[1] Based on Analysis of covariance") for f in primary.footnotes)
    listing = extract(CORPUS / "corpus" / "tlf" / "tlf-demographic.out")
    (table,) = [b for b in listing.blocks if b.kind == "table"]
    assert table.population == "Population: Intent-to-Treat"
    assert ("Mean (sd)", "75.21 (8.59)", "75.67 (8.29)", "74.38 (7.89)") in table.rows
    efficacy = extract(CORPUS / "corpus" / "tlf" / "tlf-efficacy.rtf")
    table, pairwise = [b for b in efficacy.blocks if b.kind == "table"]
    assert table.caption == "ANCOVA of Change from Baseline at Week 20"
    # The spanning headers sit over their own columns (\cellx), the values under them.
    spans, labels = table.rows[1], table.rows[2]
    row = next(r for r in table.rows if r[0] == "Placebo")
    assert [(spans[k], labels[k], row[k]) for k in (1, 2, 3, 4)] == [
        ("Baseline[a]", "N", "86"),
        ("Baseline[a]", "Mean (SD)", "5.6 ( 2.14)"),
        ("Week 20", "N", "65"),
        ("Week 20", "Mean (SD)", "5.8 ( 1.50)"),
    ]
    # The pairwise comparison under it has its own layout: a table of its own.
    assert pairwise.rows == (
        ("Pairwise Comparison", "Difference in LS Mean (95% CI)[b]", "p-Value"),
        ("Xanomeline High Dose vs. Placebo", "0.07 (-0.50, 0.63)", "0.822"),
    )


@corpus
def test_the_dev_set_results_pdf_and_workbook(tmp_path) -> None:
    pdf = extract(CORPUS / "devset" / "studyD" / "results.pdf")
    tables = [b for b in pdf.blocks if b.kind == "table"]
    assert len(tables) == 20 and all(b.table_number and b.population for b in tables)
    pages = [alnum(p) for p in pdf.pages]
    for b in tables:
        assert alnum(b.caption) in pages[b.page - 1]
        for i, row in enumerate(b.rows):
            page = b.row_pages[i] if b.row_pages else b.page
            assert alnum(" ".join(row)) in pages[page - 1], (b.table_number, row)
    index = [b.text for b in pdf.blocks if b.page == 1]
    assert not any("14.1.1.1" in t or "Participant Disposition" in t for t in index), index
    xlsx = extract(CORPUS / "devset" / "studyC" / "results.xlsx")
    sheets = [b for b in xlsx.blocks if b.table_number]
    assert len(sheets) == 19 and all(b.population for b in sheets)


def _rtf_row(cells: list[str], edges: list[int]) -> str:
    defs = "".join(f"\\cellx{e}" for e in edges)
    body = "".join(f"\\pard\\intbl\\qc{{\\fs18 {c}}}\\cell\n" for c in cells)
    return "\\trowd\\trgaph108" + defs + "\n" + body + "\\row\n"


def test_rtf_spanning_headers_sit_over_their_columns_and_another_layout_is_its_own_table(
    tmp_path: Path,
) -> None:
    """r2rtf and SAS write a header cell over two columns as one wide cell (its right edge,
    \\cellx, is the second column's): the cell is repeated over both columns, so that each value
    sits under its header; a comparison block with another layout is a table of its own."""
    fine = [2000, 2500, 3700, 4200, 5400]
    rtf = (
        "{\\rtf1\\ansi\\deff0{\\fonttbl{\\f0 Times;}}\n"
        "{\\pard\\qc{\\f0 ANCOVA of Change from Baseline at Week 20}\\par}\n"
        + _rtf_row(["", "Baseline", "Week 20"], [2000, 3701, 5399])
        + _rtf_row(["Treatment", "N", "Mean (SD)", "N", "Mean (SD)"], fine)
        + _rtf_row(["Drug A", "84", "5.4 (1.34)", "31", "5.8 (1.61)"], fine)
        + _rtf_row(["Placebo", "86", "5.6 (2.14)", "65", "5.8 (1.50)"], fine)
        + _rtf_row(["Pairwise Comparison", "Difference (95% CI)", "p-Value"], [3700, 4900, 5400])
        + _rtf_row(["Drug A vs. Placebo", "0.07 (-0.50, 0.63)", "0.822"], [3700, 4900, 5400])
        + "}"
    )
    path = tmp_path / "t_ancova.rtf"
    path.write_text(rtf, encoding="latin-1")
    main, pairwise = [b for b in extract(path).blocks if b.kind == "table"]
    assert main.caption == "ANCOVA of Change from Baseline at Week 20"
    spans = next(r for r in main.rows if "Baseline" in r)
    placebo = next(r for r in main.rows if r[0] == "Placebo")
    assert list(zip(spans[1:], placebo[1:], strict=True)) == [
        ("Baseline", "86"),
        ("Baseline", "5.6 (2.14)"),
        ("Week 20", "65"),
        ("Week 20", "5.8 (1.50)"),
    ]
    assert pairwise.rows[1] == ("Drug A vs. Placebo", "0.07 (-0.50, 0.63)", "0.822")


def _three_column_rtf(path: Path, title: str, rows: list[list[str]], footnote: str) -> Path:
    """An RTF results table: a title paragraph, rows on one three-column grid, a footnote
    paragraph (each given as RTF source)."""
    path.write_text(
        "{\\rtf1\\ansi\\deff0{\\fonttbl{\\f0 Times;}}\n"
        f"{{\\pard\\qc{{\\f0 {title}}}\\par}}\n"
        + "".join(_rtf_row(row, [2000, 3700, 5400]) for row in rows)
        + f"{{\\pard\\ql{{\\f0 {footnote}}}\\par}}\n}}",
        encoding="latin-1",
    )
    return path


def test_rtf_superscript_footnote_markers_read_as_brackets_not_glued_letters(
    tmp_path: Path,
) -> None:
    """SAS and r2rtf set footnote markers as superscript letters ("Baseline{\\super a}"):
    flattened, the letter was glued to its word ("Baselinea"). They read as "[a]", which the
    results code strips from labels; exponents (digits) and ordinals after a digit stay."""
    path = _three_column_rtf(
        tmp_path / "t_adas.rtf",
        "Table 14-3.01 ADAS-Cog (11) Change from Baseline to Week 24",
        [
            ["Visit", "Baseline{\\super a}", "Week 24\\super b\\nosupersub"],
            ["Placebo", "24.1 (12.2)", "26.7 (13.4)"],
            ["Platelets (10{\\super 9}/L)", "231", "228"],
        ],
        "{\\super a} Observed cases at the 5{\\super th} visit.",
    )
    text = "\n".join(
        " | ".join(b.rows[k]) if b.kind == "table" else b.text
        for b in extract(path).blocks
        for k in (range(len(b.rows)) if b.kind == "table" else [0])
    )
    assert "Baseline[a]" in text and "Week 24[b]" in text
    assert "Baselinea" not in text
    assert "[a] Observed cases at the 5th visit." in text
    assert "10 9/L" in text or "109/L" in text, "an exponent is not a footnote marker"
    assert "[9]" not in text and "[th]" not in text


def test_rtf_footnote_lines_under_a_table_are_footnotes_of_their_own(tmp_path: Path) -> None:
    """SAS writes a table's footnotes as one paragraph with a line break (\\line) after each;
    read as one run-on footnote, the draft printed "... = 1.30 [a] Table is based on ... [b]
    Based on ..." as one sentence. Each line is a footnote; elsewhere a \\line is a space."""
    path = _three_column_rtf(
        tmp_path / "t_npi.rtf",
        "Table 14-3.02 Mean NPI-X Total\\line Change from Baseline",
        [
            ["Visit", "Placebo", "Drug A"],
            ["Week 8", "-1.2 (3.4)", "-2.5 (3.9)"],
            ["Week 24", "-1.0 (3.1)", "-2.9 (4.0)"],
        ],
        "Root Mean Squared Error of Change = 1.30\\line {\\super a} Based on observed cases."
        "\\line {\\super b} Based on an ANCOVA model.",
    )
    table = the_table(extract(path))
    assert table.caption.startswith("Table 14-3.02 Mean NPI-X Total Change from Baseline")
    assert list(table.footnotes) == [
        "Root Mean Squared Error of Change = 1.30",
        "[a] Based on observed cases.",
        "[b] Based on an ANCOVA model.",
    ]
