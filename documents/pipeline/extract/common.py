"""Helpers shared by the readers: the citation alphabet, heading numbering patterns, the
heading stack and the block builder."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from documents.pipeline.errors import SourceError
from documents.pipeline.language import normalize_alnum
from documents.pipeline.types import Block, ExtractedSource

# Part of the extraction cache key: change it whenever blocks or their numbering change.
EXTRACTOR_VERSION = "2026.12.8"


def alnum(text: str) -> str:
    """Letters and digits (of any script) only, case-folded: the form citations are compared in
    (``language.normalize_alnum``, the one normaliser of the pipeline).

    Checkers that keep ASCII letters and digits only agree: when ``alnum(a)`` lies in
    ``alnum(b)``, their narrower form of ``a`` lies in theirs of ``b``.
    """
    return normalize_alnum(text)


def table_row_block(block: Block, row_index: int) -> int | None:
    """The DOCX/XLSX block number of row ``row_index`` (0-based) of a table block."""
    if block.block is None or not 0 <= row_index < len(block.rows):
        return None
    return block.block + row_index


# ============================================================================================
# Shared helpers

# A numbered heading: "5", "5.1", "5.1.", "9.4.1" then the title.
NUM_HEADING = re.compile(r"^(\d{1,2}(?:\.\d{1,3}){0,7})\.?\s+(\S.*)$")
APPENDIX = re.compile(
    r"^((?:APPENDIX|Appendix|ANNEX|Annex|ATTACHMENT|Attachment)\s+[A-Z0-9][A-Z0-9.]{0,5})"
    r"(?:\s*[.:–—-]\s*|\s+|$)(.*)$"
)
LIST_MARKER = re.compile(
    r"^(\[\d{1,3}[a-z]?\]|\(\d{1,3}\)|\d{1,3}[.)]|\(?[a-zA-Z][.)]|\((?:[ivx]{1,5})\)|"
    r"(?:[ivx]{1,5})[.)]|[•●▪■◦○∙·‣⁃□➢►✓\uf0b7\uf0a7\uf0d8\uf076]|[-–*])\s+(\S.*)$"
)
BULLETS = frozenset("•●▪■◦○∙·‣⁃□➢►✓\uf0b7\uf0a7\uf0d8\uf076-–*")
CAPTION = re.compile(r"^(?:Table|Figure|Listing|TABLE|FIGURE|LISTING)\s+[A-Z0-9][\w.\-]*")


# "Section 7.1 Primary Analysis", "SECTION 7 SAFETY", "Chapter 3: Methods".
SECTION_HEADING = re.compile(
    r"^(?:section|sect\.|chapter)\s+(\d{1,2}(?:\.\d{1,3}){0,7})\.?\s*[:.–—-]?\s+(\S.*)$", re.I
)


def split_heading_label(text: str) -> tuple[str, str] | None:
    """(number, title) of a numbered heading's text, or None when it carries no number.

    "5.1. Inclusion Criteria" → ("5.1", "Inclusion Criteria"); "Section 7.1 Primary Analysis"
    → ("7.1", "Primary Analysis"); "APPENDIX A: Schedule" → ("APPENDIX A", "Schedule").
    """
    s = text.strip()
    for pattern in (SECTION_HEADING, NUM_HEADING):
        m = pattern.match(s)
        if m:
            return m.group(1), m.group(2).strip()
    m = APPENDIX.match(s)
    if m:
        return m.group(1).strip(), m.group(2).strip()
    return None


def heading_label(number: str, title: str) -> str:
    return f"{number} {title}".strip() if number else title


class HeadingStack:
    """The enclosing headings; a heading of level L closes every open heading of level >= L."""

    def __init__(self) -> None:
        self._items: list[tuple[int, str, bool]] = []  # (level, label, numbered)
        self.path: tuple[str, ...] = ()

    def push(self, level: int, label: str, numbered: bool) -> tuple[str, ...]:
        while self._items and self._items[-1][0] >= level:
            self._items.pop()
        self._items.append((level, label, numbered))
        self.path = tuple(label for _, label, _ in self._items)
        return self.path

    def anchor_level(self) -> int:
        """Level of the innermost numbered (or level-1) heading.

        Unnumbered sub-headings (a bold "Safety Endpoints" line) nest one level below it.
        """
        for level, _, numbered in reversed(self._items):
            if numbered or level == 1:
                return level
        return 0


@dataclass
class Builder:
    """Collects blocks with running 1-based indexes."""

    blocks: list[Block] = field(default_factory=list)

    def add(self, **kwargs: Any) -> Block:
        b = Block(index=len(self.blocks) + 1, **kwargs)
        self.blocks.append(b)
        return b


class CharBudget:
    def __init__(self, limit: int, file_name: str) -> None:
        self.left = limit
        self.file_name = file_name

    def take(self, text: str) -> None:
        self.left -= len(text)
        if self.left < 0:
            raise SourceError(self.file_name, "document_too_complex")


def iter_text_units(src: ExtractedSource) -> Iterable[tuple[int | None, int | None, str]]:
    """(page, block, text) of every citable unit: PDF pages, DOCX/XLSX blocks and table rows."""
    if src.file_type == "pdf":
        for i, text in enumerate(src.pages, 1):
            yield i, None, text
        return
    for b in src.blocks:
        if b.kind == "table" and b.rows and b.block is not None:
            for k, row in enumerate(b.rows):
                yield None, b.block + k, " | ".join(row)
        else:
            yield None, b.block, b.text
