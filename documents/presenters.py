"""The twin and the status row shaped for the portal's templates (no request, no writes).

``draft_preview`` turns a document's traceability twin (docs/api.md, "The traceability twin")
into what ``documents/_preview.html`` renders: numbered citations, grouped list items, and each
table's header rows as the twin says (the .docx renderer follows the same ``header_rows``).
``timeline`` and ``qc_items`` shape the status row's step and QC summary.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from documents.models import GeneratedDocument
from documents.pipeline.numbering import citation_key, number_twin_citations
from documents.pipeline.types import default_header_rows

STEPS = [step.value for step in GeneratedDocument.Step]


def timeline(document: GeneratedDocument) -> list[dict[str, str]]:
    """The six steps, each ``done``, ``current``, ``failed`` or ``pending``."""
    status = document.status
    if status == GeneratedDocument.Status.COMPLETE:
        return [{"name": s, "state": "done"} for s in STEPS]
    current = STEPS.index(document.step) if document.step in STEPS else -1
    out = []
    for i, name in enumerate(STEPS):
        if i < current:
            state = "done"
        elif i == current:
            state = {
                GeneratedDocument.Status.FAILED: "failed",
                GeneratedDocument.Status.CANCELLED: "pending",
            }.get(status, "current")
        else:
            state = "pending"
        out.append({"name": name, "state": state})
    return out


def citation_place(citation: dict[str, Any]) -> str:
    if citation.get("page"):
        return f"page {citation['page']}"
    if citation.get("block"):
        return f"block {citation['block']}"
    return "whole file"


def draft_preview(
    twin: dict[str, Any] | None, *, stale: Iterable[str] = ()
) -> dict[str, Any] | None:
    """The twin shaped for the template: numbered citations, grouped list items, table heads,
    and each section's review marks (``edited``, ``stale``, reviewers' comments)."""
    if not twin or not isinstance(twin.get("sections"), list):
        return None
    stale_ids = set(stale or ())
    # The one numbering of the twin, the .docx copies and this preview (pipeline/numbering.py).
    numbers = number_twin_citations([s for s in twin["sections"] if isinstance(s, dict)])

    def cites(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for citation in items or []:
            n = numbers.get(citation_key(citation))
            if n is None:  # not in the twin's reading order (cannot happen; stay safe)
                n = numbers[citation_key(citation)] = len(numbers) + 1
            out.append({**citation, "n": n, "place": citation_place(citation)})
        return out

    sections = []
    counts = {"generated": 0, "no_source": 0, "skipped": 0}
    for raw in twin["sections"]:
        state = raw.get("state", "generated")
        counts[state] = counts.get(state, 0) + 1
        blocks: list[dict[str, Any]] = []
        current_list: dict[str, Any] | None = None
        for n, paragraph in enumerate(raw.get("paragraphs", [])):
            item = {
                "n": n,
                "text": paragraph.get("text", ""),
                "style": paragraph.get("style", "body"),
                "label": paragraph.get("list_label", ""),
                "raw_citations": paragraph.get("citations", []),
                "citations": [],
            }
            if item["style"] == "list":
                if current_list is None:
                    current_list = {"kind": "list", "items": [], "labelled": False}
                    blocks.append(current_list)
                current_list["items"].append(item)
                current_list["labelled"] = current_list["labelled"] or bool(item["label"])
            else:
                current_list = None
                blocks.append({"kind": "para", **item})
        tables = []
        paragraph_count = len(raw.get("paragraphs", []))
        for table in raw.get("tables", []):
            rows = [list(row) for row in table.get("rows", [])]
            head_count = table.get("header_rows")
            if head_count is None:  # a twin made before tables said it
                head_count = default_header_rows(tuple(tuple(row) for row in rows))
            head, body = rows[:head_count], rows[head_count:]
            after = table.get("after_paragraphs")
            tables.append(
                {
                    "kind": "table",
                    "title": table.get("title", ""),
                    "head": head,
                    "body": body,
                    "after": paragraph_count if after is None else int(after),
                    "citations": [],
                    "raw_citations": table.get("citations", []),
                }
            )
        blocks = _interleave(blocks, tables, cites)
        level = int(raw.get("level") or 1)
        sections.append(
            {
                "id": raw.get("section_id", ""),
                "number": raw.get("number", ""),
                "title": raw.get("title", ""),
                "level": level,
                "heading": f"h{min(level + 2, 6)}",
                "state": state,
                "blocks": blocks,
                "edited": bool(raw.get("edited")),
                "stale": raw.get("section_id") in stale_ids,
                "review_comments": raw.get("review_comments") or [],
                "reason": raw.get("reason") or "",
            }
        )
    return {"sections": sections, "counts": counts, "citations": len(numbers)}


def _interleave(
    blocks: list[dict[str, Any]],
    tables: list[dict[str, Any]],
    cites: Any,
) -> list[dict[str, Any]]:
    """Tables placed among the paragraph blocks where the twin says (``after_paragraphs``), and
    each citation given its number of the one numbering (``cites``)."""
    out: list[dict[str, Any]] = []
    pending = sorted(tables, key=lambda t: t["after"])

    def first_paragraph(block: dict[str, Any]) -> int:
        return block["items"][0]["n"] if block["kind"] == "list" else block["n"]

    for block in blocks:
        while pending and pending[0]["after"] <= first_paragraph(block):
            out.append(pending.pop(0))
        out.append(block)
    out.extend(pending)
    for block in out:
        items = block["items"] if block["kind"] == "list" else [block]
        for item in items:
            item["citations"] = cites(item.pop("raw_citations", []))
    return out


def qc_items(qc: dict[str, Any] | None) -> list[tuple[str, Any]]:
    """The QC summary's scalar values with readable names."""
    if not isinstance(qc, dict):
        return []
    return [
        (key.replace("_", " ").capitalize(), value)
        for key, value in qc.items()
        if isinstance(value, str | int | float | bool) or value is None
    ]


def qc_warnings(qc: dict[str, Any] | None) -> list[str]:
    """The QC report's plain warnings (sources that held almost nothing for the template,
    results outputs found but not placed, extraction warnings), for the document page."""
    if not isinstance(qc, dict):
        return []
    return [str(w) for w in qc.get("warnings") or [] if str(w).strip()]
