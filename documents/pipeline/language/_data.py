"""The word lists of ``data/language.json``: irregular verbs, adverbs, singular nouns in "s"."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent.parent / "data"

_WORD_RE = re.compile(r"[A-Za-z][A-Za-z'’\-]*")
_STRICT_NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)*")


@cache
def _data() -> dict[str, Any]:
    with (DATA_DIR / "language.json").open(encoding="utf-8") as fh:
        return json.load(fh)


@cache
def _word_set(name: str) -> frozenset[str]:
    return frozenset(w.lower() for w in _data()[name])
