"""Tables of contents and lists of tables recognised by their form."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from documents.pipeline.extract.common import APPENDIX, NUM_HEADING

if TYPE_CHECKING:
    from documents.pipeline.extract.pdf_layout import Line

TOC_TITLE = re.compile(
    r"^(?:table\s+of\s+contents?|contents|list\s+of\s+(?:tables|figures|listings|appendices))"
    r"(?:\s*\((?:continued|concluded|cont'?d)\))?\s*$",
    re.I,
)
TOC_PAGE_HEADER = re.compile(r"^(?:section\s+)?page\s*$", re.I)
LEADER = re.compile(r"(?:\.\s?){4,}\s*[\dixvIXV]+\s*$|(?:…\s*){2,}[\dixvIXV]+\s*$|\.{2,}\s*\d+\s*$")


def toc_lines(lines: list[Line], dropped: set[int]) -> set[int]:
    leaders = [i for i, ln in enumerate(lines) if i not in dropped and LEADER.search(ln.text)]
    if len(leaders) < 3:
        return set()
    toc = set(leaders)
    for j in leaders:
        # A wrapped entry: its first line(s) have no leader; take them back to the numbered one.
        for k in range(1, 4):
            i = j - k
            if i < 0 or i in toc or i in dropped:
                break
            s = lines[i].text.strip()
            if not s:
                break
            if NUM_HEADING.match(s) or APPENDIX.match(s):
                toc.update(range(i, j))
                break
            if s.endswith("."):
                break
    for i, ln in enumerate(lines):
        s = ln.text.strip()
        if TOC_TITLE.match(s) or TOC_PAGE_HEADER.match(s):
            toc.add(i)
    return toc
