"""Structure recovered across layouts (issue 9): TOCs by form, outlines, small capitals, bold
Normal headings, and text python-docx or openpyxl would lose."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from documents.pipeline.errors import SourceError
from documents.pipeline.extract import alnum, extract_text, source_from_json, source_to_json
from documents.pipeline.types import ExtractedSource, SourceDescriptor
from tests.fixtures import builders, layouts
from tests.helpers.citations import citation_verifies, docx_block_texts, xlsx_blocks

TOC_LINE = re.compile(r"(?:\.\s?){3,}\s*\d+\s*$|^\s*(?:table of )?contents\s*$", re.I)


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


def heading_tree(src: ExtractedSource) -> list[tuple[str, str, int]]:
    return [(b.number, b.text, b.level) for b in src.blocks if b.kind == "heading"]


def expected_tree() -> list[tuple[str, str, int]]:
    return [(n, t, n.count(".") + 1) for n, t in layouts.HEADINGS]


def assert_no_toc_text(src: ExtractedSource) -> None:
    for b in src.blocks:
        assert not TOC_LINE.search(b.text), b.text
    texts = [b.text for b in src.blocks if b.kind != "heading"]
    for number, title in layouts.HEADINGS:
        # A TOC entry left as text would read "3 Trial Design" (or "Section 3 ...").
        assert not any(alnum(f"{number} {title}") == alnum(t) for t in texts), title


def test_a_toc_with_spaced_leaders_drawn_first_is_a_map_not_text(tmp_path) -> None:
    src = extract(layouts.build_spaced_leader_toc_pdf(tmp_path / "protocol.pdf"))
    assert heading_tree(src) == expected_tree()
    assert_no_toc_text(src)
    # Headings in the body font are found through the TOC, on their own pages.
    by_title = {b.text: b for b in src.blocks if b.kind == "heading"}
    assert by_title["Trial Design"].page == 3
    assert by_title["Description of Trial Design and of the Treatment Periods"].level == 2
    # Running header and footer are gone; the body stays.
    assert not any("CONFIDENTIAL" in b.text or "Page 2 of 4" in b.text for b in src.blocks)
    assert sum(b.text.count(layouts.BODY[:-1]) for b in src.blocks) == 3 * len(layouts.HEADINGS)


def test_a_contents_page_without_leaders_and_small_capital_section_headings(tmp_path) -> None:
    src = extract(layouts.build_plain_contents_pdf(tmp_path / "sap.pdf"))
    tree = heading_tree(src)
    assert tree == expected_tree(), tree
    assert_no_toc_text(src)
    # The outline's casing ("Primary Objective"), the number without "Section".
    heading = next(b for b in src.blocks if b.number == "2.1")
    assert heading.text == "Primary Objective" and heading.level == 2
    # Every heading's letters lie on its page (citations verify against page text).
    for b in src.blocks:
        assert alnum(b.text) in alnum(src.pages[b.page - 1])


def test_bold_normal_paragraphs_with_typed_numbers_are_headings_after_a_typed_toc(
    tmp_path,
) -> None:
    path = layouts.build_bold_normal_docx(tmp_path / "protocol.docx")
    src = extract(path)
    numbered = [(n, t.lower(), lvl) for n, t, lvl in heading_tree(src) if n]
    assert numbered == [(n, t.lower(), n.count(".") + 1) for n, t in layouts.HEADINGS]
    assert_no_toc_text(src)
    # One paragraph per TOC entry is counted (block numbers) but not emitted.
    assert sum(b.text == layouts.BODY for b in src.blocks) == len(layouts.HEADINGS)
    caption = next(b for b in src.blocks if b.text.startswith("Table 1:"))
    assert caption.kind == "caption"
    sentence = next(b for b in src.blocks if b.text.startswith("1. A numbered sentence"))
    assert sentence.kind != "heading"
    reference = docx_block_texts(str(path))
    for b in src.blocks:
        assert alnum(b.text) in alnum(reference[b.block - 1])


def test_content_controls_and_text_boxes_are_read_once_and_cited_after_the_body(
    tmp_path,
) -> None:
    path = layouts.build_hidden_text_docx(tmp_path / "controls.docx")
    src = extract(path)
    texts = [b.text for b in src.blocks]
    assert texts.count(layouts.SDT_BLOCK) == 1
    assert texts.count(layouts.TEXT_BOX) == 1, "the mc:Fallback copy is not read again"
    inline = [t for t in texts if layouts.SDT_RUN in t]
    assert inline == [f"The study drug is {layouts.SDT_RUN} given daily."]
    # Document order: the text box follows its anchor, the control sits before it.
    assert texts.index(layouts.SDT_BLOCK) < texts.index(layouts.ANCHOR)
    assert (
        texts.index(layouts.ANCHOR) < texts.index(layouts.TEXT_BOX) < texts.index("Last paragraph.")
    )
    # Body blocks keep python-docx's numbers; the extra ones follow the body.
    body = {b.text: b.block for b in src.blocks}
    reference = docx_block_texts(str(path))
    n_body = 4  # First, the paragraph with the inline control, the anchor, Last
    assert body["First paragraph."] == 1 and body["Last paragraph."] == n_body
    assert min(body[layouts.SDT_BLOCK], body[layouts.TEXT_BOX]) > n_body
    for b in src.blocks:
        quote = {"file_name": path.name, "block": b.block, "quote": b.text, "page": None}
        assert citation_verifies(quote, {path.name: path}), b.text
    assert len(reference) == max(b.block for b in src.blocks)


def test_a_workbook_under_declaring_its_dimension_keeps_every_cell(tmp_path) -> None:
    path = layouts.build_underdeclared_xlsx(tmp_path / "data.xlsx")
    src = extract(path)
    (table,) = src.blocks
    cells = {c for row in table.rows for c in row if c}
    assert cells == {f"R{r}C{c}" for r in range(2, 12) for c in range(3, 16)}
    assert table.rows[1][2] == "R2C3"  # row 2, column C: positions kept
    assert alnum(" ".join(table.rows[10])) in xlsx_blocks(str(path))[10]


def test_a_footnote_the_body_does_not_hold_is_a_warning_kept_in_the_cache(tmp_path) -> None:
    src = extract(builders.build_docx_with_footnote(tmp_path / "notes.docx"))
    assert src.warnings and "footnote" in src.warnings[0]
    again = source_from_json(json.loads(json.dumps(source_to_json(src))))
    assert again == src and again.warnings == src.warnings


def test_a_page_without_text_is_a_warning(tmp_path) -> None:
    from reportlab.pdfgen import canvas

    path = tmp_path / "mixed.pdf"
    c = canvas.Canvas(str(path))
    c.drawString(72, 720, "A page of text about the protocol.")
    c.showPage()
    c.rect(100, 100, 300, 300, fill=1)  # a drawing, no text
    c.showPage()
    c.save()
    src = extract(path)
    assert any("Page 2" in w and "no text layer" in w for w in src.warnings)


@pytest.mark.parametrize(
    ("suffix", "needle"),
    [("docx", "Word document"), ("xlsx", "workbook"), ("pdf", "scanned")],
)
def test_no_text_found_says_what_each_format_lacks(tmp_path, suffix, needle) -> None:
    if suffix == "docx":
        path = builders.build_plain_docx(tmp_path / "empty.docx", paragraphs=("",))
    elif suffix == "xlsx":
        import openpyxl

        path = tmp_path / "empty.xlsx"
        openpyxl.Workbook().save(str(path))
    else:
        path = builders.build_scanned_pdf(tmp_path / "scan.pdf")
    with pytest.raises(SourceError) as err:
        extract(Path(path))
    assert err.value.code == "no_text_found"
    assert needle in err.value.message
    if suffix != "pdf":
        assert "OCR" not in err.value.message


def test_a_damaged_image_parameter_reads_as_damaged_not_too_complex(tmp_path) -> None:
    from tests.reliability.hostile import FONT, raw_pdf, stream

    content = (
        b"BT /F1 12 Tf 72 720 Td (Before the image.) Tj ET "
        b"BI /W 900000 /H 900000 /BPC 8 /CS /RGB ID \x00\x00\x00 EI"
    )
    data = raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
            stream(content),
            FONT,
        ]
    )
    path = tmp_path / "damaged.pdf"
    path.write_bytes(data)
    with pytest.raises(SourceError) as err:
        extract(path)
    assert err.value.code == "unreadable_document"


def test_symbol_font_characters_are_shown_as_their_symbols(tmp_path) -> None:
    import docx

    path = tmp_path / "symbols.docx"
    document = docx.Document()
    document.add_paragraph("NEWS2 of \uf0a3 2 maintained for 24 hours; SpO2 \uf0b3 94%.")
    document.save(str(path))
    src = extract(path)
    (block,) = [b for b in src.blocks if "NEWS2" in b.text]
    assert block.text == "NEWS2 of ≤ 2 maintained for 24 hours; SpO2 ≥ 94%."
    # Letters and digits are unchanged, so quotes still verify against python-docx's text.
    assert alnum(block.text) == alnum(docx.Document(str(path)).paragraphs[0].text)


def test_symbol_elements_python_docx_skips_are_read(tmp_path) -> None:
    import docx
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls

    path = tmp_path / "sym.docx"
    document = docx.Document()
    paragraph = document.add_paragraph("Age ")
    paragraph._p.append(
        parse_xml(f'<w:r {nsdecls("w")}><w:sym w:font="Symbol" w:char="F0B3"/></w:r>')
    )
    paragraph.add_run(" 18 years; PaO2/FiO2 \uf03c 300 mmHg")
    document.save(str(path))
    src = extract(path)
    (block,) = [b for b in src.blocks if "Age" in b.text]
    assert block.text == "Age ≥ 18 years; PaO2/FiO2 < 300 mmHg"
    assert alnum(block.text) == alnum(docx.Document(str(path)).paragraphs[0].text)


def test_a_bold_term_run_into_its_definition_gets_its_colon(tmp_path) -> None:
    src = extract(layouts.build_definition_list_pdf(tmp_path / "protocol.pdf"))
    texts = [b.text for b in src.blocks]
    for term, definition in layouts.DEFINITIONS:
        assert f"{term}: {definition}" in texts, texts
    assert layouts.DEFINITION_TAIL in texts  # regular text is left as it is
