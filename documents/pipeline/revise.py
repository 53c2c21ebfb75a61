"""Regeneration that changes only what it is asked to change (issue 10, item 5).

A regeneration writes some sections again and reuses every other one unchanged. Two things make
that safe:

1. **The same plan as the first draft.** Results outputs and source passages are placed over
   *every* body section, reused ones included, and the sentences of reused sections count as
   used at their own turn in the writing order (``remember_draft``), not all before the first
   section is written. Otherwise a rewritten section takes passages and tables that belong to
   its reused neighbours (a table twice) and loses sentences that a later section repeats (a
   sentence gone). ``orchestrate.write_sections`` follows this plan.
2. **Revision instead of rewriting, for wording instructions.** When a section is regenerated
   with instructions that only change words — preferred terms ("Use 'participants' instead of
   'patients'"), phrases to avoid, things not to mention — and its sources are the ones it was
   written from, the previous version's section is revised (``revise_section``): the same
   paragraphs, tables and citations, with the terms replaced, banned phrases flagged, and only
   the sentences that mention an excluded subject left out (with their citations). Nothing is
   re-selected, so no sentence is dropped and no table added. Instructions that change what a
   section says (more detail, brevity, another tense) write it again from the sources.

Per-section instructions (a reviewer's comments) apply to their section only
(``section_directives``), on top of the document's and the style guide's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from documents.pipeline import language, twin
from documents.pipeline.language import normalize_alnum
from documents.pipeline.state import DraftState
from documents.pipeline.types import Citation, Paragraph, SectionDraft
from documents.pipeline.writer import Directives, WriterContext, merge_directives, parse_directives


def remember_draft(ctx: WriterContext, draft: SectionDraft) -> None:
    """Count a reused section's sentences and tables as used, as writing it did."""
    for p in draft.paragraphs:
        base = p.source_text if p.source_text is not None else p.text
        ctx.remember(base)
        for sentence in language.sentences(base):
            ctx.remember(sentence)
    for table in draft.tables:
        ctx.seen.add(normalize_alnum(" ".join(" ".join(row) for row in table.rows)))


def wording_only(directives: Directives) -> bool:
    """True when the directives change words, not what a section says."""
    return directives.budget_factor == 1.0 and not directives.emphasis and directives.tense is None


def section_instructions(state: DraftState, i: int) -> str:
    return state.inp.section_instructions.get(state.outline[i].section_id, "").strip()


def can_revise(state: DraftState, i: int) -> bool:
    """The built-in writer revises a section regenerated with wording instructions whose
    previous version is at hand (the job gives it only when the sources did not change)."""
    sid = state.outline[i].section_id
    text = section_instructions(state, i)
    if state.inp.writer != "builtin" or sid not in state.inp.revise_sections or not text:
        return False
    return wording_only(parse_directives(text))


@contextmanager
def section_directives(state: DraftState, i: int) -> Iterator[None]:
    """While section ``i`` is written: its own instructions on top of the document's."""
    text = section_instructions(state, i)
    if not text:
        yield
        return
    ctx = state.ctx
    saved = (state.directives, ctx.preferred_terms, ctx.banned, ctx.exclude, ctx.tense)
    own = parse_directives(text)
    state.directives = merge_directives(state.directives, own)
    preferred: dict[str, list[str]] = {k: list(v) for k, v in ctx.preferred_terms.items()}
    for term, variants in own.preferred_terms.items():
        preferred.setdefault(term, []).extend(variants)
    ctx.preferred_terms = preferred
    ctx.banned = (*ctx.banned, *own.banned)
    ctx.exclude = (*ctx.exclude, *own.exclude)
    if own.tense:
        ctx.tense = own.tense.lower()
    try:
        yield
    finally:
        state.directives, ctx.preferred_terms, ctx.banned, ctx.exclude, ctx.tense = saved


def revise_section(state: DraftState, i: int) -> SectionDraft:
    """The previous version of section ``i`` revised by its wording instructions (module
    docstring); call inside ``section_directives`` so the context holds them."""
    sec = state.outline[i]
    previous = twin.section_from_dict(state.inp.revise_sections[sec.section_id])
    ctx = state.ctx
    paragraphs: list[Paragraph] = []
    for p in previous.paragraphs:
        revised = _revise_paragraph(p, ctx)
        if revised is not None:
            paragraphs.append(revised)
    draft = replace(
        previous,
        number=sec.number,
        title=sec.title,
        level=sec.level,
        paragraphs=tuple(paragraphs),
        review_comments=(),
    )
    remember_draft(ctx, draft)
    return draft


def _revise_paragraph(p: Paragraph, ctx: WriterContext) -> Paragraph | None:
    if p.style == "note":
        return p
    text = p.text
    source = p.source_text
    citations = p.citations
    if ctx.exclude and ctx.excluded(text):
        kept = [s for s in language.sentences(text) if not ctx.excluded(s)]
        if not kept:
            return None
        dropped = [s for s in language.sentences(text) if ctx.excluded(s)]
        citations = _citations_kept(p.citations, kept, dropped)
        text = " ".join(kept)
        source = None  # the sentences kept no longer pair with the old source text
    new = language.apply_preferred_terms(text, ctx.preferred_terms) if ctx.preferred_terms else text
    if new != p.text and source is None:
        source = p.source_text if p.source_text is not None else p.text
    flags = tuple(f for f in p.flags if not f.startswith("banned_phrase")) + ctx.flags_for(new)
    return replace(p, text=new, source_text=source, citations=citations, flags=flags)


def _citations_kept(
    citations: tuple[Citation, ...], kept: list[str], dropped: list[str]
) -> tuple[Citation, ...]:
    """The citations of the sentences kept: a citation goes with a dropped sentence only when
    its quote shares more words with it than with any kept one."""

    def words(text: str) -> set[str]:
        return set(language.content_tokens(text))

    kept_words = [words(s) for s in kept]
    dropped_words = [words(s) for s in dropped]
    out = []
    for c in citations:
        quote = words(c.quote)
        best_kept = max((len(quote & k) for k in kept_words), default=0)
        best_dropped = max((len(quote & d) for d in dropped_words), default=0)
        if best_kept >= best_dropped:
            out.append(c)
    return tuple(out) or citations


def describe(directives: Directives) -> list[str]:
    """What the built-in writer understood, one phrase each (for the review answer)."""
    out = []
    for term, variants in directives.preferred_terms.items():
        out.append(f"use {term!r} instead of " + ", ".join(repr(v) for v in variants))
    out += [f"do not mention {e!r}" for e in directives.exclude]
    out += [f"avoid {b!r}" for b in directives.banned]
    out += [f"more detail on {e!r}" for e in directives.emphasis]
    if directives.budget_factor < 1.0:
        out.append("be brief")
    elif directives.budget_factor > 1.0:
        out.append("be detailed")
    if directives.tense:
        out.append(f"write in the {directives.tense} tense")
    return out


def understood(text: str) -> list[str]:
    """The directives the built-in writer finds in ``text`` (empty: left for a person)."""
    return describe(parse_directives(text))
