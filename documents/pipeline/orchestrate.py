"""Orchestrate: one ``SectionDraft`` per outline section, written from the sources.

The rules, in the order they are applied:

1. **Skipped and reused.** A section with ``selected`` False is ``skipped`` (no content). A section
   whose id is in ``inp.reuse_sections`` is the previous version's twin section, unchanged
   (regeneration); its sentences count as used so no other section repeats them. A section whose
   title an instruction excludes ("do not include the introduction") is skipped too.
2. **Heading match first.** Every source heading is compared with each section's wanted headings
   (its title, the template's ``hints.source_headings``, rule parameters and the correspondence
   table ``data/section_map.json``; see ``mapping``), only in the source kinds the section accepts
   (results sections — ICH E3 10–12, 14, 16.2 — accept only ``results`` sources). Each source
   heading goes to the one section that matches it best (ties: main body before back matter, the
   section that ranks the source kind first, the deeper, then the earlier section). A
   section that has subsections in the template takes only the *direct* content under its
   headings; a leaf section takes the whole subtree, minus sub-headings that went to other sections.
3. **Retrieval second.** A leaf section with no matching heading asks the job's bm25s index with a
   query made of its title, synopsis, instructions and keywords, restricted to its source kinds
   and to passages no section has claimed, and keeps at most two passages that pass a strict
   relevance test (the passage's heading shares the title's words, or the passage contains all of
   them with a high score). Nothing relevant → ``no_source`` with one plain sentence.
4. **One passage, one section.** Blocks are claimed as they are assigned, deeper sections first, so
   a passage is never written twice; a sentence already used (or a near copy, as the SAP repeating
   the protocol) is skipped by the writer.
5. **Budgets.** Each section has a word budget by level (more for leaves and for sections the
   correspondence table marks as long, such as eligibility criteria and statistical methods);
   several matched headings share it; a numbered list is finished rather than cut.
6. **Parents.** A section with subsections and no direct content of its own is ``generated`` with
   no paragraphs when any descendant has content, and ``no_source`` otherwise.
7. **Derived sections, last.** Title page (key facts, cited), synopsis (a table of key sentences
   copied from the body with their citations, so its numbers equal the body's), table of contents
   (a note; Word builds it), list of abbreviations (those the draft uses, defined from the style
   guide or the sources, cited), discussion (results conclusions, else ``no_source``) and reference
   list (the sources' references section).
8. **Abbreviations** are expanded at their first use in the body ("adverse event (AE)").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from documents.pipeline import language, llm, mapping, twin
from documents.pipeline.errors import Cancelled
from documents.pipeline.ingest import HeadingNode, SourceIndex
from documents.pipeline.mapping import SectionProfile
from documents.pipeline.types import (
    Block,
    Chunk,
    Citation,
    ExtractedSource,
    OutlineSection,
    Paragraph,
    PipelineInput,
    SectionDraft,
    Table,
)
from documents.pipeline.writer import (
    Directives,
    QuoteLocator,
    WriterContext,
    parse_directives,
    source_definitions,
    with_text,
    write_block,
)

HEADING_THRESHOLD = 0.75
_BROKEN_WORD_RE = re.compile(
    r"[a-z]{3,} [a-z]{1,2}\b(?<!\b(?:of|in|to|on|at|by|or|an|as|be|is|it|no|up|vs))"
)
# Word budgets by template level (1, 2, 3+) for leaf sections; parents take their direct content.
LEAF_BUDGET = {1: 450, 2: 550, 3: 600}
PARENT_BUDGET = 250
FALLBACK_MAX_CHUNKS = 2
FALLBACK_MIN_SCORE = 6.0
SYNOPSIS_SENTENCES = 2

KEY_FACT_LABELS = {
    "title": "Study title",
    "protocol_number": "Protocol number",
    "sponsor": "Sponsor",
    "phase": "Phase",
    "product": "Investigational product",
    "indication": "Indication",
    "sample_size": "Planned sample size",
    "arms": "Treatment arms",
    "primary_endpoint": "Primary endpoint",
}

# Synopsis rows: (label, titles of the body sections whose first sentences fill the row).
SYNOPSIS_ROWS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Objectives", ("Study Objectives",)),
    ("Methodology", ("Overall Study Design and Plan - Description", "Investigational Plan")),
    ("Number of patients (planned)", ("Determination of Sample Size",)),
    (
        "Diagnosis and main criteria for inclusion",
        ("Inclusion Criteria", "Selection of Study Population"),
    ),
    ("Test product, dose and mode of administration", ("Treatments Administered", "Treatments")),
    ("Criteria for evaluation", ("Primary Efficacy Variable(s)", "Efficacy and Safety Variables")),
    ("Statistical methods", ("Statistical and Analytical Plans",)),
    (
        "Efficacy results",
        ("Analysis of Efficacy", "Efficacy Results and Tabulations of Individual Patient Data"),
    ),
    (
        "Safety results",
        ("Brief Summary of Adverse Events", "Adverse Events (AEs)", "Safety Evaluation"),
    ),
    ("Conclusions", ("Efficacy Conclusions", "Safety Conclusions")),
)


@dataclass
class _Plan:
    """The job's working state."""

    inp: PipelineInput
    sources: Sequence[ExtractedSource]
    index: SourceIndex
    profiles: list[SectionProfile]
    has_children: list[bool]
    parent: list[int | None]
    ctx: WriterContext
    directives: Directives
    drafts: dict[int, SectionDraft] = field(default_factory=dict)
    claimed: set[tuple[int, int]] = field(default_factory=set)  # (source_index, block position)
    node_owner: dict[int, int] = field(default_factory=dict)  # node id → section index
    section_nodes: dict[int, list[tuple[float, HeadingNode]]] = field(default_factory=dict)
    used_chunks: set[int] = field(default_factory=set)
    llm_config: llm.LLMConfig | None = None


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
    outline = list(inp.outline)
    style = inp.style_guide
    directives = parse_directives(inp.instructions, style.instructions if style else "")
    # The job resolves the tense (style guide, else template); an instruction may override it.
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
    plan = _Plan(
        inp=inp,
        sources=sources,
        index=index,
        profiles=[mapping.profile_for(s) for s in outline],
        has_children=has_children,
        parent=parent,
        ctx=ctx,
        directives=directives,
    )
    if inp.writer == "llm":
        plan.llm_config = llm.require_config(inp.llm)

    done = 0

    def finish(i: int, draft: SectionDraft) -> None:
        nonlocal done
        plan.drafts[i] = draft
        if outline[i].selected:
            done += 1
            on_section_done(done)

    def check_cancel() -> None:
        if is_cancelled():
            raise Cancelled()

    # 1. Skipped, reused and excluded sections.
    to_write: list[int] = []
    for i, sec in enumerate(outline):
        if sec.section_id in inp.reuse_sections:
            draft = twin.section_from_dict(inp.reuse_sections[sec.section_id])
            for p in draft.paragraphs:
                ctx.remember(p.source_text or p.text)
            finish(i, draft)
        elif not sec.selected:
            plan.drafts[i] = _skipped(sec)
        elif _excluded_by_instruction(sec, directives):
            finish(i, _skipped(sec))
        else:
            to_write.append(i)

    body = [i for i in to_write if plan.profiles[i].derived is None]
    derived = [i for i in to_write if plan.profiles[i].derived is not None]

    # 2. Heading match for every body section, then 3–5: write, deeper sections first.
    _assign_headings(plan, body)
    for i in sorted(body, key=lambda j: (-outline[j].level, j)):
        check_cancel()
        if plan.has_children[i]:
            continue  # parents after their children (step 6)
        finish(i, _write_body_section(plan, i))
    for i in sorted(body, key=lambda j: (-outline[j].level, j)):
        if not plan.has_children[i]:
            continue
        check_cancel()
        finish(i, _write_body_section(plan, i))

    # 7. Derived sections, from the written body.
    order = {
        "title_page": 0,
        "references": 1,
        "synopsis": 2,
        "discussion": 3,
        "toc": 4,
        "abbreviations": 9,
    }
    for i in sorted(derived, key=lambda j: order.get(plan.profiles[j].derived or "", 5)):
        check_cancel()
        if plan.profiles[i].derived == "abbreviations":
            continue
        finish(i, _write_derived(plan, i))

    # 8. Abbreviations: expand first uses, then list them.
    definitions = _definitions(plan)
    _expand_abbreviations(plan, definitions)
    for i in derived:
        if plan.profiles[i].derived == "abbreviations":
            check_cancel()
            finish(i, _abbreviations_section(plan, i, definitions))

    return tuple(plan.drafts[i] for i in range(len(outline)))


# ---------------------------------------------------------------- helpers


def _skipped(sec: OutlineSection) -> SectionDraft:
    return SectionDraft(
        section_id=sec.section_id,
        number=sec.number,
        title=sec.title,
        level=sec.level,
        state="skipped",
    )


def _draft(
    sec: OutlineSection,
    paragraphs: Sequence[Paragraph] = (),
    tables: Sequence[Table] = (),
    *,
    state: str | None = None,
) -> SectionDraft:
    if state is None:
        state = "generated" if paragraphs or tables else "no_source"
    return SectionDraft(
        section_id=sec.section_id,
        number=sec.number,
        title=sec.title,
        level=sec.level,
        state=state,  # type: ignore[arg-type]
        paragraphs=tuple(paragraphs),
        tables=tuple(tables),
    )


def _no_source(sec: OutlineSection, kind: str) -> SectionDraft:
    note = Paragraph(text=mapping.no_source_message(kind), style="note")
    return _draft(sec, [note], state="no_source")


def _excluded_by_instruction(sec: OutlineSection, directives: Directives) -> bool:
    return any(mapping.heading_similarity(term, sec.title) >= 0.95 for term in directives.exclude)


def _emphasis(plan: _Plan, i: int) -> float:
    sec = plan.inp.outline[i]
    keywords = {t for k in plan.profiles[i].keywords for t in mapping.heading_tokens(k)}
    for term in plan.directives.emphasis:
        toks = mapping.heading_tokens(term)
        if toks and toks <= mapping.heading_tokens(sec.title) | keywords:
            return 1.6
        if mapping.heading_similarity(term, sec.title) >= 0.7:
            return 1.6
    return 1.0


def _budget(plan: _Plan, i: int) -> int:
    sec = plan.inp.outline[i]
    prof = plan.profiles[i]
    if plan.has_children[i]:
        base = PARENT_BUDGET
    else:
        base = LEAF_BUDGET[min(3, max(1, sec.level))] * prof.budget_factor
    return int(base * plan.directives.budget_factor * _emphasis(plan, i))


# ---------------------------------------------------------------- heading assignment


def _assign_headings(plan: _Plan, body: list[int]) -> None:
    outline = plan.inp.outline
    nodes = [n for n in plan.index.nodes if not (n.boilerplate or n.abbreviations or n.references)]
    # Inverted index from heading words to nodes: only headings sharing a word are compared.
    by_token: dict[str, set[int]] = {}
    broken: set[int] = set()  # headings PDF extraction split into fragments ("Primar y")
    node_by_id = {n.id: n for n in nodes}
    for n in nodes:
        for text in {n.title, n.qualified}:
            for t in mapping.heading_tokens(text) | mapping.heading_tokens(text, keep_generic=True):
                by_token.setdefault(t, set()).add(n.id)
        if _BROKEN_WORD_RE.search(n.title):
            broken.add(n.id)
    # (sort key, score, section index, node): best score first; on a tie, back matter last, the
    # section that ranks this source kind higher, the deeper section, a kind-specific synonym,
    # then the earlier section.
    candidates: list[tuple[tuple[Any, ...], float, int, HeadingNode]] = []
    for i in body:
        prof = plan.profiles[i]
        kind_rank = {k: r for r, k in enumerate(prof.kinds)}
        best: dict[int, tuple[float, bool]] = {}
        for text, only_kind in prof.headings:
            specific = only_kind is not None
            wanted_tokens = mapping.heading_tokens(text) or mapping.heading_tokens(
                text, keep_generic=True
            )
            ids: set[int] = set(broken)
            for t in wanted_tokens:
                ids |= by_token.get(t, set())
            for nid in ids:
                node = node_by_id[nid]
                if node.source_kind not in kind_rank or (
                    only_kind and node.source_kind != only_kind
                ):
                    continue
                if node.qualified != node.title:
                    # A bare "Primary" is matched with its parent: "Study Endpoints Primary"
                    # matches "Primary Endpoint" (and only when its own words are wanted); a
                    # bare heading of several words ("General Considerations") may also match
                    # the same words exactly.
                    score = 0.0
                    own = mapping.heading_tokens(node.title, keep_generic=True)
                    if own and own <= mapping.heading_tokens(text, keep_generic=True):
                        score = mapping.heading_similarity(text, node.qualified)
                    if len(own) >= 2 and mapping.compact(text) == mapping.compact(node.title):
                        score = 1.0
                else:
                    score = mapping.heading_similarity(text, node.title)
                if (
                    score < HEADING_THRESHOLD
                    and nid in broken
                    and mapping.compact_contains(text, node.title)
                ):
                    score = 0.8
                prev = best.get(nid)
                if (
                    prev is None
                    or score > prev[0]
                    or (score == prev[0] and specific and not prev[1])
                ):
                    best[nid] = (score, specific)
        for nid, (score, specific_best) in best.items():
            if score < HEADING_THRESHOLD:
                continue
            node = node_by_id[nid]
            key = (
                -round(score, 3),
                node.appendix,
                kind_rank.get(node.source_kind, 9),
                -outline[i].level,
                not specific_best,
                i,
                node.id,
            )
            candidates.append((key, score, i, node))
    candidates.sort(key=lambda c: c[0])
    # 1. Each heading of the main body goes to the section that wants it most.
    for _key, score, i, node in candidates:
        if node.appendix or node.id in plan.node_owner:
            continue
        plan.node_owner[node.id] = i
        plan.section_nodes.setdefault(i, []).append((score, node))
    # 2. Back matter (appendices, attachments, anything after the references) only serves a
    #    section that found nothing in the main body.
    for _key, score, i, node in candidates:
        if not node.appendix or node.id in plan.node_owner:
            continue
        owned = plan.section_nodes.get(i, [])
        if any(not n.appendix for _s, n in owned):
            continue
        plan.node_owner[node.id] = i
        plan.section_nodes.setdefault(i, []).append((score, node))
    by_section: dict[int, list[tuple[tuple[Any, ...], float, HeadingNode]]] = {}
    key_of: dict[tuple[int, int], tuple[Any, ...]] = {}
    for key, score, i, node in candidates:
        by_section.setdefault(i, []).append((key, score, node))
        key_of[(i, node.id)] = key
    # 3. Containers: a heading whose sub-headings went to several sibling sections ("Criteria for
    #    Enrollment" holding inclusion and exclusion criteria) belongs to their parent section,
    #    when that section wants it.
    for node_id, i in list(plan.node_owner.items()):
        node = plan.index.nodes[node_id]
        parent = plan.parent[i]
        if parent is None or (parent, node_id) not in key_of:
            continue
        owners = {plan.node_owner.get(c) for c in _descendant_nodes(plan, node)}
        siblings = {j for j in owners if j is not None and j != parent and plan.parent[j] == parent}
        if len(siblings - {i}) >= 1 and len(siblings) >= 2:
            plan.section_nodes[i] = [(s, n) for s, n in plan.section_nodes[i] if n.id != node_id]
            score = next(s for _k, s, n in by_section[parent] if n.id == node_id)
            plan.node_owner[node_id] = parent
            plan.section_nodes.setdefault(parent, []).append((score, node))
    # 4. Sharing: a section left without a heading takes one from a section holding several
    #    ("Dosage and Administration" and "Administration Procedures" both fit 9.4.1 and 9.4.5),
    #    as long as the holder keeps some content of its own.
    for i in body:
        if plan.section_nodes.get(i):
            continue
        for key, score, node in by_section.get(i, []):
            owner = plan.node_owner.get(node.id)
            if owner is None or owner == i:
                continue
            held = plan.section_nodes[owner]
            if len(held) < 2 or held[0][1].id == node.id:
                continue
            owner_score = next(s for s, n in held if n.id == node.id)
            owner_key = key_of[(owner, node.id)]
            # Only between equals: same kind preference and (nearly) the same match.
            if score < owner_score - 0.05 or key[1:3] > owner_key[1:3]:
                continue
            plan.node_owner[node.id] = i
            remaining = [(s, n) for s, n in held if n.id != node.id]
            if not any(
                _node_positions(plan, n, subtree=not plan.has_children[owner], owner=owner)
                for _s, n in remaining
            ):
                plan.node_owner[node.id] = owner  # the holder would be left empty
                continue
            plan.section_nodes[owner] = remaining
            plan.section_nodes[i] = [(score, node)]
            break
    # Claim every assigned heading's span up front, so retrieval never takes another section's text.
    for i, lst in plan.section_nodes.items():
        for _score, node in lst:
            for pos in _node_positions(plan, node, subtree=not plan.has_children[i], owner=i):
                plan.claimed.add((node.source_index, pos))


def _descendant_nodes(plan: _Plan, node: HeadingNode) -> list[int]:
    return [
        n.id
        for n in plan.index.nodes
        if n.source_index == node.source_index and node.pos < n.pos < node.end_subtree
    ]


def _node_positions(plan: _Plan, node: HeadingNode, *, subtree: bool, owner: int) -> list[int]:
    """Block positions under ``node`` (direct content, or the subtree minus other sections' parts).

    A heading that spans most of its document (a title heading above everything) gives only its
    direct content: one section must not swallow a whole source."""
    total = len(plan.index.blocks[node.source_index])
    if subtree and node.end_subtree - node.pos > max(60, 0.4 * total):
        subtree = False
    end = node.end_subtree if subtree else node.end_direct
    excluded: list[tuple[int, int]] = []
    if subtree:
        for other in plan.index.nodes:
            if other.source_index != node.source_index or not (node.pos < other.pos < end):
                continue
            other_owner = plan.node_owner.get(other.id)
            if (
                (other_owner is not None and other_owner != owner)
                or other.boilerplate
                or other.abbreviations
                or other.references
            ):
                excluded.append((other.pos, other.end_subtree))
    out = []
    for pos in range(node.start, end):
        if any(a <= pos < b for a, b in excluded):
            continue
        out.append(pos)
    return out


# ---------------------------------------------------------------- body sections


def _write_body_section(plan: _Plan, i: int) -> SectionDraft:
    sec = plan.inp.outline[i]
    prof = plan.profiles[i]
    budget = _budget(plan, i)
    nodes = plan.section_nodes.get(i, [])
    kind_rank = {k: r for r, k in enumerate(prof.kinds)}
    nodes = sorted(
        nodes,
        key=lambda sn: (kind_rank.get(sn[1].source_kind, 9), -sn[0], sn[1].source_index, sn[1].pos),
    )
    groups: list[tuple[int, list[tuple[int, Block]]]] = []
    for _score, node in nodes:
        positions = _node_positions(plan, node, subtree=not plan.has_children[i], owner=i)
        blocks = plan.index.blocks[node.source_index]
        groups.append((node.source_index, [(p, blocks[p]) for p in positions]))
    paragraphs, tables = _write_groups(plan, groups, budget)

    if not paragraphs and not tables and not plan.has_children[i] and not nodes:
        paragraphs, tables = _write_from_retrieval(plan, i, budget)

    if plan.llm_config is not None and paragraphs:
        paragraphs = _llm_rewrite(plan, sec, paragraphs)

    if paragraphs or tables:
        return _draft(sec, paragraphs, tables)
    if plan.has_children[i]:
        descendants = _descendants(plan, i)
        if any(
            plan.drafts.get(d) is not None and plan.drafts[d].state == "generated"
            for d in descendants
        ):
            return _draft(sec, state="generated")
    if prof.data_fed:
        return _no_source(sec, "results")
    return _no_source(sec, "default")


def _descendants(plan: _Plan, i: int) -> list[int]:
    out = []
    level = plan.inp.outline[i].level
    for j in range(i + 1, len(plan.inp.outline)):
        if plan.inp.outline[j].level <= level:
            break
        out.append(j)
    return out


def _write_groups(
    plan: _Plan, groups: list[tuple[int, list[tuple[int, Block]]]], budget: int
) -> tuple[list[Paragraph], list[Table]]:
    """Write blocks group by group; each group first gets its share of the budget, then the rest
    is filled in order. A list being written is finished (up to twice the budget)."""
    if not groups:
        return [], []
    groups = [(s_idx, _merge_page_splits(blocks)) for s_idx, blocks in groups]
    results: list[list[tuple[int, list[Paragraph], list[Table]]]] = [[] for _ in groups]
    cursor = [0] * len(groups)
    total = 0
    share = max(80, budget // len(groups))

    def run(g: int, limit: int, hard: int) -> None:
        nonlocal total
        s_idx, blocks = groups[g]
        written = 0
        caption = ""
        while cursor[g] < len(blocks):
            pos, block = blocks[cursor[g]]
            in_list = (
                block.kind == "list_item"
                and cursor[g] > 0
                and blocks[cursor[g] - 1][1].kind == "list_item"
            )
            if (written >= limit or total >= budget) and not (in_list and total < hard):
                return
            cursor[g] += 1
            nxt = blocks[cursor[g]][1] if cursor[g] < len(blocks) else None
            if block.kind == "caption" and nxt is not None and nxt.kind == "table":
                caption = language.clean_text(block.text)  # the next table's title
                continue
            if block.kind == "caption":
                # A caption whose table is not a table block (PDF text) is kept as a line, or
                # written as prose when it is a sentence ("Table 1 lists the tests that will be
                # performed"); a figure's caption without its figure is left out.
                is_results = plan.sources[s_idx].kind == "results"
                if not is_results and re.match(r"(?i)\s*fig", block.text):
                    continue
                result = write_block(plan.ctx, s_idx, replace(block, kind="paragraph"))
            else:
                result = write_block(plan.ctx, s_idx, block, caption=caption)
            caption = ""
            plan.claimed.add((s_idx, pos))
            chunk_id = plan.index.chunk_of_block.get((s_idx, block.index))
            if chunk_id is not None:
                plan.used_chunks.add(chunk_id)
            if result.paragraphs or result.tables:
                results[g].append((pos, result.paragraphs, result.tables))
                written += result.words
                total += result.words

    for g in range(len(groups)):
        run(g, share, budget * 2)
    for g in range(len(groups)):
        run(g, budget, budget * 2)
    paragraphs: list[Paragraph] = []
    tables: list[Table] = []
    before_table: set[int] = set()  # ids of paragraphs directly followed by a table
    for per_group in results:
        for _pos, ps, ts in sorted(per_group, key=lambda r: r[0]):
            if ts and paragraphs:
                before_table.add(id(paragraphs[-1]))
            paragraphs.extend(ps)
            tables.extend(ts)
    return _drop_dangling_intros(paragraphs, before_table), tables


def _merge_page_splits(blocks: list[tuple[int, Block]]) -> list[tuple[int, Block]]:
    """Join a paragraph that extraction split in two — at a page break (PDF blocks never cross a
    page) or inside a page (a font change such as a superscript "®") — so that no sentence is cut
    in the middle; a sentence over a page break is then cited on both pages. The positions of
    the blocks merged away stay in the list as empty blocks, so that they are claimed."""
    merged: list[tuple[int, Block, int, int]] = []  # (first pos, block, last pos, last page)
    for pos, block in blocks:
        if merged:
            first, prev, last, last_page = merged[-1]
            prev_text = prev.text.rstrip()
            nxt_text = block.text.lstrip()
            unfinished = not re.search(r"[.:;!?][)\]\"”’]*$", prev_text)
            continues = nxt_text[:1].islower() or nxt_text[:1] == "("
            if (
                pos == last + 1
                and prev.kind in {"paragraph", "list_item"}
                and block.kind == "paragraph"
                and prev.page is not None
                and block.page is not None
                and nxt_text
                and (
                    (block.page == last_page + 1 and (unfinished or continues))
                    or (
                        block.page == last_page
                        and unfinished
                        and (continues or prev_text.endswith((",", "-", "(")))
                    )
                )
            ):
                joined = replace(prev, text=prev_text + " " + nxt_text)
                merged[-1] = (first, joined, pos, block.page)
                continue
        merged.append((pos, block, pos, block.page or 0))
    out: list[tuple[int, Block]] = []
    for first, block, last, _page in merged:
        out.append((first, block))
        out.extend(
            (p, replace(block, text="", kind="paragraph")) for p in range(first + 1, last + 1)
        )
    return out


def _drop_dangling_intros(paragraphs: list[Paragraph], before_table: set[int]) -> list[Paragraph]:
    """A short introductory sentence ("... the following criteria:") whose list or table did not
    come along (it went to another section, or was a duplicate)."""
    out: list[Paragraph] = []
    for k, p in enumerate(paragraphs):
        nxt = paragraphs[k + 1] if k + 1 < len(paragraphs) else None
        if (
            p.style == "body"
            and p.text.rstrip().endswith(":")
            and (nxt is None or nxt.style != "list")
            and id(p) not in before_table
            and len(p.text.split()) <= 20
            and len(language.sentences(p.text)) == 1
        ):
            continue
        out.append(p)
    return out


def _write_from_retrieval(plan: _Plan, i: int, budget: int) -> tuple[list[Paragraph], list[Table]]:
    prof = plan.profiles[i]
    sec = plan.inp.outline[i]
    if not any(plan.index.kinds.get(s) in prof.kinds for s in plan.index.kinds):
        return [], []
    title_toks = mapping.heading_tokens(sec.title)
    if not title_toks:
        return [], []
    exclude = [
        c.id
        for c in plan.index.chunks
        if c.id in plan.used_chunks
        or all(
            (c.source_index, _position(plan, c.source_index, b)) in plan.claimed for b in c.blocks
        )
    ]
    hits = plan.index.search(prof.query, kinds=prof.kinds, k=8, exclude=exclude)
    if not hits:
        return [], []
    top = hits[0][1]
    chosen: list[Chunk] = []
    for chunk, score in hits:
        if score < 0.6 * top or score < FALLBACK_MIN_SCORE / 2:
            break
        head = chunk.heading_path[-1] if chunk.heading_path else ""
        head_toks = mapping.heading_tokens(head)
        overlap = len(title_toks & head_toks) / len(title_toks)
        text_toks = mapping.heading_tokens(chunk.text[:4000])
        coverage = len(title_toks & text_toks) / len(title_toks)
        if overlap >= 0.5 or (coverage >= 1.0 and score >= FALLBACK_MIN_SCORE):
            chosen.append(chunk)
        if len(chosen) >= FALLBACK_MAX_CHUNKS:
            break
    groups = []
    for chunk in chosen:
        blocks = [
            (_position(plan, chunk.source_index, b), b)
            for b in chunk.blocks
            if (chunk.source_index, _position(plan, chunk.source_index, b)) not in plan.claimed
        ]
        if blocks:
            groups.append((chunk.source_index, blocks))
            plan.used_chunks.add(chunk.id)
    return _write_groups(plan, groups, max(120, budget // 2))


def _position(plan: _Plan, s_idx: int, block: Block) -> int:
    # Blocks are stored sorted by index; positions are 0-based. Most extractors number blocks
    # 1..n contiguously, so try the fast path first.
    blocks = plan.index.blocks[s_idx]
    guess = block.index - 1
    if 0 <= guess < len(blocks) and blocks[guess].index == block.index:
        return guess
    for pos, b in enumerate(blocks):
        if b.index == block.index:
            return pos
    return -1


def _llm_rewrite(plan: _Plan, sec: OutlineSection, paragraphs: list[Paragraph]) -> list[Paragraph]:
    """Prose paragraphs rewritten by the LLM writer; lists stay as the source numbered them."""
    prose = [p for p in paragraphs if p.style == "body"]
    lists = [p for p in paragraphs if p.style != "body"]
    if not prose:
        return paragraphs
    passages = [llm.Passage(text=p.source_text or p.text, citations=p.citations) for p in prose]
    draft = llm.write_section_llm(
        sec,
        passages,
        style_guide=plan.inp.style_guide,
        instructions=plan.inp.instructions,
        config=plan.llm_config,  # type: ignore[arg-type]
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


# ---------------------------------------------------------------- derived sections


def _write_derived(plan: _Plan, i: int) -> SectionDraft:
    kind = plan.profiles[i].derived
    sec = plan.inp.outline[i]
    if kind == "title_page":
        return _title_page(plan, sec)
    if kind == "synopsis":
        return _synopsis(plan, sec)
    if kind == "toc":
        note = Paragraph(
            text="Word builds the table of contents from the headings of this report: "
            "right-click it and choose Update Field.",
            style="note",
        )
        return _draft(sec, [note], state="generated")
    if kind == "discussion":
        return _discussion(plan, sec)
    if kind == "references":
        return _references(plan, sec)
    return _no_source(sec, "default")


def _title_page(plan: _Plan, sec: OutlineSection) -> SectionDraft:
    from documents.pipeline.qc import verify_citation

    facts: dict[str, Paragraph] = {}
    ranked = sorted(
        range(len(plan.sources)),
        key=lambda s: {"protocol": 0, "sap": 1, "results": 2}.get(plan.sources[s].kind, 3),
    )
    for s_idx in ranked:
        src = plan.sources[s_idx]
        for fact in src.key_facts:
            if fact.name in facts or not fact.value.strip() or not fact.quote.strip():
                continue
            citation = Citation(
                file_path=src.file_path,
                file_name=src.file_name,
                page=fact.page,
                block=fact.block,
                quote=fact.quote,
            )
            if not verify_citation(citation, plan.sources):
                fallback = Block(
                    index=0, kind="paragraph", text=fact.quote, page=fact.page, block=fact.block
                )
                cites = plan.ctx.locator.locate(s_idx, fallback, fact.quote)
                if not cites:
                    continue
                citation = cites[0]
            value = language.clean_text(fact.value)
            # The value must not carry a number its quote does not have.
            if not set(language.numbers_in(value)) <= set(language.numbers_in(fact.quote)):
                value = language.clean_text(fact.quote)
            label = KEY_FACT_LABELS.get(fact.name, fact.name.replace("_", " ").capitalize())
            facts[fact.name] = Paragraph(text=f"{label}: {value}", citations=(citation,))
    order = list(KEY_FACT_LABELS)
    paragraphs = sorted(facts.values(), key=lambda p: _fact_rank(p, order))
    if not paragraphs:
        return _no_source(sec, "title_page")
    return _draft(sec, paragraphs)


def _fact_rank(p: Paragraph, order: list[str]) -> int:
    for r, name in enumerate(order):
        if p.text.startswith(KEY_FACT_LABELS[name] + ":"):
            return r
    return len(order)


def _find_drafts(plan: _Plan, titles: Sequence[str]) -> list[SectionDraft]:
    """Generated body sections with one of these titles (or a title of the same correspondence
    entry, e.g. "Objectives" for "Study Objectives"), in the order of ``titles``."""
    out = []
    for title in titles:
        entry = mapping.map_entry(title)
        for j, sec in enumerate(plan.inp.outline):
            draft = plan.drafts.get(j)
            if draft is None or draft.state != "generated" or plan.profiles[j].derived:
                continue
            same_entry = entry is not None and mapping.map_entry(sec.title) is entry
            if same_entry or mapping.heading_similarity(title, sec.title) >= 0.9:
                out.append(draft)
    return out


def _synopsis(plan: _Plan, sec: OutlineSection) -> SectionDraft:
    rows: list[tuple[str, str]] = []
    citations: list[Citation] = []
    for label, titles in SYNOPSIS_ROWS:
        for draft in _find_drafts(plan, titles):
            body = [p for p in draft.paragraphs if p.style in {"body", "list"} and p.citations]
            if not body:
                continue
            texts: list[str] = []
            cites: list[Citation] = []
            if body[0].style == "list" or (len(body) > 1 and body[1].style == "list"):
                items = [p for p in body if p.style == "list"][:3]
                intro = [p for p in body[:1] if p.style == "body"]
                for p in intro + items:
                    first = language.sentences(p.text)[:1] if p.style == "body" else [p.text]
                    prefix = f"{p.list_label} " if p.style == "list" and p.list_label else ""
                    texts.extend(prefix + t for t in first)
                    cites.extend(
                        p.citations[: len(first) + 1] if p.style == "body" else p.citations
                    )
            else:
                taken = 0
                for p in body:
                    for sentence in language.sentences(p.text):
                        if taken >= SYNOPSIS_SENTENCES:
                            break
                        texts.append(sentence)
                        taken += 1
                    cites.extend(p.citations)
                    if taken >= SYNOPSIS_SENTENCES:
                        break
            if texts:
                rows.append((label, "\n".join(texts)))
                citations.extend(cites)
                break
    if not rows:
        return _no_source(sec, "synopsis")
    table = Table(title="Synopsis", rows=tuple(rows), citations=tuple(dict.fromkeys(citations)))
    return _draft(sec, [], [table])


def _discussion(plan: _Plan, sec: OutlineSection) -> SectionDraft:
    paragraphs: list[Paragraph] = []
    for draft in _find_drafts(plan, ("Efficacy Conclusions", "Safety Conclusions")):
        paragraphs.extend(p for p in draft.paragraphs if p.style == "body" and p.citations)
    if not paragraphs:
        return _no_source(sec, "discussion")
    return _draft(sec, paragraphs)


def _references(plan: _Plan, sec: OutlineSection) -> SectionDraft:
    groups = []
    for node in plan.index.nodes:
        if not node.references:
            continue
        blocks = plan.index.blocks[node.source_index]
        positions = [
            p
            for p in range(node.start, node.end_subtree)
            if (node.source_index, p) not in plan.claimed
        ]
        groups.append((node.source_index, [(p, blocks[p]) for p in positions]))
    paragraphs: list[Paragraph] = []
    tables: list[Table] = []
    budget = 1200
    words = 0
    for s_idx, blocks in groups:
        for pos, block in blocks:
            if words >= budget:
                break
            # A reference is one entry: kept whole and unchanged.
            result = write_block(plan.ctx, s_idx, block, convert_tense=False, verbatim=True)
            plan.claimed.add((s_idx, pos))
            paragraphs.extend(result.paragraphs)
            tables.extend(result.tables)
            words += result.words
    if not paragraphs and not tables:
        return _no_source(sec, "references")
    return _draft(sec, paragraphs, tables)


# ---------------------------------------------------------------- abbreviations


@dataclass(frozen=True)
class _Definition:
    long_form: str
    citation: Citation | None


def _definitions(plan: _Plan) -> dict[str, _Definition]:
    blocks: list[tuple[int, Block]] = []
    for node in plan.index.nodes:
        if node.abbreviations:
            src_blocks = plan.index.blocks[node.source_index]
            blocks.extend((node.source_index, b) for b in src_blocks[node.start : node.end_subtree])
    found = source_definitions(plan.sources, plan.ctx.locator, abbreviation_blocks=blocks)
    out: dict[str, _Definition] = {
        a: _Definition(d.long_form, d.citation) for a, d in found.items()
    }
    style = plan.inp.style_guide
    if style is not None:
        for abbr, long_form in style.abbreviations.items():
            out[abbr] = _Definition(long_form, None)
    return out


def _expandable(plan: _Plan, j: int) -> bool:
    prof = plan.profiles[j]
    sec = plan.inp.outline[j]
    return (
        prof.derived not in {"title_page", "toc", "abbreviations", "references"}
        and sec.section_id not in plan.inp.reuse_sections
    )


def _expand_abbreviations(plan: _Plan, definitions: dict[str, _Definition]) -> None:
    """Spell out each defined abbreviation at its first use in the body, in document order."""
    defined: set[str] = set()
    for j in range(len(plan.inp.outline)):
        draft = plan.drafts.get(j)
        if draft is None or draft.state != "generated":
            continue
        if plan.profiles[j].derived in {"title_page", "toc", "abbreviations", "references"}:
            continue
        changed = False
        new_paragraphs = []
        for p in draft.paragraphs:
            if p.style == "note":
                new_paragraphs.append(p)
                continue
            text = p.text
            for abbr in dict.fromkeys(language.abbreviations_used(text)):
                if abbr in defined:
                    continue
                definition = definitions.get(abbr)
                if language.is_defined_at(text, abbr, definition.long_form if definition else None):
                    defined.add(abbr)
                    continue
                if definition is None or not _expandable(plan, j):
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
            plan.drafts[j] = replace(draft, paragraphs=tuple(new_paragraphs))


def _abbreviations_section(
    plan: _Plan, i: int, definitions: dict[str, _Definition]
) -> SectionDraft:
    sec = plan.inp.outline[i]
    used: dict[str, None] = {}
    for j, draft in plan.drafts.items():
        if (
            j == i
            or draft.state != "generated"
            or plan.profiles[j].derived in {"title_page", "references"}
        ):
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
        definition = definitions.get(abbr)
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
                title="Abbreviations", rows=tuple(rows), citations=tuple(dict.fromkeys(citations))
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
        return _draft(
            sec,
            paragraphs
            or [Paragraph(text=mapping.no_source_message("abbreviations"), style="note")],
            state="no_source",
        )
    return _draft(sec, paragraphs, tables)
