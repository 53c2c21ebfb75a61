"""The lines of a PDF page as pypdf reads them, with the runs (position, size, weight) inside."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Endings that mark a line-end hyphen as a soft break inside one word ("treat-/ment").
# fmt: off
COMMON_SUFFIXES = frozenset({
    "ment", "ments", "tion", "tions", "sion", "sions", "ing", "ings", "ed", "ly", "ity",
    "ities", "ness", "ance", "ances", "ence", "ences", "able", "ible", "al", "ally", "ial",
    "ive", "ous", "er", "ers", "ist", "ists", "ism", "ize", "ized", "ise", "ised", "ical",
    "ogy", "ia", "ic", "ics", "ate", "ated", "ation", "ations",
})
# fmt: on


@dataclass
class Run:
    """A piece of one text-showing operation inside one line: where it starts and its style."""

    x: float
    pos: float
    size: float
    bold: bool
    text: str


@dataclass
class Line:
    """One line of ``page.extract_text()`` (pypdf's text order) with its dominant style."""

    text: str
    size: float = 0.0
    bold: bool = False
    x: float = 0.0
    pos: float = 0.0  # baseline position across lines (y for upright text)
    styled: bool = False
    runs: list[Run] = field(default_factory=list)


def dehyphenate_join(left: str, right: str, vocab: set[str], hyphenated: set[str]) -> str:
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
            if joined in vocab or after in COMMON_SUFFIXES:
                return left[:-1] + right
        return left + right
    if left.endswith(("-", "/")):
        return left + right
    return left + " " + right
