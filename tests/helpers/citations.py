"""An independent citation checker, as docs/api.md describes the twin (not the pipeline's code).

A PDF citation's quote must lie on the cited page (pypdf's text of that page); a DOCX/XLSX
citation's quote must lie in the cited block (the 1-based paragraph / table row / sheet row in
document order). Letters and digits only, case-insensitive.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from docx import Document
from docx.table import Table
from docx.text.paragraph import Paragraph
from openpyxl import load_workbook
from pypdf import PdfReader


def alnum(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.lower())


@cache
def pdf_pages(path: str) -> tuple[str, ...]:
    return tuple(alnum(page.extract_text() or "") for page in PdfReader(path).pages)


W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
CONTAINERS = {
    W + t for t in ("sdt", "sdtContent", "smartTag", "customXml", "fldSimple", "ins", "moveTo")
}


def _texts(el, stop) -> str:
    """Text of the w:t elements under ``el``, not inside a text box or fallback below it."""
    out = []
    for t in el.iter(W + "t"):
        node, inside = t.getparent(), False
        while node is not None and node is not el:
            if node.tag in stop:
                inside = True
                break
            node = node.getparent()
        if not inside:
            out.append(t.text or "")
    return "".join(out)


def _text_boxes(el) -> list:
    boxes = []
    for box in el.iter(W + "txbxContent"):
        node, nested = box.getparent(), False
        while node is not None and node is not el:
            if node.tag in (MC_FALLBACK, W + "txbxContent"):
                nested = True
            node = node.getparent()
        if not nested:
            boxes.append(box)
    return boxes


def docx_block_texts(path: str) -> list[str]:
    """Block texts as docs/api.md numbers them: python-docx's body (paragraphs, table rows),
    then what python-docx leaves out (content controls, text boxes, paragraphs or tables with
    run containers holding text) read whole, in document order."""
    doc = Document(path)
    blocks: list[str] = []
    for item in doc.iter_inner_content():
        if isinstance(item, Paragraph):
            blocks.append(item.text)
        elif isinstance(item, Table):
            for row in item.rows:
                blocks.append("".join(cell.text for cell in row.cells))
    stop = {W + "txbxContent", MC_FALLBACK}
    extras: list[str] = []

    def whole(el) -> None:
        if el.tag == W + "p":
            extras.append(_texts(el, stop))
        else:
            for row in el.iter(W + "tr"):
                # The table's own rows, also inside content controls; not a nested table's.
                node = row.getparent()
                while node is not None and node.tag in (W + "sdt", W + "sdtContent"):
                    node = node.getparent()
                if node is el:
                    extras.append(_texts(row, stop))

    def inside(container) -> None:
        for child in container:
            if child.tag in (W + "p", W + "tbl"):
                whole(child)
                for box in _text_boxes(child):
                    inside(box)
            elif child.tag == W + "sdt":
                content = child.find(W + "sdtContent")
                if content is not None:
                    inside(content)
            elif child.tag == W + "customXml":
                inside(child)

    for child in doc.element.body:
        if child.tag == W + "p":
            if any(c.tag in CONTAINERS and _texts(c, stop) for c in child):
                whole(child)
            for box in _text_boxes(child):
                inside(box)
        elif child.tag == W + "tbl":
            if any(el.tag == W + "sdt" or _texts(el, stop) for el in child.iter(*CONTAINERS)):
                whole(child)
            for box in _text_boxes(child):
                inside(box)
        elif child.tag == W + "sdt":
            content = child.find(W + "sdtContent")
            if content is not None:
                inside(content)
        elif child.tag == W + "customXml":
            inside(child)
    return blocks + extras


@cache
def docx_blocks(path: str) -> tuple[str, ...]:
    return tuple(alnum(t) for t in docx_block_texts(path))


@cache
def xlsx_blocks(path: str) -> tuple[str, ...]:
    wb = load_workbook(path, read_only=True, data_only=True)
    blocks: list[str] = []
    for ws in wb.worksheets:
        # Rows as stored (a declared <dimension> may leave cells out), at least as many as declared.
        declared = ws.max_row if isinstance(ws.max_row, int) else 0
        ws.reset_dimensions()
        rows = [
            alnum("".join("" if v is None else str(v) for v in row))
            for row in ws.iter_rows(values_only=True)
        ]
        rows.extend([""] * (declared - len(rows)))
        blocks.extend(rows)
    return tuple(blocks)


@cache
def whole_text(path: str) -> str:
    """Letters and digits of an RTF (page headers and footers included) or a text file."""
    data = Path(path).read_bytes()
    if path.lower().endswith(".rtf"):
        from striprtf.striprtf import rtf_to_text

        text = re.sub(r"\\(header|footer)[lrf]?(?![a-z])", "", data.decode("latin-1"))
        return alnum(rtf_to_text(text, errors="replace"))
    return alnum(data.decode("utf-8", errors="replace"))


def citation_verifies(citation: dict, files: dict[str, Path]) -> bool:
    """``files`` maps a citation's file_name to the local source file."""
    path = files.get(citation["file_name"])
    if path is None:
        return False
    quote = alnum(citation["quote"])
    if not quote:
        return False
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        page = citation.get("page")
        pages = pdf_pages(str(path))
        return bool(page) and 1 <= page <= len(pages) and quote in pages[page - 1]
    if suffix in (".rtf", ".txt", ".out"):
        # No reader numbers these files' blocks: the quote must lie in the file's text.
        return quote in whole_text(str(path))
    block = citation.get("block")
    blocks = docx_blocks(str(path)) if suffix == ".docx" else xlsx_blocks(str(path))
    return bool(block) and 1 <= block <= len(blocks) and quote in blocks[block - 1]


def all_citations(twin: dict) -> list[dict]:
    out = []
    for section in twin["sections"]:
        for paragraph in section.get("paragraphs", []):
            out.extend(paragraph.get("citations", []))
        for table in section.get("tables", []):
            out.extend(table.get("citations", []))
    return out
