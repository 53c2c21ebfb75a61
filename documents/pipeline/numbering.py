"""One citation numbering for the preview, the twin and every .docx copy (issue 13).

A citation's number is the order in which it first appears when the twin's sections are read
in order (each section's paragraphs and tables interleaved as ``twin.interleaved`` places
them; skipped sections have none). The same citation (same file, page, block and quote) has
the same number wherever it is cited. The renderer, the clean copy's list of sources, the
``?part=sources`` download and the portal preview all take their numbers from
``number_citations``; citations that only a copy's title page carries (key facts not cited
in any section) come after the twin's, in the order the title page shows them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from documents.pipeline.twin import interleaved, section_from_dict
from documents.pipeline.types import Citation, SectionDraft

CitationKey = tuple[str, int | None, int | None, str]


def citation_key(citation: Citation | Mapping[str, Any]) -> CitationKey:
    """What makes two citations the same one: file, page, block and quote."""
    if isinstance(citation, Citation):
        return (citation.file_path, citation.page, citation.block, citation.quote)
    return (
        str(citation.get("file_path", "")),
        citation.get("page"),
        citation.get("block"),
        str(citation.get("quote", "")),
    )


def section_citations(draft: SectionDraft) -> Iterable[Citation]:
    """A section's citations in reading order (paragraphs and tables interleaved)."""
    if draft.state == "skipped":
        return
    for item in interleaved(draft):
        yield from item.citations


def number_citations(drafts: Sequence[SectionDraft]) -> dict[CitationKey, int]:
    """Each distinct citation's number, 1-based, in first-appearance order."""
    numbers: dict[CitationKey, int] = {}
    for draft in drafts:
        for citation in section_citations(draft):
            numbers.setdefault(citation_key(citation), len(numbers) + 1)
    return numbers


def number_twin_citations(sections: Sequence[Mapping[str, Any]]) -> dict[CitationKey, int]:
    """``number_citations`` over the twin's section dicts (the API's and the portal's view)."""
    return number_citations([section_from_dict(dict(s)) for s in sections])


def numbered_list(drafts: Sequence[SectionDraft]) -> list[tuple[int, Citation]]:
    """(number, citation) for every distinct citation, in number order."""
    seen: dict[CitationKey, tuple[int, Citation]] = {}
    for draft in drafts:
        for citation in section_citations(draft):
            key = citation_key(citation)
            if key not in seen:
                seen[key] = (len(seen) + 1, citation)
    return list(seen.values())
