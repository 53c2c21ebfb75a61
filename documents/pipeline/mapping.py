"""Heading vocabulary: comparing headings, and the lists the pipeline shares.

``heading_similarity`` compares a source heading with a wanted heading on normalised content words
(numbering, case, plurals, "patient/subject/participant" and "study/trial" folded together), and on
letters only, so that PDF text such as "Descripti on of Clinical Study" still matches. The word
lists (generic heading words, equivalents, boilerplate, abbreviation and reference headings,
sentences to drop, messages of sections with no source) live in ``data/section_map.json``. Where
a section's content comes from is the content model's business (``concepts``, ``profiles``).
"""

from __future__ import annotations

import json
import re
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from documents.pipeline.language import normalize_alnum

DATA_DIR = Path(__file__).resolve().parent / "data"


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


def needs_parent(title: str) -> bool:
    """A heading too bare to mean anything alone ("Primary", "Secondary", "General"): it is
    matched together with its parent heading ("Study Endpoints Primary")."""
    toks = heading_tokens(title, keep_generic=True)
    qualifiers = {_stem(w) for w in section_map()["qualifier_words"]}
    return bool(toks) and toks <= qualifiers | _generic()


def is_boilerplate_heading(title: str) -> bool:
    key = compact(title)
    return any(compact(h) == key for h in section_map()["boilerplate_headings"])


# "Appendix 5: Abbreviations", "Annex B - References", "Attachment 3. Glossary".
_APPENDIX_LABEL = re.compile(
    r"^\s*(?:appendix|annex|attachment|section)\s+[A-Z0-9]{1,4}(?:\.\d+)*\s*[:.\-–—]?\s*", re.I
)


def _without_appendix_label(title: str) -> str:
    return _APPENDIX_LABEL.sub("", title) or title


def is_abbreviation_heading(title: str) -> bool:
    keys = {compact(title), compact(_without_appendix_label(title))}
    return any(compact(h) in keys for h in section_map()["abbreviation_headings"])


def is_reference_heading(title: str) -> bool:
    keys = {compact(title), compact(_without_appendix_label(title))}
    return any(compact(h) in keys for h in section_map()["reference_headings"])


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
