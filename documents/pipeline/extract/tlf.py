"""Results tables (TLFs: tables, listings, figures) recognised by their form, in any reader.

A TLF has a number and title ("Table 14.2.1.1 Progression-Free Survival (BICR)", "Table
14-3.01", "Listing 16.2.7.1"), an analysis-set line ("Full Analysis Set", "Safety Population",
"Population: Efficacy", "Analysis set: Safety"), column headers (often with ``N=`` counts), data
rows and footnotes. ``annotate_table`` finds these parts in a grid of cells (DOCX, XLSX and RTF
tables); ``parse_fixed_width`` rebuilds grids from fixed-width text (plain-text listings and
PDF pages read in pypdf's layout mode).

Block fields (``types.Block``): ``caption`` is the title as printed (number included),
``table_number`` the number, ``population`` the analysis-set line, ``rows[:header_rows]`` the
rows before the data (title, population and column-header rows when the grid holds them), and
``footnotes`` the lines printed under the table (when the grid holds them, its last rows).
"""

from __future__ import annotations

import re
from typing import Any

TLF_NUMBER = re.compile(
    r"^\s*(?P<kind>(?:Appendix\s+|Supplementary\s+|Summary\s+)?(?:Table|Listing|Figure|Output))"
    r"\s*:?\s+(?P<number>[A-Z]{0,2}\d{1,3}(?:[.\-_]\d{1,3}){1,6}(?:\.[A-Za-z0-9]{1,4})?|"
    r"[A-Z]?\d{1,3}(?:\.[A-Z0-9]{1,4})?)(?P<rest>(?:\s*[:.\-–—]\s*|\s+|$).*)$",
    re.I,
)
_POPULATION_LABEL = re.compile(
    r"^\s*(?:analysis\s+(?:set|population)|population|analysis\s+set\(s\)|data\s*set)\s*[:=]\s*"
    r"(?P<value>\S.*)$",
    re.I,
)
_POPULATION_NAME = re.compile(
    r"^(?:\(?(?:the\s+)?(?:full|modified|safety|solicited\s+safety|intent[- ]to[- ]treat|"
    r"per[- ]protocol|efficacy|randomi[sz]ed|enrolled|evaluable|treated|all\s+(?:treated|"
    r"randomi[sz]ed|enrolled)|as[- ]treated|pharmacokinetic|pk|immunogenicity|screened|"
    r"m?itt|fas|pps?|ss)\b[\w\s\-,()/]*?\b(?:set|population|analysis\s+set|subjects|"
    r"participants|patients)(?:\s+for\s+[\w\s\-]+)?\)?)\s*$",
    re.I,
)
_POPULATION_WORDS = re.compile(
    r"\b(?:analysis\s+set|analysis\s+population|population|(?:safety|efficacy|randomi[sz]ed|"
    r"enrolled|treated|evaluable|immunogenicity|pk)\s+set)\b",
    re.I,
)
N_HEADER = re.compile(r"\bN\s*=\s*\d+", re.I)
_FOOTNOTE_START = re.compile(
    r"^\s*(?:\[\w{1,3}\]|\(\w{1,2}\)|[a-z]\)|\*+|†|‡|§|¶|\d{1,2}\s*[.)]\s|note[s]?\b|"
    r"source\b|program\b|abbreviations?\b|footnote|percentages?\b|n\s*=|[A-Z]{2,}\s*=)",
    re.I,
)
_PROGRAM_LINE = re.compile(r"^\s*(?:program|source|output|generated|run\s+date)\s*:", re.I)
_PAGE_OF = re.compile(r"\bpage\s+(\d+)\s+of\s+(\d+)\b", re.I)


def tlf_title(text: str) -> tuple[str, str] | None:
    """(number, title) when ``text`` starts like a TLF title ("Table 14.2.1.1 ...")."""
    m = TLF_NUMBER.match(text)
    if m is None:
        return None
    number = m.group("number")
    if not any(ch.isdigit() for ch in number):
        return None
    return number, m.group("rest").strip(" :.-–—")


def population_of(text: str) -> str:
    """The analysis set a line names ("Population: Efficacy" → "Efficacy"), or ""."""
    s = re.sub(r"\s+", " ", text).strip()
    if not s or len(s) > 120:
        return ""
    m = _POPULATION_LABEL.match(s)
    if m:
        return s
    if _POPULATION_NAME.match(s):
        return s
    # "All screened patients; ITT analysis set", "Responders in the ITT analysis set".
    if (
        len(s) <= 100
        and _POPULATION_WORDS.search(s)
        and not s.endswith((".", ":"))
        and sum(ch.isdigit() for ch in s) <= 2
        and not tlf_title(s)
        and "|" not in s
    ):
        return s
    return ""


def page_of(text: str) -> tuple[int, int] | None:
    m = _PAGE_OF.search(text)
    return (int(m.group(1)), int(m.group(2))) if m else None


def _cells(row: tuple[str, ...]) -> list[str]:
    """The row's filled cells; a cell merged over every column (a Word title or footnote row,
    repeated in each grid column it spans by ``docx_text.table_rows``) counts once."""
    cells = [c.strip() for c in row if c and c.strip()]
    if len(cells) == len(row) > 1 and len(set(cells)) == 1:
        return cells[:1]
    return cells


def _is_numeric(cell: str) -> bool:
    letters = sum(ch.isalpha() for ch in cell)
    digits = sum(ch.isdigit() for ch in cell)
    return digits > 0 and letters <= 2


def annotate_table(rows: list[tuple[str, ...]] | tuple[tuple[str, ...], ...]) -> dict[str, Any]:
    """The TLF fields of a grid (``Block`` keyword arguments); {} when it is no results table.

    Looks for a TLF number in the first rows (a title row, often one merged cell), the
    analysis-set line near it, the column headers down to the last row with ``N=`` (else the
    first row of labels), and footnotes in the trailing rows of one cell.
    """
    n = len(rows)
    caption = number = population = ""
    k = 0
    title_rows = 0
    after_number = False
    # Title block: leading rows of one cell (or whose first cell is the title).
    while k < n and k < 8:
        cells = _cells(rows[k])
        if not cells:
            k += 1
            continue
        first = re.sub(r"\s+", " ", cells[0])
        hit = tlf_title(first)
        if hit and not number:
            number = hit[0]
            caption = first
            k += 1
            title_rows = k
            after_number = True
            continue
        pop = population_of(first) if len(cells) == 1 else ""
        if pop and not population:
            population = pop
            k += 1
            title_rows = k
            after_number = False
            continue
        if number and len(cells) == 1 and not _is_numeric(first) and not N_HEADER.search(first):
            if after_number and len(caption) + len(first) < 400:
                caption = f"{caption} {first}"  # the title's next line
            k += 1
            title_rows = k
            continue
        break
    has_n = any(N_HEADER.search(" ".join(r)) for r in rows[title_rows : title_rows + 8])
    if not number and not (population and has_n):
        return {}
    # Column headers: down to the last row with N= among the next rows, else one row.
    header_end = title_rows
    last_n = -1
    for j in range(title_rows, min(n, title_rows + 8)):
        if N_HEADER.search(" ".join(rows[j])):
            last_n = j
    if last_n >= 0:
        header_end = last_n + 1
    else:
        # Rows of labels without figures, up to three ("Baseline | Week 20" over
        # "N | Mean (SD) | N | Mean (SD)").
        first = title_rows
        while first < n and not _cells(rows[first]):
            first += 1
        while first < n and first < title_rows + 3:
            cells = _cells(rows[first])
            if len(cells) < 2 or any(_is_numeric(c) for c in cells[1:]):
                break
            first += 1
            header_end = first
    # Footnotes: trailing rows of one cell.
    footnotes: list[str] = []
    j = n - 1
    while j >= header_end:
        cells = _cells(rows[j])
        if not cells:
            j -= 1
            continue
        if len(cells) != 1 or (_is_numeric(cells[0]) and len(cells[0]) < 20):
            break
        footnotes.append(re.sub(r"\s+", " ", cells[0]))
        j -= 1
    footnotes.reverse()
    return {
        "caption": caption,
        "table_number": number,
        "population": population,
        "header_rows": header_end,
        "footnotes": tuple(footnotes),
    }


# --- fixed-width text ---------------------------------------------------------------------

_SEGMENT = re.compile(r"\S+(?: \S+)*")
_RULE = re.compile(r"^\s*[-=_—–]{5,}\s*$")


def _segments(line: str) -> list[tuple[int, int, str]]:
    """Runs of text separated by two spaces or more: (start, end, text)."""
    return [(m.start(), m.end(), m.group(0)) for m in _SEGMENT.finditer(line)]


def _columns(lines: list[str]) -> list[tuple[int, int]]:
    """Column spans from the lines with two segments or more: positions almost never inked."""
    rows = [ln for ln in lines if len(_segments(ln)) >= 2]
    if not rows:
        return []
    width = max(len(ln) for ln in rows)
    ink = [0] * (width + 1)
    for ln in rows:
        for s, e, _ in _segments(ln):
            for p in range(s, e):
                ink[p] += 1
    allowed = max(0, len(rows) // 20)
    spans: list[tuple[int, int]] = []
    start = None
    gap = 0
    for p in range(width + 1):
        if ink[p] > allowed:
            if start is None:
                start = p
            gap = 0
        elif start is not None:
            gap += 1
            if gap >= 2:
                spans.append((start, p - gap + 1))
                start, gap = None, 0
    if start is not None:
        spans.append((start, width))
    return spans


def split_row(line: str, spans: list[tuple[int, int]]) -> tuple[str, ...]:
    """The line's segments placed in the column they overlap most."""
    cells = [""] * len(spans)
    for s, e, text in _segments(line):
        best, overlap = 0, -1
        for k, (cs, ce) in enumerate(spans):
            o = min(e, ce) - max(s, cs)
            if o > overlap:
                best, overlap = k, o
        if overlap <= 0:
            # Between columns: the nearest one to its left.
            best = max([k for k, (cs, _) in enumerate(spans) if cs <= s] or [0])
        cells[best] = f"{cells[best]} {text}".strip()
    return tuple(cells)


def parse_fixed_width(lines: list[str]) -> dict[str, Any] | None:
    """One fixed-width TLF (a text page or listing) as ``Block`` fields with ``rows``; None when
    the lines hold no table of two columns or more.

    The title block is the lines before the column headers (number and title, population);
    column headers run down to the last line with ``N=`` (or the first line above a rule, or
    the first line of labels); data lines follow; footnotes are the one-segment lines after the
    last data line. Rules (``-----``) separate parts and are dropped.
    """
    content = [ln.rstrip() for ln in lines]
    idx = [k for k, ln in enumerate(content) if ln.strip()]
    if not idx:
        return None
    # Page furniture above the title block ("Protocol: X   Page 1 of 2") is not the table's.
    head = next(
        (k for k in idx[:10] if tlf_title(content[k].strip()) or population_of(content[k])), None
    )
    if head is not None:
        idx = [k for k in idx if k >= head]
    # The table body: lines with two segments or more, from the first to the last.
    multi = [k for k in idx if len(_segments(content[k])) >= 2 and not _RULE.match(content[k])]
    if len(multi) < 2:
        return None
    # Footnotes start at the first prose line after the column headers (one segment ending in
    # a full stop, a long one, a marked one) or at a program line; no data follows them.
    for k in idx:
        if k <= multi[0] + 1:
            continue
        s = content[k].strip()
        one = len(_segments(content[k])) == 1 and not _RULE.match(s)
        prose = one and (
            (s.endswith(".") and len(s) >= 25) or len(s) >= 80 or _FOOTNOTE_START.match(s)
        )
        if _PROGRAM_LINE.match(s) or prose:
            multi = [m for m in multi if m < k]
            break
    if len(multi) < 2:
        return None
    caption = number = population = ""
    title_lines: list[int] = []
    for k in idx:
        if k >= multi[0]:
            break
        s = re.sub(r"\s+", " ", content[k]).strip()
        if _RULE.match(content[k]) or (page_of(s) and len(s) < 40):
            continue
        hit = tlf_title(s)
        if hit and not number:
            number, caption = hit[0], s
            title_lines.append(k)
            continue
        pop = population_of(s)
        if pop and not population:
            population = pop
            title_lines.append(k)
            continue
        if number and not population and len(caption) + len(s) < 400:
            caption = f"{caption} {s}"
            title_lines.append(k)
    first, last = multi[0], multi[-1]
    body = [k for k in idx if first <= k <= last and not _RULE.match(content[k])]
    # Header lines: to the last line with N= near the top, else to the first rule, else one.
    header_end = first
    for k in body[:8]:
        if N_HEADER.search(content[k]):
            header_end = k
    if header_end == first and not N_HEADER.search(content[first]):
        rules = [k for k in range(first, min(last, first + 6)) if _RULE.match(content[k])]
        if rules:
            header_end = (
                max(k for k in body if k < rules[0]) if any(k < rules[0] for k in body) else first
            )
    spans = _columns([content[k] for k in body if k > header_end] or [content[first]])
    if len(spans) < 2:
        return None
    rows: list[tuple[str, ...]] = []
    header_rows = 0
    for k in body:
        row = split_row(content[k], spans)
        if not any(row):
            continue
        rows.append(row)
        if k <= header_end:
            header_rows += 1
    tail = [k for k in idx if k > last and not _RULE.match(content[k])]
    tail = [k for k in tail if not (page_of(content[k]) and len(content[k].strip()) < 40)]
    footnotes = [re.sub(r"\s+", " ", content[k]).strip() for k in tail]
    used = set(title_lines) | set(range(first, last + 1)) | set(tail)
    used |= {k for k in idx if k > last and _RULE.match(content[k])}
    return {
        "caption": caption,
        "table_number": number,
        "population": population,
        "header_rows": header_rows,
        "footnotes": tuple(footnotes),
        "rows": tuple(rows),
        "used_lines": tuple(sorted(used)),
    }
