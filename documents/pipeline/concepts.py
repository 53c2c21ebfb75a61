"""The content model: which protocol or SAP concept each source section holds.

A *concept* (``data/concepts.json``) is a kind of content that protocols and SAPs carry: "inclusion
criteria", "assignment and randomisation", "sample size", "analysis sets", ... named after the ICH
M11 and TransCelerate CPT sections and the usual SAP parts, with the headings that name it and the
words its body usually uses. Every heading of every source is classified to a concept from three
kinds of evidence:

1. **its heading**: similarity with the concept's titles (``mapping.heading_similarity``: numbers,
   case, plurals and "patient/subject/participant" folded); a bare heading ("Primary") is read
   with its parent's ("Endpoints Primary");
2. **its place**: a concept whose parent concept encloses the heading (a "Primary Endpoint" under
   "Statistical Analyses" is the primary *analysis*, under "Objectives and Endpoints" the
   endpoint's definition) gets a bonus, and a heading under a classified parent inherits the
   parent's concept when nothing else is known;
3. **its body**: the concept's terms found in the text under the heading, weighted by how few
   concepts share them, so that "Study Vaccine" with doses, routes and syringes is read as the
   description of the intervention although no title says so.

The classification is evidence for ``assign``: E3 (or any template) sections name the concepts they
draw from (``data/e3_sources.json``), not source headings.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from documents.pipeline import mapping
from documents.pipeline.ingest import HeadingNode, SourceIndex
from documents.pipeline.types import SourceKind

DATA_DIR = Path(__file__).resolve().parent / "data"

TITLE_SURE = 0.86  # a heading this close to a concept title needs no other evidence
TITLE_WEAK = 0.6
BODY_WORDS = 600  # words of a section's body read for its terms
CONTEXT_BONUS = 0.12
MIN_SCORE = 0.45
BODY_MIN_TERMS = 3
BODY_MIN_LEAD = 0.15
# Concepts that hold whatever a document puts under them: a subheading never inherits them.
# In a SAP these are about the plan itself ("1 Introduction" says what the SAP covers).
SAP_READS = frozenset({"introduction", "purpose"})
CONTAINERS = frozenset({"appendices", "synopsis", "amendments"})
FRONT_MATTER = frozenset(
    {
        "synopsis",
        "synopsis.design",
        "synopsis.objectives",
        "schema",
        "soa",
        "amendments",
        "abbreviations",
        "signatures",
        "objectives",
        "introduction",
    }
)


@dataclass(frozen=True)
class Concept:
    id: str
    parent: str | None
    kinds: tuple[SourceKind, ...]
    titles: tuple[str, ...]
    terms: tuple[str, ...]
    under_stats: str | None = None  # what a heading of this concept means in a statistical part
    default_child: str | None = None  # what a heading of this broad concept alone holds


@dataclass(frozen=True)
class NodeConcept:
    """A source heading's concept, with the score and the evidence that decided it."""

    concept: str
    score: float
    via: str  # "title", "title+body", "body", "parent"
    second: str | None = None  # the runner-up concept (a heading that holds two topics)


@cache
def concepts() -> dict[str, Concept]:
    with (DATA_DIR / "concepts.json").open(encoding="utf-8") as fh:
        data = json.load(fh)
    out: dict[str, Concept] = {}
    for item in data["concepts"]:
        out[item["id"]] = Concept(
            id=item["id"],
            parent=item.get("parent"),
            kinds=tuple(item.get("kinds") or ("protocol", "sap")),
            titles=tuple(item["titles"]),
            terms=tuple(t.lower() for t in item.get("terms", ())),
            under_stats=item.get("under_stats"),
            default_child=item.get("default_child"),
        )
    return out


def ancestors(concept_id: str) -> list[str]:
    """The concept's chain of parents, nearest first."""
    out: list[str] = []
    seen = {concept_id}
    cur = concepts().get(concept_id)
    while cur is not None and cur.parent and cur.parent not in seen:
        out.append(cur.parent)
        seen.add(cur.parent)
        cur = concepts().get(cur.parent)
    return out


def is_within(concept_id: str, other: str) -> bool:
    """True when ``concept_id`` is ``other`` or one of its descendants."""
    return concept_id == other or other in ancestors(concept_id)


@cache
def _term_patterns() -> dict[str, re.Pattern[str]]:
    terms = {t for c in concepts().values() for t in c.terms}
    # A term also matches its plural ("inhibitor" → "inhibitors").
    return {
        t: re.compile(r"(?<![a-z0-9])" + re.escape(t) + r"(?:s|es)?(?![a-z0-9])") for t in terms
    }


_WORDS = re.compile(r"[a-z0-9]+")


@cache
def _terms_by_first_word() -> dict[str, tuple[str, ...]]:
    """Terms by the first word they start with: only those whose first word a text holds can
    occur in it."""
    out: dict[str, list[str]] = {}
    for t in _term_patterns():
        first = _WORDS.match(t)
        out.setdefault(first.group(0) if first else "", []).append(t)
    return {k: tuple(v) for k, v in out.items()}


@cache
def _term_weight() -> dict[str, float]:
    """Inverse frequency of each term among the concepts (a term of one concept weighs most)."""
    count: dict[str, int] = {}
    for c in concepts().values():
        for t in set(c.terms):
            count[t] = count.get(t, 0) + 1
    n = len(concepts())
    return {t: math.log(1 + n / k) for t, k in count.items()}


@cache
def _alias_index() -> tuple[dict[str, list[tuple[str, str]]], dict[str, list[tuple[str, str]]]]:
    """Concept titles by each of their words (generic ones included) and by their letters."""
    by_token: dict[str, list[tuple[str, str]]] = {}
    by_compact: dict[str, list[tuple[str, str]]] = {}
    for c in concepts().values():
        for alias in c.titles:
            for tok in mapping.heading_tokens(alias, keep_generic=True):
                by_token.setdefault(tok, []).append((c.id, alias))
            by_compact.setdefault(mapping.compact(alias), []).append((c.id, alias))
    return by_token, by_compact


def title_scores(title: str) -> dict[str, float]:
    """Each concept's best title similarity with ``title`` (only those above a floor).

    Only titles that share a word or their letters with ``title`` are compared: any other
    scores 0 (``mapping.heading_similarity``)."""
    out: dict[str, float] = {}
    if not title.strip():
        return out
    by_token, by_compact = _alias_index()
    candidates = dict.fromkeys(by_compact.get(mapping.compact(title), []))
    for tok in mapping.heading_tokens(title, keep_generic=True):
        candidates.update(dict.fromkeys(by_token.get(tok, [])))
    for cid, alias in candidates:
        s = mapping.heading_similarity(alias, title)
        if s >= 0.5 and s > out.get(cid, 0.0):
            out[cid] = s
    return out


def body_scores(text: str) -> dict[str, float]:
    """Each concept's term evidence in ``text``, scaled 0..1 against the best concept."""
    return body_evidence(text)[0]


def body_evidence(text: str) -> tuple[dict[str, float], dict[str, int]]:
    """``body_scores`` and, per concept, how many distinct terms of it the text uses."""
    low = " " + text.lower() + " "
    weights = _term_weight()
    patterns = _term_patterns()
    found: dict[str, float] = {}
    by_word = _terms_by_first_word()
    words = set(_WORDS.findall(low))
    # A one-word term also matches its plural ("inhibitors" for "inhibitor").
    words |= {w[:-1] for w in words if w.endswith("s")} | {
        w[:-2] for w in words if w.endswith("es")
    }
    words.add("")  # terms that start with a sign ("%", "°C")
    for t in {t for w in words for t in by_word.get(w, ())}:
        pat = patterns[t]
        if t in low and pat.search(low):
            hits = min(3, len(pat.findall(low)))
            found[t] = weights[t] * (1 + math.log(hits))
    raw: dict[str, float] = {}
    distinct: dict[str, int] = {}
    for c in concepts().values():
        if not c.terms:
            continue
        hit = [t for t in set(c.terms) if t in found]
        if hit:
            # Normalised by the concept's vocabulary size (square root: big vocabularies are not
            # punished for being thorough).
            raw[c.id] = sum(found[t] for t in hit) / math.sqrt(len(set(c.terms)))
            distinct[c.id] = len(hit)
    if not raw:
        return {}, {}
    top = max(raw.values())
    return {k: v / top for k, v in raw.items()}, distinct


def _body_text(index: SourceIndex, node: HeadingNode) -> str:
    blocks = index.blocks[node.source_index]
    words = 0
    parts: list[str] = []
    end = node.end_direct if node.end_direct > node.start else node.end_subtree
    for b in blocks[node.start : end]:
        if b.kind == "heading":
            continue
        parts.append(b.text)
        words += len(b.text.split())
        if words >= BODY_WORDS:
            break
    if words < 25 and node.end_subtree > end:
        # A heading with little text of its own: read its subsections too.
        for b in blocks[end : node.end_subtree]:
            parts.append(b.text)
            words += len(b.text.split())
            if words >= BODY_WORDS:
                break
    return "\n".join(parts)


def classify_nodes(index: SourceIndex) -> dict[int, NodeConcept]:
    """The concept of every heading of the job's protocol, SAP and unclassified sources."""
    out: dict[int, NodeConcept] = {}
    by_id = {n.id: n for n in index.nodes}
    front_end = front_matter_ends(index)
    for node in index.nodes:  # parents come before their children
        if node.source_kind == "results":
            continue
        parent = out.get(node.parent) if node.parent is not None else None
        found = classify_one(
            title=node.title,
            qualified=node.qualified,
            body=_body_text(index, node),
            kind=node.source_kind,
            parent_concepts=_enclosing(node, out, by_id),
        )
        if found is None and parent is not None and parent.concept not in CONTAINERS:
            found = NodeConcept(parent.concept, parent.score * 0.8, "parent")
        if found is not None and parent is not None and found.concept in ancestors(parent.concept):
            # A subheading that only names the broader topic ("Analysis" under "Primary
            # Endpoint Analysis") is part of its parent.
            found = NodeConcept(parent.concept, parent.score * 0.9, "parent")
        if found is not None:
            found = _reinterpret(found, node, out, by_id)
        if (
            found is not None
            and node.pos < front_end.get(node.source_index, 0)
            and (found.via.startswith("body") or found.concept not in FRONT_MATTER)
        ):
            # Front matter (title page, approvals) before the first numbered section holds a
            # synopsis, amendments, abbreviations, signatures: nothing else is read there.
            found = None
        if found is not None:
            out[node.id] = found
    return out


def _reinterpret(
    found: NodeConcept,
    node: HeadingNode,
    out: dict[int, NodeConcept],
    by_id: dict[int, HeadingNode],
) -> NodeConcept:
    """A heading's concept read in its place: within a statistical part (or anywhere in a SAP,
    for what only protocols hold) it is about the analysis; a broad heading without subheadings
    is its main part."""
    c = concepts().get(found.concept)
    if c is None:
        return found
    enclosing = set(_enclosing(node, out, by_id))
    in_stats = "stats" in enclosing or any(is_within(e, "stats") for e in enclosing)
    in_sap = node.source_kind == "sap" and (c.kinds == ("protocol",) or c.id in SAP_READS)
    if c.under_stats and (in_stats or in_sap):
        return NodeConcept(c.under_stats, found.score, found.via + "+place", found.second)
    if c.default_child and not node.children:
        return NodeConcept(c.default_child, found.score, found.via + "+alone", found.second)
    return found


def front_matter_ends(index: SourceIndex) -> dict[int, int]:
    """Per source, the position of its first numbered top-level heading (0 when none)."""
    out: dict[int, int] = {}
    for node in index.nodes:
        if node.source_index not in out and re.fullmatch(r"1(?:\.0)?", node.number or ""):
            out[node.source_index] = node.pos
    return out


def _enclosing(
    node: HeadingNode, found: dict[int, NodeConcept], by_id: dict[int, HeadingNode]
) -> list[str]:
    chain: list[str] = []
    cur = node.parent
    while cur is not None:
        nc = found.get(cur)
        if nc is not None:
            chain.append(nc.concept)
            chain.extend(ancestors(nc.concept))
        cur = by_id[cur].parent if cur in by_id else None
    return chain


def classify_one(
    *,
    title: str,
    qualified: str = "",
    body: str = "",
    kind: SourceKind | str = "protocol",
    parent_concepts: Sequence[str] = (),
) -> NodeConcept | None:
    """The concept of one source section from its heading, body and enclosing concepts."""
    titles = title_scores(title)
    if qualified and qualified != title and max(titles.values(), default=0.0) < TITLE_SURE:
        # A bare heading ("Primary") is read with its parent's ("Study Endpoints Primary").
        for cid, s in title_scores(qualified).items():
            titles[cid] = max(titles.get(cid, 0.0), s)
    bodies, distinct = body_evidence(body) if body.strip() else ({}, {})
    enclosing = set(parent_concepts)
    scored: list[tuple[float, str, str]] = []
    for cid in set(titles) | set(bodies):
        c = concepts()[cid]
        t = titles.get(cid, 0.0)
        b = bodies.get(cid, 0.0)
        if t >= TITLE_SURE:
            score, via = t + 0.1 * b, "title"
        elif t >= TITLE_WEAK:
            score, via = 0.55 * t + 0.45 * b, "title+body"
        else:
            # Words alone decide only with several of the concept's terms and a clear lead.
            runner_up = max((v for k, v in bodies.items() if k != cid), default=0.0)
            if distinct.get(cid, 0) < BODY_MIN_TERMS or b - runner_up < BODY_MIN_LEAD:
                continue
            score, via = 0.55 * b, "body"
        family = {cid, *ancestors(cid)}
        if c.parent and c.parent in enclosing:
            score += CONTEXT_BONUS
        elif enclosing - {"appendices"} and not (family & enclosing):
            # A concept from another part of the document (an SAP "Adverse Events" section is
            # about the safety analysis, not about collecting adverse events; "Secondary
            # Endpoints" under "Statistical Analyses" is an analysis).
            score -= CONTEXT_BONUS
        if kind in {"protocol", "sap"} and kind not in c.kinds:
            score -= 0.2
        scored.append((score, cid, via))
    if not scored:
        return None
    scored.sort(key=lambda x: (-x[0], x[1]))
    score, cid, via = scored[0]
    if score < MIN_SCORE:
        return None
    second = scored[1][1] if len(scored) > 1 and scored[1][0] >= score - 0.08 else None
    return NodeConcept(cid, round(score, 3), via, second)


def concepts_for_title(title: str, *, threshold: float = 0.9) -> list[str]:
    """Concepts named by a heading text (a template's ``source_headings`` hint, a rule)."""
    scores = title_scores(title)
    best = max(scores.values(), default=0.0)
    if best < threshold:
        return []
    return [cid for cid, s in sorted(scores.items(), key=lambda kv: -kv[1]) if s >= best - 0.02]
