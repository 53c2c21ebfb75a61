"""PDF layout analysis: running lines, paragraphs, list items and headings from styled lines."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field

from documents.pipeline.extract.common import (
    BULLETS,
    CAPTION,
    LIST_MARKER,
    Builder,
    HeadingStack,
    alnum,
    heading_label,
)
from documents.pipeline.extract.pdf_grids import Grid, find_grids
from documents.pipeline.extract.pdf_headings import (
    Heading,
    HeadingMap,
    heading_candidate,
    merge_heading,
    plausible_number,
)
from documents.pipeline.extract.pdf_lines import Line, dehyphenate_join
from documents.pipeline.extract.toc import TocEntry, find_pdf_toc
from documents.pipeline.types import Block, BlockKind

# --- PDF layout analysis ------------------------------------------------------------------


def _norm_repeat(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"\d+", "#", text.lower())).strip()


def _letters_key(key: str) -> str:
    """Letters only: "FINAL SAP - 43 -" and a page's "FINAL SAP" (number missing) are one line."""
    return re.sub(r"[^a-z]+", " ", key).strip()


_PAGE_NUMBER = re.compile(
    r"^(?:page\s*)?[#ivxlc]+(?:\s*(?:of|/)\s*#+)?$|^-\s*#+\s*-$|^#+\s*/\s*#+$|^\[?#+\]?$", re.I
)


def running_lines(pages: list[list[Line]]) -> list[set[int]]:
    """Indexes of running headers, footers and page numbers on each page."""
    n = len(pages)
    edge_keys: list[dict[int, str]] = []
    counts: Counter[str] = Counter()
    for lines in pages:
        nonblank = [i for i, ln in enumerate(lines) if ln.text.strip()]
        edges = set(nonblank[:4] + nonblank[-4:])
        styled = [i for i in nonblank if lines[i].styled]
        if styled:
            # In text order a footer may come first; by position it is still at an edge.
            by_pos = sorted(styled, key=lambda i: lines[i].pos)
            edges.update(by_pos[:2] + by_pos[-2:])
        keys = {i: _norm_repeat(lines[i].text) for i in edges}
        edge_keys.append(keys)
        counts.update({_letters_key(k) for k in keys.values()})
    threshold = max(3, math.ceil(0.4 * n))
    out: list[set[int]] = []
    for lines, keys in zip(pages, edge_keys, strict=True):
        numbers = {i for i, key in keys.items() if _PAGE_NUMBER.match(key)}
        # A number ending a row (a TOC entry's page, a table cell) is no page number.
        numbers = {
            i
            for i in numbers
            if not (
                lines[i].styled
                and any(
                    j != i
                    and lines[j].styled
                    and lines[j].text.strip()
                    and round(lines[j].pos / 2) == round(lines[i].pos / 2)
                    for j in range(len(lines))
                )
            )
        }
        repeated = {
            i
            for i, key in keys.items()
            if n >= 3 and len(_letters_key(key)) > 1 and counts[_letters_key(key)] >= threshold
        }
        content = {i for i, ln in enumerate(lines) if ln.text.strip()}
        drop = numbers | repeated
        if content and drop >= content:
            # Every line "repeats" (a document of "Potato 1", "Potato 2", ... pages): that is
            # the content itself, not a running header.
            drop = numbers if not numbers >= content else set()
        out.append(drop)
    return out


def run_in_term(first: Line, text: str) -> str:
    """A definition list's term in bold at the start of its paragraph, run into the definition
    ("**Screen** Screening is the act ..."), gets the colon that the layout's column stood for:
    "Screen: Screening is the act ...". Only a short term (up to four words) that ends in bold
    and is followed by a capitalised word in the regular font; the letters are unchanged, so
    quotes still verify."""
    term = ""
    bold = False
    for k, run in enumerate(first.runs):
        piece = run.text
        if not run.bold and k > 0 and bold and piece.strip()[:1].isupper():
            break
        term += piece
        bold = run.bold
    else:
        return text
    words = term.split()
    if (
        not bold
        or not 1 <= len(words) <= 4
        or re.search(r"[.:;,!?)”\"]", term)
        or not words[0][:1].isupper()
        or not text.startswith(term.strip())
    ):
        return text
    rest = text[len(term.strip()) :]
    if not rest[:1].isspace() or not rest.strip()[:1].isupper():
        return text
    return f"{term.strip()}: {rest.lstrip()}"


@dataclass
class _Para:
    """The paragraph being assembled from consecutive lines of one page."""

    page: int
    lines: list[Line] = field(default_factory=list)
    kind: BlockKind = "paragraph"
    label: str = ""
    level: int = 0

    def start(self, first: Line, kind: BlockKind, label: str = "", level: int = 0) -> None:
        self.lines = [first]
        self.kind, self.label, self.level = kind, label, level

    def flush(
        self, out: Builder, path: tuple[str, ...], vocab: set[str], hyphenated: set[str]
    ) -> None:
        if not self.lines:
            return
        text = ""
        for ln in self.lines:
            text = dehyphenate_join(text, ln.text, vocab, hyphenated) if text else ln.text
        text = text.strip()
        if self.kind == "paragraph":
            text = run_in_term(self.lines[0], text)
        if alnum(text):
            first = self.lines[0]
            out.add(
                kind=self.kind,
                text=text,
                page=self.page,
                level=self.level,
                number=self.label,
                heading_path=path,
                bold=first.bold,
                font_size=first.size,
            )
        self.lines = []


def _line_gaps(pages: list[list[Line]]) -> dict[float, float]:
    """Usual distance between consecutive lines of one paragraph, per font size."""
    gaps: dict[float, list[float]] = {}
    for lines in pages:
        prev: Line | None = None
        for ln in lines:
            if not ln.styled or not ln.text.strip():
                prev = None
                continue
            if prev is not None and abs(prev.size - ln.size) < 0.6 and ln.size > 0:
                g = prev.pos - ln.pos
                if 0.8 * ln.size < g < 2.5 * ln.size:
                    gaps.setdefault(round(ln.size), []).append(g)
            prev = ln
    usual: dict[float, float] = {}
    for size, values in gaps.items():
        values.sort()
        # The lower quartile: within-paragraph spacing is the most common and the smallest.
        usual[size] = values[len(values) // 4]
    return usual


def _breaks_paragraph(prev: Line, cur: Line, usual: dict[float, float]) -> bool:
    if not (prev.styled and cur.styled):
        return False
    if abs(prev.size - cur.size) >= 1.0 or prev.bold != cur.bold:
        return True
    # The next term of a definition list starts its own paragraph.
    if re.search(r"[.!?][)\]\"”’]*$", prev.text.strip()) and run_in_term(cur, cur.text.strip()) != (
        cur.text.strip()
    ):
        return True
    gap = prev.pos - cur.pos
    if gap < -0.5 * max(cur.size, 1.0):
        return True  # moved up: another column or a box placed out of order
    normal = usual.get(round(cur.size), 1.2 * cur.size)
    return gap > max(normal * 1.3, normal + 0.25 * cur.size)


def _table_row_lines(lines: list[Line], drop: set[int]) -> set[int]:
    """Lines that share their baseline with another line further along: cells of a table row."""
    by_pos: dict[int, list[int]] = {}
    for i, ln in enumerate(lines):
        if ln.styled and i not in drop and ln.text.strip():
            by_pos.setdefault(round(ln.pos / 2), []).append(i)
    out: set[int] = set()
    for group in by_pos.values():
        xs = sorted(lines[i].x for i in group)
        if len(group) >= 2 and xs[-1] - xs[0] > 30:
            out.update(group)
    return out


def pdf_structure(
    pages: list[list[Line]],
    texts: list[str],
    outline: list[TocEntry] | None = None,
    skip_pages: set[int] | None = None,
) -> tuple[list[Block], str]:
    """Blocks of a PDF from its styled lines; ``outline`` holds the document's bookmarks (as
    entries) and ``skip_pages`` the 0-based pages whose content another reader has turned into
    blocks already (results tables)."""
    styled_doc = any(ln.styled for lines in pages for ln in lines)
    # Body size per page: a document mixing 12-pt prose with 10-pt table pages has two bodies,
    # and a 12-pt line is a heading on neither. Sparse pages (title pages) use the global one.
    sizes: Counter[float] = Counter()
    page_sizes: list[Counter[float]] = []
    for lines in pages:
        counter: Counter[float] = Counter()
        for ln in lines:
            if ln.styled and not ln.bold:
                counter[round(ln.size * 2) / 2] += len(ln.text.strip())
        page_sizes.append(counter)
        sizes.update(counter)
    body = sizes.most_common(1)[0][0] if sizes else 0.0
    page_body = [c.most_common(1)[0][0] if sum(c.values()) >= 300 else body for c in page_sizes]

    vocab: set[str] = set()
    hyphenated: set[str] = set()
    for t in texts:
        vocab.update(w.lower() for w in re.findall(r"[A-Za-z]{3,}", t))
        hyphenated.update(w.lower() for w in re.findall(r"[A-Za-z]+-[A-Za-z]+", t))

    running = running_lines(pages)
    toc_drop, toc_entries = find_pdf_toc(pages, running)
    skip = [a | b for a, b in zip(running, toc_drop, strict=True)]
    for k in skip_pages or ():
        skip[k] = set(range(len(pages[k])))
    # The document's own map of its headings: the outline when it has one, else its TOC.
    heading_map = HeadingMap(outline if outline and len(outline) >= 3 else toc_entries)

    # Pass 1: heading candidates, and the size of numbered top-level headings.
    candidates: list[dict[int, Heading]] = []
    spans: dict[tuple[int, int], int] = {}  # (page lines id, first line) → after a mapped heading
    top_sizes: list[float] = []
    grids: list[dict[int, Grid]] = []
    for lines, drop, pbody in zip(pages, skip, page_body, strict=True):
        found: dict[int, Heading] = {}
        in_rows = _table_row_lines(lines, drop)
        page_grids = {g.start: g for g in find_grids(lines, drop)}
        grids.append(page_grids)
        in_grid = {k for g in page_grids.values() for k in range(g.start, g.end)}
        i = 0
        while i < len(lines):
            ln = lines[i]
            if i in drop or not ln.text.strip():
                i += 1
                continue
            if i in in_grid:
                i += 1
                continue
            hit = heading_map.match(lines, i, drop) if heading_map else None
            if hit is not None:
                found[i] = hit[0]
                spans[(id(lines), i)] = hit[1]
                if hit[0].level == 1 and hit[0].number[:1].isdigit() and ln.styled:
                    top_sizes.append(ln.size)
                i = hit[1]
                continue
            h = heading_candidate(ln, pbody, styled_doc)
            if h is not None and not h.number and i in in_rows:
                h = None  # a bold cell of a table row ("Trial Acronym | HARBOUR-301")
            if h is not None:
                found[i] = h
                if h.level == 1 and h.number and ln.styled:
                    top_sizes.append(ln.size)
            i += 1
        candidates.append(found)
    top_sizes.sort()
    top_size = top_sizes[len(top_sizes) // 2] if top_sizes else body + 2.0
    usual = _line_gaps(pages)

    out = Builder()
    stack = HeadingStack()
    title_candidates: list[tuple[float, str]] = []
    # None until the first numbered heading (which may be anything), and again after an
    # unnumbered top-level heading, after which numbering must restart near 1.
    last_number: tuple[int, ...] | None = None
    seen_numbered = False
    for page_no, (lines, drop, found, page_grids) in enumerate(
        zip(pages, skip, candidates, grids, strict=True), 1
    ):
        para = _Para(page_no)
        list_x: list[float] = []

        def flush(para: _Para = para) -> None:
            para.flush(out, stack.path, vocab, hyphenated)

        prev: Line | None = None
        i = 0
        n = len(lines)
        while i < n:
            ln = lines[i]
            s = ln.text.strip()
            if i in drop or not s:
                flush()
                prev = None
                i += 1
                continue
            grid = page_grids.get(i)
            if grid is not None:
                flush()
                rows = tuple(tuple(row) for row in grid.rows)
                out.add(
                    kind="table",
                    text="\n".join(" | ".join(row) for row in rows),
                    page=page_no,
                    heading_path=stack.path,
                    rows=rows,
                    header_rows=grid.header_rows,
                    font_size=ln.size,
                )
                prev = None
                list_x = []
                i = grid.end
                continue
            h = found.get(i)
            merged: tuple[str, int] | None = None
            if h is not None and h.mapped:
                merged = (h.title, spans[(id(lines), i)])
            elif h is not None:
                merged = merge_heading(lines, i, h, found, drop, vocab, hyphenated, last_number)
            if (
                h is not None
                and merged is not None
                and (h.mapped or not seen_numbered or plausible_number(h.number, last_number))
            ):
                title, j = merged
                flush()
                level = h.level
                if level == 0:
                    if ln.styled and ln.size >= max(page_body[page_no - 1] + 1.5, top_size - 0.5):
                        level = 1
                    else:
                        level = min(stack.anchor_level() + 1, 9)
                if h.number and h.number[0].isdigit():
                    last_number = tuple(int(x) for x in h.number.split(".") if x.isdigit())
                    seen_numbered = True
                elif level == 1:
                    last_number = None  # an appendix or attachment may restart its numbering
                path = stack.push(level, heading_label(h.number, title), bool(h.number))
                out.add(
                    kind="heading",
                    text=title,
                    page=page_no,
                    level=level,
                    number=h.number,
                    heading_path=path,
                    bold=ln.bold,
                    font_size=ln.size,
                )
                if page_no <= 2:
                    title_candidates.append((ln.size, title))
                prev = None
                list_x = []
                i = j
                continue

            marker = LIST_MARKER.match(s)
            cur = para.lines
            new_para = not cur or prev is None or _breaks_paragraph(prev, ln, usual)
            if marker and (
                new_para
                or para.kind == "list_item"
                or cur[-1].text.rstrip().endswith((".", ":", ";"))
            ):
                flush()
                while list_x and ln.x < list_x[-1] - 3:
                    list_x.pop()
                if not list_x or ln.x > list_x[-1] + 3:
                    list_x.append(ln.x)
                first = Line(marker.group(2), ln.size, ln.bold, ln.x, ln.pos, ln.styled)
                para.start(first, "list_item", marker.group(1), len(list_x))
            elif s in BULLETS:
                # A bullet alone on its line: the item's text follows on the next line.
                flush()
                first = Line("", ln.size, ln.bold, ln.x, ln.pos, ln.styled)
                para.start(first, "list_item", s, max(1, len(list_x)))
            elif new_para and not (cur and para.kind == "list_item" and not alnum(cur[-1].text)):
                flush()
                para.start(ln, "caption" if CAPTION.match(s) else "paragraph")
                if list_x and ln.x <= list_x[0] + 3:
                    list_x = []
            else:
                cur.append(ln)
            prev = ln
            i += 1
        flush()

    title = ""
    if title_candidates:
        top = max(size for size, _ in title_candidates)
        if top >= body + 1.0:
            title = max((t for size, t in title_candidates if size >= top - 0.5), key=len)
    return out.blocks, title
