"""New versions of a generated document: regenerating chosen sections, the stale ones, or those a
reviewed copy commented on (docs/api.md, "Generation" and "The review cycle").

Every new version is a new ``GeneratedDocument`` row (``previous_version`` = the version it is
made from, ``version`` = its number + 1) in which only the named sections are written again;
every other section is carried over from the previous version as it is. Sections that people
edited in a reviewed copy are never written again unless the caller says ``overwrite_edited``.
Instructions given to a regeneration apply to the regenerated sections only
(``section_instructions``); the document's own instructions stay as they were.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from documents.models import DocumentReview, GeneratedDocument, GeneratedDocumentSource
from documents.services.generation import (
    check_capacity,
    enqueue_on_commit,
    lock_organization,
    normalise_selected,
    raise_if_enqueue_failed,
)
from documents.services.uploads import clean_text
from portal.audit import audit_record
from portal.errors import Conflict, InvalidInput

Origin = GeneratedDocument.Origin


def latest_review(document: GeneratedDocument) -> DocumentReview | None:
    """The newest reviewed copy uploaded for this very version, if any."""
    return DocumentReview.objects.filter(document=document).order_by("-created_at").first()


def edited_section_ids(document: GeneratedDocument) -> set[str]:
    """Sections people edited: marked in the twin, or in a reviewed copy of this version."""
    edited = {s["section_id"] for s in (document.twin or {}).get("sections", []) if s.get("edited")}
    review = latest_review(document)
    if review is not None:
        edited |= set(review.edited_sections)
    return edited


def _require_complete(document: GeneratedDocument) -> None:
    if document.status != GeneratedDocument.Status.COMPLETE:
        raise Conflict.saying("Only a complete document can be regenerated.")


def version_create(
    *,
    user: Any,
    document: GeneratedDocument,
    section_ids: list[str],
    section_instructions: dict[str, str],
    origin: str,
    review: DocumentReview | None = None,
    source_version_ids: Iterable[Any] | None = None,
    stale_sections: Iterable[str] = (),
) -> GeneratedDocument:
    """The next version of ``document`` in which only ``section_ids`` are written again, queued
    once the transaction commits. ``source_version_ids`` (in order) replaces the previous
    version's sources (a stale regeneration takes the newest ones)."""
    links = list(document.source_links.order_by("position"))
    versions = list(source_version_ids) if source_version_ids is not None else None
    with transaction.atomic():
        lock_organization(document.organization)
        check_capacity(document.organization)
        new = GeneratedDocument.objects.create(
            organization=document.organization,
            document_set=document.document_set,
            template=document.template,
            style_guide=document.style_guide,
            previous_version=document,
            version=document.version + 1,
            origin=origin,
            review=review,
            created_by=user,
            output_name=document.output_name,
            document_type=document.document_type,
            writer=document.writer,
            instructions=document.instructions,
            selected_section_ids=document.selected_section_ids,
            regenerate_section_ids=section_ids,
            section_instructions=section_instructions,
            stale_sections=list(stale_sections),
            outline=document.outline,
            outline_snapshot_id=document.outline_snapshot_id,
            sections_total=len(section_ids),
        )
        GeneratedDocumentSource.objects.bulk_create(
            GeneratedDocumentSource(
                document=new,
                version_id=versions[k] if versions is not None else link.version_id,
                position=link.position,
            )
            for k, link in enumerate(links)
        )
        audit_record(
            organization_id=document.organization_id,
            actor=user,
            action="regenerate",
            object_type="document",
            object_id=new.id,
            details={
                "previous_version": str(document.id),
                "version": new.version,
                "origin": origin,
                "section_ids": section_ids,
                "review": str(review.id) if review else None,
            },
        )
        enqueue_on_commit(new)
    raise_if_enqueue_failed(new)
    return new


def generation_regenerate(
    *,
    user: Any,
    document: GeneratedDocument,
    section_ids: Any = None,
    instructions: str = "",
    stale: bool = False,
    overwrite_edited: bool = False,
) -> GeneratedDocument:
    """A new version in which only the chosen sections (or, with ``stale``, the stale ones, from
    the newest source versions) are written again; the rest is carried over unchanged.

    A section people edited is refused (``section_edited``) unless ``overwrite_edited``; among
    stale sections it is left as it is (and stays listed as stale).
    """
    _require_complete(document)
    instructions = clean_text(instructions or "").strip()
    edited = set() if overwrite_edited else edited_section_ids(document)
    if stale:
        if section_ids not in (None, "", []):
            raise InvalidInput.about(
                "section_ids", "give either section_ids or stale: true, not both."
            )
        return _regenerate_stale(
            user=user, document=document, instructions=instructions, edited=edited
        )
    ids = normalise_selected(section_ids)
    if not ids:
        raise InvalidInput.about("section_ids", "give at least one section id.")
    sections = (document.outline or {}).get("sections", [])
    known = {s["section_id"]: s for s in sections}
    unknown = [s for s in ids if s not in known]
    if unknown:
        raise InvalidInput.about(
            "section_ids",
            "unknown section ids " + ", ".join(repr(u[:60]) for u in unknown) + ".",
        )
    protected = [s for s in ids if s in edited]
    if protected:
        names = ", ".join(
            f"{known[s].get('number', '')} {known[s].get('title', '')}".strip() for s in protected
        )
        raise InvalidInput.about(
            "section_ids",
            f"people edited {names}; it is kept as they wrote it. Send overwrite_edited: true "
            "to write it again from the sources.",
            code="section_edited",
        )
    ids = list(dict.fromkeys(ids))
    return _written_again(
        user=user,
        document=document,
        ids=ids,
        instructions=instructions,
        origin=Origin.REGENERATE,
        stale_sections=[s for s in document.stale_sections if s not in ids],
    )


def _written_again(
    *,
    user: Any,
    document: GeneratedDocument,
    ids: list[str],
    instructions: str,
    origin: str,
    stale_sections: list[str],
    source_version_ids: list[Any] | None = None,
) -> GeneratedDocument:
    """The new version that writes ``ids`` again (with ``instructions``), carrying the edits of
    the latest reviewed copy."""
    review = latest_review(document)
    return version_create(
        user=user,
        document=document,
        section_ids=ids,
        section_instructions={s: instructions for s in ids} if instructions else {},
        origin=origin,
        review=review if review is not None and review.edited_sections else None,
        stale_sections=stale_sections,
        source_version_ids=source_version_ids,
    )


def _regenerate_stale(
    *, user: Any, document: GeneratedDocument, instructions: str, edited: set[str]
) -> GeneratedDocument:
    stale = list(document.stale_sections or [])
    if not stale:
        raise InvalidInput.about(
            "stale",
            "no section of this document is stale: its sources have no newer version that "
            "changes the text it cites.",
            code="no_stale_sections",
        )
    ids = [s for s in stale if s not in edited]
    if not ids:
        raise InvalidInput.about(
            "stale",
            "every stale section was edited by people and is kept as they wrote it; send "
            "overwrite_edited: true to write them again from the new sources.",
            code="section_edited",
        )
    newest = []
    for link in document.source_links.select_related("version__source_file").order_by("position"):
        latest = link.version.source_file.versions.order_by("-version").first()
        newest.append(latest.pk if latest is not None else link.version_id)
    return _written_again(
        user=user,
        document=document,
        ids=ids,
        instructions=instructions,
        origin=Origin.STALE,
        stale_sections=[s for s in stale if s not in ids],
        source_version_ids=newest,
    )
