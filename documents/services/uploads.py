"""Uploads: a source file stored as a new version, checked for what it really is.

``file_upload`` stores ``<organization_id>/<container>/v<N>/<name>`` (never overwritten) after
checking the name, the extension, the size and the content (a PDF, a Word or an Excel file, and
no zip bomb), and records it in the audit log. The same bytes uploaded again to the same path
are not a new version (the newest one is answered); a real new version queues the check for
documents it makes stale. ``clean_text`` and ``safe_file_name`` clean what
users type before it is stored.
"""

from __future__ import annotations

import hashlib
import logging
import re
import tempfile
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Max

from documents import filestore
from documents.exceptions import QuotaExceeded, StorageUnavailable
from documents.models import (
    DocumentSet,
    SourceFile,
    SourceFileVersion,
)
from documents.pipeline.errors import ERROR_MESSAGES, GenerationError
from documents.pipeline.safety import FILE_TYPES
from documents.pipeline_input import limits_from_settings
from documents.selectors import organization_for, organization_storage_usage
from portal.audit import audit_record
from portal.errors import (
    Conflict,
    FileTooLarge,
    InvalidInput,
    UnsupportedFileType,
)

logger = logging.getLogger(__name__)

ALLOWED_EXTENSIONS = FILE_TYPES
CONTAINER_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
# File systems limit a name to 255 bytes, not characters (90 "€" are 270 bytes): names are
# limited in UTF-8 bytes, leaving room for the version folder and a storage suffix.
MAX_NAME_BYTES = 200


def clean_text(value: Any) -> Any:
    """Remove characters no .docx or PostgreSQL can hold (NUL, controls, lone surrogates, U+FFFE),
    recursively through lists and dicts; other values pass through."""
    from documents.pipeline.safety import sanitize_text

    if isinstance(value, str):
        return sanitize_text(value)
    if isinstance(value, list):
        return [clean_text(v) for v in value]
    if isinstance(value, dict):
        return {clean_text(k): clean_text(v) for k, v in value.items()}
    return value


def safe_file_name(raw: str, *, field: str = "file_name") -> str:
    """Reduce a client-supplied name to a safe base name (no folders, no control characters).

    Raises ``InvalidInput`` (``file_name_too_long``) for a name over ``MAX_NAME_BYTES`` bytes.
    """
    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r"[<>:\"|?*]", "_", name).strip().strip(".")
    size = len(name.encode("utf-8"))
    if size > MAX_NAME_BYTES:
        raise InvalidInput.about(
            field,
            f"{name[:60]!r}... is {size} bytes long in UTF-8; names are limited to "
            f"{MAX_NAME_BYTES} bytes.",
            code="file_name_too_long",
        )
    return name


def _sniff_type(path: Path, file_name: str, ext_type: str) -> None:
    """Check that the content is what the extension says (the Content-Type header is ignored)."""
    from documents.pipeline import safety

    try:
        detected = safety.detect_file_type(path.read_bytes()[:8192], file_name)
    except GenerationError as exc:
        raise InvalidInput.saying(exc.message, field="file_content", code=exc.code) from exc
    if detected != ext_type:
        raise InvalidInput.saying(
            f"{file_name}: the content is not a {ext_type.upper()} file.",
            field="file_content",
            code="invalid_file_type",
        )
    if ext_type in {"docx", "xlsx"}:
        try:
            safety.check_ooxml_zip(
                str(path), file_name=file_name, kind=ext_type, limits=limits_from_settings()
            )
        except GenerationError as exc:
            raise InvalidInput.saying(exc.message, field="file_content", code=exc.code) from exc


@transaction.atomic
def _record_version(
    *,
    organization: Any,
    user: Any,
    container: str,
    name: str,
    file_type: str,
    document_set: DocumentSet | None,
    storage_key: str,
    sha256: str,
    size: int,
    version: int,
) -> SourceFileVersion:
    file_path = f"{organization.id}/{container}/{name}"
    source_file, _ = SourceFile.objects.select_for_update().get_or_create(
        organization=organization,
        container=container,
        name=name,
        defaults={"file_path": file_path, "file_type": file_type, "document_set": document_set},
    )
    if source_file.file_type != file_type or (document_set and not source_file.document_set_id):
        source_file.file_type = file_type
        source_file.document_set = source_file.document_set or document_set
        source_file.save(update_fields=["file_type", "document_set"])
    return SourceFileVersion.objects.create(
        source_file=source_file,
        version=version,
        storage_key=storage_key,
        sha256=sha256,
        size=size,
        file_type=file_type,
        uploaded_by=user if getattr(user, "pk", None) else None,
    )


def _check_quota(organization: Any, name: str, size: int) -> None:
    """413 ``quota_exceeded`` when storing ``size`` more bytes passes the organization's quota.

    Two uploads at the same moment may both fit alone and pass it together by at most one
    file: the quota bounds growth, it is not a transaction.
    """
    usage = organization_storage_usage(organization)
    quota = usage["quota_bytes"]
    used = int(usage["usage_bytes"] or 0)
    if quota is not None and used + size > quota:
        raise QuotaExceeded(name, size=size, usage=used, quota=quota)


def file_upload(
    *,
    user: Any,
    uploaded_file: Any,
    file_name: str | None = None,
    container: str = "documents",
    document_set: DocumentSet | None = None,
) -> SourceFileVersion:
    """Store one upload as a new version of ``<org>/<container>/<name>`` and return the version."""
    organization = organization_for(user)
    container = (container or "documents").strip()
    if not CONTAINER_RE.match(container):
        raise InvalidInput.about(
            "container",
            f"{container!r} is not a valid container name "
            "(lower-case letters, digits, '-' and '_').",
        )
    original = getattr(uploaded_file, "name", "") or ""
    name = safe_file_name(file_name or original)
    if not name:
        raise InvalidInput.about(
            "file_name", "the file name is empty after removing unsafe characters."
        )
    ext = Path(name).suffix.lower()
    if ext not in ALLOWED_EXTENSIONS:
        raise UnsupportedFileType.saying(
            f"{name}: files of type {ext or '(none)'} are not accepted; "
            "upload a PDF, Word (.docx), Excel (.xlsx), RTF (.rtf) or text (.txt, .out) file.",
            field="file_content",
        )
    file_type = ALLOWED_EXTENSIONS[ext]
    limit = settings.FOLIO_MAX_UPLOAD_MB * 1024 * 1024
    declared = getattr(uploaded_file, "size", None)
    if declared is not None and declared > limit:
        raise FileTooLarge.saying(
            f"{name}: the file is larger than the {settings.FOLIO_MAX_UPLOAD_MB} MB limit.",
            field="file_content",
        )

    with tempfile.TemporaryDirectory(prefix="folio-upload-") as tmp:
        tmp_path = Path(tmp) / "upload"
        digest = hashlib.sha256()
        size = 0
        try:
            with tmp_path.open("wb") as out:
                for chunk in uploaded_file.chunks():
                    size += len(chunk)
                    if size > limit:
                        raise FileTooLarge.saying(
                            f"{name}: the file is larger than the "
                            f"{settings.FOLIO_MAX_UPLOAD_MB} MB limit.",
                            field="file_content",
                        )
                    digest.update(chunk)
                    out.write(chunk)
        except OSError as exc:  # the temporary folder is full
            raise StorageUnavailable(f"{name}: {ERROR_MESSAGES['storage_unavailable']}") from exc
        if size == 0:
            raise InvalidInput.saying(
                f"{name}: the file is empty.", field="file_content", code="empty_file"
            )
        _sniff_type(tmp_path, name, file_type)
        sha256 = digest.hexdigest()
        unchanged = _same_as_latest(organization, container, name, sha256)
        if unchanged is not None:
            # The same bytes to the same path are not a new version: nothing is stored, so no
            # document made from it becomes stale.
            audit_record(
                organization_id=organization.id,
                actor=user,
                action="upload",
                object_type="file",
                object_id=unchanged.source_file.file_path,
                details={"version": unchanged.version, "sha256": sha256, "unchanged": True},
            )
            unchanged.created = False  # type: ignore[attr-defined]
            return unchanged
        _check_quota(organization, name, size)

        for _attempt in range(5):
            existing = SourceFile.objects.filter(
                organization=organization, container=container, name=name
            ).first()
            next_version = 1
            if existing is not None:
                next_version = (existing.versions.aggregate(m=Max("version"))["m"] or 0) + 1
            wanted_key = f"{organization.id}/{container}/v{next_version}/{name}"
            try:
                stored_key = filestore.save_file(wanted_key, tmp_path, name)
            except filestore.StorageUnavailableError as exc:
                raise StorageUnavailable(
                    f"{name}: {ERROR_MESSAGES['storage_unavailable']}"
                ) from exc
            try:
                version = _record_version(
                    organization=organization,
                    user=user,
                    container=container,
                    name=name,
                    file_type=file_type,
                    document_set=document_set,
                    storage_key=stored_key,
                    sha256=sha256,
                    size=size,
                    version=next_version,
                )
                break
            except IntegrityError:
                # A concurrent upload took this version number: drop our copy and retry.
                default_storage.delete(stored_key)
        else:  # pragma: no cover - needs five concurrent uploads of one name
            raise Conflict.saying(f"{name}: too many concurrent uploads of this file; try again.")

    audit_record(
        organization_id=organization.id,
        actor=user,
        action="upload",
        object_type="file",
        object_id=version.source_file.file_path,
        details={"version": version.version, "sha256": sha256, "size": size},
    )
    version.created = True  # type: ignore[attr-defined]
    if version.version > 1:
        _on_commit_new_version(version)
    return version


def _same_as_latest(
    organization: Any, container: str, name: str, sha256: str
) -> SourceFileVersion | None:
    """The newest version of ``<container>/<name>`` when it holds exactly these bytes."""
    latest = (
        SourceFileVersion.objects.filter(
            source_file__organization=organization,
            source_file__container=container,
            source_file__name=name,
        )
        .select_related("source_file")
        .order_by("-version")
        .first()
    )
    return latest if latest is not None and latest.sha256 == sha256 else None


def _on_commit_new_version(version: SourceFileVersion) -> None:
    """A new version of a file may make documents made from an older one stale: look for them
    in a worker once the upload is committed (documents/services/staleness.py)."""
    from documents.services.staleness import staleness_check_queue

    transaction.on_commit(lambda: staleness_check_queue(version_id=str(version.id)))


def uploads_for_files(
    *, user: Any, uploaded_files: Iterable[Any], document_set: DocumentSet | None = None
) -> list[SourceFileVersion]:
    """Upload several files at once (portal form); stops at the first bad file."""
    return [
        file_upload(user=user, uploaded_file=f, document_set=document_set) for f in uploaded_files
    ]
