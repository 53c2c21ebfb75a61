"""A person marks a section not applicable, or restores it (CONTRACT §9, docs/api.md).

``set_section_state(document, section_id, state, reason, *, user)`` is the one write, called by
``PUT /api/v1/documents/{id}/sections/{section_id}/state`` and by the portal's form:

- ``state="not_applicable"`` needs a ``reason`` (400 ``reason_required``; at most
  ``MAX_REASON`` characters): the twin's section reads ``state: "not_applicable"`` with its
  ``reason``, and keeps what it was (``marked_from``) and its text, so that restoring gives the
  section back as it was and the citation numbers never move;
- ``state="restore"`` puts back the state the section had before it was marked (a section that
  is not marked is left as it is);
- the QC report (the twin's ``qc`` and the row's) is recounted: a not-applicable section is not
  missing (``sections_no_source``, ``no_source_sections``) and is listed in
  ``not_applicable_sections`` with its reason;
- it is not a regeneration: no new version, no job; every download made afterwards shows the
  section as "Not applicable: <reason>" (``documents/downloads.py``);
- the document must be complete (409 otherwise); an unknown section is 404
  ``section_not_found``; the caller's organization scopes the document (the caller passes a
  document from ``selectors.document_get_for_user``); every change is in the audit log
  (``section_state``).

Who may: any member of the organization, like regenerating a section or uploading a reviewed
copy — deciding what a draft covers is the writers' everyday work, not an administration task.
"""

from __future__ import annotations

import copy
from typing import Any

from django.db import transaction

from documents.models import GeneratedDocument
from documents.services.uploads import clean_text
from portal.audit import audit_record
from portal.errors import Conflict, InvalidInput, NotFound

NOT_APPLICABLE = "not_applicable"
RESTORE = "restore"
STATES = (NOT_APPLICABLE, RESTORE)
MAX_REASON = 500


def recount_qc(qc: dict[str, Any] | None, sections: list[dict[str, Any]]) -> dict[str, Any]:
    """The QC report's section counts and lists, from the twin's sections as they are now."""
    out = dict(qc or {})
    states = [s.get("state", "generated") for s in sections]
    out["sections_total"] = len(sections)
    out["sections_generated"] = states.count("generated")
    out["sections_no_source"] = states.count("no_source")
    out["sections_skipped"] = states.count("skipped")
    out["sections_not_applicable"] = states.count(NOT_APPLICABLE)
    out["no_source_sections"] = [
        s.get("number") or s.get("title") for s in sections if s.get("state") == "no_source"
    ]
    out["not_applicable_sections"] = [
        {"section": s.get("number") or s.get("title"), "reason": s.get("reason", "")}
        for s in sections
        if s.get("state") == NOT_APPLICABLE
    ]
    return out


def _clean_reason(reason: Any) -> str:
    text = " ".join(str(clean_text(reason or "")).split()) if isinstance(reason, str) else ""
    if not text:
        raise InvalidInput.about(
            "reason", "say why the section is not applicable.", code="reason_required"
        )
    if len(text) > MAX_REASON:
        raise InvalidInput.about("reason", f"at most {MAX_REASON} characters.")
    return text


def set_section_state(
    document: GeneratedDocument,
    section_id: str,
    state: str,
    reason: str | None = None,
    *,
    user: Any,
) -> dict[str, Any]:
    """Mark ``section_id`` of ``document`` not applicable, or restore it; returns the twin's
    section as it now is (module docstring)."""
    if state not in STATES:
        raise InvalidInput.about("state", "must be not_applicable or restore.")
    text = _clean_reason(reason) if state == NOT_APPLICABLE else ""
    with transaction.atomic():
        row = GeneratedDocument.objects.select_for_update().get(pk=document.pk)
        if row.status != GeneratedDocument.Status.COMPLETE or not isinstance(row.twin, dict):
            raise Conflict.saying(f"The document is not complete (status {row.status}).")
        twin = copy.deepcopy(row.twin)
        sections = twin.get("sections") or []
        section = next(
            (s for s in sections if isinstance(s, dict) and s.get("section_id") == section_id),
            None,
        )
        if section is None:
            raise NotFound.saying(
                "The document has no section with this id.", code="section_not_found"
            )
        before = section.get("state", "generated")
        if state == NOT_APPLICABLE:
            if before != NOT_APPLICABLE:
                section["marked_from"] = before
            section["state"] = NOT_APPLICABLE
            section["reason"] = text
        elif before == NOT_APPLICABLE:
            # A section carried marked into a new version has no ``marked_from``: its text says.
            has_text = any(
                p.get("citations") for p in section.get("paragraphs") or [] if isinstance(p, dict)
            ) or bool(section.get("tables"))
            fallback = "generated" if has_text else "no_source"
            section["state"] = section.pop("marked_from", None) or fallback
            section.pop("reason", None)
        twin["qc"] = recount_qc(twin.get("qc"), sections)
        row.twin = twin
        row.qc = recount_qc(row.qc, sections)
        row.save(update_fields=["twin", "qc", "updated_at"])
        audit_record(
            organization_id=row.organization_id,
            actor=user,
            action="section_state",
            object_type="document",
            object_id=row.id,
            details={"section_id": section_id, "state": state, "reason": text, "was": before},
        )
    document.twin, document.qc = row.twin, row.qc
    return section
