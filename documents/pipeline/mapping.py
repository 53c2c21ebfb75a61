"""Which source headings and document kinds feed which template section.

A template section's *profile* merges three things: the template's own ``hints`` (source kinds,
source-heading synonyms, keywords, derived/data-fed markers), the section's ``rules`` parameters
(``source_kind``, ``source_heading``) and the correspondence table in ``data/section_map.json``
(ICH E3 ↔ classic protocol / TransCelerate CPT / ICH M11 / SAP headings, looked up by the section's
normalised title). The table is data: supporting a new protocol layout means adding synonyms there,
not code.

``heading_similarity`` compares a source heading with a wanted heading on normalised content words
(numbering, case, plurals, "patient/subject/participant" and "study/trial" folded together), and on
letters only, so that PDF text such as "Descripti on of Clinical Study" still matches.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from documents.pipeline.language import normalize_alnum
from documents.pipeline.types import OutlineSection, SourceKind

DATA_DIR = Path(__file__).resolve().parent / "data"
ALL_KINDS: tuple[SourceKind, ...] = ("protocol", "sap", "results", "other")
DERIVED_KINDS = ("title_page", "synopsis", "toc", "abbreviations", "discussion", "references")


@cache
def section_map() -> dict[str, Any]:
    with (DATA_DIR / "section_map.json").open(encoding="utf-8") as fh:
        return json.load(fh)


@cache
def _generic() -> frozenset[str]:
    return frozenset(section_map()["generic_heading_words"])


@cache
def _equivalents() -> dict[str, str]:
    return dict(section_map()["heading_equivalents"])


_NUMBER_PREFIX = re.compile(
    r"^\s*(?:(?:section|appendix|attachment|annex|chapter)\s+)?"
    r"(?:[A-Z]?\d+(?:\.\d+)*\.?|[IVXLC]+\.|[A-Z]\.|\(\w\))\s+",
    re.IGNORECASE,
)


@lru_cache(maxsize=65536)
def strip_number(title: str) -> str:
    """ "9.4.1 Blinding" → "Blinding"; "Appendix 2 – Deviations" → "Deviations"."""
    out = _NUMBER_PREFIX.sub("", title.strip(), count=1)
    out = re.sub(r"^[\s\-–—:.]+", "", out)
    return out or title.strip()


def _stem(token: str) -> str:
    token = _equivalents().get(token, token)
    if len(token) > 4 and token.endswith("ies"):
        token = token[:-3] + "y"
    elif len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
        token = token[:-1]
    return _equivalents().get(token, token)


@lru_cache(maxsize=65536)
def heading_tokens(title: str, *, keep_generic: bool = False) -> frozenset[str]:
    """Content words of a heading, stemmed and folded (see module docstring)."""
    text = strip_number(title).lower()
    text = text.replace("(s)", "")
    toks = [_stem(t) for t in re.findall(r"[a-z0-9]+(?:-[a-z0-9]+)*", text)]
    out = set()
    for t in toks:
        if not keep_generic and t in _generic():
            continue
        if len(t) < 2:
            continue
        out.add(t)
    return frozenset(out)


@lru_cache(maxsize=65536)
def compact(title: str) -> str:
    """Letters and digits of a heading without its number ("Descripti on" == "Description")."""
    return normalize_alnum(strip_number(title).replace("(s)", ""))


@lru_cache(maxsize=262144)
def heading_similarity(wanted: str, heading: str) -> float:
    """How well a source ``heading`` matches a ``wanted`` heading text, from 0 to 1."""
    if not wanted.strip() or not heading.strip():
        return 0.0
    cw, ch = compact(wanted), compact(heading)
    if cw and cw == ch:
        return 1.0
    a, b = heading_tokens(wanted), heading_tokens(heading)
    if not a or not b:
        # Headings made only of generic words ("General Considerations") compare in full.
        a, b = heading_tokens(wanted, keep_generic=True), heading_tokens(heading, keep_generic=True)
        if not a or not b:
            return 0.0
        return 0.95 if a == b else 0.0
    if a == b:
        return 0.95
    if a < b:
        if len(a) == 1 and len(b) > 2:
            return 0.0
        return 0.7 + 0.25 * len(a) / len(b)
    if b < a:
        ratio = len(b) / len(a)
        if ratio < 0.5:
            return 0.0
        return 0.6 + 0.3 * ratio
    inter = len(a & b)
    union = len(a | b)
    return 0.8 * inter / union


def compact_contains(wanted: str, heading: str) -> bool:
    """Letters-only containment, for headings whose words PDF extraction split."""
    cw, ch = compact(wanted), compact(heading)
    return len(cw) >= 8 and cw in ch and len(cw) >= 0.6 * len(ch)


@dataclass(frozen=True)
class SectionProfile:
    """Everything the writer needs to know about where a section's content comes from."""

    section: OutlineSection
    kinds: tuple[SourceKind, ...]  # allowed source kinds, preferred first
    headings: tuple[tuple[str, SourceKind | None], ...]  # (wanted heading, only for this kind)
    keywords: tuple[str, ...]
    derived: str | None = None
    data_fed: bool = False
    budget_factor: float = 1.0
    query: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def headings_for(self, kind: SourceKind) -> list[str]:
        return [h for h, k in self.headings if k is None or k == kind]


def _title_key(title: str) -> str:
    return " ".join(sorted(heading_tokens(title, keep_generic=True)))


@cache
def _entries_by_title() -> dict[str, list[dict[str, Any]]]:
    index: dict[str, list[dict[str, Any]]] = {}
    for entry in section_map()["sections"]:
        for title in entry["titles"]:
            index.setdefault(_title_key(title), []).append(entry)
    return index


@lru_cache(maxsize=4096)
def map_entry(title: str) -> dict[str, Any] | None:
    """The correspondence-table entry for a section title (exact, else a close title)."""
    key = _title_key(title)
    found = _entries_by_title().get(key)
    if found:
        return found[0]
    best: tuple[float, dict[str, Any] | None] = (0.0, None)
    for entry in section_map()["sections"]:
        for t in entry["titles"]:
            score = heading_similarity(t, title)
            if score > best[0]:
                best = (score, entry)
    return best[1] if best[0] >= 0.9 else None


def _rule_params(rules: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for rule in rules or ():
        if not isinstance(rule, dict):
            continue
        params = rule.get("parameters")
        out.append(params if isinstance(params, dict) else rule)
    return out


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value if v]


def profile_for(section: OutlineSection) -> SectionProfile:
    hints = section.hints or {}
    entry = map_entry(section.title) or {}
    derived = hints.get("derived") or entry.get("derived")
    data_fed = bool(hints.get("data_fed", entry.get("data_fed", False)))
    kinds_hint = [k for k in _as_list(hints.get("source_kinds")) if k in ALL_KINDS]
    kinds_entry = [k for k in _as_list(entry.get("source_kinds")) if k in ALL_KINDS]
    if kinds_hint == ["results"]:
        data_fed = True
    headings: list[tuple[str, SourceKind | None]] = [(section.title, None)]
    for h in _as_list(hints.get("source_headings")):
        headings.append((h, None))
    entry_headings = entry.get("source_headings", {})
    if isinstance(entry_headings, list):
        entry_headings = {"any": entry_headings}
    for kind, hs in entry_headings.items():
        for h in hs:
            headings.append((h, None if kind == "any" else kind))
    keywords = _as_list(hints.get("keywords")) + _as_list(entry.get("keywords"))
    rule_kinds: list[str] = []
    for params in _rule_params(section.rules):
        for h in _as_list(params.get("source_heading")):
            headings.insert(0, (h, None))
        rule_kinds += [k for k in _as_list(params.get("source_kind")) if k in ALL_KINDS]
    if data_fed:
        kinds: list[str] = ["results"]
    elif rule_kinds:
        kinds = rule_kinds
    else:
        # Results only when the template asks for them (a protocol section never takes a table
        # of results by accident).
        kinds = kinds_hint or [k for k in kinds_entry if k != "results"] or ["protocol", "sap"]
        # A source the classifier could not place is still better than nothing.
        if "other" not in kinds:
            kinds.append("other")
    seen: set[tuple[str, SourceKind | None]] = set()
    unique_headings = []
    for h, k in headings:
        key = (h.strip().lower(), k)
        if h.strip() and key not in seen:
            seen.add(key)
            unique_headings.append((h.strip(), k))
    query = " ".join(
        part
        for part in (
            section.title,
            section.synopsis,
            section.instructions,
            " ".join(keywords),
        )
        if part
    )
    return SectionProfile(
        section=section,
        kinds=tuple(dict.fromkeys(kinds)),  # type: ignore[arg-type]
        headings=tuple(unique_headings),
        keywords=tuple(dict.fromkeys(keywords)),
        derived=derived if derived in DERIVED_KINDS else None,
        data_fed=data_fed,
        budget_factor=float(entry.get("budget", hints.get("budget", 1.0)) or 1.0),
        query=query,
    )


def needs_parent(title: str) -> bool:
    """A heading too bare to mean anything alone ("Primary", "Secondary", "General"): it is
    matched together with its parent heading ("Study Endpoints Primary")."""
    toks = heading_tokens(title, keep_generic=True)
    qualifiers = {_stem(w) for w in section_map()["qualifier_words"]}
    return bool(toks) and toks <= qualifiers | _generic()


def is_boilerplate_heading(title: str) -> bool:
    key = compact(title)
    return any(compact(h) == key for h in section_map()["boilerplate_headings"])


def is_abbreviation_heading(title: str) -> bool:
    key = compact(title)
    return any(compact(h) == key for h in section_map()["abbreviation_headings"])


def is_reference_heading(title: str) -> bool:
    key = compact(title)
    return any(compact(h) == key for h in section_map()["reference_headings"])


def no_source_message(kind: str) -> str:
    messages = section_map()["no_source_messages"]
    return messages.get(kind, messages["default"])


@cache
def drop_sentence_patterns() -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p, re.IGNORECASE) for p in section_map()["drop_sentence_patterns"])


@cache
def strip_parenthetical_patterns() -> tuple[re.Pattern[str], ...]:
    return tuple(
        re.compile(p, re.IGNORECASE) for p in section_map()["strip_parenthetical_patterns"]
    )
