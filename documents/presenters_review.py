"""The review cycle on the document page: what ``documents/_review_*.html`` render (no writes).

``review_context(document)`` gives the page its review parts: the upload form of a reviewed
copy, whether a redline exists, the stale sections (with the regenerate action), the answer of
the last review of this version, and the version list saying who changed what. The page
includes the parts' templates; it does not need to know how they are made.
"""

from __future__ import annotations

from typing import Any

from documents.forms import ReviewUploadForm
from documents.models import DocumentReview, GeneratedDocument
from documents.selectors import document_versions


def _section_names(document: GeneratedDocument) -> dict[str, str]:
    return {
        s["section_id"]: f"{s.get('number', '')} {s.get('title', '')}".strip()
        for s in (document.outline or {}).get("sections", [])
    }


def _numbers(document: GeneratedDocument, ids: list[str]) -> str:
    names = {
        s["section_id"]: s.get("number") or s.get("title", "")
        for s in (document.outline or {}).get("sections", [])
    }
    shown = [names.get(i, "?") for i in ids[:8]]
    more = len(ids) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def version_summary(version: GeneratedDocument) -> str:
    """What a version changed, in a sentence (the version list)."""
    ids = list(version.regenerate_section_ids or [])
    origin = version.origin
    if version.previous_version_id is None:
        return "First draft."
    if origin == GeneratedDocument.Origin.REVIEW and version.review is not None:
        review = version.review
        commented = [s["section_id"] for s in review.sections or [] if s.get("comments")]
        edited = list(review.edited_sections or {})
        parts = [f"From a reviewed copy ({review.file_name})"]
        if version.previous_version is not None:
            parts[0] += f" of version {version.previous_version.version}"
        if commented:
            parts.append(f"comments in {_numbers(version, commented)}")
        if edited:
            parts.append(f"edited by people: {_numbers(version, edited)}")
        parts.append(f"written again: {_numbers(version, ids)}")
        return "; ".join(parts) + "."
    if origin == GeneratedDocument.Origin.STALE:
        text = f"Stale sections written again from the newest sources: {_numbers(version, ids)}"
        if version.previous_version is not None:
            text += f" (the rest as in version {version.previous_version.version})"
        return text + "."
    instructions = next(iter((version.section_instructions or {}).values()), "")
    previous = version.previous_version
    text = f"Regenerated {_numbers(version, ids)}"
    if previous is not None:
        text += f" from version {previous.version}"
    if instructions:
        text += f" with the instruction “{instructions[:160]}”"
    text += "."
    if unchanged(version, ids):
        text += " Nothing changed: the sections read as in the version it was made from."
    return text


def _section_texts(twin: dict[str, Any] | None, ids: set[str]) -> dict[str, Any]:
    out = {}
    for section in (twin or {}).get("sections") or []:
        if section.get("section_id") in ids:
            out[section["section_id"]] = (
                [p.get("text", "") for p in section.get("paragraphs", [])],
                [t.get("rows") for t in section.get("tables", [])],
            )
    return out


def unchanged(version: GeneratedDocument, ids: list[str]) -> bool:
    """A complete regeneration whose rewritten sections read exactly as before."""
    previous = version.previous_version
    if (
        not ids
        or previous is None
        or version.status != GeneratedDocument.Status.COMPLETE
        or not version.twin
        or not previous.twin
    ):
        return False
    wanted = set(ids)
    return _section_texts(version.twin, wanted) == _section_texts(previous.twin, wanted)


def version_history(document: GeneratedDocument) -> list[dict[str, Any]]:
    versions = document_versions(document)
    reviews = {
        r.pk: r
        for r in DocumentReview.objects.filter(
            pk__in=[v.review_id for v in versions if v.review_id]
        )
    }
    out = []
    for v in versions:
        if v.review_id:
            v.review = reviews.get(v.review_id)
        out.append(
            {
                "document": v,
                "number": v.version,
                "current": v.pk == document.pk,
                "who": v.created_by.get_username() if v.created_by_id and v.created_by else "—",
                "summary": version_summary(v),
            }
        )
    return out


def last_review(document: GeneratedDocument) -> dict[str, Any] | None:
    review = DocumentReview.objects.filter(document=document).order_by("-created_at").first()
    if review is None:
        return None
    made = (
        GeneratedDocument.objects.filter(review=review, previous_version=document)
        .only("id", "version")
        .first()
    )
    return {
        "review": review,
        "sections": review.sections or [],
        "outside": review.comments_outside_sections or [],
        "new_version": made,
        "who": review.uploaded_by.get_username() if review.uploaded_by_id else "—",
    }


def review_context(
    document: GeneratedDocument, *, form: ReviewUploadForm | None = None
) -> dict[str, Any]:
    complete = document.status == GeneratedDocument.Status.COMPLETE
    names = _section_names(document)
    stale = [{"id": sid, "name": names.get(sid, sid)} for sid in (document.stale_sections or [])]
    return {
        "review_form": form or ReviewUploadForm(),
        "can_review": complete,
        "redline_available": complete
        and document.previous_version_id is not None
        and bool(document.redline_key),
        "stale_sections": stale if complete else [],
        "last_review": last_review(document) if complete else None,
        "version_history": version_history(document),
    }
