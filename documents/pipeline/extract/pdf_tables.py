"""Results tables (TLFs) in PDFs, rebuilt from text positions.

A page is a TLF page when one of its first three lines (after the running header) is a TLF
title ("Table 14.2.1.1", "Listing 16.2.7.3"; at most two such titles on the page, so an index of
tables is not one, and a table inside a protocol's text, below a heading, is not one either) and
an analysis-set line or ``N=`` column headers follow it closely. Such a page
is read a second time in pypdf's layout mode, which keeps each text run at its horizontal
position; ``tlf.parse_fixed_width`` then splits its lines into columns from the gaps that no
data line crosses. Only TLF pages pay for the second pass. A table printed over several pages
("Page 1 of 2", the same number on the next page) is joined into one block: its repeated title
and column headers are dropped and ``Block.row_pages`` gives the page of each row, so that a
quote of a row verifies on its own page (``ExtractedSource.pages`` is unchanged: the plain
extraction, where each row's cells follow each other).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from documents.pipeline.extract.common import split_heading_label
from documents.pipeline.extract.pdf_lines import Line
from documents.pipeline.extract.text import merge_pages, table_rows_with_parts
from documents.pipeline.extract.tlf import N_HEADER, parse_fixed_width, population_of, tlf_title
from documents.pipeline.types import Block

logger = logging.getLogger(__name__)


def tlf_pages(pages: list[list[Line]], running: list[set[int]]) -> list[int]:
    """0-based indexes of the pages that hold one results table."""
    out = []
    for k, (lines, drop) in enumerate(zip(pages, running, strict=True)):
        content = [
            ln.text.strip() for i, ln in enumerate(lines) if i not in drop and ln.text.strip()
        ]
        titles = [s for s in content if tlf_title(s)]
        if not titles or len(titles) > 2:
            continue
        # The output's title heads the page (a table inside a protocol's text does not).
        top = next((j for j, s in enumerate(content[:3]) if tlf_title(s)), None)
        if top is None or any(split_heading_label(s) for s in content[:top]):
            continue
        below = content[top : top + 10]
        if any(N_HEADER.search(s) for s in below) or any(population_of(s) for s in below):
            out.append(k)
    return out


def read_tables(
    reader: Any, page_indexes: list[int], texts: list[str]
) -> dict[int, dict[str, Any]]:
    """The TLF of each page (0-based index → parsed table with ``page``), as layout text."""
    tables: dict[int, dict[str, Any]] = {}
    for k in page_indexes:
        try:
            layout = reader.pages[k].extract_text(extraction_mode="layout") or ""
        except (MemoryError, RecursionError):
            raise
        except Exception as exc:  # the page keeps its plain-text reading
            logger.info("page %d: layout reading failed: %r", k + 1, exc)
            continue
        lines = layout.split("\n")
        start = next((i for i, ln in enumerate(lines) if tlf_title(ln.strip())), None)
        if start is None:
            continue
        parsed = parse_fixed_width(lines[start:])
        if parsed is None or not parsed["table_number"]:
            continue
        parsed["page"] = k + 1
        parsed["row_pages"] = (k + 1,) * len(parsed["rows"])
        tables[k] = parsed
    return tables


def table_blocks(tables: dict[int, dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """(first page, Block fields) of each table, tables continued over pages joined."""
    joined: list[dict[str, Any]] = []
    for k in sorted(tables):
        t = tables[k]
        prev = joined[-1] if joined else None
        if prev is not None and prev["last_page"] == t["page"] - 1:
            merged = merge_pages([prev, t])
            if len(merged) == 1:
                merged[0]["last_page"] = t["page"]
                joined[-1] = merged[0]
                continue
        joined.append({**t, "last_page": t["page"]})
    out = []
    for t in joined:
        rows, header_rows = table_rows_with_parts(t)
        lead = header_rows - t["header_rows"]
        body_pages = list(t["row_pages"])
        row_pages = [t["page"]] * lead + body_pages + [t["last_page"]] * len(t["footnotes"])
        fields = {
            "rows": tuple(rows),
            "caption": t["caption"],
            "table_number": t["table_number"],
            "population": t["population"],
            "header_rows": header_rows,
            "footnotes": tuple(t["footnotes"]),
            "row_pages": tuple(row_pages) if t["last_page"] != t["page"] else (),
        }
        out.append((t["page"], fields))
    return out


def insert_tables(blocks: list[Block], tables: list[tuple[int, dict[str, Any]]]) -> list[Block]:
    """The structure's blocks with the table blocks placed by page, all re-indexed."""
    merged: list[Block] = []
    pending = sorted(tables, key=lambda t: t[0])
    for b in blocks:
        while pending and b.page is not None and pending[0][0] < b.page:
            merged.append(_table_block(pending.pop(0), merged))
        merged.append(b)
    while pending:
        merged.append(_table_block(pending.pop(0), merged))
    return [replace(b, index=i) for i, b in enumerate(merged, 1)]


def _table_block(item: tuple[int, dict[str, Any]], before: list[Block]) -> Block:
    page, fields = item
    rows = fields["rows"]
    return Block(
        index=0,
        kind="table",
        text="\n".join(" | ".join(r) for r in rows),
        page=page,
        heading_path=before[-1].heading_path if before else (),
        **fields,
    )
