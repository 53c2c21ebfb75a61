"""What each template section draws on: concepts, information elements, results tables.

A section's *profile* comes from, in order:

1. the correspondence table ``data/e3_sources.json`` (ICH E3 section ← protocol/SAP concepts,
   information elements and classes of results tables, ../shared/reference B.5), looked up by the
   section's title, so that any template whose sections carry E3 titles gets the E3 behaviour;
2. the template's own hints: ``hints.concepts`` (concept ids), ``hints.source_headings`` (headings
   that are read as concepts when they name one, and matched literally otherwise),
   ``hints.derived``, ``hints.data_fed`` and ``hints.source_kinds``; and rules' parameters
   (``source_heading``, ``source_kind``, ``concept``);
3. for any other title, the concepts that the title itself names ("Randomisation and Blinding"
   in an M11 outline is the concept of that name).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from documents.pipeline import concepts, mapping
from documents.pipeline.types import OutlineSection, SourceKind

DATA_DIR = Path(__file__).resolve().parent / "data"
ALL_KINDS: tuple[SourceKind, ...] = ("protocol", "sap", "results", "other")
DERIVED = (
    "title_page",
    "synopsis",
    "toc",
    "abbreviations",
    "discussion",
    "references",
    "efficacy_conclusions",
    "safety_conclusions",
    "output_index",
)


@dataclass(frozen=True)
class SectionProfile:
    """Everything the writer needs to know about where one section's content comes from."""

    section: OutlineSection
    main: tuple[str, ...] = ()  # concepts whose source sections this section takes, preferred first
    also: tuple[str, ...] = ()  # concepts searched for the section's information elements
    elements: tuple[str, ...] = ()
    results: tuple[str, ...] = ()  # classes of results tables placed here
    without_results: tuple[str, ...] = ()  # SAP concepts used when no such table was given
    headings: tuple[str, ...] = ()  # literal source headings (hints that name no concept)
    kinds: tuple[SourceKind, ...] = ("protocol", "sap", "other")
    derived: str | None = None
    data_fed: bool = False
    long: bool = False
    query: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@cache
def _table() -> list[dict[str, Any]]:
    with (DATA_DIR / "e3_sources.json").open(encoding="utf-8") as fh:
        return json.load(fh)["sections"]


def _key(title: str) -> str:
    return " ".join(sorted(mapping.heading_tokens(title, keep_generic=True)))


@cache
def _by_key() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for entry in _table():
        for t in entry["titles"]:
            out.setdefault(_key(t), entry)
    return out


@lru_cache(maxsize=4096)
def e3_entry(title: str) -> dict[str, Any] | None:
    """The correspondence entry for a section title (exact, else a very close title)."""
    found = _by_key().get(_key(title))
    if found is not None:
        return found
    best: tuple[float, dict[str, Any] | None] = (0.0, None)
    for entry in _table():
        for t in entry["titles"]:
            s = mapping.heading_similarity(t, title)
            if s > best[0]:
                best = (s, entry)
    return best[1] if best[0] >= 0.9 else None


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value if v]


def _rule_params(rules: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for rule in rules or ():
        if isinstance(rule, dict):
            params = rule.get("parameters")
            out.append(params if isinstance(params, dict) else rule)
    return out


def profile_for(section: OutlineSection) -> SectionProfile:
    hints = section.hints or {}
    entry = e3_entry(section.title) or {}
    known = concepts.concepts()
    main: list[str] = [c for c in _as_list(hints.get("concepts")) if c in known]
    headings: list[str] = []
    # The correspondence table knows where an E3 section's content comes from; a template's own
    # source kinds apply to sections it does not know.
    kinds_hint = [] if entry else [k for k in _as_list(hints.get("source_kinds")) if k in ALL_KINDS]
    rule_kinds: list[str] = []
    for params in _rule_params(section.rules):
        main += [c for c in _as_list(params.get("concept")) if c in known]
        for h in _as_list(params.get("source_heading")):
            named = concepts.concepts_for_title(h)
            main += named
            if not named:
                headings.append(h)
        rule_kinds += [k for k in _as_list(params.get("source_kind")) if k in ALL_KINDS]
    main += [c for c in entry.get("main", []) if c in known]
    if not entry:
        main += concepts.concepts_for_title(section.title, threshold=0.85)
        for h in _as_list(hints.get("source_headings")):
            named = concepts.concepts_for_title(h)
            main += named
            if not named:
                headings.append(h)
    derived = hints.get("derived") if hints.get("derived") in DERIVED else entry.get("derived")
    results = tuple(entry.get("results", ()))
    data_fed = "results" in entry or (
        not entry and (bool(hints.get("data_fed")) or kinds_hint == ["results"])
    )
    if rule_kinds:
        kinds = rule_kinds
    elif entry.get("kinds"):
        kinds = [k for k in entry["kinds"] if k in ALL_KINDS]
    elif data_fed:
        kinds = ["results"]
    else:
        kinds = [k for k in kinds_hint if k != "results"] or ["protocol", "sap"]
        if "other" not in kinds:
            kinds.append("other")
    query = " ".join(
        p
        for p in (
            section.title,
            section.synopsis,
            section.instructions,
            *_as_list(hints.get("keywords")),
        )
        if p
    )
    return SectionProfile(
        section=section,
        main=tuple(dict.fromkeys(main)),
        also=tuple(c for c in entry.get("also", []) if c in known),
        elements=tuple(entry.get("elements", ())),
        results=results,
        without_results=tuple(c for c in entry.get("without_results", []) if c in known),
        headings=tuple(dict.fromkeys(headings)),
        kinds=tuple(dict.fromkeys(kinds)),  # type: ignore[arg-type]
        derived=derived if derived in DERIVED else None,
        data_fed=data_fed,
        long=bool(entry.get("long", False)),
        query=query,
        extra={
            "known": bool(entry),  # an E3 section the correspondence table describes
            **({"no_source": entry["no_source"]} if "no_source" in entry else {}),
        },
    )
