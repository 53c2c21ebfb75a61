"""Style-guide terms: preferred terms and phrase search."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping


def _plural(term: str) -> str:
    if re.search(r"(s|x|z|ch|sh)$", term):
        return term + "es"
    if re.search(r"[^aeiou]y$", term):
        return term[:-1] + "ies"
    return term + "s"


def apply_preferred_terms(text: str, preferred: Mapping[str, Iterable[str]]) -> str:
    """Replace each variant with its preferred term (whole words, case kept, simple plurals)."""
    for term, variants in preferred.items():
        for variant in sorted(
            {v for v in variants if v and v.lower() != term.lower()}, key=len, reverse=True
        ):
            pattern = re.compile(
                rf"(?<![\w-]){re.escape(variant)}((?:e?s)?)(?![\w-])", re.IGNORECASE
            )

            def repl(m: re.Match[str], term: str = term, variant: str = variant) -> str:
                found = m.group(0)
                suffix = m.group(1)
                if suffix and not variant.lower().endswith(("s",)):
                    new = _plural(term)
                elif suffix:
                    return found  # "variants" of a variant ending in s: leave it
                else:
                    new = term
                if found.isupper() and len(found) > 1 and not term.isupper():
                    return new.upper()
                if found[:1].isupper() and not term[:1].isupper():
                    return new[:1].upper() + new[1:]
                return new

            text = pattern.sub(repl, text)
    return text


def find_phrases(text: str, phrases: Iterable[str]) -> list[str]:
    """The phrases (case-insensitive, whole words) that occur in ``text``."""
    found = []
    for phrase in phrases:
        phrase = phrase.strip()
        if phrase and re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", text, re.IGNORECASE):
            found.append(phrase)
    return found
