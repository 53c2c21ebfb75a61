"""Plain-text outputs (``.txt``, ``.out``): fixed-width tables and listings as SAS and R write them.

The file is decoded as UTF-8 (a BOM allowed), else Windows-1252; a file with NUL bytes or
mostly control characters is not text. Pages are split at form feeds. On each page, the lines of
a results table (a TLF number, an analysis-set line or ``N=`` column headers, and two columns or
more) become one ``table`` block (``tlf.parse_fixed_width``); a table continued over pages
("Page 2 of 3", the same number and title) is joined into one, its repeated column headers
dropped. Other lines become paragraphs (blank lines separate them).

Locations: blocks are numbered in reading order, one number per paragraph and per table row
(the title, population and footnote rows of a table included), so row ``i`` of a table is
``block + i`` as for DOCX and XLSX tables.
"""

from __future__ import annotations

import re
from typing import Any

from documents.pipeline.errors import SourceError
from documents.pipeline.extract.common import Builder, CharBudget, alnum
from documents.pipeline.extract.tlf import N_HEADER, page_of, parse_fixed_width, population_of
from documents.pipeline.safety import Limits, sanitize_text
from documents.pipeline.types import ExtractedSource, SourceDescriptor

_RULE = re.compile(r"^\s*[-=_—–]{5,}\s*$")


def decode_text(data: bytes, name: str) -> str:
    """The file's text; ``invalid_file_type`` when it is binary."""
    if b"\x00" in data[:65536]:
        raise SourceError(name, "invalid_file_type")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    sample = text[:65536]
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\n\r\f")
    if sample and controls > 0.05 * len(sample):
        raise SourceError(name, "invalid_file_type")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def table_rows_with_parts(parsed: dict[str, Any]) -> tuple[list[tuple[str, ...]], int]:
    """A parsed table's rows with its title, population and footnote lines as one-cell rows,
    and the number of leading rows before the data."""
    width = max((len(r) for r in parsed["rows"]), default=1)
    pad = ("",) * (width - 1)
    lead: list[tuple[str, ...]] = []
    if parsed["caption"]:
        lead.append((parsed["caption"], *pad))
    if parsed["population"]:
        lead.append((parsed["population"], *pad))
    rows = lead + list(parsed["rows"]) + [(f, *pad) for f in parsed["footnotes"]]
    return rows, len(lead) + parsed["header_rows"]


def _same_table(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if a["table_number"] and a["table_number"] == b["table_number"]:
        return True
    return bool(a["caption"]) and alnum(a["caption"]) == alnum(b["caption"])


def merge_pages(tables: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Join a table continued over pages: same number (or title), repeated headers dropped."""
    out: list[dict[str, Any]] = []
    for t in tables:
        prev = out[-1] if out else None
        if prev is not None and _same_table(prev, t):
            header = t["rows"][: t["header_rows"]]
            body = t["rows"][t["header_rows"] :]
            if header != prev["rows"][: prev["header_rows"]]:
                body = t["rows"]
            prev["rows"] = tuple(prev["rows"]) + tuple(body)
            prev["footnotes"] = tuple(dict.fromkeys((*prev["footnotes"], *t["footnotes"])))
            prev["row_pages"] = (*prev.get("row_pages", ()), *t.get("row_pages", ())[-len(body) :])
            continue
        out.append(dict(t))
    return out


def is_tlf(parsed: dict[str, Any] | None) -> bool:
    if parsed is None or len(parsed["rows"]) < 2:
        return False
    marked = parsed["table_number"] or parsed["population"]
    return bool(marked) or any(N_HEADER.search(" ".join(r)) for r in parsed["rows"][:6])


def extract_text_file(desc: SourceDescriptor, limits: Limits) -> ExtractedSource:
    name = desc.file_name
    with open(desc.local_path, "rb") as fh:
        data = fh.read(limits.max_extracted_chars * 4 + 1)
    if len(data) > limits.max_extracted_chars * 4:
        raise SourceError(name, "document_too_complex")
    text = decode_text(data, name)
    budget = CharBudget(limits.max_extracted_chars, name)
    budget.take(text)
    pages = [sanitize_text(page) for page in text.split("\f")]
    if len(pages) > limits.max_blocks:
        raise SourceError(name, "document_too_complex")

    # Per page: its table (when it holds a TLF) and its other lines.
    units: list[tuple[str, Any]] = []  # ("para", text) | ("table", parsed)
    for page in pages:
        lines = page.split("\n")
        parsed = parse_fixed_width(lines)
        used: set[int] = set()
        if is_tlf(parsed):
            assert parsed is not None
            used = set(parsed["used_lines"])
        para: list[str] = []
        table_placed = False
        for k, line in enumerate(lines):
            if k in used:
                if para:
                    units.append(("para", " ".join(para)))
                    para = []
                if not table_placed:
                    units.append(("table", parsed))
                    table_placed = True
                continue
            s = line.strip()
            if not s or _RULE.match(s) or (page_of(s) and len(s) < 40):
                if para:
                    units.append(("para", " ".join(para)))
                    para = []
                continue
            para.append(re.sub(r"\s+", " ", s))
        if para:
            units.append(("para", " ".join(para)))

    # Join tables continued over pages (only paragraphs of page furniture between them).
    merged: list[tuple[str, Any]] = []
    for kind, value in units:
        if kind == "table" and merged:
            k = len(merged) - 1
            while k >= 0 and merged[k][0] == "para" and len(merged[k][1]) < 80:
                k -= 1
            if k >= 0 and merged[k][0] == "table":
                joined = merge_pages([merged[k][1], value])
                if len(joined) == 1:
                    merged[k] = ("table", joined[0])
                    continue
        merged.append((kind, value))

    out = Builder()
    block = 0
    for kind, value in merged:
        if kind == "para":
            block += 1
            out.add(kind="paragraph", text=value, block=block)
            continue
        rows, header_rows = table_rows_with_parts(value)
        out.add(
            kind="table",
            text="\n".join(" | ".join(r) for r in rows),
            block=block + 1,
            rows=tuple(rows),
            caption=value["caption"],
            table_number=value["table_number"],
            population=value["population"] or _population_near(merged, value),
            header_rows=header_rows,
            footnotes=tuple(value["footnotes"]),
        )
        block += len(rows)
        if block > limits.max_blocks:
            raise SourceError(name, "document_too_complex")
    if not any(alnum(b.text) for b in out.blocks):
        raise SourceError(name, "no_text_found", "The text file holds no letters or digits.")
    tables = [b for b in out.blocks if b.kind == "table"]
    title = next((b.caption for b in tables if b.caption), "")
    return ExtractedSource(
        file_path=desc.file_path,
        file_name=desc.file_name,
        sha256=desc.sha256,
        file_type=(desc.file_type or "txt").lower(),
        page_count=None,
        blocks=tuple(out.blocks),
        title=title,
    )


def _population_near(units: list[tuple[str, Any]], table: dict[str, Any]) -> str:
    """An analysis-set line printed above the table (outside its title block)."""
    found = ""
    for kind, value in units:
        if kind == "table" and value is table:
            return found
        if kind == "para" and population_of(value):
            found = population_of(value)
    return ""
