"""Text normalisation: letters-and-digits form for citations, whitespace, words, numbers, and
words that PDF extraction split in two ("Descripti on") repaired from the source's vocabulary."""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Iterable, Mapping

from documents.pipeline.language._data import _STRICT_NUMBER_RE

_NON_ALNUM_RE = re.compile(r"[\W_]+")


def normalize_alnum(text: str) -> str:
    """Letters and digits only, case-folded: the citation checkers' comparison (docs/api.md,
    "locations")."""
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
