"""XLSX reading with openpyxl: one table block per worksheet."""

from __future__ import annotations

import contextlib
import datetime as dt
import math
from typing import Any

from documents.pipeline.errors import SourceError
from documents.pipeline.extract.common import Builder, CharBudget, alnum
from documents.pipeline.extract.tlf import annotate_table
from documents.pipeline.safety import (
    Limits,
    sanitize_text,
)
from documents.pipeline.types import ExtractedSource, SourceDescriptor

# ============================================================================================
# XLSX


def _format_cell(value: Any) -> str:
    """A cell as text. Numbers are not re-formatted with the cell's number format ("0.0%",
    "0.00"): a reader comparing with the stored value (``str(value)``) must find our digits in
    its own, so 0.256 stays "0.256" and 12.5 stays "12.5"; only float noise is dropped."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds" if value.second else "minutes")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return ""
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        # 15 significant digits is what Excel shows; it drops binary noise (0.30000000000000004).
        return f"{value:.15g}"
    return sanitize_text(str(value))


def extract_xlsx(desc: SourceDescriptor, limits: Limits) -> ExtractedSource:
    import openpyxl

    name = desc.file_name
    try:
        wb = openpyxl.load_workbook(desc.local_path, read_only=True, data_only=True)
    except Exception as exc:
        raise SourceError(name, "unreadable_document") from exc
    budget = CharBudget(limits.max_extracted_chars, name)
    cell_budget = max(100_000, limits.max_extracted_chars // 4)
    out = Builder()
    offset = 0
    try:
        for ws in wb.worksheets:
            # Never trust the declared <dimension>: a sheet declaring "A1" with data in C2:O11
            # would lose every cell outside A1 (openpyxl's read-only mode reads only the declared
            # range). Read the rows as stored; the cell budget bounds the work.
            declared = ws.max_row if isinstance(ws.max_row, int) else 0
            declared_cols = ws.max_column if isinstance(ws.max_column, int) else 0
            ws.reset_dimensions()
            rows: list[tuple[str, ...]] = []
            for row in ws.iter_rows():
                cells = [_format_cell(c.value) for c in row]
                cell_budget -= len(cells) + 1
                if cell_budget < 0:
                    raise SourceError(name, "document_too_complex")
                while cells and not cells[-1]:
                    cells.pop()
                for c in cells:
                    budget.take(c)
                rows.append(tuple(cells))
            if len(rows) < declared and declared * max(declared_cols, 1) <= cell_budget:
                # Rows declared but not stored still count, as a reader trusting the dimension
                # numbers them: the next sheet's rows keep the same block numbers.
                cell_budget -= declared - len(rows)
                rows.extend([()] * (declared - len(rows)))
            n_rows = len(rows)
            first_block = offset + 1
            offset += n_rows
            while rows and not rows[-1]:
                rows.pop()
            if not any(any(alnum(c) for c in r) for r in rows):
                continue
            text = "\n".join(" | ".join(r) for r in rows)
            sheet = sanitize_text(ws.title)
            out.add(
                kind="table",
                text=text,
                block=first_block,
                heading_path=(sheet,),
                rows=tuple(rows),
                **annotate_table(rows),
            )
    finally:
        with contextlib.suppress(Exception):
            wb.close()
    if not out.blocks:
        raise SourceError(
            name,
            "no_text_found",
            "The workbook's sheets hold no cell values (charts and images are not read; a "
            "formula without a saved result has no value: open and save the file in Excel).",
        )
    title = ""
    with contextlib.suppress(Exception):
        title = sanitize_text(wb.properties.title or "").strip()
    return ExtractedSource(
        file_path=desc.file_path,
        file_name=desc.file_name,
        sha256=desc.sha256,
        file_type="xlsx",
        page_count=None,
        blocks=tuple(out.blocks),
        title=title or (out.blocks[0].heading_path[0] if out.blocks else ""),
    )
