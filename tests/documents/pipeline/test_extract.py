"""Extraction: structure recovered from PDFs, DOCX and XLSX, locations, and every error code."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from documents.pipeline.errors import ERROR_MESSAGES, SourceError
from documents.pipeline.extract import (
    EXTRACTOR_VERSION,
    alnum,
    extract_text,
    source_from_json,
    source_to_json,
    table_row_block,
)
from documents.pipeline.safety import Limits
from documents.pipeline.types import Block, ExtractedSource, SourceDescriptor
from tests.fixtures import builders

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpus"
corpus = pytest.mark.skipif(
    not CORPUS.is_dir(),
    reason=f"shared corpus not found at {CORPUS} (../shared beside the project)",
)


def describe(path: Path, file_type: str | None = None) -> SourceDescriptor:
    return SourceDescriptor(
        file_path=f"org/documents/{path.name}",
        file_name=path.name,
        sha256="0" * 64,
        file_type=file_type or path.suffix.lstrip(".").lower(),
        local_path=str(path),
    )


def extract(path: Path, **kwargs) -> ExtractedSource:
    return extract_text(describe(path), **kwargs)


def error_code(path: Path, file_type: str | None = None, **kwargs) -> str:
    with pytest.raises(SourceError) as err:
        extract_text(describe(path, file_type), **kwargs)
    assert path.name in err.value.message
    assert err.value.code in ERROR_MESSAGES
    return err.value.code


def python_docx_blocks(path: Path) -> list[str]:
    """Block texts as an independent reader numbers them (python-docx; docs/api.md)."""
    from tests.helpers.citations import docx_block_texts

    return docx_block_texts(str(path))


def openpyxl_blocks(path: Path) -> list[str]:
    import openpyxl

    wb = openpyxl.load_workbook(str(path), read_only=True, data_only=True)
    return [
        "".join("" if v is None else str(v) for v in row)
        for ws in wb.worksheets
        for row in ws.iter_rows(values_only=True)
    ]


def assert_blocks_agree_with_reader(src: ExtractedSource, reference: list[str]) -> None:
    """Every block, and every table row, lies in the reader's block of the same number."""

    def ascii_alnum(text: str) -> str:
        return re.sub(r"[^0-9a-z]", "", text.lower())

    for b in src.blocks:
        assert b.block is not None and b.page is None
        units = [(b.block + k, " | ".join(r)) for k, r in enumerate(b.rows)] or [(b.block, b.text)]
        for number, text in units:
            assert 1 <= number <= len(reference), (number, text)
            assert ascii_alnum(text) in ascii_alnum(reference[number - 1]), (number, text)


def headings(src: ExtractedSource) -> dict[str, Block]:
    return {b.text: b for b in src.blocks if b.kind == "heading"}


def assert_blocks_lie_on_their_pages(src: ExtractedSource) -> None:
    pages = [alnum(p) for p in src.pages]
    for b in src.blocks:
        assert b.page is not None and b.block is None
        assert alnum(b.text) in pages[b.page - 1], (b.page, b.text)


# --- PDF: structure -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def protocol_pdf(tmp_path_factory) -> ExtractedSource:
    path = builders.build_protocol_pdf(tmp_path_factory.mktemp("pdf") / "protocol.pdf")
    return extract(path)


def test_numbered_headings_are_found_with_their_levels(protocol_pdf: ExtractedSource) -> None:
    found = headings(protocol_pdf)
    expected = {
        "Introduction": ("1", 1),
        "Objectives": ("2", 1),
        "Primary Objective": ("2.1", 2),
        "Study Population": ("5", 1),
        "Inclusion Criteria": ("5.1", 2),
        "Exclusion Criteria": ("5.2", 2),
        "Blinding": ("4.1", 2),
        "Sample Size": ("6.1", 2),
        "Analysis of the Primary Endpoint": ("6.2.1", 3),
    }
    for title, (number, level) in expected.items():
        assert title in found, title
        assert (found[title].number, found[title].level) == (number, level)


def test_blocks_carry_the_path_of_their_enclosing_headings(protocol_pdf: ExtractedSource) -> None:
    item = next(b for b in protocol_pdf.blocks if b.text.startswith("Adults aged 18 to 75"))
    assert item.heading_path == ("5 Study Population", "5.1 Inclusion Criteria")
    heading = headings(protocol_pdf)["Inclusion Criteria"]
    assert heading.heading_path == ("5 Study Population", "5.1 Inclusion Criteria")
    analysis = next(b for b in protocol_pdf.blocks if "Cochran-Mantel-Haenszel" in b.text)
    assert analysis.heading_path == (
        "6 Statistical Methods",
        "6.2 Primary Endpoint",
        "6.2.1 Analysis of the Primary Endpoint",
    )


def test_the_title_page_title_is_one_heading_and_the_source_title(
    protocol_pdf: ExtractedSource,
) -> None:
    assert protocol_pdf.title == builders.PROTOCOL["title"]
    first = protocol_pdf.blocks[0]
    assert first.kind == "heading" and first.text == builders.PROTOCOL["title"]


def test_running_headers_and_page_numbers_are_not_content(protocol_pdf: ExtractedSource) -> None:
    header = builders.PROTOCOL["header"]
    assert all(header in page for page in protocol_pdf.pages)  # pages stay verbatim
    texts = [b.text for b in protocol_pdf.blocks]
    assert not any("Confidential" in t for t in texts)
    assert not any(t.startswith("Page ") and " of 6" in t for t in texts)


def test_table_of_contents_entries_are_not_content(protocol_pdf: ExtractedSource) -> None:
    assert "....." in protocol_pdf.pages[1]
    assert not any(b.page == 2 for b in protocol_pdf.blocks)
    assert not any("...." in b.text for b in protocol_pdf.blocks)
    assert "Table of Contents" not in headings(protocol_pdf)
    # Each heading appears once: from the body, never from the TOC.
    titles = [b.text for b in protocol_pdf.blocks if b.kind == "heading"]
    assert titles.count("Inclusion Criteria") == 1


def test_wrapped_lines_join_into_paragraphs_and_hyphenation_is_undone(
    protocol_pdf: ExtractedSource,
) -> None:
    treatment = next(b for b in protocol_pdf.blocks if "once daily for 12 weeks" in b.text)
    assert "study treatment once daily" in treatment.text
    assert "treat-" not in treatment.text
    design = next(b for b in protocol_pdf.blocks if b.text.startswith("This is a multicenter"))
    assert design.text.endswith("a matching placebo arm.")  # three source lines, one block
    assert "double-blind" in design.text  # a real hyphen stays


def test_list_items_keep_their_labels(protocol_pdf: ExtractedSource) -> None:
    inclusion = [
        b
        for b in protocol_pdf.blocks
        if b.kind == "list_item" and b.heading_path[-1:] == ("5.1 Inclusion Criteria",)
    ]
    assert [b.number for b in inclusion] == ["1.", "2.", "3."]
    assert inclusion[1].text.startswith("A diagnosis of chronic plaque psoriasis")
    assert inclusion[1].text.endswith("at the screening visit.")  # the wrapped line is joined
    bullets = [
        b for b in protocol_pdf.blocks if b.heading_path[-1:] == ("2.2 Secondary Objectives",)
    ]
    assert [b.kind for b in bullets[1:]] == ["list_item", "list_item"]
    assert all(b.number == "-" for b in bullets[1:])


def test_every_block_is_on_exactly_one_page_and_its_text_is_that_pages(
    protocol_pdf: ExtractedSource,
) -> None:
    assert protocol_pdf.page_count == 6 and len(protocol_pdf.pages) == 6
    assert [b.index for b in protocol_pdf.blocks] == list(range(1, len(protocol_pdf.blocks) + 1))
    assert_blocks_lie_on_their_pages(protocol_pdf)


def test_a_paragraph_over_a_page_break_is_one_block_per_page(protocol_pdf: ExtractedSource) -> None:
    start = next(b for b in protocol_pdf.blocks if b.text.startswith("Study treatment will be"))
    rest = next(b for b in protocol_pdf.blocks if b.text.startswith("record every returned"))
    assert (start.page, rest.page) == (4, 5)


def test_extraction_in_the_sandbox_equals_extraction_in_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = builders.build_sap_pdf(tmp_path / "sap.pdf")
    sandboxed = extract(path, in_process=False)
    monkeypatch.setenv("FOLIO_EXTRACT_IN_PROCESS", "1")
    in_process = extract(path)
    assert sandboxed == in_process


def test_json_round_trip_is_exact(protocol_pdf: ExtractedSource) -> None:
    data = json.loads(json.dumps(source_to_json(protocol_pdf)))
    assert data["extractor_version"] == EXTRACTOR_VERSION
    assert source_from_json(data) == protocol_pdf


# --- PDF: errors --------------------------------------------------------------------------


def test_an_empty_pdf_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "empty.pdf"
    path.write_bytes(b"")
    assert error_code(path) == "empty_file"


def test_a_corrupt_pdf_is_unreadable(tmp_path: Path) -> None:
    assert error_code(builders.build_corrupt_pdf(tmp_path / "corrupt.pdf")) == "unreadable_document"


def test_a_password_protected_pdf_is_reported(tmp_path: Path) -> None:
    path = builders.build_encrypted_pdf(tmp_path / "locked.pdf")
    assert error_code(path) == "encrypted_document"


def test_a_pdf_with_an_empty_user_password_is_read(tmp_path: Path) -> None:
    src = extract(builders.build_empty_password_pdf(tmp_path / "open.pdf"))
    assert "This document is encrypted." in src.blocks[0].text


def test_bytes_that_are_not_a_pdf_are_the_wrong_type(tmp_path: Path) -> None:
    assert error_code(builders.build_not_a_pdf(tmp_path / "image.pdf")) == "invalid_file_type"


def test_a_pdf_over_the_page_limit_is_too_complex(tmp_path: Path) -> None:
    path = builders.build_many_pages_pdf(tmp_path / "long.pdf", pages=12)
    assert error_code(path, limits=Limits(max_pdf_pages=10)) == "document_too_complex"
    assert extract(path, limits=Limits(max_pdf_pages=12)).page_count == 12


def test_a_page_count_bomb_is_stopped_before_extraction(tmp_path: Path) -> None:
    path = builders.build_page_flood_pdf(tmp_path / "flood.pdf", pages=3000)
    assert path.stat().st_size < 100_000
    started = time.monotonic()
    assert error_code(path) == "document_too_complex"  # FOLIO_MAX_PDF_PAGES = 2000
    assert time.monotonic() - started < 5


def test_a_flate_bomb_is_too_complex_not_a_scan(tmp_path: Path) -> None:
    path = builders.build_flate_bomb_pdf(tmp_path / "bomb.pdf", megabytes=100)
    assert path.stat().st_size < 1_000_000
    started = time.monotonic()
    assert error_code(path) == "document_too_complex"
    assert time.monotonic() - started < 5


def test_a_pdf_over_the_character_limit_is_too_complex(tmp_path: Path) -> None:
    path = builders.build_protocol_pdf(tmp_path / "protocol.pdf")
    assert error_code(path, limits=Limits(max_extracted_chars=1000)) == "document_too_complex"


def test_a_pdf_without_text_is_reported(tmp_path: Path) -> None:
    assert error_code(builders.build_scanned_pdf(tmp_path / "scan.pdf")) == "no_text_found"


def test_extraction_past_the_deadline_times_out(tmp_path: Path) -> None:
    path = builders.build_many_pages_pdf(tmp_path / "long.pdf", pages=300)
    started = time.monotonic()
    assert error_code(path, limits=Limits(extract_timeout=0.05)) == "processing_timeout"
    assert time.monotonic() - started < 5


# --- DOCX ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def protocol_docx(tmp_path_factory) -> tuple[builders.DocxLayout, ExtractedSource]:
    layout = builders.build_protocol_docx(tmp_path_factory.mktemp("docx") / "protocol.docx")
    return layout, extract(layout.path)


def test_docx_blocks_are_numbered_by_paragraph_and_table_row(protocol_docx) -> None:
    layout, src = protocol_docx
    by_block = {b.block: b for b in src.blocks}
    assert all(b.page is None for b in src.blocks)
    assert by_block[layout.title].text == builders.PROTOCOL["title"]
    assert by_block[layout.inclusion_heading].text == "Inclusion Criteria"
    assert by_block[layout.results_table].kind == "table"
    assert by_block[layout.after_table].text == "After the results table."
    # A body-level content control is invisible to python-docx readers: it does not shift
    # their numbering, and its text is read as an extra block numbered after the body.
    assert layout.last == layout.after_table + 1
    assert by_block[layout.last].text == "The end of the protocol."
    inside = [b for b in src.blocks if "content control" in b.text]
    assert [b.text for b in inside] == ["Inside a content control."]
    assert inside[0].block == max(b.block for b in src.blocks if b is not inside[0]) + 1
    assert src.blocks.index(inside[0]) < src.blocks.index(by_block[layout.last])
    # Empty paragraphs count but are not emitted.
    assert layout.title + 1 not in by_block


def test_docx_tables_keep_rows_and_rows_have_block_numbers(protocol_docx) -> None:
    layout, src = protocol_docx
    table = next(b for b in src.blocks if b.block == layout.results_table)
    assert table.rows == (
        ("Arm", "N", "Responders"),
        ("Zanotinib 50 mg", "60", "41"),
        ("Placebo", "60", "12"),
    )
    assert table_row_block(table, 2) == layout.results_table + 2
    assert "Placebo | 60 | 12" in table.text
    facts = next(b for b in src.blocks if b.block == layout.facts_table)
    assert facts.rows[0] == ("Protocol Number", builders.PROTOCOL["protocol_number"])


def test_docx_headings_follow_custom_styles_and_outline_levels(protocol_docx) -> None:
    layout, src = protocol_docx
    by_block = {b.block: b for b in src.blocks}
    population = by_block[layout.population_heading]  # "Protocol Heading 1" based on Heading 1
    assert (population.kind, population.level, population.number) == ("heading", 1, "2")
    inclusion = by_block[layout.inclusion_heading]  # based on Heading 2
    assert (inclusion.level, inclusion.number) == (2, "2.1")
    outline = by_block[layout.outline_heading]  # based on Normal, w:outlineLvl 2 only
    assert (outline.kind, outline.level, outline.number) == ("heading", 3, "2.2.1")
    assert outline.heading_path == (
        "2 Study Population",
        "2.2 Exclusion Criteria",
        "2.2.1 Washout Rules",
    )


def test_docx_lists_carry_their_computed_labels(protocol_docx) -> None:
    layout, src = protocol_docx
    by_block = {b.block: b for b in src.blocks}
    numbered = [by_block[n] for n in layout.inclusion_items]
    assert [b.kind for b in numbered] == ["list_item"] * 3
    assert [b.number for b in numbered] == ["1.", "2.", "3."]
    assert numbered[0].heading_path == ("2 Study Population", "2.1 Inclusion Criteria")
    bullets = [by_block[n] for n in layout.exclusion_items]
    assert [b.number for b in bullets] == ["•", "•"]


def test_docx_hidden_text_and_toc_lines_are_left_out(protocol_docx) -> None:
    layout, src = protocol_docx
    by_block = {b.block: b for b in src.blocks}
    assert by_block[layout.hidden_paragraph - 1].text == "Visible introduction text."
    assert layout.hidden_paragraph not in by_block
    assert not any("SECRET" in b.text for b in src.blocks)
    assert layout.toc_paragraph not in by_block


def test_docx_block_numbers_agree_with_a_python_docx_reader(protocol_docx) -> None:
    layout, src = protocol_docx
    assert_blocks_agree_with_reader(src, python_docx_blocks(layout.path))


def test_docx_title_and_round_trip(protocol_docx) -> None:
    _, src = protocol_docx
    assert src.title == builders.PROTOCOL["title"]
    assert source_from_json(json.loads(json.dumps(source_to_json(src)))) == src


def test_footnotes_are_not_blocks(tmp_path: Path) -> None:
    # A footnote has no block number in the body that a python-docx reader could check.
    src = extract(builders.build_docx_with_footnote(tmp_path / "notes.docx"))
    assert [(b.text, b.block) for b in src.blocks] == [("Hello from Word.", 1)]


def test_a_zip64_docx_is_read(tmp_path: Path) -> None:
    src = extract(builders.build_zip64_docx(tmp_path / "zip64.docx"))
    assert src.blocks[0].text == "Hello from Word."


@pytest.mark.parametrize(
    ("builder", "code"),
    [
        (builders.build_docx_zip_bomb, "document_too_complex"),
        (builders.build_overlapping_zip, "unreadable_document"),
        (builders.build_traversal_docx, "unreadable_document"),
        (builders.build_doctype_docx, "unreadable_document"),
        (builders.build_docm, "invalid_file_type"),
        (builders.build_ole2_encrypted_docx, "encrypted_document"),
        (builders.build_plain_pdf, "invalid_file_type"),
        (builders.build_lying_size_docx, "unreadable_document"),  # declared 1 KB, inflates more
        (builders.build_deep_nesting_docx, "unreadable_document"),  # libxml2's depth limit
        (builders.build_paragraph_flood_docx, "document_too_complex"),  # 2 M paragraphs, 50 KB
    ],
)
def test_hostile_docx_files_fail_with_their_code(tmp_path: Path, builder, code: str) -> None:
    path = builder(tmp_path / "bad.docx")
    started = time.monotonic()
    assert error_code(Path(path)) == code
    assert time.monotonic() - started < 10


def test_a_docx_over_the_block_limit_is_too_complex(protocol_docx) -> None:
    layout, _ = protocol_docx
    assert error_code(layout.path, limits=Limits(max_blocks=10)) == "document_too_complex"


def test_an_empty_docx_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "empty.docx"
    path.write_bytes(b"")
    assert error_code(path) == "empty_file"


# --- XLSX ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def results_xlsx(tmp_path_factory) -> tuple[builders.XlsxLayout, ExtractedSource]:
    layout = builders.build_results_xlsx(tmp_path_factory.mktemp("xlsx") / "results.xlsx")
    return layout, extract(layout.path)


def test_each_sheet_is_one_table_numbered_by_sheet_row(results_xlsx) -> None:
    layout, src = results_xlsx
    assert [b.kind for b in src.blocks] == ["table", "table"]
    assert [b.block for b in src.blocks] == list(layout.first_blocks)
    assert [b.heading_path for b in src.blocks] == [(s,) for s in layout.sheets]
    demographics, events = src.blocks
    assert len(demographics.rows) == layout.rows[0]
    assert demographics.rows[3] == ()  # the empty row still counts
    assert table_row_block(events, 1) == 8
    assert events.rows[1] == ("Any TEAE", "20", "25")


def test_xlsx_block_numbers_agree_with_an_openpyxl_reader(results_xlsx) -> None:
    layout, src = results_xlsx
    assert_blocks_agree_with_reader(src, openpyxl_blocks(layout.path))


def test_cells_are_strings_without_float_noise(results_xlsx) -> None:
    _, src = results_xlsx
    demographics, events = src.blocks
    assert demographics.rows[1] == ("N", "60", "60", "120")
    assert demographics.rows[2] == ("Age, mean (SD)", "45.2", "44.8", "45")
    assert demographics.rows[5] == ("Response rate", "0.256", "0.3", "12.5")
    assert events.rows[2] == ("Data cut-off", "2025-03-12")


def test_an_xlsx_with_a_doctype_is_rejected(tmp_path: Path) -> None:
    import zipfile

    source = builders.build_results_xlsx(tmp_path / "ok.xlsx").path
    with zipfile.ZipFile(source) as z:
        members = [(n, z.read(n)) for n in z.namelist()]
    members = [(n, builders._LAUGHS if n == "xl/styles.xml" else d) for n, d in members]
    path = builders.build_docx_from_members(tmp_path / "laughs.xlsx", members)
    assert error_code(path) == "unreadable_document"


# --- corpus -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lzzt() -> ExtractedSource:
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    return extract(CORPUS / "protocol-lzzt.pdf")


@pytest.mark.corpus
@corpus
def test_corpus_protocol_pdf_headings_and_paths(lzzt: ExtractedSource) -> None:
    found = headings(lzzt)
    inclusion = found["Inclusion Criteria"]
    assert (inclusion.number, inclusion.level, inclusion.page) == ("3.4.2.1", 4, 11)
    assert inclusion.heading_path == (
        "3 Investigational Plan",
        "3.4 Study Population",
        "3.4.2 Criteria for Enrollment",
        "3.4.2.1 Inclusion Criteria",
    )
    assert found["Sample Size"].number == "3.4.4"
    assert found["Blinding"].number == "3.7"
    item = next(b for b in lzzt.blocks if b.text.startswith("Males and postmenopausal females"))
    assert (item.kind, item.number) == ("list_item", "[1]")
    assert item.heading_path[-1] == "3.4.2.1 Inclusion Criteria"
    # The running header and footer appear on every page, never in blocks; nor does the TOC.
    assert not any("Clinical Study Protocol Document Page" in b.text for b in lzzt.blocks)
    assert not any(b.page in (2, 3, 4) and "...." in b.text for b in lzzt.blocks)
    assert_blocks_lie_on_their_pages(lzzt)


@pytest.mark.corpus
@corpus
def test_corpus_sap_pdf_headings() -> None:
    src = extract(CORPUS / "sap-cdiscpilot01.pdf")
    numbers = {b.number: b for b in src.blocks if b.kind == "heading" and b.number}
    assert numbers["5"].text == "SAMPLE SIZE CONSIDERATIONS"
    assert numbers["10.1"].heading_path == (
        "10 EFFICACY ANALYSES",
        "10.1 Primary Efficacy Endpoints",
    )
    assert not any(b.text.startswith("FINAL SAP") for b in src.blocks)
    assert_blocks_lie_on_their_pages(src)


@pytest.mark.corpus
@corpus
def test_corpus_docx_with_custom_heading_styles() -> None:
    src = extract(CORPUS / "protocol-cdiscpilot-m11.docx")
    found = headings(src)
    assert (found["Inclusion Criteria"].number, found["Inclusion Criteria"].level) == ("5.2", 2)
    assert found["Inclusion Criteria"].heading_path == (
        "5 Trial Population",
        "5.2 Inclusion Criteria",
    )
    assert found["Trial Design"].level == 1
    first = next(b for b in src.blocks if b.text.startswith("Males and postmenopausal females"))
    assert (first.kind, first.number) == ("list_item", "1.")
    assert "Safety and Efficacy of the Xanomeline" in src.title
    assert_blocks_agree_with_reader(
        src, python_docx_blocks(CORPUS / "protocol-cdiscpilot-m11.docx")
    )


@pytest.mark.corpus
@corpus
def test_corpus_docx_with_standard_heading_styles() -> None:
    src = extract(CORPUS / "protocol-wa42380-m11.docx")
    found = headings(src)
    assert found["Inclusion Criteria"].level == 2
    assert found["Inclusion Criteria"].heading_path[0].endswith("Trial Population")
    blocks = [b.block for b in src.blocks]
    assert blocks == sorted(blocks) and len(set(blocks)) == len(blocks)
    assert_blocks_agree_with_reader(src, python_docx_blocks(CORPUS / "protocol-wa42380-m11.docx"))


HOSTILE = sorted((CORPUS / "hostile").glob("*/*")) if (CORPUS / "hostile").is_dir() else []


@pytest.mark.corpus
@corpus
@pytest.mark.parametrize("path", HOSTILE, ids=[p.name for p in HOSTILE])
def test_corpus_hostile_files_end_in_a_result_or_a_known_error(path: Path) -> None:
    file_type = {"docm": "docx"}.get(path.suffix.lstrip("."), path.suffix.lstrip("."))
    limits = Limits(extract_timeout=20, extract_memory_mb=1024)
    started = time.monotonic()
    try:
        src = extract_text(describe(path, file_type), limits=limits)
    except SourceError as exc:
        assert exc.code in ERROR_MESSAGES
        assert exc.code != "internal_error"
    else:
        assert isinstance(src, ExtractedSource)
        if src.file_type == "pdf":
            assert_blocks_lie_on_their_pages(src)
        elif src.file_type == "docx":
            assert_blocks_agree_with_reader(src, python_docx_blocks(path))
        else:
            assert_blocks_agree_with_reader(src, openpyxl_blocks(path))
    assert time.monotonic() - started < 25
