"""A reviewed copy uploaded back: read its comments and people's edits, and make the next version
(docs/api.md, "The review cycle": ``POST /api/v1/documents/{id}/review`` and the document page's
form).

1. The file is checked like any upload (size, a real .docx, the zip pre-check) and read in the
   limited child process (``pipeline/limited.run_limited``; ``review/reader.py``): the web process
   never parses it itself.
2. Its custom properties name the version it was made from: none → ``not_a_folio_draft``;
   another document's, or another organization's → ``wrong_document`` (which of the two is not
   said). The document in the path may be any version of the same document.
3. Each section (found by its heading bookmark) is compared with the same section of the file
   Folio wrote for that version (``review/match.py``; with its twin when the file is gone):
   changed text marks it ``edited``; reviewers' comments in it (never Folio's own) become its
   instructions.
4. The answer lists every section with comments or edits: its comments (each acted on by the
   built-in writer, passed to the LLM writer, or left for a person), whether it is edited, and
   whether it will be regenerated. Unless ``regenerate`` is false, a new version is queued in
   which exactly the commented sections are written again (edited ones only with
   ``overwrite_edited``); every other section, the edited ones included, is carried over.

The review (its answer, the edited sections as sent back, their WordprocessingML) is kept as a
``DocumentReview``; a later regeneration of the same version carries those edits too.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docx
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from documents.models import DocumentReview, GeneratedDocument
from documents.pipeline.docx_identity import DOCUMENT_ID, section_hex
from documents.pipeline.errors import GenerationError
from documents.pipeline.revise import understood
from documents.pipeline_input import limits_from_settings
from documents.review import match
from documents.review.reader import ReadSection, ReviewedCopy, read_document, read_reviewed_copy
from documents.selectors import document_versions, organization_for
from documents.services.generation import raise_if_enqueue_failed
from documents.services.uploads import clean_text
from documents.services.versions import edited_section_ids, version_create
from portal.audit import audit_record
from portal.errors import Conflict, FileTooLarge, InvalidInput

logger = logging.getLogger(__name__)
NOT_A_FOLIO_DRAFT = "not_a_folio_draft"
WRONG_DOCUMENT = "wrong_document"
UNREADABLE = "unreadable_document"


@dataclass
class ReviewOutcome:
    review: DocumentReview
    new_version: GeneratedDocument | None
    sections: list[dict[str, Any]] = field(default_factory=list)
    comments_outside_sections: list[dict[str, str]] = field(default_factory=list)
    sections_not_found: list[dict[str, str]] = field(default_factory=list)


def _refuse(text: str, code: str) -> InvalidInput:
    return InvalidInput.saying(text, field="file", code=code)


def _read_bytes(uploaded_file: Any, label: str) -> bytes:
    limit = settings.FOLIO_MAX_UPLOAD_MB * 1024 * 1024
    size = getattr(uploaded_file, "size", None)
    too_large = FileTooLarge.saying(
        f"{label}: the file is larger than the {settings.FOLIO_MAX_UPLOAD_MB} MB limit.",
        field="file",
    )
    if isinstance(size, int) and size > limit:
        raise too_large
    chunks, total = [], 0
    for chunk in uploaded_file.chunks():
        total += len(chunk)
        if total > limit:
            raise too_large
        chunks.append(chunk)
    data = b"".join(chunks)
    if not data:
        raise _refuse(f"{label}: the file is empty.", UNREADABLE)
    return data


def _read_copy(data: bytes, label: str) -> ReviewedCopy:
    from documents.pipeline import limited, safety

    limits = limits_from_settings()
    with tempfile.TemporaryDirectory(prefix="folio-review-") as tmp:
        path = Path(tmp) / "reviewed.docx"
        path.write_bytes(data)
        try:
            kind = safety.detect_file_type(data[:8192], "reviewed.docx")
        except GenerationError:
            kind = None
        if kind != "docx":
            raise _refuse(
                f"{label} is not a Word (.docx) document; upload the reviewed .docx itself.",
                UNREADABLE,
            )
        try:
            safety.check_ooxml_zip(str(path), file_name=label, kind="docx", limits=limits)
            return limited.run_limited(
                read_reviewed_copy,
                str(path),
                timeout=limits.extract_timeout,
                memory_mb=limits.extract_memory_mb,
                file_name=label,
            )
        except GenerationError as exc:
            raise _refuse(
                f"{label} cannot be read as a Word document: {exc.message}", UNREADABLE
            ) from exc


def _named_version(
    copy: ReviewedCopy, document: GeneratedDocument, label: str
) -> GeneratedDocument:
    named = (copy.properties.get(DOCUMENT_ID) or "").strip()
    if not named:
        raise _refuse(
            f"{label} is not a Folio draft: it has none of the document properties Folio writes "
            "into every draft (folio_document_id). Upload a copy of a .docx downloaded from "
            "Folio.",
            NOT_A_FOLIO_DRAFT,
        )
    try:
        named_id = uuid.UUID(named)
    except ValueError:
        named_id = None
    versions = {v.pk: v for v in document_versions(document)}
    version = versions.get(named_id) if named_id is not None else None
    if version is None or version.organization_id != document.organization_id:
        raise _refuse(
            f"{label} is a draft of another document, not of {document.output_name!r}; upload "
            "it to the document it was downloaded from.",
            WRONG_DOCUMENT,
        )
    if version.status != GeneratedDocument.Status.COMPLETE or not version.twin:
        raise Conflict.saying(
            f"Version {version.version} of {document.output_name!r} is not complete; a copy of "
            "it cannot be reviewed."
        )
    return version


def _original_sections(version: GeneratedDocument) -> dict[str, ReadSection]:
    """The sections of the file Folio wrote for ``version``, read like the reviewed copy (its own
    output, so read in this process); empty when the file is gone (the twin is used then)."""
    if not version.output_key:
        return {}
    try:
        with default_storage.open(version.output_key, "rb") as fh:
            copy = read_document(docx.Document(fh))
    except Exception:
        logger.warning(
            "The .docx of version %s is not readable; comparing with the twin", version.pk
        )
        return {}
    return {s.hex: s for s in copy.sections}


def _comment_status(
    text: str, *, regenerated: bool, regenerate: bool, writer: str, edited: bool
) -> dict[str, Any]:
    found = understood(text)
    if not regenerate:
        return {"status": "not_regenerated", "understood": found}
    if not regenerated:
        note = (
            "people edited this section; it is kept as they wrote it"
            if edited
            else "this section is not regenerated"
        )
        return {"status": "left_for_person", "understood": found, "note": note}
    if writer == "llm":
        return {"status": "passed_to_llm_writer", "understood": found}
    if found:
        return {"status": "acted_on", "understood": found}
    return {
        "status": "left_for_person",
        "understood": [],
        "note": "the built-in writer understands terms to use or avoid, subjects to leave out, "
        "brevity, detail and tense; this comment asks for something else",
    }


def review_options(data: Any) -> dict[str, Any]:
    """``review_upload``'s options from a validated form or serializer (``file``,
    ``regenerate``, ``overwrite_edited``, ``instructions``)."""
    return {
        "uploaded_file": data["file"],
        "regenerate": data["regenerate"],
        "overwrite_edited": data["overwrite_edited"],
        "instructions": data["instructions"],
    }


def review_upload(
    *,
    user: Any,
    document: GeneratedDocument,
    uploaded_file: Any,
    regenerate: bool = True,
    overwrite_edited: bool = False,
    instructions: str = "",
) -> ReviewOutcome:
    """Read a reviewed copy of ``document`` and queue the version it asks for (module
    docstring). Raises ``InvalidInput`` (``not_a_folio_draft``, ``wrong_document``,
    ``unreadable_document``), ``FileTooLarge`` or ``Conflict``; nothing changes then."""
    organization = organization_for(user)
    label = Path(getattr(uploaded_file, "name", "") or "the file").name[:200] or "the file"
    instructions = clean_text(instructions or "").strip()
    data = _read_bytes(uploaded_file, label)
    copy = _read_copy(data, label)
    base = _named_version(copy, document, label)
    twin_sections = base.twin.get("sections", [])
    by_hex = match.sections_by_hex(twin_sections)
    read_by_hex = {s.hex: s for s in copy.sections}

    comments: dict[str, list[dict[str, str]]] = {}
    outside: list[dict[str, str]] = []
    for c in copy.comments:
        target = by_hex.get(c.section_hex) if c.section_hex else None
        item = {"author": clean_text(c.author), "text": clean_text(c.text)}
        if target is None:
            outside.append(item)
        else:
            comments.setdefault(target["section_id"], []).append(item)

    edited_now: dict[str, dict[str, Any]] = {}
    carried: dict[str, list[str]] = {}
    original = _original_sections(base)
    for hex_, read in read_by_hex.items():
        section = by_hex.get(hex_)
        if section is None or (section.get("state") == "skipped" and not read.items):
            continue
        if match.is_edited(read, section, original.get(hex_)):
            edited_now[section["section_id"]] = clean_text(match.edited_section(read, section))
            carried[section["section_id"]] = list(read.xml)
    edited_before = edited_section_ids(base)
    protected = set() if overwrite_edited else (set(edited_now) | edited_before)
    to_regenerate = [
        s["section_id"]
        for s in twin_sections
        if s["section_id"] in comments and s["section_id"] not in protected
    ]
    if not regenerate:
        to_regenerate = []

    answer = []
    for s in twin_sections:
        sid = s["section_id"]
        if sid not in comments and sid not in edited_now:
            continue
        is_edited = sid in edited_now or sid in edited_before
        answer.append(
            {
                "section_id": sid,
                "number": s.get("number", ""),
                "title": s.get("title", ""),
                "comments": [
                    {
                        **c,
                        **_comment_status(
                            c["text"],
                            regenerated=sid in to_regenerate,
                            regenerate=regenerate,
                            writer=base.writer,
                            edited=is_edited,
                        ),
                    }
                    for c in comments.get(sid, [])
                ],
                "edited": is_edited,
                "regenerate": sid in to_regenerate,
            }
        )
    not_found = [
        {"section_id": s["section_id"], "number": s.get("number", ""), "title": s.get("title", "")}
        for s in twin_sections
        if s.get("state") != "skipped" and section_hex(s["section_id"]) not in read_by_hex
    ]

    section_instructions = {}
    for sid in to_regenerate:
        texts = [c["text"] for c in comments.get(sid, [])]
        if instructions:
            texts.append(instructions)
        section_instructions[sid] = "\n".join(texts)

    review_id = uuid.uuid4()
    key = default_storage.save(
        f"{organization.id}/reviews/{review_id}.docx", ContentFile(data, name="reviewed.docx")
    )
    try:
        with transaction.atomic():
            review = DocumentReview.objects.create(
                id=review_id,
                organization=organization,
                document=base,
                uploaded_by=user,
                file_name=label,
                storage_key=key,
                sha256=_sha256(data),
                size=len(data),
                instructions=instructions,
                regenerate=regenerate,
                overwrite_edited=overwrite_edited,
                sections=answer,
                comments_outside_sections=outside,
                edited_sections=edited_now,
                carried_xml=carried,
            )
            audit_record(
                organization_id=organization.id,
                actor=user,
                action="review_upload",
                object_type="document",
                object_id=base.id,
                details={
                    "review": str(review.id),
                    "file_name": label,
                    "comments": sum(len(v) for v in comments.values()) + len(outside),
                    "edited": sorted(edited_now),
                    "regenerate": to_regenerate,
                },
            )
            new = None
            if to_regenerate:
                new = version_create(
                    user=user,
                    document=base,
                    section_ids=to_regenerate,
                    section_instructions=section_instructions,
                    origin=GeneratedDocument.Origin.REVIEW,
                    review=review,
                    stale_sections=[s for s in base.stale_sections if s not in to_regenerate],
                )
    except Exception:
        default_storage.delete(key)
        raise
    if new is not None:
        raise_if_enqueue_failed(new)
    return ReviewOutcome(
        review=review,
        new_version=new,
        sections=answer,
        comments_outside_sections=outside,
        sections_not_found=not_found,
    )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
