"""Sentence-level tools of the grounded writer: splitting, tense, style guide, abbreviations.

Everything here transforms *source* sentences; nothing invents content. The writer splits source
paragraphs into sentences (never cutting one in the middle), converts the protocol's future tense
into the report's past tense ("Patients will be randomized" → "Patients were randomized"), applies a
style guide's preferred terms, flags banned phrases and finds abbreviation definitions
("adverse event (AE)") in the sources. Word lists (irregular verbs, adverbs, singular nouns ending
in "s", ...) live in ``data/language.json`` so they can grow without code changes.
"""

from __future__ import annotations

import bisect
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent / "data"

_WORD_RE = re.compile(r"[A-Za-z][A-Za-z'’\-]*")
_STRICT_NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)*")


@cache
def _data() -> dict[str, Any]:
    with (DATA_DIR / "language.json").open(encoding="utf-8") as fh:
        return json.load(fh)


@cache
def _word_set(name: str) -> frozenset[str]:
    return frozenset(w.lower() for w in _data()[name])


# ---------------------------------------------------------------- normalisation


_NON_ALNUM_RE = re.compile(r"[\W_]+")


def normalize_alnum(text: str) -> str:
    """Letters and digits only, case-folded (the citation checkers' comparison, CONTRACT §5)."""
    return _NON_ALNUM_RE.sub("", unicodedata.normalize("NFKC", text).casefold())


_ALNUM_RUN_RE = re.compile(r"[^\W_]+")


class PositionMap:
    """Index in a normalised (letters and digits) string → index in the original text.

    Stored as runs: ASCII runs map one to one; other characters (whose NFKC form may change
    length) are mapped character by character. Lookups use bisect."""

    __slots__ = ("_exact", "_norm_starts", "_orig_starts")

    def __init__(self) -> None:
        self._norm_starts: list[int] = []
        self._orig_starts: list[int] = []
        self._exact: list[bool] = []  # True: a one-to-one run; False: one original character

    def add(self, norm_start: int, orig_start: int, exact: bool) -> None:
        self._norm_starts.append(norm_start)
        self._orig_starts.append(orig_start)
        self._exact.append(exact)

    def __getitem__(self, i: int) -> int:
        k = bisect.bisect_right(self._norm_starts, i) - 1
        if k < 0:
            raise IndexError(i)
        if self._exact[k]:
            return self._orig_starts[k] + (i - self._norm_starts[k])
        return self._orig_starts[k]


def alnum_with_map(text: str) -> tuple[str, PositionMap]:
    """``normalize_alnum`` plus, for each kept character, its index in ``text``."""
    parts: list[str] = []
    positions = PositionMap()
    length = 0
    for m in _ALNUM_RUN_RE.finditer(text):
        run = m.group(0)
        if run.isascii():
            positions.add(length, m.start(), True)
            parts.append(run.lower())
            length += len(run)
            continue
        for offset, ch in enumerate(run):
            if ch < "\x80":
                norm = ch.lower()
            else:
                norm = "".join(
                    c for c in unicodedata.normalize("NFKC", ch).casefold() if c.isalnum()
                )
            if norm:
                positions.add(length, m.start() + offset, len(norm) == 1 and ch < "\x80")
                parts.append(norm)
                length += len(norm)
    # Characters outside the runs whose NFKC form is alphanumeric ("²" is matched by the run
    # pattern already; "ﬁ" too) are rare enough to ignore here.
    return "".join(parts), positions


def clean_text(text: str) -> str:
    """Collapse whitespace and undo line-end hyphen splits ("double- blind" → "double-blind")."""
    text = text.replace("\u00ad", "")
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"(?<=[a-z])- (?!(?:and|or|to|nor)\b)(?=[a-z])", "-", text)
    # Spaces before punctuation left by line joins.
    text = re.sub(r" +([,;:.)\]])", r"\1", text)
    text = re.sub(r"([(\[]) +", r"\1", text)
    return text


def words(text: str) -> list[str]:
    return [w.lower() for w in re.findall(r"[A-Za-z0-9]+", text)]


STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "with",
        "by",
        "from",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "will",
        "shall",
        "would",
        "should",
        "could",
        "may",
        "might",
        "must",
        "can",
        "this",
        "that",
        "these",
        "those",
        "it",
        "its",
        "their",
        "there",
        "which",
        "who",
        "whom",
        "whose",
        "what",
        "when",
        "where",
        "how",
        "than",
        "then",
        "so",
        "such",
        "not",
        "no",
        "nor",
        "any",
        "all",
        "each",
        "every",
        "some",
        "other",
        "into",
        "within",
        "during",
        "between",
        "per",
        "via",
        "if",
        "but",
        "also",
        "only",
        "both",
        "either",
        "neither",
        "following",
        "above",
        "below",
    ]
)


def content_tokens(text: str) -> list[str]:
    return [w for w in words(text) if w not in STOPWORDS and len(w) > 1]


def numbers_in(text: str) -> list[str]:
    """Numbers written in ``text``, normalised (thousands separators and leading zeros dropped)."""
    found = []
    for m in _STRICT_NUMBER_RE.finditer(text):
        found.append(_norm_number(m.group(0)))
    return found


def _norm_number(num: str) -> str:
    num = num.replace(",", "")
    num = num.rstrip(".")
    if "." in num:
        whole, _, frac = num.partition(".")
        whole = whole.lstrip("0") or "0"
        return f"{whole}.{frac}"
    return num.lstrip("0") or "0"


# ---------------------------------------------------------------- sentences

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


# ---------------------------------------------------------------- tense

_WILL_RE = re.compile(r"\b(will|shall|won['’]t|shan['’]t)\b", re.IGNORECASE)
_TOKEN_RE = re.compile(r"[A-Za-z][A-Za-z'’\-]*|\d+(?:[.,]\d+)*|[^\sA-Za-z\d]")


def has_future(sentence: str) -> bool:
    """True when the sentence still uses the future modal ("will", "shall", "won't") outside a
    quotation (quoted wording is cited as written)."""
    sentence = _QUOTED_RE.sub("", sentence)
    for m in _WILL_RE.finditer(sentence):
        before = sentence[: m.start()].split()
        if before and (
            before[-1].lower().strip(",;:") in _word_set("noun_will_predecessors")
            or before[-1].lower().endswith(("'s", "’s", "s'"))
        ):
            continue
        after = sentence[m.end() :].lstrip()
        if not after or not after[0].isalpha():
            continue
        nxt = re.match(r"[A-Za-z]+", after)
        if nxt and nxt.group(0).lower() in _word_set("not_verbs_after_will") - {"be"}:
            continue
        return True
    return False


def past_form(verb: str) -> str:
    """Simple past of a base-form verb ("receive" → "received", "undergo" → "underwent")."""
    low = verb.lower()
    irregular = _data()["irregular_past"]
    if low in irregular:
        return _match_case(verb, irregular[low])
    if low.endswith("e"):
        past = low + "d"
    elif re.search(r"[^aeiou]y$", low):
        past = low[:-1] + "ied"
    elif low in _word_set("double_final_consonant") or (
        low not in _word_set("no_double_final_consonant")
        and re.fullmatch(r"[^aeiou]*[aeiou][bdgklmnprt]", low)
    ):
        past = low + low[-1] + "ed"
    elif low.endswith("c"):
        past = low + "ked"
    else:
        past = low + "ed"
    return _match_case(verb, past)


def _match_case(original: str, new: str) -> str:
    if original.isupper() and len(original) > 1:
        return new.upper()
    if original[:1].isupper():
        return new[:1].upper() + new[1:]
    return new


def _is_plural_word(word: str) -> bool | None:
    """Grammatical number of a noun or pronoun; None when unknown."""
    raw = word.strip("()[],;:\"'“”‘’")
    low = raw.lower()
    if not low:
        return None
    if low in _word_set("plural_pronouns") or low in _word_set("plural_nouns"):
        return True
    if low in _word_set("singular_pronouns") or low in _word_set("singular_s_nouns"):
        return False
    if re.fullmatch(r"[A-Z0-9\-+]{2,}s", raw):  # AEs, SAEs, ECGs
        return True
    if raw.isupper():
        return False
    if re.search(r"(ss|us|is|ous)$", low):
        return False
    return low.endswith("s") and len(low) > 3


_DETERMINERS = frozenset(
    [
        "the",
        "a",
        "an",
        "this",
        "these",
        "those",
        "that",
        "each",
        "every",
        "all",
        "any",
        "some",
        "no",
        "its",
        "their",
        "our",
    ]
)


_PARENTHETICAL_START = re.compile(
    r"(?i)(whether|including|such as|e\.g\.|i\.e\.|which|who|whose|where|when|if|unless|except|"
    r"excluding|especially|particularly|regardless|irrespective|although|though|as appropriate|"
    r"as applicable|as needed|where applicable|if applicable|[a-z]+ed\b|"
    r"(?:section|table|appendix|attachment|figure|listing)s?\s*[A-Z]?[\d.]+)"
)


def _subject_is_plural(before: str) -> bool:
    """Guess whether the subject that ends ``before`` (the text before "will") is plural."""
    boundary_words = _word_set("subject_boundary_words")
    # Clause: after the last ; or : and after a subordinating word.
    clause = re.split(r"[;:]", before)[-1]
    toks = clause.split()
    # Relative clause right before the modal: "patients who will ..." → the noun before "who".
    if toks and toks[-1].lower() in {"who", "which", "that"}:
        toks = toks[:-1]
        antecedent = toks[-1].strip(",;()[]") if toks else ""
        if antecedent.isalpha() and antecedent.lower() not in _word_set("prepositions") | {
            "and",
            "or",
        }:
            return bool(_is_plural_word(antecedent))
        clause = " ".join(toks)
    else:
        for i in range(len(toks) - 1, -1, -1):
            word = toks[i].lower().strip(",")
            if word not in boundary_words or i == len(toks) - 1:
                continue
            after = " ".join(toks[i + 1 :])
            # "Patients who discontinue early will be ..." and "All events, whether reported by
            # the patient or noted by staff, will be ...": the subject is before the clause.
            if _is_relative_pronoun(toks, i) or after.rstrip().endswith(","):
                clause = " ".join(toks[:i])
            else:
                clause = after
            break
    # Drop parentheticals: "An electrocardiogram (ECG), and ..." → "An electrocardiogram, and ..."
    clause = re.sub(r"\([^()]*\)", " ", clause)
    clause = re.sub(r"\[[^\[\]]*\]", " ", clause)
    pieces = [p.strip() for p in clause.split(",") if p.strip()]
    # Parenthetical pieces ("All adverse events, whether reported by the patient or noted by
    # study personnel, will be") do not hold the subject.
    while len(pieces) > 1 and _PARENTHETICAL_START.match(pieces[-1]):
        pieces.pop()
    if not pieces:
        return False
    last = pieces[-1]
    if re.match(r"(?i)(and|as well as)\b", last) and len(pieces) > 1:
        return True
    tokens = last.split()
    # Strip adverbs that precede the modal: "The patients then will" (rare but cheap).
    adverbs = _word_set("adverbs")
    while tokens and tokens[-1].lower() in adverbs and len(tokens) > 1:
        tokens.pop()
    preps = _word_set("prepositions")
    head_part: list[str] = []
    for i, tok in enumerate(tokens):
        if i > 0 and tok.lower() in preps and tokens[i - 1].lower() not in _DETERMINERS:
            # "A total of 300 patients": the quantity's noun decides.
            if head_part and head_part[-1].lower() in _word_set("quantifier_heads"):
                art = head_part[0].lower() if len(head_part) > 1 else ""
                if (
                    head_part[-1].lower() in {"total", "majority", "minority", "variety"}
                    or art == "a"
                ):
                    head_part = tokens[i + 1 :]
                    continue
            break
        head_part.append(tok)
    # "patients enrolled in this study": the noun before a trailing participle.
    while (
        len(head_part) > 1
        and re.search(r"[a-z](ed|ing)$", head_part[-1])
        and not head_part[-1][:1].isupper()
    ):
        head_part.pop()
    if not head_part:
        return False
    if any(t.lower() in {"and", "&"} for t in head_part[1:]):
        return True
    verdict = _is_plural_word(head_part[-1])
    if verdict is None:
        return False
    return verdict


def _is_relative_pronoun(toks: list[str], i: int) -> bool:
    """Whether toks[i] ("who", "which", "that") opens a relative clause on the noun before it."""
    word = toks[i].lower().strip(",")
    if word in {"who", "whom", "whose"}:
        return i > 0
    if word not in {"which", "that"} or i == 0:
        return False
    prev = toks[i - 1].lower().strip(",;:")
    if toks[i - 1].endswith(",") and word == "that":
        return False
    if prev in _word_set("complementizer_heads") or prev.endswith("ed"):
        return False
    return prev not in _word_set("prepositions")


def negated_modal(modal: str) -> bool:
    return modal.lower().startswith(("won", "shan"))


def _is_reported(before: str) -> bool:
    """Whether the modal sits in a "that"-clause after a word of expecting or supposing."""
    m = re.search(r"\b([A-Za-z]+)\s+that\s+[^,;:]*$", before)
    return bool(m) and m.group(1).lower() in _word_set("reported_future_heads")


def _is_participle(word: str) -> bool:
    low = word.lower()
    return low.endswith("ed") or low in _word_set("irregular_participles")


def to_past(sentence: str) -> str:
    """Convert the future tense of a protocol sentence into the past tense of a report.

    "Patients will be randomized" → "Patients were randomized"; "will receive" → "received";
    "will have completed" → "had completed"; "will not be" → "was not"/"were not"; "will not
    attend" → "did not attend"; "Two interim analyses are planned" → "... were planned"; "are to be
    worn" → "were to be worn". A "will" whose verb cannot be recognised is left as it is (and QC
    counts it) rather than guessed.
    """
    # Quoted wording (consent-form text, scale items) is cited as written: never converted.
    quoted: list[str] = []

    def hide(m: re.Match[str]) -> str:
        quoted.append(m.group(0))
        return f"\ue000{len(quoted) - 1}\ue001"

    masked = _QUOTED_RE.sub(hide, sentence)
    out, converted = _convert_future(masked)
    if converted:
        out = _backshift(out)
    out = _convert_present_passive(out)
    return re.sub("\ue000(\\d+)\ue001", lambda m: quoted[int(m.group(1))], out)


_QUOTED_RE = re.compile(r"“[^”]{12,}”|\"[^\"]{12,}\"")


_MODALS = frozenset(
    ("would", "could", "should", "may", "might", "must", "can", "will", "shall", "to")
)
_BACKSHIFT_RE = re.compile(r"\b(is|are|has|have)\b(\s+)(not\s+)?([A-Za-z]+)")
_RELATIVE_VERB_RE = re.compile(r"\b(who|that)\s+([a-z]+)\b")


def _backshift(text: str) -> str:
    """Sequence of tenses in a sentence whose main verb became past: "when 50% of the patients
    have completed" → "had completed", "if sample sizes are sufficient" → "were sufficient",
    "patients who meet the criteria" → "who met"."""
    text = re.sub(r"\bis/are\b", "was/were", text)

    def repl(m: re.Match[str]) -> str:
        verb, space, neg, nxt = m.group(1), m.group(2), m.group(3) or "", m.group(4)
        preceding = m.string[: m.start()].split()[-1:]
        if preceding and preceding[0].lower() in _MODALS:
            return m.group(0)  # "would have represented" stays
        past = ("was" if verb == "is" else "were") if verb in {"is", "are"} else "had"
        return f"{past}{space}{neg}{nxt}"

    text = _BACKSHIFT_RE.sub(repl, text)
    known = _word_set("coordinated_verbs") | frozenset(_data()["irregular_past"])

    def rel(m: re.Match[str]) -> str:
        verb = m.group(2)
        base = verb
        if verb not in known and verb.endswith("s") and verb[:-1] in known:
            base = verb[:-1]
        if base not in known or base in {"be", "have"}:
            return m.group(0)
        return f"{m.group(1)} {past_form(base)}"

    return _RELATIVE_VERB_RE.sub(rel, text)


def _convert_future(sentence: str) -> tuple[str, bool]:
    """The sentence with "will + verb" in the past, and whether any past form was written."""
    adverbs = _word_set("adverbs")
    not_verbs = _word_set("not_verbs_after_will")
    noun_pre = _word_set("noun_will_predecessors")
    ly_verbs = _word_set("verbs_ending_ly")
    result = sentence
    converted = False
    guard = 0
    search_from = 0
    while guard < 20:
        guard += 1
        m = _WILL_RE.search(result, search_from)
        if not m:
            break
        modal = m.group(1)
        before = result[: m.start()]
        prev_tokens = before.split()
        if prev_tokens and (
            prev_tokens[-1].lower().strip(",;:") in noun_pre
            or prev_tokens[-1].lower().endswith(("'s", "’s", "s'"))
        ):
            search_from = m.end()
            continue
        if m.start() == 0 or not before.strip():
            # "Will ..." opening a sentence is a question or a noun; leave it.
            search_from = m.end()
            continue
        if prev_tokens and prev_tokens[-1].lower() in {"as", "nor", "so"}:
            # Inversion: "..., as will laboratory assessments" → "as were laboratory assessments".
            np_match = re.match(r"\s*([^,.;:()]+)", result[m.end() :])
            subject_words = np_match.group(1).split() if np_match else []
            if subject_words and not negated_modal(modal):
                plural = bool(_is_plural_word(subject_words[-1]))
                be = "were" if plural else "was"
                result = result[: m.start()] + be + result[m.end() :]
                converted = True
                search_from = m.start() + len(be)
                continue
        negated = modal.lower().startswith(("won", "shan"))
        rest = result[m.end() :]
        # Tokens after the modal: optional "not", adverbs, then the verb.
        tok_iter = list(re.finditer(r"\S+", rest))
        idx = 0
        pre_adverbs: list[str] = []
        if idx < len(tok_iter) and tok_iter[idx].group(0).lower() == "not":
            negated = True
            idx += 1
        while idx < len(tok_iter):
            w = tok_iter[idx].group(0)
            wl = w.lower()
            if wl in adverbs or (
                wl.endswith("ly") and wl.isalpha() and wl not in ly_verbs and len(wl) > 4
            ):
                if wl == "not":
                    negated = True
                else:
                    pre_adverbs.append(w)
                idx += 1
                continue
            if wl == "not":
                negated = True
                idx += 1
                continue
            break
        if idx >= len(tok_iter):
            search_from = m.end()
            continue
        verb_tok = tok_iter[idx]
        verb_raw = verb_tok.group(0)
        verb_core = re.match(r"[A-Za-z][a-z]*", verb_raw)
        if (
            not verb_core
            or verb_core.group(0) != verb_raw[: verb_core.end()]
            or not verb_raw[0].islower()
        ):
            search_from = m.end()
            continue
        verb = verb_core.group(0)
        tail_punct = verb_raw[len(verb) :]
        if verb.lower() in not_verbs or tail_punct[:1].isalpha():
            search_from = m.end()
            continue
        plural = _subject_is_plural(before)
        adv = " ".join(pre_adverbs)
        vlow = verb.lower()
        if _is_reported(before) and not modal.lower().startswith(("won", "shan")):
            # "speculation that therapy will alleviate" → "would alleviate" (a future in the past).
            result = result[: m.start()] + "would" + result[m.end() :]
            search_from = m.start() + len("would")
            continue
        if vlow == "be":
            be = "were" if plural else "was"
            parts = [be]
            if negated:
                parts.append("not")
            if adv:
                parts.append(adv)
            replacement = " ".join(parts) + tail_punct
        elif vlow == "have":
            nxt = tok_iter[idx + 1].group(0) if idx + 1 < len(tok_iter) else ""
            if _is_participle(nxt.strip(",.;:")):
                parts = ["had"] + (["not"] if negated else []) + ([adv] if adv else [])
            elif negated:
                parts = ["did", "not"] + ([adv] if adv else []) + ["have"]
            else:
                parts = ([adv] if adv else []) + ["had"]
            replacement = " ".join(parts) + tail_punct
        elif negated:
            parts = ["did", "not"] + ([adv] if adv else []) + [verb]
            replacement = " ".join(parts) + tail_punct
        else:
            parts = ([adv] if adv else []) + [past_form(verb)]
            replacement = " ".join(parts) + tail_punct
        # Keep the modal's capitalisation if it started a clause after a parenthesis etc.
        start = m.start()
        end = m.end() + verb_tok.end()
        new_seg = replacement
        result = result[:start] + new_seg + result[end:]
        converted = True
        # Coordinated verbs without their own modal: "will undergo X and receive Y".
        if vlow != "have" and not negated:
            result = _convert_coordinated(result, start + len(new_seg), plural)
        search_from = start + len(new_seg)
    return result, converted


def _convert_coordinated(text: str, pos: int, plural: bool) -> str:
    coordinated = _word_set("coordinated_verbs")
    clause_end = re.search(r"[.;:]|\bwill\b|\bshall\b", text[pos:])
    limit = pos + clause_end.start() if clause_end else len(text)
    segment = text[pos:limit]

    def repl(m: re.Match[str]) -> str:
        verb = m.group(2)
        if verb == "be":
            return f"{m.group(1)}{'were' if plural else 'was'}"
        if verb.lower() in coordinated:
            return f"{m.group(1)}{past_form(verb)}"
        return m.group(0)

    new_segment = re.sub(r"(\b(?:and|or|and/or|then)\s+)([a-z]+)\b", repl, segment)
    return text[:pos] + new_segment + text[limit:]


_PRESENT_PASSIVE_RE = re.compile(
    r"(?<!/)\b(is|are)(?!/)(\s+(?:not\s+)?(?:[a-z]+ly\s+|also\s+|then\s+|only\s+)?)([a-z]+)\b"
)
_TO_BE_RE = re.compile(r"\b(is|are)(\s+to\s+be\b)")


def _convert_present_passive(text: str) -> str:
    verbs = _word_set("present_passive_verbs")

    def repl(m: re.Match[str]) -> str:
        if m.group(3) not in verbs:
            return m.group(0)
        past = "was" if m.group(1) == "is" else "were"
        return f"{past}{m.group(2)}{m.group(3)}"

    text = re.sub(
        r"\bis/are(\s+(?:[a-z]+ly\s+)?)([a-z]+)\b",
        lambda m: f"was/were{m.group(1)}{m.group(2)}" if m.group(2) in verbs else m.group(0),
        text,
    )
    text = _TO_BE_RE.sub(lambda m: ("was" if m.group(1) == "is" else "were") + m.group(2), text)
    return _PRESENT_PASSIVE_RE.sub(repl, text)


# ---------------------------------------------------------------- style guide


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


# ---------------------------------------------------------------- abbreviations

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
    if re.fullmatch(r"[IVXLC]+", token) or token.lower() in _word_set("not_abbreviations"):
        return False
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
    return bool(
        long_form and re.search(rf"{esc}\s*\(\s*{re.escape(long_form)}", text, re.IGNORECASE)
    )


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


# ---------------------------------------------------------------- split words


_TAIL_WORD_RE = re.compile(r"[A-Za-z]+$")
_HEAD_WORD_RE = re.compile(r"[A-Za-z]+")


def repair_split_words(text: str, vocabulary: Mapping[str, int]) -> str:
    """Join words that PDF extraction split ("Descripti on" → "Description", "Primar y" → "Primary")
    when the joined word is common in the same document and a part is not a word of its own."""
    toks = text.split(" ")
    if len(toks) < 2 or not vocabulary:
        return text
    out: list[str] = []
    i = 0
    while i < len(toks):
        tok = toks[i]
        if i + 1 < len(toks):
            nxt = toks[i + 1]
            a_match = _TAIL_WORD_RE.search(tok)
            b_match = _HEAD_WORD_RE.match(nxt)
            a = a_match.group(0).lower() if a_match else ""
            b = b_match.group(0).lower() if b_match else ""
            if (
                a
                and b
                and nxt[:1].islower() == tok[-1:].islower()
                and vocabulary.get(a + b, 0) >= 2
                and (vocabulary.get(a, 0) == 0 or vocabulary.get(b, 0) == 0 or len(b) == 1)
            ):
                out.append(tok + nxt)
                i += 2
                continue
        out.append(tok)
        i += 1
    return " ".join(out)


def vocabulary_of(texts: Iterable[str]) -> dict[str, int]:
    vocab: dict[str, int] = {}
    for text in texts:
        for w in re.findall(r"[A-Za-z]+", text):
            lw = w.lower()
            vocab[lw] = vocab.get(lw, 0) + 1
    return vocab
