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

from collections.abc import Callable, Sequence
from dataclasses import replace

from documents.pipeline import (
    derive,
    elements,
    glossary,
    llm,
    mapping,
    outputs,
    results,
    revise,
    size,
    twin,
)
from documents.pipeline.assign import assign_sections
from documents.pipeline.citations import QuoteLocator
from documents.pipeline.errors import Cancelled
from documents.pipeline.ingest import SourceIndex
from documents.pipeline.passages import Written, write_groups
from documents.pipeline.profiles import profile_for
from documents.pipeline.state import DraftState, section_draft
from documents.pipeline.types import (
    Chunk,
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
    outputs.place_outputs(state, body)
    present = {t.klass for lst in state.placed.values() for t in lst}
    with_outputs = {t.s_idx for t in state.outputs}
    state.assignment = assign_sections(
        index,
        state.profiles,
        body,
        has_children=state.has_children,
        results_present=present,
        result_takers=outputs.takers(state, body),
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
    size.fit_size(state, reserve=size.DERIVED_RESERVE, keep=reused | revised)
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
    if size.fit_size(state, keep=reused | revised):
        for i in derived_sections:
            if state.profiles[i].derived == "output_index" and i not in reused | revised:
                state.drafts[i] = derive.write(state, i)
    return tuple(state.drafts[i] for i in range(len(outline)))


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
        size.words_of(state, k)
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
        ps, ts = outputs.write_output(state, table)
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
    names = ", ".join(t.ref for t in state.outputs[:12])
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
