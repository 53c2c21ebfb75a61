"""Numbers reconciled (issue 10, item 6): every number that the synopsis (E3 2) and the
conclusions (E3 13) state must equal a number of the body section or results table they cite.

The synopsis and the conclusions are written from the body and the results outputs, and each of
their sentences and table cells cites the source text it came from. For each number in one of
their items (a paragraph, or a table row), the check looks at the body items — paragraphs and
table rows of the non-derived sections — that cite the same place (file and page, or file and
block): when some of them exist and none states the number, the two places disagree, which
happens when a body section was written again from a newer source but the synopsis was not.
When no body item cites that place, the cited source text itself must state the number.
Every mismatch is listed with both places.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from documents.pipeline.profiles import e3_entry
from documents.pipeline.types import Citation, SectionDraft

MAX_MISMATCHES = 20
CHECKED = {"synopsis", "discussion"}
# Numbers too small to carry meaning on their own (list labels, "one of 2 arms").
MIN_SIGNIFICANT = 10


def _derived(draft: SectionDraft) -> str | None:
    entry = e3_entry(draft.title)
    return entry.get("derived") if entry else None


def _checked(draft: SectionDraft) -> bool:
    return _derived(draft) in CHECKED or draft.number.strip() in {"2", "13"}


def _place(c: Citation) -> tuple[str, int | None, int | None]:
    return (c.file_path, c.page, c.block)


def _items(draft: SectionDraft) -> list[tuple[str, tuple[Citation, ...]]]:
    out = [(p.text, p.citations) for p in draft.paragraphs if p.style != "note"]
    for table in draft.tables:
        for row in table.rows:
            out.append((" | ".join(row), table.citations))
    return out


def _significant(number: str) -> bool:
    try:
        return "." in number or float(number) >= MIN_SIGNIFICANT
    except ValueError:
        return True


def number_mismatches(drafts: Sequence[SectionDraft], numbers: Any) -> list[dict[str, Any]]:
    """The mismatches (module docstring); ``numbers(text)`` lists a text's numbers as QC reads
    them (``qc._numbers``)."""
    body: dict[tuple[str, int | None, int | None], list[tuple[SectionDraft, str]]] = {}
    for draft in drafts:
        if draft.state != "generated" or _derived(draft) is not None or draft.edited:
            continue
        for text, citations in _items(draft):
            for c in citations:
                body.setdefault(_place(c), []).append((draft, text))
    out: list[dict[str, Any]] = []
    for draft in drafts:
        if draft.state != "generated" or not _checked(draft):
            continue
        for text, citations in _items(draft):
            for number in dict.fromkeys(numbers(text)):
                if not _significant(number):
                    continue
                places = [p for c in citations for p in body.get(_place(c), [])]
                if places:
                    if any(number in numbers(t) for _d, t in places):
                        continue
                    where = places[0]
                    found = {
                        "section": where[0].number or where[0].title,
                        "text": where[1][:200],
                    }
                elif any(number in numbers(c.quote) for c in citations) or not citations:
                    continue
                else:
                    c = citations[0]
                    found = {
                        "source": c.file_name,
                        "page": c.page,
                        "block": c.block,
                        "text": c.quote[:200],
                    }
                out.append(
                    {
                        "section": draft.number or draft.title,
                        "number": number,
                        "text": text[:200],
                        "cited": found,
                    }
                )
                if len(out) >= MAX_MISMATCHES:
                    return out
    return out
