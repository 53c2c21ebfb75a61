"""Information elements: facts a section must state, found wherever the sources put them.

ICH E3 expects certain facts in certain sections whatever the protocol's layout: 9.1 names the
allocation ratio, the number of sites and countries, the periods and the committees; the title
page names the sponsor and the dates. Protocols spread them over the synopsis tables, the design
section and administrative appendices. ``data/elements.json`` describes each element with the
patterns a sentence or a table row must match and the concepts where it is usually found.

``find_units`` returns, for one section, the source *units* (a sentence of a paragraph, or one row
of a label/value table) that state the elements its own passages do not already state: first in
the passages of the concepts the element prefers, then anywhere in the sources of the right kinds.
The writer turns a unit into a cited paragraph (a row reads "Label: value."). A unit that another
section already used is not used again: no sentence appears twice in a draft.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from documents.pipeline import concepts, language
from documents.pipeline.concepts import NodeConcept
from documents.pipeline.ingest import SourceIndex
from documents.pipeline.types import Block

DATA_DIR = Path(__file__).resolve().parent / "data"
MAX_REPEATS = 0
MAX_ROW_CELLS = 4


@dataclass(frozen=True)
class Element:
    id: str
    what: str
    any: tuple[re.Pattern[str], ...]
    all: tuple[re.Pattern[str], ...]
    prefer: tuple[str, ...]
    max: int
    kinds: tuple[str, ...]
    mode: str = "any"  # "any" pattern, "all" patterns, or "each" thing the patterns name
    # A unit that matches one of these does not state the element, whatever else it matches
    # (a glossary's definition "Enrolled patients are those who..." is not who was studied).
    none: tuple[re.Pattern[str], ...] = ()

    def matches(self, text: str) -> bool:
        return self.allows(text) and any(p.search(text) for p in self.any)

    def allows(self, text: str) -> bool:
        """``text`` meets every ``all`` pattern and no ``none`` pattern."""
        return all(p.search(text) for p in self.all) and not any(p.search(text) for p in self.none)


@dataclass(frozen=True)
class Unit:
    """A sentence of a source block, or one row of a label/value table."""

    s_idx: int
    pos: int
    block: Block
    text: str
    row: int | None = None

    @property
    def key(self) -> tuple[int, int, int | None, str]:
        return (self.s_idx, self.pos, self.row, self.text)


@cache
def elements() -> dict[str, Element]:
    with (DATA_DIR / "elements.json").open(encoding="utf-8") as fh:
        data = json.load(fh)["elements"]
    return {
        k: Element(
            id=k,
            what=v["what"],
            any=tuple(re.compile(p, re.IGNORECASE) for p in v["any"]),
            all=tuple(re.compile(p, re.IGNORECASE) for p in v.get("all", ())),
            prefer=tuple(v.get("prefer", ())),
            max=int(v.get("max", 1)),
            kinds=tuple(v.get("kinds", ("protocol", "sap", "other"))),
            mode=v.get("mode", "any"),
            none=tuple(re.compile(p, re.IGNORECASE) for p in v.get("none", ())),
        )
        for k, v in data.items()
    }


def row_text(cells: Sequence[str]) -> str | None:
    """A label/value row as "Label: value" (None for rows that are not label and value)."""
    cells = [language.clean_text(c) for c in cells if c and c.strip()]
    if len(cells) < 2 or len(cells) > MAX_ROW_CELLS:
        return None
    label = cells[0].rstrip(":").strip()
    if not label or len(label.split()) > 8 or not re.search(r"[A-Za-z]", label):
        return None
    value = "; ".join(cells[1:])
    if len(value.split()) < 2:
        return None
    return f"{label}: {value}"


def units_of(index: SourceIndex, s_idx: int, pos: int) -> Iterator[Unit]:
    key = (s_idx, pos)
    cached = index.units_cache.get(key)
    if cached is None:
        cached = index.units_cache[key] = tuple(_cut_units(index, s_idx, pos))
    return iter(cached)


def _cut_units(index: SourceIndex, s_idx: int, pos: int) -> Iterator[Unit]:
    block = index.blocks[s_idx][pos]
    if block.kind == "table" and block.rows:
        for r, row in enumerate(block.rows):
            text = row_text(row)
            if text:
                yield Unit(s_idx, pos, block, text, r)
        return
    if block.kind not in {"paragraph", "list_item"} or not block.text.strip():
        return
    text = language.clean_text(block.text)
    for start, end in language.split_sentences(text):
        sentence = text[start:end].strip()
        if len(sentence.split()) >= 4:
            yield Unit(s_idx, pos, block, sentence)


def _positions_of(
    index: SourceIndex, found: dict[int, NodeConcept], concept_ids: Sequence[str]
) -> list[tuple[int, int]]:
    """Block positions under headings of the given concepts (or their sub-concepts), in order of
    the concepts, then document order."""
    key = ("positions", id(found), tuple(concept_ids))
    if key not in index.memo:
        index.memo[key] = _positions_uncached(index, found, concept_ids)
    return index.memo[key]  # type: ignore[no-any-return]


def _positions_uncached(
    index: SourceIndex, found: dict[int, NodeConcept], concept_ids: Sequence[str]
) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    seen: set[tuple[int, int]] = set()
    for cid in concept_ids:
        for node in index.nodes:
            nc = found.get(node.id)
            if nc is None or not concepts.is_within(nc.concept, cid):
                continue
            for p in range(node.start, node.end_direct):
                key = (node.source_index, p)
                if key not in seen:
                    seen.add(key)
                    out.append(key)
    return out


def _targets(
    el: Element, text: str, index: SourceIndex, candidates: Sequence[tuple[int, int]]
) -> list[re.Pattern[str]]:
    """What still has to be stated: the element itself ("any"), each of its patterns not yet
    met ("all"), or each distinct thing its patterns name in the sources, such as every
    committee ("each")."""
    if el.mode == "all":
        return [p for p in el.any if not p.search(text)]
    if el.mode == "each":
        names: dict[str, None] = {}
        for s_idx, pos in candidates:
            for unit in units_of(index, s_idx, pos):
                for p in el.any:
                    for m in p.finditer(unit.text):
                        names.setdefault(m.group(0).strip(), None)
        low = text.lower()
        return [
            re.compile(r"(?<![\w])" + re.escape(n) + r"(?![\w])", re.IGNORECASE)
            for n in names
            if n.lower() not in low
        ]
    return [] if el.matches(text) else [re.compile("|".join(p.pattern for p in el.any), re.I)]


def _unread_front_matter(index: SourceIndex, found: dict[int, NodeConcept]) -> set[tuple[int, int]]:
    """Positions before a source's first numbered section that no classified heading covers:
    its title page and approvals ("Study Title: A Phase 2, Randomized ..." is not the design
    statement of 9.1). A synopsis there is classified and stays readable."""
    key = ("front", id(found))
    if key not in index.memo:
        covered: set[tuple[int, int]] = set()
        for node in index.nodes:
            if node.id in found:
                covered.update((node.source_index, p) for p in range(node.start, node.end_direct))
        index.memo[key] = {
            (s_idx, p)
            for s_idx, end in concepts.front_matter_ends(index).items()
            for p in range(end)
            if (s_idx, p) not in covered
        }
    return index.memo[key]  # type: ignore[no-any-return]


def _eligible(index: SourceIndex, el: Element) -> set[tuple[int, int]]:
    """Positions with a unit that can state ``el`` at all (one of its patterns and all of its
    required ones): the only candidates worth reading, computed once per draft."""
    key = ("eligible", el.id)
    if key not in index.memo:
        # One search of each position's units run together tells which positions can hold a
        # match at all (a superset); only their units are then read one by one.
        any_re = _combined(el.any)
        index.memo[key] = {
            (s_idx, pos)
            for s_idx, pos, joined in _unit_texts(index)
            if any_re.search(joined)
            and any(el.matches(u.text) for u in units_of(index, s_idx, pos))
        }
    return index.memo[key]  # type: ignore[no-any-return]


def _unit_texts(index: SourceIndex) -> list[tuple[int, int, str]]:
    """(source, position, the position's units joined), for positions with units; once."""
    key = ("unit_texts",)
    if key not in index.memo:
        out = []
        for s_idx, lst in index.blocks.items():
            for pos in range(len(lst)):
                texts = [u.text for u in units_of(index, s_idx, pos)]
                if texts:
                    out.append((s_idx, pos, "\n".join(texts)))
        index.memo[key] = out
    return index.memo[key]  # type: ignore[no-any-return]


@cache
def _combined(patterns: tuple[re.Pattern[str], ...]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p.pattern})" for p in patterns), re.IGNORECASE)


def find_units(
    *,
    index: SourceIndex,
    found: dict[int, NodeConcept],
    element_ids: Sequence[str],
    section_concepts: Sequence[str],
    present_text: str,
    kinds_of: dict[int, str],
    used: set[tuple[int, int, int | None, str]],
    is_taken: Callable[[Unit], bool],
    only_preferred: bool = False,
    max_repeats: int = MAX_REPEATS,
) -> list[tuple[str, Unit]]:
    """(element id, unit) pairs that state the elements missing from ``present_text``."""
    chosen: list[tuple[str, Unit]] = []
    repeats = 0
    text_so_far = present_text
    for eid in element_ids:
        el = elements().get(eid)
        if el is None:
            continue
        order = _positions_of(index, found, [*el.prefer, *section_concepts])
        everywhere = (
            []
            if only_preferred
            else [
                (s, p)
                for s, lst in sorted(index.blocks.items())
                if kinds_of.get(s) in el.kinds
                for p in range(len(lst))
            ]
        )
        candidates = [
            (s_idx, pos)
            for s_idx, pos in dict.fromkeys([*order, *everywhere])
            if kinds_of.get(s_idx) in el.kinds
        ]
        eligible = _eligible(index, el)
        title_pages = _unread_front_matter(index, found)
        candidates = [c for c in candidates if c in eligible and c not in title_pages]
        targets = _targets(el, text_so_far, index, candidates)
        taken_here = 0
        # A unit no other section used is preferred to one that would repeat a sentence.
        for allow_repeat in (False, True):
            for s_idx, pos in candidates:
                if taken_here >= el.max or not targets:
                    break
                for unit in units_of(index, s_idx, pos):
                    if unit.key in used or not el.allows(unit.text):
                        continue
                    met = [p for p in targets if p.search(unit.text)]
                    if not met:
                        continue
                    repeat = is_taken(unit)
                    if repeat and (not allow_repeat or repeats >= max_repeats):
                        continue
                    chosen.append((eid, unit))
                    used.add(unit.key)
                    repeats += int(repeat)
                    taken_here += 1
                    text_so_far += "\n" + unit.text
                    targets = [p for p in targets if p not in met]
                    break
    return chosen
