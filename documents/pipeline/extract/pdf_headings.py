"""PDF headings: numbered, "Section N", appendix and styled lines, and lines the document's own
map (its outline or its table of contents) names as headings."""

from __future__ import annotations

import re
from dataclasses import dataclass

from documents.pipeline.extract.common import (
    APPENDIX,
    CAPTION,
    LIST_MARKER,
    NUM_HEADING,
    SECTION_HEADING,
    alnum,
)
from documents.pipeline.extract.pdf_lines import Line, dehyphenate_join
from documents.pipeline.extract.toc import TocEntry


@dataclass
class Heading:
    number: str
    title: str
    level: int  # 0: unnumbered, decided later from the font size
    mapped: bool = False  # named by the document's outline or TOC


def heading_candidate(line: Line, body: float, styled_doc: bool) -> Heading | None:
    s = line.text.strip()
    if len(s) < 2 or len(s) > 160:
        return None
    emphasised = line.bold or line.size >= body + 1.0
    if styled_doc and line.styled and not emphasised and not s.isupper():
        return None
    m = SECTION_HEADING.match(s) or NUM_HEADING.match(s)
    if m:
        number, title = m.group(1), m.group(2).strip()
        letters = sum(ch.isalpha() for ch in title)
        digits = sum(ch.isdigit() for ch in title)
        if letters < 2 or digits > letters or title[-1] in ",;":
            return None  # a table row ("12 Week 24 >140 168") or a wrapped sentence
        if not (title[0].isupper() or title[0].isdigit() or title[0] in "('\"‘“"):
            return None  # "12 weeks)": a wrapped line of a table or sentence
        if int(number.split(".")[0]) > 60:
            return None
        if not (styled_doc and line.styled) and (len(s) > 90 or s.endswith(".")):
            return None
        return Heading(number, title, number.count(".") + 1)
    m = APPENDIX.match(s)
    if m and (emphasised or s.isupper()):
        return Heading(m.group(1).strip(), m.group(2).strip(), 1)
    if not (styled_doc and line.styled) or CAPTION.match(s):
        return None  # a "Table 6-1 ..." line is a caption, not a heading
    words = s.split()
    large = line.size >= body + 1.5
    # A large line ending in a comma can be the first line of a wrapped title; merge_heading
    # judges the joined text.
    if len(words) > 14 or s[-1] in (".;" if large else ".,;") or LIST_MARKER.match(s):
        return None
    letters = sum(ch.isalpha() for ch in s)
    if letters < 3 or letters < 0.5 * len(s.replace(" ", "")):
        return None
    if not (s[0].isupper() or s[0].isdigit() or s[0] in "('\"‘“"):
        return None
    if line.bold and line.size >= body - 0.5:
        return Heading("", s, 0)
    if line.size >= body + 1.5:
        return Heading("", s, 0)
    if s.isupper() and len(words) >= 2 and line.size >= body - 0.5:
        return Heading("", s, 0)
    return None


_FUNCTION_WORDS = frozenset(
    {
        *("a", "an", "and", "as", "at", "by", "for", "from", "in", "into", "of", "on", "or"),
        *("per", "than", "that", "the", "to", "vs", "with", "without"),
    }
)
_SENTENCE_INSIDE = re.compile(r"[.;]\s+[A-Z(]")


def merge_heading(
    lines: list[Line],
    i: int,
    h: Heading,
    found: dict[int, Heading],
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
            or not plausible_number(found[j].number, last_number)
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
        title = dehyphenate_join(title, lines[j].text.strip(), vocab, hyphenated)
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


def plausible_number(number: str, last: tuple[int, ...] | None) -> bool:
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


class HeadingMap:
    """The document's own list of its headings (outline or TOC entries), matched by letters and
    digits: a body line (or two or three wrapped lines) reading exactly an entry's label is that
    heading, whatever its font."""

    def __init__(self, entries: list[TocEntry]) -> None:
        self.by_key: dict[str, TocEntry] = {}
        for e in entries:
            key = alnum(e.label)
            if len(key) >= 3:
                self.by_key.setdefault(key, e)
        self._keys = sorted(self.by_key)

    def __bool__(self) -> bool:
        return bool(self.by_key)

    def _is_prefix(self, s: str) -> bool:
        import bisect

        k = bisect.bisect_left(self._keys, s)
        return k < len(self._keys) and self._keys[k].startswith(s) and self._keys[k] != s

    def match(self, lines: list[Line], i: int, drop: set[int]) -> tuple[Heading, int] | None:
        """The heading starting at line ``i`` and the index after its last line, or None."""
        key = alnum(lines[i].text)
        if len(key) < 3:
            return None
        j = i + 1
        while key not in self.by_key and self._is_prefix(key) and j < len(lines) and j - i < 4:
            if j in drop or not lines[j].text.strip():
                return None
            key += alnum(lines[j].text)
            j += 1
        entry = self.by_key.get(key)
        if entry is None:
            return None
        printed = " ".join(ln.text.strip() for ln in lines[i:j])
        end = printed[-1]
        if (end in ".,;)" and not entry.label.endswith(end)) or "(" in printed[:1] + printed[
            len(entry.number) : len(entry.number) + 2
        ]:
            return None  # "... as described in 3.9.3.2.1 (Adverse Event Reporting ...)."
        level = entry.level if entry.level > 0 else 1
        return Heading(entry.number, entry.title or entry.label, level, mapped=True), j
