"""The generated .docx and its copies as HTTP downloads, written once for the API and the portal.

``document_download_response`` answers a complete document's file (and records the download in
the audit log); a document that is not complete is a ``Conflict`` (409; the portal shows its
"not ready" page instead), and a file missing from storage is a 404.

What is downloaded (CONTRACT §9, docs/api.md "Downloads"):

- ``copy="clean"`` (the default): the copy for circulation, no highlights, comments or QC report;
- ``copy="review"``: the file the job stored (rewritten sentences marked, source sentences as
  comments, the QC report as an appendix);
- ``part="qc"`` / ``part="sources"``: the QC report, the list of sources, each its own .docx;
- ``redline=True``: the stored tracked-changes copy against the previous version (review-style).

Copies are **made on request** from the stored review copy (the redline: the stored redline) and
the twin (``pipeline/copies.py``), so a section marked not applicable afterwards shows as such in
every copy and in the redline without a regeneration (in the redline its "Not applicable:
<reason>" paragraph replaces the section's marked body unmarked: the state is the document's now,
not a difference between the two versions). Each made file is kept in storage under a key derived
from the document, the stored file, the twin's section states and the kind of copy
(``<org>/output/copies/<document>-<digest>.docx``): the next identical download is the stored
file, and a change of state makes a new key.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from pathlib import Path
from typing import Any

import docx
from django.core.files import File
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404

from documents import services
from documents.models import GeneratedDocument
from documents.pipeline import copies
from portal.errors import Conflict, InvalidInput, NotFound

logger = logging.getLogger(__name__)

DOCX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
COPIES = ("clean", "review")
PARTS = ("qc", "sources")
# Bump when ``pipeline/copies.py`` makes different files from the same input (drops the cache).
COPIES_VERSION = 1


def not_applicable_sections(document: GeneratedDocument) -> dict[str, str]:
    """Section id → reason for the twin's sections a person marked not applicable."""
    sections = (document.twin or {}).get("sections") or []
    return {
        str(s.get("section_id")): str(s.get("reason") or "")
        for s in sections
        if isinstance(s, dict) and s.get("state") == "not_applicable"
    }


def _stored_key(document: GeneratedDocument, kind: str) -> str:
    """The stored file a copy is made from: the redline for the redline, else the review copy."""
    return document.redline_key if kind == "redline" else document.output_key


def _cache_key(document: GeneratedDocument, kind: str) -> str:
    state = {
        "file": _stored_key(document, kind),
        "kind": kind,
        "not_applicable": sorted(not_applicable_sections(document).items()),
        "version": COPIES_VERSION,
    }
    digest = hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:24]
    return f"{document.organization_id}/output/copies/{document.id}-{digest}.docx"


def _make(document: GeneratedDocument, kind: str, target: Path) -> None:
    try:
        with default_storage.open(_stored_key(document, kind), "rb") as fh:
            copy = docx.Document(fh)
    except Exception as exc:  # any storage backend's "not there"
        raise Http404("The generated file is missing from storage.") from exc
    marked = not_applicable_sections(document)
    if marked:
        copies.apply_section_states(copy, marked)
        copies.replace_qc(copy, dict((document.twin or {}).get("qc") or document.qc or {}))
    if kind == "clean":
        copies.make_clean(copy)
    elif kind in PARTS:
        label = "Quality control report" if kind == "qc" else "List of sources and references"
        copies.cut_part(copy, kind, title=f"{document.output_name}: {label}")
    copy.save(str(target))


def copy_key(document: GeneratedDocument, kind: str) -> str:
    """The storage key of ``kind`` (a copy, a part or ``"redline"``) of ``document``, made when
    missing. The review copy and the redline with no section marked are the stored files."""
    if kind in ("review", "redline") and not not_applicable_sections(document):
        return _stored_key(document, kind)
    key = _cache_key(document, kind)
    if default_storage.exists(key):
        return key
    with tempfile.TemporaryDirectory(prefix="folio-copy-") as tmp:
        target = Path(tmp) / "copy.docx"
        _make(document, kind, target)
        with target.open("rb") as fh:
            saved = default_storage.save(key, File(fh, name=target.name))
    if saved != key:  # another request made it meanwhile: keep one
        try:
            default_storage.delete(saved)
        except Exception:  # pragma: no cover - a leftover copy is only disk space
            logger.warning("Could not remove duplicate copy %s", saved)
    return key


def download_params(params: Any) -> tuple[bool, str, str | None]:
    """(redline, copy, part) from a request's query parameters; 400 ``invalid_input`` naming
    the parameter for a value it does not know."""
    redline = str(params.get("redline", "")).strip().lower()
    if redline not in ("", "false", "0", "true", "1"):
        raise InvalidInput.about("redline", "must be true or false.")
    copy = str(params.get("copy", "") or "clean").strip().lower()
    if copy not in COPIES:
        raise InvalidInput.about("copy", "must be clean or review.")
    part = str(params.get("part", "")).strip().lower() or None
    if part is not None and part not in PARTS:
        raise InvalidInput.about("part", "must be qc or sources.")
    return redline in ("true", "1"), copy, part


def _filename(document: GeneratedDocument, kind: str) -> str:
    suffix = {"clean": "", "review": "-review", "qc": "-qc-report", "sources": "-sources"}[kind]
    return f"{document.output_name}{suffix}.docx"


def document_download_response(
    *,
    user: Any,
    document: GeneratedDocument,
    redline: bool = False,
    copy: str = "clean",
    part: str | None = None,
) -> FileResponse:
    """The requested copy or part (module docstring), or with ``redline`` the differences from
    the previous version as tracked changes (``<output_name>-redline-v<N>.docx``; 404
    ``no_previous_version`` for a first draft)."""
    if document.status != GeneratedDocument.Status.COMPLETE or not document.output_key:
        raise Conflict.saying(f"The document is not complete (status {document.status}).")
    kind = part or copy
    if redline:
        if document.previous_version_id is None or not document.redline_key:
            raise NotFound.saying(
                "This is a first draft: there is no previous version to compare it with.",
                code="no_previous_version",
            )
        kind = "redline"
        key = copy_key(document, kind)
        filename = f"{document.output_name}-redline-v{document.version}.docx"
    else:
        key = copy_key(document, kind)
        filename = _filename(document, kind)
    try:
        handle = default_storage.open(key, "rb")
    except Exception as exc:  # any storage backend's "not there"
        raise Http404("The generated file is missing from storage.") from exc
    services.document_download_record(user=user, document=document, redline=redline, kind=kind)
    return FileResponse(
        handle, as_attachment=True, filename=filename, content_type=DOCX_CONTENT_TYPE
    )
