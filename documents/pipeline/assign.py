"""Assign: which source passages each template section takes, from the content model.

Every source heading has a concept (``concepts.classify_nodes``); every section names the concepts
it draws on (``profiles``). The rules, in order:

1. **A heading goes to the section that wants its concept most**: the section whose ``main`` list
   names the concept earliest (ties: the deeper section, then the earlier one). A heading whose
   concept no section names goes to the section that names its nearest ancestor concept only
   when it has no other home.
2. **A section takes a heading's whole subtree** minus the subheadings that went to other
   sections, and minus subheadings whose concept lies outside the heading's own family (an
   appendix of rating scales under "Supporting documentation" is not ethics text).
3. **Headings that name two concepts** ("Assignment, Randomisation and Blinding",
   "Contraception and Pregnancy Testing") are split paragraph by paragraph between the sections
   that want those concepts, by the words of each paragraph.
4. **A section with nothing** looks at its ``also`` concepts' unclaimed passages, then at its
   literal headings, and is left to the information elements and retrieval otherwise.
5. **Without results**, a results section's ``without_results`` concepts (the SAP's definition
   of analysis sets for "Data Sets Analysed") take those passages before the statistical methods
   do.

Everything here is positions in the sources (``(source_index, [block positions])``); writing them
is ``orchestrate``'s job. Nothing is read twice: a block position belongs to one section.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from documents.pipeline import concepts, mapping
from documents.pipeline.concepts import NodeConcept
from documents.pipeline.ingest import HeadingNode, SourceIndex
from documents.pipeline.profiles import SectionProfile

# A body-only classification is trusted when it is at least this sure.
BODY_ONLY_MIN = 0.5
# Paragraph split: a paragraph moves to the other concept's section when its words favour it by
# this margin (0..1 body scores).
SPLIT_MARGIN = 0.15

Group = tuple[int, list[int]]  # (source_index, block positions in document order)


@dataclass
class Assignment:
    """The passages of every section (outline index → groups), and who owns each heading."""

    groups: dict[int, list[Group]] = field(default_factory=dict)
    node_owner: dict[int, int] = field(default_factory=dict)
    claimed: set[tuple[int, int]] = field(default_factory=set)
    node_concepts: dict[int, NodeConcept] = field(default_factory=dict)

    def owner_of_positions(self) -> dict[tuple[int, int], int]:
        """(source, block position) → the section it was assigned to."""
        return {(s, p): i for i, groups in self.groups.items() for s, ps in groups for p in ps}

    def add(self, i: int, s_idx: int, positions: list[int]) -> None:
        positions = [p for p in positions if (s_idx, p) not in self.claimed]
        if not positions:
            return
        self.groups.setdefault(i, []).append((s_idx, positions))
        self.claimed.update((s_idx, p) for p in positions)


def assign_sections(
    index: SourceIndex,
    profiles: Sequence[SectionProfile],
    body: Sequence[int],
    *,
    has_children: Sequence[bool],
    results_present: set[str],
    result_takers: dict[str, int] | None = None,
    prose_results: Sequence[int] = (),
) -> Assignment:
    """Passages for every body section (indices into the outline) — see the module docstring.

    ``prose_results`` are results sources written as prose (no TLF output recognised in them):
    their headings go to the section that takes the results class the heading names
    (``result_takers``: class → section)."""
    found = concepts.classify_nodes(index)
    out = Assignment(node_concepts=found)
    _assign_prose_results(index, out, result_takers or {}, set(prose_results), has_children)
    wanted = _wanted(profiles, body, results_present)
    nodes = [
        n
        for n in index.nodes
        if n.source_kind != "results" and not (n.boilerplate or n.abbreviations or n.references)
    ]
    by_id = {n.id: n for n in index.nodes}

    # 1. Owner of each heading; back matter (appendices, attachments, anything after the
    #    references) only serves a section that found nothing in the main body.
    served: set[int] = set()
    for back in (False, True):
        for node in nodes:
            if node.appendix != back:
                continue
            nc = found.get(node.id)
            if nc is None or (nc.via.startswith("body") and (back or nc.score < BODY_ONLY_MIN)):
                continue
            owner = _best_section(nc.concept, wanted, profiles, node)
            if owner is None or (back and owner in served):
                continue
            out.node_owner[node.id] = owner
            if not back:
                served.add(owner)
    # A heading with no owner of its own, under an owned heading of the same family, stays with
    # its ancestor (rule 2); one with an unrelated concept is left out of the ancestor's span.
    # 2. Spans, deeper headings first so that a parent's span excludes them.
    spans: dict[int, list[int]] = {}
    for node in sorted(nodes, key=lambda n: -n.level):
        if node.id not in out.node_owner:
            continue
        spans[node.id] = _span(index, node, out, found, by_id)
    # 3. Split two-concept headings, then claim in section order of preference.
    ordered = sorted(
        spans,
        key=lambda nid: (
            _rank(found[nid].concept, profiles[out.node_owner[nid]]),
            by_id[nid].source_index,
            by_id[nid].pos,
        ),
    )
    for nid in ordered:
        node = by_id[nid]
        owner = out.node_owner[nid]
        positions = spans[nid]
        others = _named_concepts(node, found[nid].concept, wanted, owner)
        if others:
            mine, moved = _split(index, node, positions, found[nid].concept, others)
            for j, pos in moved.items():
                out.add(j, node.source_index, pos)
            positions = mine
        out.add(owner, node.source_index, positions)
    # 4. Sections with nothing: their "also" concepts' unclaimed passages, then literal headings.
    for i in body:
        if out.groups.get(i) or has_children[i]:
            continue
        prof = profiles[i]
        for node in nodes:
            nc = found.get(node.id)
            literal = any(mapping.heading_similarity(h, node.title) >= 0.9 for h in prof.headings)
            if not literal and (nc is None or nc.concept not in prof.also):
                continue
            if node.source_kind not in prof.kinds:
                continue
            end = node.end_direct if has_children[i] else node.end_subtree
            out.add(i, node.source_index, list(range(node.start, end)))
    # Keep each section's groups in order of its concepts' preference, then document order.
    for i, groups in out.groups.items():
        kind_rank = {k: r for r, k in enumerate(profiles[i].kinds)}
        groups.sort(
            key=lambda g: (
                _group_rank(g, profiles[i], out, index),
                kind_rank.get(index.kinds.get(g[0], "other"), 9),
                g[0],
                g[1][0],
            )
        )
    return out


def _assign_prose_results(
    index: SourceIndex,
    out: Assignment,
    takers: dict[str, int],
    sources: set[int],
    has_children: Sequence[bool],
) -> None:
    """Headings of a prose results document ("Disposition of Subjects", "Adverse Events") go
    to the sections that take those classes of results; their text is written as it is."""
    from documents.pipeline import results

    if not sources:
        return
    for node in index.nodes:
        if node.source_index not in sources or node.boilerplate or node.references:
            continue
        klass = results.classify("Table", "", node.title)
        owner = takers.get(klass)
        if owner is None:
            fallback = (
                "efficacy"
                if results.is_efficacy(klass)
                else ("ae_common" if results.is_safety(klass) else "")
            )
            owner = takers.get(fallback)
        if owner is None:
            continue
        end = (
            node.end_direct
            if any(
                c.source_index == node.source_index
                and node.pos < c.pos < node.end_subtree
                and results.classify("Table", "", c.title) != "other"
                for c in index.nodes
            )
            else node.end_subtree
        )
        out.node_owner[node.id] = owner
        out.add(owner, node.source_index, list(range(node.start, end)))


def _wanted(
    profiles: Sequence[SectionProfile], body: Sequence[int], results_present: set[str]
) -> dict[str, list[int]]:
    """Concept → the body sections that name it as a main source."""
    wanted: dict[str, list[int]] = {}
    for i in body:
        prof = profiles[i]
        names = list(prof.main)
        if prof.without_results and not (set(prof.results) & results_present):
            names = list(prof.without_results) + names
        for c in names:
            wanted.setdefault(c, []).append(i)
    return wanted


def _rank(concept_id: str, prof: SectionProfile) -> int:
    names = list(prof.without_results) + list(prof.main)
    return names.index(concept_id) if concept_id in names else len(names)


def _best_section(
    concept_id: str,
    wanted: dict[str, list[int]],
    profiles: Sequence[SectionProfile],
    node: HeadingNode,
) -> int | None:
    candidates = [i for i in wanted.get(concept_id, []) if _accepts(profiles[i], concept_id, node)]
    if not candidates:
        # The nearest ancestor concept that a section wants (a "Skin Rash Follow-up" safety
        # measure goes where the safety assessments go).
        for anc in concepts.ancestors(concept_id):
            candidates = [i for i in wanted.get(anc, []) if _accepts(profiles[i], anc, node)]
            if candidates:
                break
    if not candidates:
        return None
    # Results sections take protocol text only through ``without_results``.
    with_own = [
        i
        for i in candidates
        if profiles[i].without_results and concept_id in profiles[i].without_results
    ]
    if with_own:
        candidates = with_own
    return min(
        candidates,
        key=lambda i: (_rank(concept_id, profiles[i]), -profiles[i].section.level, i),
    )


def _accepts(prof: SectionProfile, concept_id: str, node: HeadingNode) -> bool:
    """A results section takes protocol or SAP text only for its ``without_results`` concepts."""
    if node.source_kind in prof.kinds:
        return True
    return concept_id in prof.without_results and node.source_kind in {"protocol", "sap", "other"}


def _span(
    index: SourceIndex,
    node: HeadingNode,
    out: Assignment,
    found: dict[int, NodeConcept],
    by_id: dict[int, HeadingNode],
) -> list[int]:
    """The node's subtree minus subheadings owned elsewhere or of another family."""
    total = len(index.blocks[node.source_index])
    end = node.end_subtree
    # A heading that spans most of its document (a title above everything) gives only its direct
    # content: one section must not swallow a whole source.
    if end - node.pos > max(80, 0.5 * total):
        end = node.end_direct
    excluded: list[tuple[int, int]] = []
    my = found.get(node.id)
    for child_id in _descendants(index, node):
        child = by_id[child_id]
        if child.pos >= end:
            break
        if child_id in out.node_owner:
            # Written as its own passage (by this section or another).
            excluded.append((child.pos, child.end_subtree))
            continue
        if child.boilerplate or child.abbreviations or child.references:
            excluded.append((child.pos, child.end_subtree))
            continue
        nc = found.get(child_id)
        if (
            nc is not None
            and my is not None
            and not nc.via.startswith("parent")
            and nc.score >= 0.8
            and not _same_family(nc.concept, my.concept)
        ):
            excluded.append((child.pos, child.end_subtree))
    return [p for p in range(node.start, end) if not any(a <= p < b for a, b in excluded)]


def _descendants(index: SourceIndex, node: HeadingNode) -> list[int]:
    return [
        n.id
        for n in index.nodes
        if n.source_index == node.source_index and node.pos < n.pos < node.end_subtree
    ]


def _same_family(a: str, b: str) -> bool:
    return (
        concepts.is_within(a, b)
        or concepts.is_within(b, a)
        or (bool(set(concepts.ancestors(a)) & set(concepts.ancestors(b)) - {"ethics"}))
    )


def _named_concepts(
    node: HeadingNode, concept_id: str, wanted: dict[str, list[int]], owner: int
) -> dict[str, int]:
    """Other concepts that the heading itself names and another section wants ("Randomisation
    and Blinding" → blinding → the Blinding section)."""
    words = mapping.heading_tokens(node.title)
    # Only a heading that joins topics ("Assignment, Randomisation and Blinding") names several.
    if len(words) < 2 or not re.search(r"\band\b|&|,|/", node.title):
        return {}
    out: dict[str, int] = {}
    for cid, sections in wanted.items():
        # Only a concept of the same standing (a broad "Trial Intervention" named in
        # "Discontinuation of Trial Intervention" is not a second topic of that heading).
        if cid == concept_id or concepts.concepts()[cid].parent is None:
            continue
        targets = [i for i in sections if i != owner]
        if not targets:
            continue
        for alias in concepts.concepts()[cid].titles:
            alias_words = mapping.heading_tokens(alias)
            if alias_words and alias_words < words and len(alias_words) <= len(words) - 1:
                out[cid] = targets[0]
                break
    return out


_SPLITTABLE = {"paragraph", "list_item", "table", "caption"}


def _split(
    index: SourceIndex,
    node: HeadingNode,
    positions: list[int],
    concept_id: str,
    others: dict[str, int],
) -> tuple[list[int], dict[int, list[int]]]:
    """Positions kept for the owner, and positions moved to the sections of ``others``."""
    blocks = index.blocks[node.source_index]
    mine: list[int] = []
    moved: dict[int, list[int]] = {}
    # A list continues the paragraph that introduced it.
    follow: int | None = None
    for p in positions:
        b = blocks[p]
        if b.kind not in _SPLITTABLE or not b.text.strip():
            mine.append(p)
            continue
        if b.kind == "list_item" and follow is not None:
            moved.setdefault(follow, []).append(p)
            continue
        scores = concepts.body_scores(b.text)
        own = scores.get(concept_id, 0.0)
        best_other, target = max(
            ((scores.get(c, 0.0), j) for c, j in others.items()), default=(0.0, -1)
        )
        if target >= 0 and best_other >= own + SPLIT_MARGIN:
            moved.setdefault(target, []).append(p)
            follow = target if b.text.rstrip().endswith(":") else None
        else:
            mine.append(p)
            follow = None
    return mine, moved


def _group_rank(
    group: tuple[int, list[int]], prof: SectionProfile, out: Assignment, index: SourceIndex
) -> int:
    s_idx, positions = group
    best = len(prof.main) + len(prof.without_results) + 1
    first = positions[0]
    for node in index.nodes:
        if node.source_index != s_idx or not (node.pos <= first < node.end_subtree):
            continue
        nc = out.node_concepts.get(node.id)
        if nc is not None:
            best = min(best, _rank(nc.concept, prof))
    return best
