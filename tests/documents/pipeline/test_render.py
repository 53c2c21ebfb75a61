"""The .docx: headings, TOC field, lists, tables, citations, reviewer marks, QC appendix."""

from __future__ import annotations

import zipfile
from pathlib import Path

import docx
import pytest
from docx.enum.text import WD_COLOR_INDEX

from documents.pipeline import qc, render
from documents.pipeline.types import PipelineInput
from tests.documents.pipeline.test_orchestrate import csr_outline, protocol, sap, write


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list, dict]:
    sources = [protocol(), sap()]
    drafts = list(write(sources))
    report = qc.quality_report(drafts, sources)
    path = tmp_path_factory.mktemp("render") / "out.docx"
    inp = PipelineInput(
        sources=(),
        outline=csr_outline(),
        template_name="ICH E3 Clinical Study Report",
        document_type="CSR",
        output_name="zx-100-csr",
    )
    render.render_docx(drafts, sources=sources, qc=report, inp=inp, path=str(path))
    return path, drafts, report


def headings(document: docx.document.Document) -> list[tuple[str, str]]:
    return [
        (p.style.name, p.text) for p in document.paragraphs if p.style.name.startswith("Heading")
    ]


def test_headings_use_word_heading_styles_with_the_template_numbers_in_order(rendered) -> None:
    path, drafts, _ = rendered
    found = headings(docx.Document(str(path)))
    body = found[: len(drafts)]
    assert body == [(f"Heading {d.level}", f"{d.number} {d.title}") for d in drafts]
    assert ("Heading 3", "9.3.1 Inclusion Criteria") in body
    assert found[-2:] == [
        ("Heading 1", "List of Sources and References"),
        ("Heading 1", "Quality control report"),
    ]


def test_it_has_a_real_table_of_contents_field(rendered) -> None:
    path, _, _ = rendered
    xml = zipfile.ZipFile(path).read("word/document.xml").decode()
    assert 'w:fldCharType="begin"' in xml and 'w:fldCharType="end"' in xml
    assert 'TOC \\o "1-4" \\h \\z \\u' in xml
    assert render.TOC_PLACEHOLDER in xml
    # The field sits in the template's own table-of-contents section.
    assert (
        xml.index("3 Table of Contents")
        < xml.index(render.TOC_PLACEHOLDER)
        < xml.index("4 List of Abbreviations")
    )


def test_lists_keep_the_source_labels_and_paragraphs_cite_numbered_sources(rendered) -> None:
    path, _, _ = rendered
    document = docx.Document(str(path))
    texts = [p.text for p in document.paragraphs]
    item = next(t for t in texts if "Males and females at least 18 years of age." in t)
    assert item.startswith("[1]\t")
    assert item.rstrip().endswith("]") and "[" in item.split("\t", 1)[1]
    sources_at = texts.index("List of Sources and References")
    entries = [t for t in texts[sources_at:] if t.startswith("[")]
    assert entries and "protocol.pdf, page 2" in " ".join(entries)
    assert any("“Males and females at least 18 years of age.”" in t for t in entries)


def test_rewritten_sentences_are_highlighted_and_commented_with_the_source(rendered) -> None:
    path, _, _ = rendered
    document = docx.Document(str(path))
    para = next(
        p for p in document.paragraphs if p.text.startswith("Patients were randomized to zanotinib")
    )
    highlighted = [r.text for r in para.runs if r.font.highlight_color == WD_COLOR_INDEX.YELLOW]
    assert any(t.startswith("Patients were randomized") for t in highlighted)
    comments = [c.text for c in document.comments]
    assert any("Patients will be randomized to zanotinib" in c for c in comments)


def test_no_source_sections_show_one_italic_sentence_and_qc_is_last(rendered) -> None:
    path, _, report = rendered
    document = docx.Document(str(path))
    paragraphs = document.paragraphs
    k = next(i for i, p in enumerate(paragraphs) if p.text == "10.1 Disposition of Patients")
    note = paragraphs[k + 1]
    assert "results" in note.text and all(r.italic for r in note.runs if r.text.strip())
    qc_table = document.tables[-1]
    cells = {row.cells[0].text: row.cells[1].text for row in qc_table.rows}
    assert (
        cells["Citations verified"]
        == f"{report['citations_verified']} of {report['citations_total']}"
    )
    assert cells["Numbers found in no source"] == "0"


def test_tables_use_table_grid_and_the_cover_lists_key_facts(rendered) -> None:
    path, _, _ = rendered
    document = docx.Document(str(path))
    assert document.paragraphs[0].text == "zx-100-csr"
    cover = document.tables[0]
    assert cover.style.name == "Table Grid"
    rows = [[c.text for c in r.cells] for r in cover.rows]
    assert ["Protocol number", "ZX-100", "protocol.pdf, page 1"] in rows
    synopsis = next(
        t
        for t in document.tables
        if t.rows[0].cells[0].text == "Objectives" or t.rows[0].cells[0].text == "Methodology"
    )
    assert synopsis.style.name == "Table Grid"


def test_a_base_document_gives_its_styles_and_page_setup_and_loses_its_body(tmp_path: Path) -> None:
    base = docx.Document()
    base.sections[0].header.paragraphs[0].text = "Sponsor header"
    base.add_paragraph("Old body text that must go.")
    base_path = tmp_path / "base.docx"
    base.save(str(base_path))
    sources = [protocol()]
    drafts = write(sources, csr_outline(selected={"9.3.1"}))
    inp = PipelineInput(
        sources=(),
        outline=csr_outline(),
        template_name="t",
        document_type="CSR",
        output_name="o",
        base_document_path=str(base_path),
    )
    out = tmp_path / "out.docx"
    render.render_docx(
        drafts, sources=sources, qc=qc.quality_report(drafts, sources), inp=inp, path=str(out)
    )
    document = docx.Document(str(out))
    assert document.sections[0].header.paragraphs[0].text == "Sponsor header"
    texts = [p.text for p in document.paragraphs]
    assert "Old body text that must go." not in texts
    # Only the selected section and its (skipped) ancestors appear.
    assert [t for _s, t in headings(document)][:3] == [
        "9 Investigational Plan",
        "9.3 Selection of Study Population",
        "9.3.1 Inclusion Criteria",
    ]


def _bold_rows(table: docx.table.Table) -> list[bool]:
    """Per row: whether every run of its cells is bold."""
    return [
        all(run.bold for cell in row.cells for p in cell.paragraphs for run in p.runs)
        for row in table.rows
    ]


def test_the_twin_s_header_rows_decide_which_rows_are_bold(tmp_path: Path) -> None:
    from documents.pipeline.twin import section_from_dict, section_to_dict
    from documents.pipeline.types import SectionDraft, Table

    rows = (("Arm", "Week 12"), ("", "Mean"), ("Placebo", "1.2"), ("Drug", "3.4"))
    guessed = Table(title="Guessed", rows=rows)
    told = Table(title="Told", rows=rows, header_rows=2)
    assert guessed.header_rows == 0  # "Week 12": a number, so not taken as a header
    draft = SectionDraft("s1", "1", "Results", 1, "generated", tables=(guessed, told))
    as_twin = section_to_dict(draft)
    assert [t["header_rows"] for t in as_twin["tables"]] == [0, 2]
    assert section_from_dict(as_twin) == draft
    legacy = {
        **as_twin,
        "tables": [{k: v for k, v in t.items() if k != "header_rows"} for t in as_twin["tables"]],
    }
    assert [t.header_rows for t in section_from_dict(legacy).tables] == [0, 0]

    inp = PipelineInput(sources=(), template_name="t", document_type="CSR", output_name="o")
    out = tmp_path / "out.docx"
    render.render_docx([draft], sources=[], qc={}, inp=inp, path=str(out))
    tables = [t for t in docx.Document(str(out)).tables if len(t.rows) == 4]
    assert [_bold_rows(t) for t in tables] == [
        [False, False, False, False],
        [True, True, False, False],
    ]
