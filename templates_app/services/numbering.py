"""Section names and numbers: ``"9.4.1 Blinding"`` ↔ number and title, numbers from levels,
and the rule that a level goes at most one deeper at a time."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from templates_app.services.errors import TemplateValidationError

SECTION_NAME = re.compile(r"^\s*(\d+(?:\.\d+)*)\.?(?:\s+(\S.*))?$", re.DOTALL)


def parse_section_name(value: Any, *, field: str = "section_name") -> tuple[str, str]:
    """``"9.4.1 Blinding"`` → ``("9.4.1", "Blinding")``; ``"1. Summary"`` → ``("1", "Summary")``;
    a name without a leading number is all title."""
    if not isinstance(value, str) or not value.strip():
        raise TemplateValidationError.about(field, "this field is required.")
    text = " ".join(value.split())
    match = SECTION_NAME.match(text)
    if match:
        number, title = match.group(1), (match.group(2) or "").strip()
        if not title:
            raise TemplateValidationError.about(field, f"{text!r} has a number but no title.")
    else:
        number, title = "", text
    if len(number) > 40:
        raise TemplateValidationError.about(field, "the number is longer than 40 characters.")
    if len(title) > 400:
        raise TemplateValidationError.about(field, "the title is longer than 400 characters.")
    return number, title


def outline_numbers(levels: list[int], unnumbered: list[bool] | None = None) -> list[str]:
    """Hierarchical numbers from levels: [1, 2, 2, 1] → ["1", "1.1", "1.2", "2"]."""
    counters: list[int] = []
    numbers: list[str] = []
    for i, raw in enumerate(levels):
        if unnumbered and unnumbered[i]:
            numbers.append("")
            continue
        level = max(1, int(raw))
        del counters[level:]
        while len(counters) < level - 1:
            counters.append(1)  # a skipped level (only after a non-cascading delete)
        if len(counters) == level:
            counters[-1] += 1
        else:
            counters.append(1)
        numbers.append(".".join(str(c) for c in counters))
    return numbers


def _is_unnumbered(hints: Any) -> bool:
    return isinstance(hints, dict) and bool(hints.get("unnumbered"))


def _level_problem(levels: list[int], describe: Callable[[int], str]) -> str | None:
    previous = 0
    for i, level in enumerate(levels):
        if level > previous + 1:
            if previous == 0:
                return f"{describe(i)}: the first section must be level 1, not level {level}."
            return (
                f"{describe(i)}: a level-{level} section cannot follow a level-{previous} "
                "section (a level may only go one deeper at a time)."
            )
        previous = level
    return None
