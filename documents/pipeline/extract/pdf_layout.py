"""PDF layout analysis: running lines, paragraphs, list items and headings from styled lines."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field

from documents.pipeline.extract.common import (
    APPENDIX,
    BULLETS,
    CAPTION,
    LIST_MARKER,
    NUM_HEADING,
    Builder,
    HeadingStack,
    alnum,
    heading_label,
)
from documents.pipeline.extract.toc import toc_lines
from documents.pipeline.types import Block, BlockKind

# Endings that mark a line-end hyphen as a soft break inside one word ("treat-/ment").
# fmt: off
_COMMON_SUFFIXES = frozenset({
    "ment", "ments", "tion", "tions", "sion", "sions", "ing", "ings", "ed", "ly", "ity",
    "ities", "ness", "ance", "ances", "ence", "ences", "able", "ible", "al", "ally", "ial",
    "ive", "ous", "er", "ers", "ist", "ists", "ism", "ize", "ized", "ise", "ised", "ical",
    "ogy", "ia", "ic", "ics", "ate", "ated", "ation", "ations",
})
# fmt: on


@dataclass
class Line:
    text: str
    size: float = 0.0
    bold: bool = False
    x: float = 0.0
    pos: float = 0.0  # baseline position across lines (y for upright text)
    styled: bool = False


# --- PDF layout analysis ------------------------------------------------------------------


def _norm_repeat(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"\d+", "#", text.lower())).strip()


def _letters_key(key: str) -> str:
    """Letters only: "FINAL SAP - 43 -" and a page's "FINAL SAP" (number missing) are one line."""
    return re.sub(r"[^a-z]+", " ", key).strip()


_PAGE_NUMBER = re.compile(
    r"^(?:page\s*)?[#ivxlc]+(?:\s*(?:of|/)\s*#+)?$|^-\s*#+\s*-$|^#+\s*/\s*#+$|^\[?#+\]?$", re.I
)


def _running_lines(pages: list[list[Line]]) -> list[set[int]]:
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
            text = _dehyphenate_join(text, ln.text, vocab, hyphenated) if text else ln.text
        text = text.strip()
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


@dataclass
class _Heading:
    number: str
    title: str
    level: int  # 0: unnumbered, decided later from the font size


def _heading_candidate(line: Line, body: float, styled_doc: bool) -> _Heading | None:
    s = line.text.strip()
    if len(s) < 2 or len(s) > 160:
        return None
    emphasised = line.bold or line.size >= body + 1.0
    if styled_doc and line.styled and not emphasised and not s.isupper():
        return None
    m = NUM_HEADING.match(s)
    if m:
        number, title = m.group(1), m.group(2).strip()
        letters = sum(ch.isalpha() for ch in title)
        digits = sum(ch.isdigit() for ch in title)
        if letters < 2 or digits > letters or title[-1] in ",;":
            return None  # a table row ("12 Week 24 >140 168") or a wrapped sentence
        if not (title[0].isalpha() or title[0] in "('\"‘“"):
            return None
        if int(number.split(".")[0]) > 60:
            return None
        if not (styled_doc and line.styled) and (len(s) > 90 or s.endswith(".")):
            return None
        return _Heading(number, title, number.count(".") + 1)
    m = APPENDIX.match(s)
    if m and (emphasised or s.isupper()):
        return _Heading(m.group(1).strip(), m.group(2).strip(), 1)
    if not (styled_doc and line.styled):
        return None
    words = s.split()
    large = line.size >= body + 1.5
    # A large line ending in a comma can be the first line of a wrapped title; _merge_heading
    # judges the joined text.
    if len(words) > 14 or s[-1] in (".;" if large else ".,;") or LIST_MARKER.match(s):
        return None
    letters = sum(ch.isalpha() for ch in s)
    if letters < 3 or letters < 0.5 * len(s.replace(" ", "")):
        return None
    if not (s[0].isupper() or s[0].isdigit() or s[0] in "('\"‘“"):
        return None
    if line.bold and line.size >= body - 0.5:
        return _Heading("", s, 0)
    if line.size >= body + 1.5:
        return _Heading("", s, 0)
    if s.isupper() and len(words) >= 2 and line.size >= body - 0.5:
        return _Heading("", s, 0)
    return None


def _dehyphenate_join(left: str, right: str, vocab: set[str], hyphenated: set[str]) -> str:
    """Join two wrapped lines of one paragraph."""
    left = left.rstrip()
    right = right.lstrip()
    if not left:
        return right
    if not right:
        return left
    if left.endswith("\u00ad"):
        return left[:-1] + right
    if left.endswith("-") and len(left) >= 2 and left[-2].isalpha() and right[:1].islower():
        m1 = re.search(r"([A-Za-z]+)-$", left)
        m2 = re.match(r"([a-z]+)", right)
        if m1 and m2:
            before, after = m1.group(1), m2.group(1)
            joined = (before + after).lower()
            if f"{before}-{after}".lower() in hyphenated:
                return left + right
            if joined in vocab or after in _COMMON_SUFFIXES:
                return left[:-1] + right
        return left + right
    if left.endswith(("-", "/")):
        return left + right
    return left + " " + right


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
    gap = prev.pos - cur.pos
    if gap < -0.5 * max(cur.size, 1.0):
        return True  # moved up: another column or a box placed out of order
    normal = usual.get(round(cur.size), 1.2 * cur.size)
    return gap > max(normal * 1.3, normal + 0.25 * cur.size)


_FUNCTION_WORDS = frozenset(
    {
        *("a", "an", "and", "as", "at", "by", "for", "from", "in", "into", "of", "on", "or"),
        *("per", "than", "that", "the", "to", "vs", "with", "without"),
    }
)
_SENTENCE_INSIDE = re.compile(r"[.;]\s+[A-Z(]")


def _merge_heading(
    lines: list[Line],
    i: int,
    h: _Heading,
    found: dict[int, _Heading],
    drop: set[int],
    vocab: set[str],
    hyphenated: set[str],
    last_number: tuple[int, ...] | None,
) -> tuple[str, int] | None:
    """The heading's full title (joined over wrapped lines) and the next line index.

    None when the joined text reads as a sentence (a bold or large line of body text).
    """
    ln = lines[i]
    title = h.title
    j = i + 1
    n = len(lines)
    extra = 0
    while (
        j < n
        and extra < 3
        and j not in drop
        # A numbered line may continue the heading only when it cannot be the next heading.
        and (
            j not in found
            or not found[j].number
            or not _plausible_number(found[j].number, last_number)
        )
        and lines[j].text.strip()
        and ln.styled
        and lines[j].styled
        and lines[j].bold == ln.bold
        and abs(lines[j].size - ln.size) < 0.6
        and not LIST_MARKER.match(lines[j].text.strip())
        and not title.endswith((".", ":"))
        and 0 < lines[j - 1].pos - lines[j].pos < 1.8 * max(ln.size, 1.0)
        and len(title) + len(lines[j].text) < 400
    ):
        title = _dehyphenate_join(title, lines[j].text.strip(), vocab, hyphenated)
        j += 1
        extra += 1
    words = title.split()
    if len(title) > 200 or len(words) > 24 or _SENTENCE_INSIDE.search(title):
        return None
    if words and (words[-1].lower() in _FUNCTION_WORDS or title.endswith((",", ";"))):
        return None
    if not h.number and title.endswith("."):
        return None
    return title, j


def _plausible_number(number: str, last: tuple[int, ...] | None) -> bool:
    """Whether a numbered heading can follow the previous one (5.1 → 5.2, 5.2 → 6, 5 → 5.1).

    Stops a wrapped sentence that starts with a number ("2 to 4 weeks ...") from becoming a
    heading. Small gaps are allowed: a heading the extraction missed must not hide the next.
    """
    if not number or not number[0].isdigit():
        return True
    parts = tuple(int(x) for x in number.split("."))
    if last is None:
        return parts[0] <= 3
    if parts[: len(last)] == last and len(parts) > len(last):
        return all(p <= 2 for p in parts[len(last) :])  # first child
    for k in range(min(len(parts), len(last))):
        if parts[:k] != last[:k]:
            return False
        if last[k] < parts[k] <= last[k] + 3:
            return all(p <= 2 for p in parts[k + 1 :])
        if parts[k] != last[k]:
            return False
    return False


def pdf_structure(pages: list[list[Line]], texts: list[str]) -> tuple[list[Block], str]:
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

    running = _running_lines(pages)
    skip: list[set[int]] = []
    for lines, drop in zip(pages, running, strict=True):
        skip.append(drop | toc_lines(lines, drop))

    # Pass 1: heading candidates, and the size of numbered top-level headings.
    candidates: list[dict[int, _Heading]] = []
    top_sizes: list[float] = []
    for lines, drop, pbody in zip(pages, skip, page_body, strict=True):
        found: dict[int, _Heading] = {}
        for i, ln in enumerate(lines):
            if i in drop or not ln.text.strip():
                continue
            h = _heading_candidate(ln, pbody, styled_doc)
            if h is not None:
                found[i] = h
                if h.level == 1 and h.number and ln.styled:
                    top_sizes.append(ln.size)
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
    for page_no, (lines, drop, found) in enumerate(zip(pages, skip, candidates, strict=True), 1):
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
            h = found.get(i)
            merged = (
                _merge_heading(lines, i, h, found, drop, vocab, hyphenated, last_number)
                if h
                else None
            )
            if (
                h is not None
                and merged is not None
                and (not seen_numbered or _plausible_number(h.number, last_number))
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
                    last_number = tuple(int(x) for x in h.number.split("."))
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
