"""The Outline step: turn an outline snapshot (plain dicts) into the pipeline's sections.

The snapshot comes from a template (``templates_app.selectors.template_outline``) or from a
request's ``generic_mrt_outline_full``; ``run.py`` calls this as its Outline step. With
``selected`` only those sections are written; with ``regenerate`` only those are written again
and every other one is reused as it was.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from documents.pipeline.types import OutlineSection


def build_outline(
    sections: Iterable[dict[str, Any]],
    *,
    selected: Iterable[str] = (),
    regenerate: Iterable[str] = (),
) -> tuple[OutlineSection, ...]:
    chosen = set(selected)
    again = set(regenerate)
    out = []
    for i, s in enumerate(sections):
        is_selected = not chosen or s["section_id"] in chosen
        if again:
            is_selected = s["section_id"] in again
        out.append(
            OutlineSection(
                section_id=str(s["section_id"]),
                number=s.get("number", ""),
                title=s.get("title", ""),
                level=int(s.get("level", 1)),
                order_index=int(s.get("order_index", i)),
                synopsis=s.get("synopsis", ""),
                instructions=s.get("instructions", ""),
                template_text=s.get("template_text", ""),
                hints=s.get("hints") or {},
                rules=tuple(s.get("rules") or ()),
                selected=is_selected,
            )
        )
    return tuple(out)
