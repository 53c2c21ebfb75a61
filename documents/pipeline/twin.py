"""The traceability twin as JSON: sections with paragraphs, tables and citations.

Its shape is docs/api.md, "The traceability twin".

Also the reverse, so that a regeneration can reuse the previous version's sections unchanged.
"""

from __future__ import annotations

from typing import Any

from documents.pipeline.types import Citation, Paragraph, ReviewComment, SectionDraft, Table


def citation_from_dict(data: dict[str, Any]) -> Citation:
    return Citation(
        file_path=data["file_path"],
        file_name=data["file_name"],
        page=data.get("page"),
        block=data.get("block"),
        quote=data["quote"],
    )


def section_to_dict(draft: SectionDraft) -> dict[str, Any]:
    paragraphs = []
    for p in draft.paragraphs:
        item: dict[str, Any] = {
            "text": p.text,
            "citations": [c.as_dict() for c in p.citations],
        }
        if p.style != "body":
            item["style"] = p.style
        if p.list_label:
            item["list_label"] = p.list_label
        if p.source_text is not None:
            item["source_text"] = p.source_text
        if p.flags:
            item["flags"] = list(p.flags)
        paragraphs.append(item)
    return {
        "section_id": draft.section_id,
        "number": draft.number,
        "title": draft.title,
        "level": draft.level,
        "state": draft.state,
        "paragraphs": paragraphs,
        "tables": [
            {
                "title": t.title,
                "header_rows": t.header_rows,
                "rows": [[str(cell) for cell in row] for row in t.rows],
                "citations": [c.as_dict() for c in t.citations],
                **({} if t.after_paragraphs is None else {"after_paragraphs": t.after_paragraphs}),
            }
            for t in draft.tables
        ],
        "edited": draft.edited,
        "review_comments": [{"author": c.author, "text": c.text} for c in draft.review_comments],
        # Stale is a property of the stored document (a newer source version), not of the text:
        # the API and the portal overlay the document's ``stale_sections`` on read.
        "stale": False,
        **({"reason": draft.reason} if draft.reason else {}),
    }


def interleaved(draft: SectionDraft) -> list[Paragraph | Table]:
    """The section's paragraphs and tables in reading order: each table after the number of
    paragraphs its ``after_paragraphs`` says (after all of them when it says nothing)."""
    out: list[Paragraph | Table] = []
    pending = sorted(
        enumerate(draft.tables),
        key=lambda kt: (
            kt[1].after_paragraphs if kt[1].after_paragraphs is not None else len(draft.paragraphs),
            kt[0],
        ),
    )
    k = 0
    for n in range(len(draft.paragraphs) + 1):
        while (
            k < len(pending)
            and (
                pending[k][1].after_paragraphs
                if pending[k][1].after_paragraphs is not None
                else len(draft.paragraphs)
            )
            <= n
        ):
            out.append(pending[k][1])
            k += 1
        if n < len(draft.paragraphs):
            out.append(draft.paragraphs[n])
    out.extend(t for _k, t in pending[k:])
    return out


def section_from_dict(data: dict[str, Any]) -> SectionDraft:
    return SectionDraft(
        section_id=data["section_id"],
        number=data.get("number", ""),
        title=data.get("title", ""),
        level=int(data.get("level", 1)),
        state=data.get("state", "generated"),
        paragraphs=tuple(
            Paragraph(
                text=p["text"],
                citations=tuple(citation_from_dict(c) for c in p.get("citations", [])),
                style=p.get("style", "body"),
                list_label=p.get("list_label", ""),
                source_text=p.get("source_text"),
                flags=tuple(p.get("flags", ())),
            )
            for p in data.get("paragraphs", [])
        ),
        tables=tuple(
            Table(
                title=t.get("title", ""),
                rows=tuple(tuple(str(c) for c in row) for row in t.get("rows", [])),
                citations=tuple(citation_from_dict(c) for c in t.get("citations", [])),
                header_rows=t.get("header_rows"),  # absent in twins made before it existed
                after_paragraphs=t.get("after_paragraphs"),
            )
            for t in data.get("tables", [])
        ),
        edited=bool(data.get("edited", False)),
        review_comments=tuple(
            ReviewComment(author=str(c.get("author", "")), text=str(c.get("text", "")))
            for c in data.get("review_comments", [])
            if isinstance(c, dict)
        ),
        reason=str(data.get("reason") or ""),
    )
