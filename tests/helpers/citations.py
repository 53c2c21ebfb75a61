"""An independent citation checker, as CONTRACT §5 describes it (not the pipeline's own code).

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


@cache
def docx_blocks(path: str) -> tuple[str, ...]:
    doc = Document(path)
    blocks: list[str] = []
    for item in doc.iter_inner_content():
        if isinstance(item, Paragraph):
            blocks.append(alnum(item.text))
        elif isinstance(item, Table):
            for row in item.rows:
                blocks.append(alnum("".join(cell.text for cell in row.cells)))
    return tuple(blocks)


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
