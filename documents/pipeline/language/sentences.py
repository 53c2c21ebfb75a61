"""Sentence splitting that never cuts a sentence at an abbreviation, decimal or section number."""

from __future__ import annotations

import re
from functools import cache

from documents.pipeline.language._data import _word_set

_SENTENCE_STARTERS = frozenset(
    [
        "The",
        "This",
        "These",
        "That",
        "Those",
        "A",
        "An",
        "As",
        "All",
        "If",
        "In",
        "It",
        "Its",
        "For",
        "At",
        "After",
        "Before",
        "During",
        "When",
        "While",
        "Patients",
        "Subjects",
        "Participants",
        "Each",
        "Every",
        "No",
        "Any",
        "Some",
        "Other",
        "There",
        "Then",
        "Thus",
        "However",
        "Also",
    ]
)
_BOUNDARY_RE = re.compile(r"[.!?][\"'”’)\]]*(?=\s+)")
_OPENERS = "\"'“‘([•"


@cache
def _dotted_abbreviations() -> frozenset[str]:
    return frozenset(a.replace(".", "") for a in _word_set("sentence_abbreviations") if "." in a)


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans ``(start, end)`` in ``text``; abbreviations, decimals and section numbers
    ("Section 3.10.3. Study Extensions", "e.g. Dr. Smith", "p<.05") do not end a sentence."""
    abbrevs = _word_set("sentence_abbreviations")
    ref_words = _word_set("reference_words")
    spans: list[tuple[int, int]] = []
    start = 0
    n = len(text)
    for m in _BOUNDARY_RE.finditer(text):
        end = m.end()
        j = end
        while j < n and text[j].isspace():
            j += 1
        if j >= n:
            break
        nxt = text[j]
        nxt2 = text[j + 1] if j + 1 < n else ""
        if not (
            nxt.isupper()
            or nxt.isdigit()
            or (nxt in _OPENERS and (nxt2.isupper() or nxt2.isdigit()))
        ):
            continue
        # The token that the punctuation closes.
        k = m.start()
        tok_start = k
        while tok_start > start and not text[tok_start - 1].isspace():
            tok_start -= 1
        token = text[tok_start:k].strip("\"'“‘([")
        low = token.lower().rstrip(".")
        if text[m.start()] == ".":
            if low in abbrevs or low.replace(".", "") in _dotted_abbreviations():
                continue
            if re.fullmatch(r"[A-Z]", token):  # an initial
                continue
            if re.fullmatch(r"(?:[A-Za-z]\.)+[A-Za-z]", token):  # U.S. / e.g
                continue
            is_section_number = bool(re.fullmatch(r"\d+(?:\.\d+){2,}", token))
            prev = text[max(start, tok_start - 20) : tok_start].split()
            after_ref = bool(prev) and prev[-1].lower().strip("(") in ref_words
            if is_section_number or (after_ref and re.fullmatch(r"[A-Z]*\.?\d+(?:\.\d+)*", token)):
                # "Section 3.10.3. Study Extensions" continues; "Section 3.9.1.1. As stated" ends.
                following = text[j : j + 60].split()
                starts_sentence = bool(following) and (
                    following[0] in _SENTENCE_STARTERS
                    or (len(following) > 1 and following[1][:1].islower())
                )
                if not starts_sentence:
                    continue
            if nxt.isdigit() and re.fullmatch(r"\d+", low or ""):
                continue
        spans.append((start, end))
        start = j
    if start < n and text[start:].strip():
        spans.append((start, n))
    # Trim whitespace inside the spans.
    trimmed = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            trimmed.append((s, e))
    return trimmed


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]
