"""Information elements: facts a section must state, found wherever the sources put them.

ICH E3 expects certain facts in certain sections whatever the protocol's layout: 9.1 names the
allocation ratio, the number of sites and countries, the periods and the committees; the title
page names the sponsor and the dates. Protocols spread them over the synopsis tables, the design
section and administrative appendices. ``data/elements.json`` describes each element with the
patterns a sentence or a table row must match and the concepts where it is usually found.

``find_units`` returns, for one section, the source *units* (a sentence of a paragraph, or one row
of a label/value table) that state the elements its own passages do not already state: first in
the passages of the concepts the element prefers, then anywhere in the sources of the right kinds.
The writer turns a unit into a cited paragraph (a row reads "Label: value."). A unit already used
by another section may be used again for an element (at most ``MAX_REPEATS`` per section): a fact
stated in two places of the report is better than a fact missing where E3 expects it.
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
MAX_REPEATS = 1
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

    def matches(self, text: str) -> bool:
        return any(p.search(text) for p in self.any) and all(p.search(text) for p in self.all)

    def met_in(self, text: str) -> bool:
        return self.matches(text)


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
        # Each alternative pattern is one way of stating the element; an element that may take
        # several units ("periods": screening and follow-up) takes one per pattern not yet met.
        open_patterns = [p for p in el.any if not p.search(text_so_far)]
        if len(open_patterns) < len(el.any) and el.max == 1:
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
        taken_here = 0
        # A unit no other section used is preferred to one that would repeat a sentence.
        for allow_repeat in (False, True):
            seen: set[tuple[int, int]] = set()
            for s_idx, pos in [*order, *everywhere]:
                if taken_here >= el.max or not open_patterns:
                    break
                if (s_idx, pos) in seen or kinds_of.get(s_idx) not in el.kinds:
                    continue
                seen.add((s_idx, pos))
                for unit in units_of(index, s_idx, pos):
                    if unit.key in used or not all(p.search(unit.text) for p in el.all):
                        continue
                    met = [p for p in open_patterns if p.search(unit.text)]
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
                    open_patterns = [p for p in open_patterns if p not in met]
                    break
    return chosen
