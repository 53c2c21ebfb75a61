"""Tables of contents and lists of tables, recognised by their form, used as a map, never as text.

A PDF's lines are regrouped into *visual rows* by baseline (pypdf's text order often puts an
entry's dot leader and page number before or after its title on another line; the positions
do not lie). A row is a TOC entry when it ends in a page number after its label, with or without
dot leaders (``. . . . 12``, ``......12``, ``…12``, or plain spaces). A TOC region starts at a
title ("Contents", "Table of Contents", "List of Tables", "Index of Tables and Listings", ...)
and runs over entry rows, column-header rows ("Section Page") and wrapped entries (a first line
without a page number followed by the entry's end), across page breaks, until a row that is none
of these, or whose page number goes backwards. Without a title, a page with three or more rows
with dot leaders is a TOC page. Every line of a TOC region is dropped from the text; its entries
(number, title, page, level) are returned as a map of the document's headings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from documents.pipeline.extract.common import CAPTION, split_heading_label

if TYPE_CHECKING:
    from documents.pipeline.extract.pdf_lines import Line

TOC_TITLE = re.compile(
    r"^(?:table\s+of\s+contents?|contents|list\s+of\s+(?:tables|figures|listings|appendices|"
    r"in-text\s+tables|attachments)|(?:index|list)\s+of\s+(?:tables|outputs)(?:\s*(?:,|and)\s*"
    r"(?:figures|listings))*(?:\s+and\s+(?:figures|listings))?)"
    r"(?:\s*\((?:continued|concluded|cont'?d)\))?\s*$",
    re.I,
)
# Column headers of a TOC ("Section Page", "PAGE", "Output Title Population Page").
TOC_PAGE_HEADER = re.compile(r"^(?:\w+\s+){0,4}page\s*$", re.I)
_ENTRY = re.compile(
    r"^(?P<label>.*?\S)\s*(?P<lead>(?:\.\s?){2,}\.?|(?:…\s*)+|_{3,}|-{3,}|\s)\s*"
    r"(?P<page>\d{1,4}|[ivxlcdm]{1,7})\s*$",
    re.I,
)
_HAS_LEADER = re.compile(r"(?:\.\s?){3,}|…|_{3,}")


@dataclass(frozen=True)
class TocEntry:
    label: str  # the entry as printed, without leader and page ("5.1 Inclusion Criteria")
    number: str  # "5.1", "7.1" (from "Section 7.1"), "APPENDIX A", or ""
    title: str  # the label without its number
    page: int  # 0 for roman numerals
    level: int  # numbering depth (1 = top); 1 for unnumbered entries


def parse_entry(text: str) -> tuple[str, int, bool] | None:
    """(label, page, has leader) of a TOC entry row, or None."""
    m = _ENTRY.match(text.strip())
    if m is None:
        return None
    label = m.group("label").strip().rstrip(".").strip()
    if sum(ch.isalpha() for ch in label) < 2 or len(label) > 250:
        return None
    page_text = m.group("page")
    page = int(page_text) if page_text.isdigit() else 0
    if not page_text.isdigit() and not _HAS_LEADER.search(m.group("lead")):
        return None  # "Phase ii" is no entry; "Preface ....... iii" is
    return label, page, bool(_HAS_LEADER.search(m.group("lead")))


def make_entry(label: str, page: int) -> TocEntry:
    label = re.sub(r"\s+", " ", label).strip()
    parts = split_heading_label(label)
    if parts is None:
        return TocEntry(label, "", label, page, 1)
    number, title = parts
    level = number.count(".") + 1 if number[:1].isdigit() else 1
    return TocEntry(label, number, title, page, level)


# --- PDF ------------------------------------------------------------------------------------


@dataclass
class _Row:
    page: int
    lines: set[int]  # indexes of the page's lines with a run in this row
    text: str
    top: float


def _visual_rows(page: int, lines: list[Line], dropped: set[int]) -> list[_Row]:
    """The page's runs grouped by baseline, each row's pieces in x order, rows top to bottom."""
    pieces: list[tuple[float, float, float, int, str]] = []
    for i, ln in enumerate(lines):
        if i in dropped or not ln.text.strip():
            continue
        if not ln.runs:
            # No positions (the visitor saw other text): the line is its own row.
            pieces.append((-float(i) * 1000.0, 0.0, 10.0, i, ln.text))
            continue
        for run in ln.runs:
            if run.text.strip():
                pieces.append((run.pos, run.x, run.size, i, run.text))
    pieces.sort(key=lambda p: (-p[0], p[1]))
    rows: list[_Row] = []
    group: list[tuple[float, float, float, int, str]] = []
    for piece in pieces:
        if group and abs(group[0][0] - piece[0]) > max(2.0, 0.35 * max(piece[2], 1.0)):
            rows.append(_row(page, group))
            group = []
        group.append(piece)
    if group:
        rows.append(_row(page, group))
    return rows


def _row(page: int, group: list[tuple[float, float, float, int, str]]) -> _Row:
    group.sort(key=lambda p: p[1])
    text = re.sub(r"\s+", " ", " ".join(p[4].strip() for p in group)).strip()
    return _Row(page, {p[3] for p in group}, text, group[0][0])


def _wrapped_start(text: str) -> bool:
    return 0 < len(text) <= 160 and not text.endswith((".", ";", ":")) and text[:1] != "("


def find_pdf_toc(
    pages: list[list[Line]], running: list[set[int]]
) -> tuple[list[set[int]], list[TocEntry]]:
    """Lines to drop on each page (TOC titles, entries, wrapped entries) and the entries."""
    drop: list[set[int]] = [set() for _ in pages]
    entries: list[TocEntry] = []
    in_toc = False
    last_page = 0
    any_leader = False
    preamble = 0
    for p, (lines, dropped) in enumerate(zip(pages, running, strict=True)):
        rows = _visual_rows(p, lines, dropped)
        marked: set[int] = set()
        leader_rows = [k for k, r in enumerate(rows) if _is_leader_entry(r.text)]
        if not in_toc and len(leader_rows) >= 3 and not any(TOC_TITLE.match(r.text) for r in rows):
            # A TOC page without a title: its rows with leaders and their wrapped first lines.
            for k in leader_rows:
                marked.add(k)
                entry = parse_entry(rows[k].text)
                label = entry[0] if entry else rows[k].text
                j = k - 1
                while j >= 0 and j not in marked and k - j <= 2 and _wrapped_start(rows[j].text):
                    if parse_entry(rows[j].text) is not None:
                        break
                    label = rows[j].text + " " + label
                    marked.add(j)
                    j -= 1
                if entry:
                    entries.append(make_entry(label, entry[1]))
            in_toc = bool(leader_rows) and max(leader_rows) >= len(rows) - 3
            any_leader = True
        else:
            k = 0
            n = len(rows)
            first_content = True
            while k < n:
                text = rows[k].text
                if TOC_TITLE.match(text):
                    marked.add(k)
                    in_toc, last_page, any_leader = True, 0, False
                    preamble = 0
                    k += 1
                    first_content = False
                    continue
                if not in_toc:
                    k += 1
                    first_content = False
                    continue
                if TOC_PAGE_HEADER.match(text) and len(text) < 60:
                    marked.add(k)
                    k += 1
                    continue
                entry = parse_entry(text)
                label_rows = [k]
                if entry is None and _wrapped_start(text):
                    # A wrapped entry: this row and up to two more, the last with its page.
                    for extra in (1, 2):
                        if k + extra < n:
                            nxt = parse_entry(rows[k + extra].text)
                            if nxt is not None:
                                label = " ".join(rows[k + i].text for i in range(extra))
                                entry = (label + " " + nxt[0], nxt[1], nxt[2])
                                label_rows = list(range(k, k + extra + 1))
                                break
                            if not _wrapped_start(rows[k + extra].text):
                                break
                if entry is None and last_page == 0 and preamble < 4 and len(text) < 300:
                    preamble += 1  # a note between the title and the first entry: kept as text
                    k += 1
                    continue
                if entry is None or (entry[1] and entry[1] < last_page):
                    in_toc = False
                    continue
                if first_content and p > 0 and any_leader and not entry[2]:
                    # After a page break, a TOC with leaders continues only with leaders.
                    in_toc = False
                    continue
                first_content = False
                marked.update(label_rows)
                any_leader = any_leader or entry[2]
                last_page = max(last_page, entry[1])
                entries.append(make_entry(entry[0], entry[1]))
                k = label_rows[-1] + 1
        for k in marked:
            drop[p].update(rows[k].lines)
        # A line with runs in a marked row and in a body row stays (its text is content).
        kept_lines = {i for k, r in enumerate(rows) if k not in marked for i in r.lines}
        drop[p] -= kept_lines
    return drop, [e for e in entries if not CAPTION.match(e.label)]


def _is_leader_entry(text: str) -> bool:
    entry = parse_entry(text)
    return entry is not None and entry[2]
