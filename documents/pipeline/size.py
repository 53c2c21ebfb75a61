"""The size governor: a draft summarises its sources and stays shorter than them. When it would
not, the full tables of secondary results outputs give way to their key figures, then the longest
body sections lose their last passage paragraphs; sections a regeneration reused or revised are
never cut.
"""

from __future__ import annotations

import re
from dataclasses import replace

from documents.pipeline import outputs
from documents.pipeline.state import DraftState
from documents.pipeline.types import ExtractedSource, SectionDraft

# A draft stays under this share of its sources' words.
SIZE_LIMIT = 0.97
DERIVED_RESERVE = 1200  # words the title page, synopsis, conclusions and lists take
SMALL_TABLE_ROWS = 10  # a table this short is never given up for size


def words(draft: SectionDraft) -> int:
    return sum(len(p.text.split()) for p in draft.paragraphs) + sum(
        len(c.split()) for t in draft.tables for row in t.rows for c in row
    )


def _sourcewords(src: ExtractedSource) -> int:
    """Words of a source as a reader counts them: its pages, or its paragraphs and cells."""
    if src.pages:
        return sum(len(page.split()) for page in src.pages)
    words = 0
    for b in src.blocks:
        if b.kind == "table" and b.rows:
            words += sum(len(c.split()) for row in b.rows for c in row)
        else:
            words += len(b.text.split())
    return words


def words_of(state: DraftState, k: int) -> int:
    if k not in state.source_words:
        state.source_words[k] = _sourcewords(state.sources[k])
    return state.source_words[k]


def fit_size(
    state: DraftState, *, reserve: int = 0, keep: set[int] | frozenset[int] = frozenset()
) -> bool:
    """Keep the draft shorter than its sources: when it is not, the full tables of secondary
    results outputs (listings, then sensitivity, subgroup and by-visit analyses, then the
    longest) give way to their key figures, which stay; nothing else is cut. True when a table
    was given up. Sections in ``keep`` (reused or revised by a regeneration) are never cut."""
    limit = SIZE_LIMIT * sum(words_of(state, k) for k in range(len(state.sources))) - reserve
    total = sum(words(d) for d in state.drafts.values())
    if total <= limit:
        return False
    candidates: list[tuple[int, int, int, int]] = []  # (priority, -saving, section, table index)
    for i, draft in state.drafts.items():
        by_title = {outputs.shown_title(t): t for t in state.placed.get(i, [])}
        if not state.profiles[i].data_fed or i in keep:
            continue
        for k, table in enumerate(draft.tables):
            size = sum(len(c.split()) for row in table.rows for c in row)
            if len(table.rows) <= SMALL_TABLE_ROWS:
                continue  # a short table costs little and may be all the section has
            if re.match(r"(?i)listing\b", table.title):
                priority = 0
            elif outputs.SECONDARY_OUTPUT.search(table.title):
                priority = 1
            elif len(table.rows) > 25:
                priority = 2
            else:
                continue
            # What giving the table up saves: its words, less those of the key figures that
            # then take its place.
            output = by_title.get(table.title)
            if output is not None and outputs.shown_alone(output):
                size -= len(outputs.key_figures_text(state, output)[0].split())
            if size > 0:
                candidates.append((priority, -size, i, k))
    dropped: dict[int, set[int]] = {}
    for _priority, neg_size, i, k in sorted(candidates):
        if total <= limit:
            break
        dropped.setdefault(i, set()).add(k)
        total += neg_size
    trimmed = trim_prose(state, total - limit, keep) if total > limit else False
    for i, ks in dropped.items():
        draft = state.drafts[i]
        kept = tuple(t for k, t in enumerate(draft.tables) if k not in ks)
        paragraphs = list(draft.paragraphs)
        tables = list(kept)
        # A secondary output that gave up its table keeps its key figures, in its place.
        by_title = {outputs.shown_title(t): t for t in state.placed.get(i, [])}
        for k in sorted(ks):
            output = by_title.get(draft.tables[k].title)
            if output is None or not outputs.shown_alone(output):
                continue
            figures = outputs.key_figures(state, output)
            if figures is None:
                continue
            at = min(draft.tables[k].after_paragraphs, len(paragraphs))
            paragraphs.insert(at, figures)
            tables = [
                replace(t, after_paragraphs=t.after_paragraphs + 1)
                if t.after_paragraphs >= at
                else t
                for t in tables
            ]
        state.drafts[i] = replace(draft, paragraphs=tuple(paragraphs), tables=tuple(tables))
    return bool(dropped) or trimmed


PROSE_FLOOR = 300  # words a section keeps when prose is trimmed for size


def trim_prose(
    state: DraftState, excess: float, keep: set[int] | frozenset[int] = frozenset()
) -> bool:
    """Still too long once the secondary tables gave way: the longest body sections lose their
    last passage paragraphs (never an information element, a key-figures paragraph or a
    paragraph a table follows), longest first, down to ``PROSE_FLOOR`` words each."""
    trimmed = False
    while excess > 0:
        sizes = [
            (words(d), i)
            for i, d in state.drafts.items()
            if state.profiles[i].derived is None and d.state == "generated" and i not in keep
        ]
        if not sizes:
            break
        longest, i = max(sizes)
        if longest <= PROSE_FLOOR:
            break
        draft = state.drafts[i]
        anchored = {t.after_paragraphs for t in draft.tables}
        k = next(
            (
                k
                for k in range(len(draft.paragraphs) - 1, -1, -1)
                if k + 1 not in anchored
                and not any(f.startswith("element: ") for f in draft.paragraphs[k].flags)
                and not draft.paragraphs[k].text.startswith("Key figures of ")
            ),
            None,
        )
        if k is None or len(draft.paragraphs) <= 1:
            break
        cut = len(draft.paragraphs[k].text.split())
        paragraphs = draft.paragraphs[:k] + draft.paragraphs[k + 1 :]
        tables = tuple(
            replace(t, after_paragraphs=t.after_paragraphs - 1) if t.after_paragraphs > k else t
            for t in draft.tables
        )
        state.drafts[i] = replace(draft, paragraphs=paragraphs, tables=tables)
        excess -= cut
        trimmed = True
    return trimmed
