"""Abbreviations: definitions in the sources ("adverse event (AE)"), uses, first-use expansion."""

from __future__ import annotations

import re
from dataclasses import dataclass

from documents.pipeline.language._data import _word_set
from documents.pipeline.language.terms import _plural
from documents.pipeline.language.text import STOPWORDS, clean_text, normalize_alnum

_ABBR_TOKEN = r"[A-Za-z0-9][A-Za-z0-9\-+/&.]{0,12}"
_PAREN_ABBR_RE = re.compile(rf"\(\s*({_ABBR_TOKEN})\s*\)")
ABBREVIATION_RE = re.compile(
    r"(?<![\w\-])([A-Z][A-Za-z0-9]*[A-Z][A-Za-z0-9\-+/]*|[A-Z]{2,}[a-z]?)(?![\w\-])"
)


def looks_like_abbreviation(token: str) -> bool:
    """Two or more capitals (AE, ECG, ADAS-Cog, MedDRA, NPI-X), not a plain number or word."""
    if len(token) < 2 or len(token) > 14:
        return False
    caps = sum(1 for c in token if c.isupper())
    if caps < 2 or sum(1 for c in token if c.isdigit()) > 2:
        return False
    if re.fullmatch(r"[IVXLC]+[A-C]?", token) or token.lower() in _word_set("not_abbreviations"):
        return False  # roman numerals and stages ("IIIB"), listed words and degrees ("FRCP")
    if re.search(r"-[a-z]{3,}$", token):
        return False  # a compound of an abbreviation and a word ("BICR-assessed")
    if len(token) > 4 and any(c.isdigit() for c in token):  # codes: ITEM04, H2Q-MC-LZZT
        return False
    return any(c.isalpha() for c in token)


@dataclass(frozen=True)
class AbbreviationDefinition:
    abbreviation: str
    long_form: str
    text: str  # the defining text as it appears ("adverse event (AE)")


_SKIPPABLE = frozenset({"and", "of", "the", "for", "in", "on", "to", "with", "&"})


def _initials_long_form(abbr: str, preceding: str) -> str | None:
    """The preceding words whose initials spell ``abbr`` ("Alzheimer's Disease and Related
    Disorders Association" for ADRDA), small words allowed in between."""
    letters = [c.lower() for c in abbr if c.isalpha()]
    if len(letters) < 2 or len(letters) != sum(1 for c in abbr if c.isalnum()):
        return None
    toks = preceding.split()
    idx = len(letters) - 1
    k = len(toks) - 1
    while k >= 0 and idx >= 0:
        word = toks[k].strip("\"'“”‘’,;:")
        parts = [p for p in re.split(r"[-−–/]", word) if p]
        initials = [p[0].lower() for p in parts if p[0].isalpha()]
        if initials and initials == letters[idx - len(initials) + 1 : idx + 1]:
            idx -= len(initials)
        elif initials and initials[-1] == letters[idx]:
            idx -= 1
        elif word.lower() in _SKIPPABLE and idx < len(letters) - 1:
            pass
        else:
            return None
        k -= 1
    if idx >= 0:
        return None
    long_form = " ".join(toks[k + 1 :]).strip(" ,;:-–")
    return long_form or None


def _best_long_form(abbr: str, preceding: str) -> str | None:
    """Initials first, else Schwartz & Hearst (2003): the shortest run of preceding words whose
    letters spell ``abbr``."""
    initials = _initials_long_form(abbr, preceding)
    if initials:
        return initials
    letters = [c.lower() for c in abbr if c.isalnum()]
    if not letters or not letters[0].isalpha():
        return None
    toks = preceding.split()
    max_words = min(len(letters) + 5, len(letters) * 2)
    toks = toks[-max_words:]
    candidate = " ".join(toks)
    s_idx = len(letters) - 1
    l_idx = len(candidate) - 1
    while s_idx >= 0:
        c = letters[s_idx]
        if not c.isalnum():
            s_idx -= 1
            continue
        while l_idx >= 0 and (
            candidate[l_idx].lower() != c
            or (s_idx == 0 and l_idx > 0 and candidate[l_idx - 1].isalnum())
        ):
            l_idx -= 1
        if l_idx < 0:
            return None
        l_idx -= 1
        s_idx -= 1
    start = candidate.rfind(" ", 0, l_idx + 1) + 1
    long_form = candidate[start:].strip(" ,;:-–")
    if not long_form or len(long_form) <= len(abbr):
        return None
    if len(long_form.split()) > len(letters) + 3:
        return None
    return long_form


def find_definitions(text: str) -> list[AbbreviationDefinition]:
    """Abbreviations defined inline: "long form (ABBR)"."""
    found: list[AbbreviationDefinition] = []
    for m in _PAREN_ABBR_RE.finditer(text):
        abbr = m.group(1).rstrip(".")
        if not looks_like_abbreviation(abbr):
            continue
        preceding = text[: m.start()]
        # Only the current clause.
        preceding = re.split(r"[;:()\[\]]|(?<=[.!?])\s", preceding)[-1]
        long_form = _best_long_form(abbr, preceding)
        if long_form:
            idx = text.rfind(long_form, 0, m.start())
            defining = text[idx : m.end()] if idx >= 0 else f"{long_form} ({abbr})"
            if len(abbr) > 2 and abbr.endswith("s") and abbr[:-1].isupper():
                # "adverse events (AEs)" defines AE.
                abbr = abbr[:-1]
                if long_form.endswith("s") and not long_form.endswith("ss"):
                    long_form = long_form[:-1]
            found.append(AbbreviationDefinition(abbr, plain_case(long_form), defining))
    return found


def plain_case(long_form: str) -> str:
    """ "Electrocardiogram" → "electrocardiogram" (capitalised only because it began a sentence or
    a list entry); names with other capitals ("Food and Drug Administration") are kept."""
    rest = long_form[1:]
    if long_form[:1].isupper() and not any(c.isupper() for c in rest):
        return long_form[:1].lower() + rest
    return long_form


def parse_abbreviation_entry(text: str) -> tuple[str, str] | None:
    """One line of an abbreviations list: "AE adverse event" / "AE: adverse event" / "AE | ..."."""
    text = clean_text(text)
    m = re.match(rf"^({_ABBR_TOKEN})\s*(?:[:=|–—\-]\s*|\s+)(.+)$", text)
    if not m:
        return None
    abbr, definition = m.group(1).rstrip(".:"), m.group(2).strip(" |:-–—")
    if not looks_like_abbreviation(abbr) and not re.fullmatch(r"[A-Za-z][a-z]{0,3}\d*", abbr):
        return None
    if not definition or len(definition) > 200 or definition[:1].isdigit():
        return None
    return abbr, definition


def parse_abbreviation_run(text: str) -> list[tuple[str, str, str]]:
    """Entries of an abbreviations list that extraction ran together into one paragraph
    ("AE adverse event ANCOVA analysis of covariance ..."): (abbreviation, definition, entry text).
    An entry is kept only when its definition starts with the abbreviation's first letter or
    contains a run of words that spells it."""
    toks = clean_text(text).split()

    def unit_like(i: int) -> bool:  # "mg milligrams", "cm2 centimeters squared"
        t = toks[i]
        nxt = toks[i + 1] if i + 1 < len(toks) else ""
        return (
            bool(re.fullmatch(r"[a-z]{1,3}\d?", t))
            and t not in STOPWORDS
            and nxt[:1].lower() == t[:1]
            and len(nxt) > len(t) + 2
        )

    starts = [
        i for i, t in enumerate(toks) if looks_like_abbreviation(t.rstrip(":,;")) or unit_like(i)
    ]
    out: list[tuple[str, str, str]] = []
    for n, i in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(toks)
        abbr = toks[i].rstrip(":,;")
        words = toks[i + 1 : end]
        if not words:
            continue
        definition = " ".join(words).strip(" -–—:")
        if not definition:
            continue
        first = next((c for c in abbr if c.isalpha()), "")
        if definition[:1].lower() != first.lower():
            spelled = _best_long_form(abbr, definition)
            if not spelled:
                continue
            definition = spelled
        entry = " ".join(toks[i:end])
        out.append((abbr, definition, entry))
    return out


def abbreviations_used(text: str) -> list[str]:
    """Abbreviation-like tokens in order of appearance (AEs counts as AE)."""
    out = []
    for m in ABBREVIATION_RE.finditer(text):
        tok = m.group(1)
        if tok.endswith("s") and tok[:-1].isupper() and len(tok) > 2:
            tok = tok[:-1]
        if looks_like_abbreviation(tok):
            out.append(tok)
    return out


def is_defined_at(text: str, abbr: str, long_form: str | None) -> bool:
    """True when ``text`` defines ``abbr`` ("long form (ABBR)" or "ABBR (long form)")."""
    esc = re.escape(abbr)
    if re.search(rf"\(\s*{esc}s?\s*\)", text):
        return True
    if re.search(rf"\b(?:referred to as|known as|called|termed|named)\s+{esc}\b", text):
        return True
    if long_form and re.search(rf"{esc}\s*\(\s*{re.escape(long_form)}", text, re.IGNORECASE):
        return True
    # "non-responder imputation, NRI" and "(non-responder imputation, NRI)": the long form right
    # before the abbreviation, whatever the punctuation, says it already.
    m = re.search(rf"(?<![\w\-]){esc}(?![\w\-])", text)
    if long_form and m:
        before = normalize_alnum(text[max(0, m.start() - len(long_form) - 12) : m.start()])
        return normalize_alnum(long_form) in before
    return False


def expand_first_use(text: str, abbr: str, long_form: str) -> str | None:
    """Rewrite the first use of ``abbr`` in ``text`` as "long form (ABBR)"; None when not used."""
    m = None
    for found in re.finditer(rf"(?<![\w\-]){re.escape(abbr)}(s?)(?![\w\-])", text):
        # Not inside a naming phrase ("hereafter referred to as ADAS-Cog").
        if re.search(r"\b(?:as|called|named|termed)\s*$", text[: found.start()]):
            continue
        m = found
        break
    if not m:
        return None
    plural = m.group(1)
    lf = long_form
    if plural and not lf.endswith("s"):
        lf = _plural(lf)
    # Avoid "adverse event adverse event (AE)" when the long form already precedes it.
    before = text[: m.start()]
    if before.rstrip().lower().endswith(long_form.lower()):
        return text[: m.start()] + f"({abbr}{plural})" + text[m.end() :]
    if not before.strip() or re.search(r"[.!?]\s*$", before):
        lf = lf[:1].upper() + lf[1:]
    return text[: m.start()] + f"{lf} ({abbr}{plural})" + text[m.end() :]
