"""Quality control of a draft: citations that verify, numbers the sources contain, register.

``verify_citation`` is the citation check of docs/api.md ("locations"): letters and digits only,
case-folded, the quote must lie in the cited PDF page's text, or in the cited DOCX/XLSX block
(paragraph, table row or sheet row, by 1-based location). ``quality_report`` counts sections by
state, verified citations, numbers that occur in no source, sentences still in the future tense,
abbreviations used before their definition, sentences the writer rewrote, and sentences repeated
across sections; the numbers of the synopsis and the conclusions that differ from the body they
cite (``reconcile_numbers``); and the paragraphs and sections people edited in a reviewed copy,
which the other checks leave out (they are not Folio's sentences and cite nothing)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from documents.pipeline import facts, language
from documents.pipeline.citations import verify_citation
from documents.pipeline.profiles import e3_entry
from documents.pipeline.reconcile_numbers import number_mismatches
from documents.pipeline.types import ExtractedSource, SectionDraft

EDITED = "edited"  # the flag of a paragraph people wrote (review/match.py)
_NUMBER_RE = re.compile(r"\d{1,3}(?:,\d{3})+(?!\d)|\d+(?:\.\d+)*")
MAX_EXAMPLES = 10


def _numbers(text: str) -> list[str]:
    out = []
    for m in _NUMBER_RE.finditer(text):
        num = m.group(0).replace(",", "")
        if "." in num and num.count(".") == 1:
            whole, frac = num.split(".")
            num = f"{whole.lstrip('0') or '0'}.{frac}"
        elif "." not in num:
            num = num.lstrip("0") or "0"
        out.append(num)
    return out


def source_numbers(sources: Sequence[ExtractedSource]) -> set[str]:
    found: set[str] = set()
    for src in sources:
        for page in src.pages:
            found.update(_numbers(page))
        for b in src.blocks:
            if not src.pages:  # a PDF's blocks are made of its pages' lines
                found.update(_numbers(b.text))
            for row in b.rows:
                found.update(_numbers(" | ".join(row)))
        for fact in src.key_facts:
            found.update(_numbers(fact.quote))
    # "1.2.3" as written in a source also supports its parts in text such as "1.2".
    for num in list(found):
        if num.count(".") > 1:
            found.update(num.split("."))
    return found


def _derived(draft: SectionDraft) -> str | None:
    entry = e3_entry(draft.title)
    return entry.get("derived") if entry else None


def _section_sentences(draft: SectionDraft) -> list[str]:
    out = []
    for p in draft.paragraphs:
        if p.style == "note":
            continue
        out.extend(language.sentences(p.text) if p.style == "body" else [p.text])
    return out


def quality_report(
    drafts: Sequence[SectionDraft], sources: Sequence[ExtractedSource], *, tense: str = "past"
) -> dict[str, Any]:
    """The QC summary stored with the document (the status's ``qc``, docs/api.md "Status")."""
    states = Counter(d.state for d in drafts)
    generated = [d for d in drafts if d.state == "generated"]
    # People's paragraphs (a reviewed copy's edits) carry no citations and are not Folio's
    # sentences: counted as edited, left out of the checks of Folio's writing below.
    paragraphs_edited = sum(1 for d in drafts for p in d.paragraphs if EDITED in p.flags)
    sections_edited = sum(1 for d in drafts if d.edited)
    drafts_written = [
        replace(d, paragraphs=tuple(p for p in d.paragraphs if EDITED not in p.flags))
        for d in drafts
    ]
    generated = [d for d in drafts_written if d.state == "generated"]

    # Citations.
    citations_total = 0
    citations_verified = 0
    unverified: list[dict[str, Any]] = []
    for d in generated:
        cites = [c for p in d.paragraphs for c in p.citations] + [
            c for t in d.tables for c in t.citations
        ]
        for c in cites:
            citations_total += 1
            if verify_citation(c, sources):
                citations_verified += 1
            elif len(unverified) < MAX_EXAMPLES:
                unverified.append({"section": d.number, **c.as_dict()})

    # Numbers.
    known = source_numbers(sources)
    unsupported = 0
    unsupported_examples: list[dict[str, str]] = []
    for d in generated:
        # The title page's own lines (its report date and version) are not the study's numbers.
        texts = [
            p.text for p in d.paragraphs if not (p.style == "note" and _derived(d) == "title_page")
        ] + [c for t in d.tables for r in t.rows for c in r]
        texts += [t.title for t in d.tables]
        for text in texts:
            for num in _numbers(text):
                if num not in known:
                    unsupported += 1
                    if len(unsupported_examples) < MAX_EXAMPLES:
                        unsupported_examples.append(
                            {"section": d.number, "number": num, "text": text[:160]}
                        )

    # Register.
    future = 0
    future_9_12 = 0
    sentences_9_12 = 0
    future_examples: list[dict[str, str]] = []
    rewritten = 0
    banned = 0
    llm_dropped = 0
    words_total = 0
    for d in generated:
        derived = _derived(d)
        in_body = _top_number(d.number) in {9, 10, 11, 12}
        for p in d.paragraphs:
            words_total += len(p.text.split())
            for flag in p.flags:
                if flag.startswith("banned_phrase"):
                    banned += 1
                m = re.match(r"llm_sentences_dropped:\s*(\d+)", flag)
                if m:
                    llm_dropped += int(m.group(1))
            if p.style == "note" or derived in {"references", "title_page"}:
                continue
            for sentence in language.sentences(p.text):
                if in_body:
                    sentences_9_12 += 1
                if tense == "past" and language.has_future(sentence):
                    future += 1
                    if in_body:
                        future_9_12 += 1
                    if len(future_examples) < MAX_EXAMPLES:
                        future_examples.append({"section": d.number, "text": sentence[:200]})
            if p.source_text is not None:
                new, old = language.sentences(p.text), language.sentences(p.source_text)
                if len(new) == len(old):
                    rewritten += sum(1 for a, b in zip(new, old, strict=True) if a != b)
                else:
                    rewritten += max(1, len(new))

    # Abbreviations: used before the draft defines them.
    from documents.pipeline.writer import source_definitions

    definitions = {a: d.long_form for a, d in source_definitions(sources).items()}
    defined: set[str] = set()
    before: list[str] = []
    undefined: set[str] = set()
    for d in generated:
        if _derived(d) in {"title_page", "toc", "abbreviations", "references"}:
            continue
        for p in d.paragraphs:
            if p.style == "note":
                continue
            for abbr in dict.fromkeys(language.abbreviations_used(p.text)):
                if abbr in defined:
                    continue
                long_form = definitions.get(abbr)
                if language.is_defined_at(p.text, abbr, long_form):
                    defined.add(abbr)
                elif long_form is not None:
                    before.append(abbr)
                    defined.add(abbr)
                else:
                    undefined.add(abbr)
    # Repeats across (non-derived) sections.
    where: dict[str, set[str]] = {}
    total_sentences = 0
    for d in generated:
        if _derived(d):
            continue
        for sentence in _section_sentences(d):
            key = language.normalize_alnum(sentence)
            if len(key) < 20:
                continue
            total_sentences += 1
            where.setdefault(key, set()).add(d.section_id)
    repeated = sum(1 for secs in where.values() if len(secs) > 1)
    repeated_occurrences = sum(len(secs) for secs in where.values() if len(secs) > 1)

    source_words = sum(len(b.text.split()) for s in sources for b in s.blocks)
    # The files name different studies (their protocol numbers disagree): said first.
    mismatch = facts.study_mismatch(facts.protocol_numbers(sources))
    warnings = mismatch + _warnings(drafts, sources, states)
    mismatches = number_mismatches(drafts_written, _numbers)
    return {
        "warnings": warnings,
        "study_mismatch": mismatch,
        "sections_total": len(drafts),
        "sections_generated": states.get("generated", 0),
        "sections_no_source": states.get("no_source", 0),
        "sections_skipped": states.get("skipped", 0),
        "no_source_sections": [d.number or d.title for d in drafts if d.state == "no_source"],
        # Marked by a person (and kept through a regeneration): not missing, listed with why.
        "sections_not_applicable": states.get("not_applicable", 0),
        "not_applicable_sections": [
            {"section": d.number or d.title, "reason": d.reason}
            for d in drafts
            if d.state == "not_applicable"
        ],
        "citations_total": citations_total,
        "citations_verified": citations_verified,
        "unverified_citation_examples": unverified,
        "unsupported_numbers": unsupported,
        "unsupported_number_examples": unsupported_examples,
        "future_tense_sentences": future,
        "future_tense_ratio_9_12": round(future_9_12 / sentences_9_12, 4)
        if sentences_9_12
        else 0.0,
        "future_tense_examples": future_examples,
        "abbreviations_before_definition": len(before),
        "abbreviations_before_definition_examples": before[:MAX_EXAMPLES],
        "abbreviations_undefined": sorted(undefined)[:50],
        "rewritten_sentences": rewritten,
        "repeated_sentences": round(repeated_occurrences / total_sentences, 4)
        if total_sentences
        else 0.0,
        "repeated_sentence_count": repeated,
        "banned_phrases": banned,
        "llm_sentences_dropped": llm_dropped,
        "words_total": words_total,
        "source_words_total": source_words,
        "sections_edited": sections_edited,
        "paragraphs_edited": paragraphs_edited,
        "number_mismatches": len(mismatches),
        "number_mismatch_examples": mismatches,
    }


# A draft with this share of its written sections empty says so plainly.
MOSTLY_EMPTY = 0.75


def _warnings(
    drafts: Sequence[SectionDraft], sources: Sequence[ExtractedSource], states: Counter[str]
) -> list[str]:
    """What the writer of the draft must know before reading it (also in the status, the
    portal's document page and the report's QC appendix)."""
    from documents.pipeline import results

    out: list[str] = []
    asked = states.get("generated", 0) + states.get("no_source", 0)
    empty = states.get("no_source", 0)
    if asked and empty / asked >= MOSTLY_EMPTY:
        out.append(
            f"The sources held almost nothing for this template: {empty} of {asked} sections "
            "have no source. Check that the right files and template were chosen."
        )
    shown = {t.title for d in drafts for t in d.tables}
    outputs = results.collect(sources)
    unplaced = [
        t
        for t in outputs
        if not any(title.startswith(t.caption) for title in shown)
        and not any(
            f"{t.kind} {t.number}" in row for d in drafts for tb in d.tables for row in tb.rows
        )
    ]
    if unplaced:
        names = ", ".join(t.ref for t in unplaced[:12])
        out.append(f"Results outputs found but not placed in any section: {names}.")
    waiting = [
        d
        for d in drafts
        if d.state == "no_source" and any("results data" in p.text for p in d.paragraphs)
    ]
    if waiting and not any(s.kind == "results" for s in sources):
        out.append(
            f"No results file was given: {len(waiting)} results sections (study patients, "
            "efficacy, safety) are empty and say so."
        )
    if any(s.kind == "results" for s in sources) and not outputs:
        out.append(
            "A results file was given but no results table (Table 14.x, Listing 16.x) was "
            "recognised in it; its text was placed by its headings only."
        )
    for src in sources:
        for w in getattr(src, "warnings", ()) or ():
            out.append(f"{src.file_name}: {w}")
    return out


def _top_number(number: str) -> int | None:
    m = re.match(r"\s*(\d+)", number or "")
    return int(m.group(1)) if m else None
