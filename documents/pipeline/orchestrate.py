"""Orchestrate: one ``SectionDraft`` per outline section, written from the sources.

The order of work:

1. **Skipped and reused.** A section with ``selected`` False is ``skipped``. A section whose id is
   in ``inp.reuse_sections`` is the previous version's twin section, unchanged (regeneration); it
   stays in the plan below and its sentences count as used at its own turn (``revise``). A
   section whose title an instruction excludes is skipped too. A section regenerated with
   wording instructions only is revised from its previous version (``revise``), not rewritten.
2. **Results placed.** Every results output (``results.collect``) goes to the section whose
   profile names its class (``data/e3_sources.json``); outputs with no such section are listed in
   the output index and named in the QC report.
3. **Passages assigned** by the content model (``assign``): each source heading's concept decides
   the section it feeds; headings naming two concepts are split by paragraph.
4. **Body sections written** in document order (parents after their children): the assigned passages
   within a word budget (``passages``), the results outputs with their key figures, then the
   section's *information elements* that its passages do not state (``elements``), and, for a
   leaf that has nothing, a strict retrieval fallback. Nothing → ``no_source`` with a plain
   sentence that says why (no results source given, or which tables were found elsewhere).
5. **Derived sections last** (``derive``): title page, synopsis, conclusions, output index,
   references, table of contents; then abbreviations are expanded once at their first use and
   listed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace

from documents.pipeline import derive, elements, glossary, llm, mapping, results, revise, twin
from documents.pipeline.assign import assign_sections
from documents.pipeline.citations import QuoteLocator
from documents.pipeline.errors import Cancelled
from documents.pipeline.ingest import SourceIndex
from documents.pipeline.passages import Written, write_groups
from documents.pipeline.profiles import profile_for
from documents.pipeline.results import ResultTable
from documents.pipeline.state import DraftState, section_draft
from documents.pipeline.types import (
    Chunk,
    Citation,
    ExtractedSource,
    OutlineSection,
    Paragraph,
    PipelineInput,
    SectionDraft,
    Table,
)
from documents.pipeline.writer import WriterContext, parse_directives

# Word budgets by template level (1, 2, 3+) for leaf sections; parents take their direct content.
LEAF_BUDGET = {1: 1200, 2: 1000, 3: 1100}
LONG_FACTOR = 3.0
PARENT_BUDGET = 450
BUDGET_SCALE_WORDS = 12000
BUDGET_SCALE_MIN, BUDGET_SCALE_MAX = 0.7, 2.5
FALLBACK_MAX_CHUNKS = 2
FALLBACK_MIN_SCORE = 6.0


def write_sections(
    inp: PipelineInput,
    *,
    sources: tuple[ExtractedSource, ...],
    chunks: list[Chunk],
    index: SourceIndex,
    on_section_done: Callable[[int], None],
    is_cancelled: Callable[[], bool],
) -> tuple[SectionDraft, ...]:
    """Write every outline section (see the module docstring for the rules)."""
    state = _state(inp, sources, index)
    outline = list(inp.outline)
    done = 0

    def finish(i: int, draft: SectionDraft) -> None:
        nonlocal done
        state.drafts[i] = draft
        if outline[i].selected:
            done += 1
            on_section_done(done)

    def check_cancel() -> None:
        if is_cancelled():
            raise Cancelled()

    # 1. Skipped, reused and excluded sections. Reused sections stay in the plan (revise.py):
    #    outputs and passages are placed over all of them, and their sentences count as used at
    #    their own turn below, so that a rewritten section takes only what was its own.
    to_write: list[int] = []
    reused: set[int] = set()
    for i, sec in enumerate(outline):
        if sec.section_id in inp.reuse_sections:
            draft = twin.section_from_dict(inp.reuse_sections[sec.section_id])
            finish(i, replace(draft, review_comments=()))
            if draft.state != "skipped":
                reused.add(i)
        elif not sec.selected:
            state.drafts[i] = _skipped(sec)
        elif _excluded_by_instruction(sec, state):
            finish(i, _skipped(sec))
        else:
            to_write.append(i)
    planned = sorted([*to_write, *reused])
    body = [i for i in planned if state.profiles[i].derived is None]
    derived_sections = [i for i in planned if state.profiles[i].derived is not None]

    revised: set[int] = set()

    def write_one(i: int, writer: Callable[[], SectionDraft]) -> None:
        if i in reused:
            revise.remember_draft(state.ctx, state.drafts[i])
            return
        check_cancel()
        with revise.section_directives(state, i):
            if revise.can_revise(state, i):
                finish(i, revise.revise_section(state, i))
                revised.add(i)
            else:
                finish(i, writer())

    # 2. Results outputs to their sections; 3. passages by concept.
    _place_outputs(state, body)
    present = {t.klass for lst in state.placed.values() for t in lst}
    with_outputs = {t.s_idx for t in state.outputs}
    state.assignment = assign_sections(
        index,
        state.profiles,
        body,
        has_children=state.has_children,
        results_present=present,
        result_takers=_takers(state, body),
        prose_results=[
            s for s, src in enumerate(sources) if src.kind == "results" and s not in with_outputs
        ],
    )

    # 4. Body sections in document order (an overview such as 9.1 states its facts before the
    #    subsections that detail them); parents, deeper first, after their children.
    for parents in (False, True):
        for i in sorted(body, key=lambda j: (-outline[j].level if parents else 0, j)):
            if state.has_children[i] != parents:
                continue
            write_one(i, lambda i=i: _write_body_section(state, i))

    # 5. The draft's size, then the derived sections and the abbreviations.
    _fit_size(state, reserve=DERIVED_RESERVE, keep=reused | revised)
    state.ctx.conduct = True
    for i in derive.ordered(state, derived_sections):
        if state.profiles[i].derived == "abbreviations":
            continue
        write_one(i, lambda i=i: derive.write(state, i))
    defs = glossary.definitions(
        sources,
        state.ctx.locator,
        _abbreviation_blocks(state),
        inp.style_guide,
    )
    glossary.expand_first_uses(
        state.drafts,
        range(len(outline)),
        defs,
        expandable=lambda j: sec_expandable(state, j),
        counts=lambda j: (
            state.profiles[j].derived
            not in {"title_page", "toc", "abbreviations", "references", "output_index"}
        ),
    )
    for i in derived_sections:
        if state.profiles[i].derived == "abbreviations" and i not in reused:
            check_cancel()
            others = [
                d
                for j, d in state.drafts.items()
                if j != i and state.profiles[j].derived not in {"title_page", "references"}
            ]
            finish(i, glossary.abbreviations_section(_draft(outline[i]), others, defs))

    # 6. The whole draft's size once more: when the derived sections took more room than was
    #    kept for them, secondary tables give way now, and the output index lists them.
    if _fit_size(state, keep=reused | revised):
        for i in derived_sections:
            if state.profiles[i].derived == "output_index" and i not in reused | revised:
                state.drafts[i] = derive.write(state, i)
    return tuple(state.drafts[i] for i in range(len(outline)))


# A draft summarises its sources: it stays under this share of their words.
SIZE_LIMIT = 0.97
DERIVED_RESERVE = 1200  # words the title page, synopsis, conclusions and lists take
SMALL_TABLE_ROWS = 10  # a table this short is never given up for size
_SECONDARY_OUTPUT = re.compile(
    r"sensitivity|supplementary|subgroup|by visit|over time|by subgroup", re.IGNORECASE
)


def _words(draft: SectionDraft) -> int:
    return sum(len(p.text.split()) for p in draft.paragraphs) + sum(
        len(c.split()) for t in draft.tables for row in t.rows for c in row
    )


def _source_words(src: ExtractedSource) -> int:
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


def _words_of(state: DraftState, k: int) -> int:
    if k not in state.source_words:
        state.source_words[k] = _source_words(state.sources[k])
    return state.source_words[k]


def _fit_size(
    state: DraftState, *, reserve: int = 0, keep: set[int] | frozenset[int] = frozenset()
) -> bool:
    """Keep the draft shorter than its sources: when it is not, the full tables of secondary
    results outputs (listings, then sensitivity, subgroup and by-visit analyses, then the
    longest) give way to their key figures, which stay; nothing else is cut. True when a table
    was given up. Sections in ``keep`` (reused or revised by a regeneration) are never cut."""
    limit = SIZE_LIMIT * sum(_words_of(state, k) for k in range(len(state.sources))) - reserve
    total = sum(_words(d) for d in state.drafts.values())
    if total <= limit:
        return False
    candidates: list[tuple[int, int, int, int]] = []  # (priority, -saving, section, table index)
    for i, draft in state.drafts.items():
        by_title = {_shown_title(t): t for t in state.placed.get(i, [])}
        if not state.profiles[i].data_fed or i in keep:
            continue
        for k, table in enumerate(draft.tables):
            size = sum(len(c.split()) for row in table.rows for c in row)
            if len(table.rows) <= SMALL_TABLE_ROWS:
                continue  # a short table costs little and may be all the section has
            if re.match(r"(?i)listing\b", table.title):
                priority = 0
            elif _SECONDARY_OUTPUT.search(table.title):
                priority = 1
            elif len(table.rows) > 25:
                priority = 2
            else:
                continue
            # What giving the table up saves: its words, less those of the key figures that
            # then take its place.
            output = by_title.get(table.title)
            if output is not None and _shown_alone(output):
                size -= len(_key_figures_text(state, output)[0].split())
            if size > 0:
                candidates.append((priority, -size, i, k))
    dropped: dict[int, set[int]] = {}
    for _priority, neg_size, i, k in sorted(candidates):
        if total <= limit:
            break
        dropped.setdefault(i, set()).add(k)
        total += neg_size
    trimmed = _trim_prose(state, total - limit, keep) if total > limit else False
    for i, ks in dropped.items():
        draft = state.drafts[i]
        kept = tuple(t for k, t in enumerate(draft.tables) if k not in ks)
        paragraphs = list(draft.paragraphs)
        tables = list(kept)
        # A secondary output that gave up its table keeps its key figures, in its place.
        by_title = {_shown_title(t): t for t in state.placed.get(i, [])}
        for k in sorted(ks):
            output = by_title.get(draft.tables[k].title)
            if output is None or not _shown_alone(output):
                continue
            figures = _key_figures(state, output)
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


def _trim_prose(
    state: DraftState, excess: float, keep: set[int] | frozenset[int] = frozenset()
) -> bool:
    """Still too long once the secondary tables gave way: the longest body sections lose their
    last passage paragraphs (never an information element, a key-figures paragraph or a
    paragraph a table follows), longest first, down to ``PROSE_FLOOR`` words each."""
    trimmed = False
    while excess > 0:
        sizes = [
            (_words(d), i)
            for i, d in state.drafts.items()
            if state.profiles[i].derived is None and d.state == "generated" and i not in keep
        ]
        if not sizes:
            break
        words, i = max(sizes)
        if words <= PROSE_FLOOR:
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


def sec_expandable(state: DraftState, j: int) -> bool:
    return (
        state.profiles[j].derived
        not in {"title_page", "toc", "abbreviations", "references", "output_index"}
        and state.outline[j].section_id not in state.inp.reuse_sections
    )


def _state(
    inp: PipelineInput, sources: tuple[ExtractedSource, ...], index: SourceIndex
) -> DraftState:
    style = inp.style_guide
    directives = parse_directives(inp.instructions, style.instructions if style else "")
    tense = directives.tense or inp.tense
    preferred: dict[str, list[str]] = {}
    if style is not None:
        for term, variants in style.preferred_terms.items():
            preferred.setdefault(term, []).extend(variants)
    for term, variants in directives.preferred_terms.items():
        preferred.setdefault(term, []).extend(variants)
    ctx = WriterContext(
        sources=sources,
        locator=QuoteLocator(sources),
        tense=(tense or "past").lower(),
        preferred_terms=preferred,
        banned=tuple(style.banned_phrases if style else ()) + directives.banned,
        exclude=directives.exclude,
        vocabulary=index.vocabulary,
    )
    outline = list(inp.outline)
    parent: list[int | None] = []
    stack: list[int] = []
    for i, sec in enumerate(outline):
        while stack and outline[stack[-1]].level >= sec.level:
            stack.pop()
        parent.append(stack[-1] if stack else None)
        stack.append(i)
    has_children = [False] * len(outline)
    for p in parent:
        if p is not None:
            has_children[p] = True
    state = DraftState(
        inp=inp,
        sources=sources,
        index=index,
        profiles=[profile_for(s) for s in outline],
        has_children=has_children,
        parent=parent,
        ctx=ctx,
        directives=directives,
        outputs=results.collect(sources),
    )
    if inp.writer == "llm":
        state.llm_config = llm.require_config(inp.llm)
    return state


# ---------------------------------------------------------------- helpers


def _skipped(sec: OutlineSection) -> SectionDraft:
    return SectionDraft(
        section_id=sec.section_id,
        number=sec.number,
        title=sec.title,
        level=sec.level,
        state="skipped",
    )


_draft = section_draft


def no_source(sec: OutlineSection, message: str) -> SectionDraft:
    return _draft(sec, [Paragraph(text=message, style="note")], state="no_source")


def _excluded_by_instruction(sec: OutlineSection, state: DraftState) -> bool:
    return any(
        mapping.heading_similarity(term, sec.title) >= 0.95 for term in state.directives.exclude
    )


def _emphasis(state: DraftState, i: int) -> float:
    sec = state.outline[i]
    for term in state.directives.emphasis:
        toks = mapping.heading_tokens(term)
        if toks and toks <= mapping.heading_tokens(sec.title):
            return 1.6
        if mapping.heading_similarity(term, sec.title) >= 0.7:
            return 1.6
    return 1.0


def _budget(state: DraftState, i: int) -> int:
    sec = state.outline[i]
    prof = state.profiles[i]
    if state.has_children[i]:
        base = float(PARENT_BUDGET)
    else:
        base = LEAF_BUDGET[min(3, max(1, sec.level))] * (LONG_FACTOR if prof.long else 1.0)
    return int(base * _source_scale(state) * state.directives.budget_factor * _emphasis(state, i))


def _source_scale(state: DraftState) -> float:
    """Budgets follow the sources' size: a 150-page protocol and SAP give a longer draft than
    a 20-page one (between 0.7 and 2.5 times the base budgets)."""
    words = sum(
        _words_of(state, k)
        for k, s in enumerate(state.sources)
        if s.kind in {"protocol", "sap", "other"}
    )
    return min(BUDGET_SCALE_MAX, max(BUDGET_SCALE_MIN, words / BUDGET_SCALE_WORDS))


def _abbreviation_blocks(state: DraftState) -> list:
    blocks = []
    for node in state.index.nodes:
        if node.abbreviations:
            src_blocks = state.index.blocks[node.source_index]
            blocks.extend((node.source_index, b) for b in src_blocks[node.start : node.end_subtree])
    return blocks


# ---------------------------------------------------------------- results placement


def _takers(state: DraftState, body: list[int]) -> dict[str, int]:
    """Results class → the body section that takes it: the deepest, then the first (E3's
    "Adverse Events" takes adverse-event tables only when it has no subsections for them)."""
    return {klass: lst[0] for klass, lst in _taker_lists(state, body).items()}


def _taker_lists(state: DraftState, body: list[int]) -> dict[str, list[int]]:
    takers: dict[str, list[int]] = {}
    for i in body:
        for klass in state.profiles[i].results:
            takers.setdefault(klass, []).append(i)
    for lst in takers.values():
        lst.sort(key=lambda i: (-state.outline[i].level, i))
    return takers


def _place_outputs(state: DraftState, body: list[int]) -> None:
    """Each results output to the section that takes its class (``_takers``)."""
    takers = _taker_lists(state, body)
    for table in state.outputs:
        targets = takers.get(table.klass)
        if not targets:
            fallback = (
                "efficacy"
                if results.is_efficacy(table.klass)
                else ("ae_common" if results.is_safety(table.klass) else None)
            )
            targets = takers.get(fallback or "", [])
        if targets:
            state.placed.setdefault(targets[0], []).append(table)
    for lst in state.placed.values():
        lst.sort(key=lambda t: (_number_key(t.number), t.s_idx, t.pos))


def _number_key(number: str) -> tuple:
    return tuple(int(p) if p.isdigit() else 0 for p in number.replace("-", ".").split("."))


def unplaced_outputs(state: DraftState) -> list[ResultTable]:
    placed = {(t.s_idx, t.pos) for lst in state.placed.values() for t in lst}
    return [t for t in state.outputs if (t.s_idx, t.pos) not in placed]


# ---------------------------------------------------------------- body sections


# Concepts whose present tense states facts (the disease, the rationale), not study conduct.
BACKGROUND_CONCEPTS = frozenset(
    {
        "introduction",
        "purpose",
        "background",
        "benefit_risk",
        "design.rationale",
        "dose.rationale",
        "comparator.rationale",
        "measurement_appropriateness",
    }
)


def _write_body_section(state: DraftState, i: int) -> SectionDraft:
    sec = state.outline[i]
    prof = state.profiles[i]
    state.ctx.conduct = not (prof.main and set(prof.main) <= BACKGROUND_CONCEPTS)
    budget = _budget(state, i)
    groups = [
        (s_idx, [(p, state.index.blocks[s_idx][p]) for p in positions])
        for s_idx, positions in state.assignment.groups.get(i, [])
    ]
    written = write_groups(state.ctx, groups, budget, source_kind=lambda s: state.sources[s].kind)
    paragraphs, tables = list(written.paragraphs), list(written.tables)
    for table in state.placed.get(i, []):
        ps, ts = _write_output(state, table)
        for t in ts:
            tables.append(replace(t, after_paragraphs=len(paragraphs) + len(ps[:1])))
        paragraphs.extend(ps)
    _add_elements(state, i, paragraphs, tables)
    # Retrieval only serves a section the content model can describe (an E3 section that no
    # protocol or SAP part feeds, such as the sample CRF, is left for a person to attach).
    searchable = bool(prof.main or prof.also or prof.headings) or not prof.extra.get("known")
    if (
        not paragraphs
        and not tables
        and not state.has_children[i]
        and not prof.data_fed
        and searchable
    ):
        retrieved = _write_from_retrieval(state, i, budget)
        paragraphs, tables = list(retrieved.paragraphs), list(retrieved.tables)
    if state.llm_config is not None and paragraphs:
        paragraphs = _llm_rewrite(state, sec, paragraphs)
    if paragraphs or tables:
        return _draft(sec, paragraphs, tables)
    if state.has_children[i] and any(
        state.drafts.get(d) is not None and state.drafts[d].state == "generated"
        for d in state.descendants(i)
    ):
        return _draft(sec, state="generated")
    return no_source(sec, _no_source_message(state, i))


def _no_source_message(state: DraftState, i: int) -> str:
    prof = state.profiles[i]
    if prof.extra.get("no_source") == "see_methods":
        methods = next(
            (
                f"{s.number} {s.title}".strip()
                for s, p in zip(state.outline, state.profiles, strict=True)
                if "stats.general" in p.main
            ),
            "the statistical methods section",
        )
        return (
            "The sources give no results on this statistical issue; the planned methods are "
            f"described in {methods}."
        )
    if not prof.data_fed:
        return mapping.no_source_message("default")
    if not state.outputs and not any(s.kind == "results" for s in state.sources):
        return mapping.no_source_message("results")
    names = ", ".join(f"{t.kind} {t.number}" for t in state.outputs[:12])
    if not names:
        return (
            "A results source was given, but no table of this kind was recognised in it; "
            "check the results file or write this section manually."
        )
    return (
        "No results table of this kind was found among the results outputs given "
        f"({names}{', ...' if len(state.outputs) > 12 else ''}); add one or write this "
        "section manually."
    )


def _key_figures_text(state: DraftState, table: ResultTable) -> tuple[str, list[Citation]]:
    """ "Key figures of Table 14.2.1.1: ..." and its citations ("" when nothing can be stated):
    the output's key rows in words, each figure cited to the rows it was read from."""
    loc = state.ctx.locator
    phrases: list[str] = []
    figure_cites: list[Citation] = []
    for row_index, cells in results.key_rows(table):
        phrase = results.figures_phrase(table, cells)
        cites = [
            c
            for k in results.rows_read(table, row_index)
            for c in loc.locate_row(table.s_idx, table.block, k)
        ]
        if phrase and cites:
            phrases.append(phrase)
            figure_cites.extend(cites)
    if not phrases:
        return "", []
    text = f"Key figures of {table.kind} {table.number}: " + "; ".join(phrases) + "."
    return text, [*_caption_citations(state, table), *figure_cites]


def _key_figures(state: DraftState, table: ResultTable) -> Paragraph | None:
    """The key-figures paragraph of an output; None when there is nothing to state or it was
    said before."""
    text, cites = _key_figures_text(state, table)
    if not text or state.ctx.is_duplicate(text):
        return None
    state.ctx.remember(text)
    return Paragraph(text=text, citations=tuple(dict.fromkeys(cites)))


def _write_output(state: DraftState, table: ResultTable) -> tuple[list[Paragraph], list[Table]]:
    """Key figures (a cited list), the table itself, and its footnotes."""
    loc = state.ctx.locator
    paragraphs: list[Paragraph] = []
    figures = None if _shown_alone(table) or table.is_listing else _key_figures(state, table)
    if figures is not None:
        paragraphs.append(figures)
    intro_cites = _caption_citations(state, table)
    rows = [*table.header, *(r for _k, r in table.data)]
    cites: list[Citation] = list(intro_cites)
    for k, _r in [*((None, h) for h in table.header), *table.data]:
        if k is not None:
            cites.extend(loc.locate_row(table.s_idx, table.block, k))
    title = _shown_title(table)
    out_tables = []
    if rows and len(rows) <= results.MAX_TABLE_ROWS + len(table.header):
        width = max(len(r) for r in rows)
        rows = [tuple(r) + ("",) * (width - len(r)) for r in rows]
        out_tables.append(
            Table(
                title=title,
                rows=tuple(rows),
                citations=tuple(dict.fromkeys(cites)),
                header_rows=len(table.header),
            )
        )
    for row_index, text in results.prose_footnotes(table):
        if state.ctx.is_duplicate(text):
            continue
        if row_index is not None:
            fcites = loc.locate_row(table.s_idx, table.block, row_index)
        else:
            fcites = loc.locate(table.s_idx, table.block, text)
        if fcites:
            state.ctx.remember(text)
            new = state.ctx.rewrite(text, convert_tense=False)
            paragraphs.append(
                Paragraph(
                    text=new,
                    citations=tuple(fcites),
                    style="note",
                    source_text=text if new != text else None,
                )
            )
    return paragraphs, out_tables


def _shown_alone(table: ResultTable) -> bool:
    """Secondary analyses (sensitivity, subgroups, by visit) are shown by their table alone (and
    by their key figures when the size governor gives the table up); listings by their table."""
    return bool(_SECONDARY_OUTPUT.search(table.title)) and not table.is_listing


def _shown_title(table: ResultTable) -> str:
    """The title a results output's table carries in the draft (``_write_output``)."""
    return table.caption + (f" ({table.population})" if table.population else "")


def _caption_citations(state: DraftState, table: ResultTable) -> tuple[Citation, ...]:
    loc = state.ctx.locator
    if table.caption_row is not None:
        cites = loc.locate_row(table.s_idx, table.block, table.caption_row)
        if cites:
            return tuple(cites)
    return tuple(loc.locate(table.s_idx, table.block, table.caption))


def _add_elements(
    state: DraftState, i: int, paragraphs: list[Paragraph], tables: Sequence[Table] = ()
) -> None:
    prof = state.profiles[i]
    if not prof.elements:
        return
    # What the section states already, its tables' rows included (a design table's "Trial
    # sites" row is not stated a second time as a sentence).
    present = "\n".join(
        [p.text for p in paragraphs] + [" ".join(row) for t in tables for row in t.rows]
    )
    kinds = {s: src.kind for s, src in enumerate(state.sources)}
    owner = state.assignment.owner_of_positions()

    def taken(u: elements.Unit) -> bool:
        # A sentence another section was given is that section's to write: taking it here
        # would leave it out there.
        other = owner.get((u.s_idx, u.pos))
        return (other is not None and other != i) or state.ctx.is_duplicate(u.text)

    for eid, unit in elements.find_units(
        index=state.index,
        found=state.assignment.node_concepts,
        element_ids=prof.elements,
        section_concepts=[*prof.main, *prof.also],
        present_text=present,
        kinds_of=kinds,
        used=set(),
        is_taken=taken,
    ):
        para = _unit_paragraph(state, unit)
        if para is not None:
            paragraphs.append(replace(para, flags=(*para.flags, f"element: {eid}")))


def _unit_paragraph(state: DraftState, unit: elements.Unit) -> Paragraph | None:
    loc = state.ctx.locator
    if unit.row is not None:
        cites = loc.locate_row(unit.s_idx, unit.block, unit.row)
        original = unit.text if unit.text.endswith((".", "?", "!")) else unit.text + "."
        text = state.ctx.rewrite(original)  # the report's tense and terms, as for sentences
    else:
        cites = loc.locate(unit.s_idx, unit.block, unit.text)
        original = unit.text
        text = state.ctx.rewrite(unit.text)
    if not cites:
        return None
    state.ctx.remember(original)
    return Paragraph(
        text=text,
        citations=tuple(cites),
        source_text=original if original != text else None,
        flags=state.ctx.flags_for(text),
    )


def _write_from_retrieval(state: DraftState, i: int, budget: int) -> Written:
    """A leaf with nothing assigned: at most two strongly relevant unclaimed passages."""
    prof = state.profiles[i]
    sec = state.outline[i]
    index = state.index
    title_toks = mapping.heading_tokens(sec.title)
    if not title_toks or not any(index.kinds.get(s) in prof.kinds for s in index.kinds):
        return Written([], [])
    claimed = state.assignment.claimed
    exclude = [
        c.id
        for c in index.chunks
        if all((c.source_index, b.index - 1) in claimed for b in c.blocks)
    ]
    hits = index.search(prof.query, kinds=prof.kinds, k=8, exclude=exclude)
    if not hits:
        return Written([], [])
    top = hits[0][1]
    chosen: list[Chunk] = []
    for chunk, score in hits:
        if score < 0.6 * top or score < FALLBACK_MIN_SCORE / 2:
            break
        head = chunk.heading_path[-1] if chunk.heading_path else ""
        overlap = len(title_toks & mapping.heading_tokens(head)) / len(title_toks)
        coverage = len(title_toks & mapping.heading_tokens(chunk.text[:4000])) / len(title_toks)
        if overlap >= 0.5 or (coverage >= 1.0 and score >= FALLBACK_MIN_SCORE):
            chosen.append(chunk)
        if len(chosen) >= FALLBACK_MAX_CHUNKS:
            break
    groups = []
    for chunk in chosen:
        blocks = [
            (b.index - 1, b)
            for b in chunk.blocks
            if (chunk.source_index, b.index - 1) not in claimed
        ]
        if blocks:
            groups.append((chunk.source_index, blocks))
            claimed.update((chunk.source_index, p) for p, _b in blocks)
    return write_groups(
        state.ctx, groups, max(120, budget // 2), source_kind=lambda s: state.sources[s].kind
    )


def _llm_rewrite(
    state: DraftState, sec: OutlineSection, paragraphs: list[Paragraph]
) -> list[Paragraph]:
    """Prose paragraphs rewritten by the LLM writer; lists stay as the source numbered them."""
    prose = [p for p in paragraphs if p.style == "body"]
    lists = [p for p in paragraphs if p.style != "body"]
    if not prose:
        return paragraphs
    passages = [llm.Passage(text=p.source_text or p.text, citations=p.citations) for p in prose]
    draft = llm.write_section_llm(
        sec,
        passages,
        style_guide=state.inp.style_guide,
        instructions=" ".join(
            t
            for t in (state.inp.instructions, state.inp.section_instructions.get(sec.section_id))
            if t
        ),
        config=state.llm_config,  # type: ignore[arg-type]
    )
    written = [p for p in draft.paragraphs if p.style == "body"]
    if not written:
        flags = (
            *(f for p in draft.paragraphs for f in p.flags),
            "llm_fallback: built-in text kept",
        )
        prose = [replace(prose[0], flags=prose[0].flags + flags), *prose[1:]]
        return prose + lists
    return written + lists
