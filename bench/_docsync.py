"""Generated blocks in the docs: the load and soak figures, written from the latest runs.

``bench/load.py`` and ``bench/soak.py`` write their results to ``bench/out/*.json`` and rewrite
the block between ``<!-- generated:NAME begin -->`` and ``<!-- generated:NAME end -->`` in
README.md and docs/reliability.md from that JSON; ``make reliability`` (tests/reliability/
conftest.py) renders the same blocks from the same files when it regenerates
docs/reliability.md. So the README and the doc always show the same, dated, latest figures.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
DOCS = (ROOT / "README.md", ROOT / "docs" / "reliability.md")


def _read(name: str) -> dict[str, Any] | None:
    path = OUT / f"{name}.json"
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return None


def load_block(data: dict[str, Any] | None = None) -> str:
    data = data if data is not None else _read("load")
    if not data:
        return (
            "No load figures yet: run `bench/load.py --repeat 3` (it writes bench/out/load.json)."
        )
    verdict = (
        "every check held in every round"
        if data.get("all_rounds_pass")
        else "**not every check held in every round** (see the ✗ cells)"
    )
    return (
        f"From `bench/load.py --repeat {data.get('rounds', 1)}` run {data.get('when', '?')} "
        f"({data.get('machine', '')}): {verdict}.\n\n{data.get('markdown', '')}"
    )


def soak_block(data: dict[str, Any] | None = None) -> str:
    data = data if data is not None else _read("soak")
    if not data:
        return "No soak figures yet: run `bench/soak.py` (it writes bench/out/soak.json)."
    return f"From `bench/soak.py`.\n\n{data.get('markdown', '')}"


def block(name: str, body: str) -> str:
    return f"<!-- generated:{name} begin -->\n{body.strip()}\n<!-- generated:{name} end -->"


def replace_block(text: str, name: str, body: str) -> str | None:
    """``text`` with the named block's body replaced; None when it has no such block."""
    pattern = re.compile(
        rf"<!-- generated:{re.escape(name)} begin -->.*?<!-- generated:{re.escape(name)} end -->",
        re.DOTALL,
    )
    if not pattern.search(text):
        return None
    return pattern.sub(lambda _m: block(name, body), text, count=1)


def rewrite(name: str, body: str) -> list[str]:
    """Rewrite the named block in every doc that has it; returns the files changed."""
    changed = []
    for path in DOCS:
        try:
            text = path.read_text()
        except OSError:
            continue
        new = replace_block(text, name, body)
        if new is not None and new != text:
            path.write_text(new)
            changed.append(str(path.relative_to(ROOT)))
    return changed
