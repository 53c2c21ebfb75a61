"""The .docx: headings, TOC field, lists, tables, citations, reviewer marks, QC appendix."""

from __future__ import annotations

import zipfile
from pathlib import Path

import docx
import pytest
from docx.enum.text import WD_COLOR_INDEX

from documents.pipeline import qc, render
from documents.pipeline.docx_identity import section_bookmark
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


def test_the_table_of_contents_entries_are_written_before_any_field_update(rendered) -> None:
    from lxml import etree

    path, drafts, _ = rendered
    xml = zipfile.ZipFile(path).read("word/document.xml")
    root = etree.fromstring(xml)
    ns = {"w": "http://schemas.openxmlformats.org/wordprocessingml/2006/main"}
    w = "{" + ns["w"] + "}"
    sdts = [
        sdt
        for sdt in root.iter(f"{w}sdt")
        if sdt.find(".//w:docPartGallery", ns) is not None
        and sdt.find(".//w:docPartGallery", ns).get(f"{w}val") == "Table of Contents"
    ]
    assert len(sdts) == 1
    toc = sdts[0]
    text = etree.tostring(toc).decode()
    assert 'TOC \\o "1-3" \\h \\z \\u' in text
    assert "Right-click" not in xml.decode()
    # The field's result (between ``separate`` and ``end``) holds one entry per heading to
    # level 3, each a TOCn paragraph linking to the heading's bookmark.
    entries = []
    in_result = False
    for p in toc.iter(f"{w}p"):
        for el in p.iter(f"{w}fldChar", f"{w}hyperlink"):
            if el.tag == f"{w}fldChar":
                kind = el.get(f"{w}fldCharType")
                in_result = kind == "separate" or (in_result and kind != "end")
            elif in_result:
                style = p.find("w:pPr/w:pStyle", ns).get(f"{w}val")
                entries.append((style, "".join(el.itertext()), el.get(f"{w}anchor")))
    expected = [
        (f"TOC{d.level}", f"{d.number} {d.title}", section_bookmark(d.section_id))
        for d in drafts
        if d.level <= 3
    ]
    assert entries[: len(expected)] == expected
    assert [e[1] for e in entries[len(expected) :]] == [
        "List of Sources and References",
        "Quality control report",
    ]
    assert any(e[0] == "TOC3" and e[1] == "9.3.1 Inclusion Criteria" for e in entries)
    # The control sits in the template's own table-of-contents section.
    body = etree.tostring(root).decode()
    toc_id = next(d for d in drafts if "Table of Contents" in d.title).section_id
    after = next(d for d in drafts if "Abbreviations" in d.title).section_id
    assert (
        body.index(f'w:name="{section_bookmark(toc_id)}"')
        < body.index("docPartGallery")
        < body.index(f'w:name="{section_bookmark(after)}"')
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


def test_the_title_page_shows_each_fact_with_its_citation_or_a_placeholder(rendered) -> None:
    path, _, _ = rendered
    document = docx.Document(str(path))
    texts = [p.text for p in document.paragraphs]
    # The E3 section "1 Title Page" is the title page: its heading, then the study title.
    assert (document.paragraphs[0].style.name, texts[0]) == ("Heading 1", "1 Title Page")
    first = document.paragraphs[1]
    assert first.style.name == "Title"
    assert "zanotinib" in first.text.lower() and first.text != "zx-100-csr"
    # Each fact once in the whole document (no cover repeating the section).
    for label in ("Protocol number", "Sponsor", "Good Clinical Practice", "Report date"):
        assert len([t for t in texts if t.lstrip("[").startswith(label)]) == 1, label
    assert len([p for p in document.paragraphs if p.style.name == "Title"]) == 1
    assert document.core_properties.title == first.text.split(" [")[0]
    protocol_line = next(t for t in texts if t.startswith("Protocol number: "))
    assert protocol_line.startswith("Protocol number: ZX-100 [")
    # Its reference is a number of the list of sources, which names the fact's page.
    number = protocol_line.rsplit("[", 1)[1].rstrip("]")
    sources_at = texts.index("List of Sources and References")
    entry = next(t for t in texts[sources_at:] if t.startswith(f"[{number}]\t"))
    assert "protocol.pdf, page 1" in entry
    # And the review copy comments the value with its source sentence.
    assert any(c.text.startswith("Source: protocol.pdf, page 1") for c in document.comments)
    # A fact the sources do not give is a visible placeholder.
    assert any(
        "[Study completion date (last patient completed): not found in the sources" in t
        for t in texts
    )
    assert any(t.startswith("Good Clinical Practice: [To be confirmed") for t in texts)
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


def test_the_report_date_and_version_is_a_computed_field_the_review_cycle_does_not_read(
    tmp_path: Path,
) -> None:
    from documents.pipeline.docx_identity import section_hex
    from documents.pipeline.title_page import DRAFT_PROPERTY
    from documents.review.match import is_edited
    from documents.review.reader import read_reviewed_copy

    sources = [protocol(), sap()]
    drafts = list(write(sources))
    inp = PipelineInput(
        sources=(),
        outline=csr_outline(),
        template_name="ICH E3 Clinical Study Report",
        document_type="CSR",
        output_name="zx-100-csr",
        document_properties={"folio_document_id": "d", "folio_version": 3},
    )
    path = tmp_path / "v3.docx"
    report = qc.quality_report(drafts, sources)
    render.render_docx(drafts, sources=sources, qc=report, inp=inp, path=str(path))
    document = docx.Document(str(path))
    line = next(p for p in document.paragraphs if p.text.startswith("Report date and version: "))
    assert ", draft version 3 [to be confirmed]" in line.text
    assert f"DOCPROPERTY {DRAFT_PROPERTY}" in line._p.xml
    props = zipfile.ZipFile(path).read("docProps/custom.xml").decode()
    assert DRAFT_PROPERTY in props and "draft version 3" in props
    # The twin's line has no date; read back, the section is the twin's, field left out.
    title = drafts[0]
    assert [p.text for p in title.paragraphs if p.text.startswith("Report date")] == [
        "Report date and version: [to be confirmed]"
    ]
    read = {s.hex: s for s in read_reviewed_copy(str(path)).sections}
    twin = {
        "section_id": title.section_id,
        "paragraphs": [{"text": p.text} for p in title.paragraphs],
        "tables": [],
    }
    assert not is_edited(read[section_hex(title.section_id)], twin)
    # An outline without a title-page section gets the same page as a cover.
    drafts = write(sources, csr_outline(selected={"9.3.1"}))
    cover = tmp_path / "cover.docx"
    render.render_docx(drafts, sources=sources, qc=report, inp=inp, path=str(cover))
    texts = [p.text for p in docx.Document(str(cover)).paragraphs]
    assert "1 Title Page" not in texts
    assert len([t for t in texts if t.startswith("Protocol number: ZX-100")]) == 1
    assert len([t for t in texts if t.startswith("Report date and version: ")]) == 1
