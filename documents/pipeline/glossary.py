"""Abbreviations: expanded once at their first use in the body, then listed in section 4.

Definitions come from the sources' abbreviation lists and their "long form (ABBR)" phrases, each
cited, and from the style guide (uncited: the organisation's own glossary). An abbreviation is
expanded at its first use in document order, once: a sentence that already defines it ("non-
responder imputation (NRI)") is left alone and counts as the first use. The list of abbreviations
holds exactly those that the draft uses; one the sources never define is named in a note.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace

from documents.pipeline import language, mapping
from documents.pipeline.citations import QuoteLocator
from documents.pipeline.types import (
    Block,
    Citation,
    ExtractedSource,
    Paragraph,
    SectionDraft,
    StyleGuideSpec,
    Table,
)
from documents.pipeline.writer import source_definitions, with_text


@dataclass(frozen=True)
class Definition:
    long_form: str
    citation: Citation | None


def definitions(
    sources: tuple[ExtractedSource, ...],
    locator: QuoteLocator,
    abbreviation_blocks: Iterable[tuple[int, Block]],
    style: StyleGuideSpec | None,
) -> dict[str, Definition]:
    found = source_definitions(sources, locator, abbreviation_blocks=abbreviation_blocks)
    out = {a: Definition(d.long_form, d.citation) for a, d in found.items()}
    if style is not None:
        for abbr, long_form in style.abbreviations.items():
            out[abbr] = Definition(long_form, None)
    return out


def expand_first_uses(
    drafts: dict[int, SectionDraft],
    order: Iterable[int],
    defs: Mapping[str, Definition],
    *,
    expandable: Callable[[int], bool],
    counts: Callable[[int], bool],
) -> None:
    """Spell out each defined abbreviation at its first use, in document order (in place).

    ``counts(j)`` says whether section j's text counts as a use at all (not the title page);
    ``expandable(j)`` whether it may be changed (not a section carried over unchanged)."""
    defined: set[str] = set()
    for j in order:
        draft = drafts.get(j)
        if draft is None or draft.state != "generated" or not counts(j):
            continue
        changed = False
        new_paragraphs = []
        for p in draft.paragraphs:
            if p.style == "note":
                new_paragraphs.append(p)
                continue
            text = p.text
            text = _spell_out_defined_term(text, defs, defined if expandable(j) else set())
            for abbr in dict.fromkeys(language.abbreviations_used(text)):
                if abbr in defined:
                    continue
                definition = defs.get(abbr)
                if language.is_defined_at(text, abbr, definition.long_form if definition else None):
                    defined.add(abbr)
                    continue
                if definition is None or not expandable(j):
                    continue
                expanded = language.expand_first_use(text, abbr, definition.long_form)
                if expanded is not None:
                    text = expanded
                    defined.add(abbr)
            if text != p.text:
                changed = True
                p = with_text(p, text)
            new_paragraphs.append(p)
        if changed:
            drafts[j] = replace(draft, paragraphs=tuple(new_paragraphs))


# "PFS is the time from randomisation ...", "ORR was defined as the proportion ...": the
# sentence that defines an endpoint named by its abbreviation.
_DEFINING = re.compile(
    r"^([A-Z][A-Za-z0-9\-]{1,11})\s+(?:is|was|are|were)\s+(?:defined\s+as\s+)?(?:the|a|an)\b"
)


def _spell_out_defined_term(text: str, defs: Mapping[str, Definition], defined: set[str]) -> str:
    """A definition names its term in full even when the abbreviation was spelled out before:
    "Progression-free survival (PFS) is the time from ..." (ICH E3 9.5.3 defines each variable;
    a reader who opens the section there needs the name)."""
    m = _DEFINING.match(text)
    if not m or m.group(1) not in defined:
        return text
    abbr = m.group(1)
    definition = defs.get(abbr)
    if definition is None or definition.long_form.lower() in text.lower():
        return text
    long_form = definition.long_form[:1].upper() + definition.long_form[1:]
    return f"{long_form} ({abbr}){text[m.end(1) :]}"


def abbreviations_section(
    base: SectionDraft,
    drafts: Iterable[SectionDraft],
    defs: Mapping[str, Definition],
) -> SectionDraft:
    """The list of abbreviations the draft uses, defined and cited."""
    used: dict[str, None] = {}
    for draft in drafts:
        if draft.state != "generated":
            continue
        for p in draft.paragraphs:
            if p.style != "note":
                for a in language.abbreviations_used(p.text):
                    used[a] = None
        for t in draft.tables:
            for row in t.rows:
                for cell in row:
                    for a in language.abbreviations_used(cell):
                        used[a] = None
    rows: list[tuple[str, str]] = [("Abbreviation", "Definition")]
    citations: list[Citation] = []
    undefined: list[str] = []
    for abbr in sorted(used, key=str.lower):
        definition = defs.get(abbr)
        if definition is None:
            undefined.append(abbr)
            continue
        rows.append((abbr, definition.long_form))
        if definition.citation is not None:
            citations.append(definition.citation)
    paragraphs: list[Paragraph] = []
    tables: list[Table] = []
    if len(rows) > 1:
        tables.append(
            Table(
                title="Abbreviations",
                rows=tuple(rows),
                citations=tuple(dict.fromkeys(citations)),
                header_rows=1,
            )
        )
    if undefined:
        shown = ", ".join(undefined[:40])
        paragraphs.append(
            Paragraph(
                text="Used in this draft but not defined in the sources (define before "
                f"finalising): {shown}.",
                style="note",
            )
        )
    if not tables:
        note = paragraphs or [
            Paragraph(text=mapping.no_source_message("abbreviations"), style="note")
        ]
        return replace(base, state="no_source", paragraphs=tuple(note), tables=())
    return replace(base, state="generated", paragraphs=tuple(paragraphs), tables=tuple(tables))
