"""Every write of the documents app: uploads, document sets, generation, cancel, regenerate.

Keyword-only, typed functions; the DRF views and the portal views call the same ones. Input that a
user can get wrong raises a ``documents.exceptions.ServiceError`` subclass with a message that names
the offending value; a reference to another organization's object is reported exactly like a
reference to nothing (CONTRACT §2).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import tempfile
import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from documents import queue
from documents.exceptions import (
    Conflict,
    FileTooLarge,
    InvalidInput,
    QueueUnavailable,
    TooManyRequests,
    UnsupportedFileType,
)
from documents.models import (
    AuditEvent,
    DocumentSet,
    GeneratedDocument,
    GeneratedDocumentSource,
    OutlineSnapshot,
    SourceFile,
    SourceFileVersion,
)
from documents.pipeline.errors import ERROR_MESSAGES, GenerationError
from documents.selectors import organization_for
from portal.models import Organization

logger = logging.getLogger(__name__)

ALLOWED_EXTENSIONS = {".pdf": "pdf", ".docx": "docx", ".xlsx": "xlsx"}
CONTAINER_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
# File systems limit a name to 255 bytes, not characters (90 "€" are 270 bytes): names are
# limited in UTF-8 bytes, leaving room for the version folder and a storage suffix.
MAX_NAME_BYTES = 200
IDEMPOTENCY_KEY_MAX = 200  # GeneratedDocument.idempotency_key


# --- audit ----------------------------------------------------------------------------------------


def audit_record(
    *,
    organization_id: Any,
    actor: Any,
    action: str,
    object_type: str,
    object_id: Any,
    details: dict[str, Any] | None = None,
) -> None:
    AuditEvent.objects.create(
        organization_id=organization_id,
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        details=details or {},
    )


# --- files ----------------------------------------------------------------------------------------


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


def safe_file_name(raw: str) -> str:
    """Reduce a client-supplied name to a safe base name (no folders, no control characters).

    Raises ``InvalidInput`` (``file_name_too_long``) for a name over ``MAX_NAME_BYTES`` bytes.
    """
    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r"[<>:\"|?*]", "_", name).strip().strip(".")
    size = len(name.encode("utf-8"))
    if size > MAX_NAME_BYTES:
        raise InvalidInput(
            f"file_name: {name[:60]!r}... is {size} bytes long in UTF-8; "
            f"names are limited to {MAX_NAME_BYTES} bytes.",
            field="file_name",
            code="file_name_too_long",
        )
    return name


def _sniff_type(path: Path, file_name: str, ext_type: str) -> None:
    """Check that the content is what the extension says (the Content-Type header is ignored)."""
    from documents.pipeline import safety

    try:
        detected = safety.detect_file_type(path.read_bytes()[:8192], file_name)
    except GenerationError as exc:
        raise InvalidInput(exc.message, field="file_content", code=exc.code) from exc
    if detected != ext_type:
        raise InvalidInput(
            f"{file_name}: the content is not a {ext_type.upper()} file.",
            field="file_content",
            code="invalid_file_type",
        )
    if ext_type in {"docx", "xlsx"}:
        try:
            safety.check_ooxml_zip(str(path), file_name=file_name, kind=ext_type)
        except GenerationError as exc:
            raise InvalidInput(exc.message, field="file_content", code=exc.code) from exc


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
        raise InvalidInput(
            f"container: {container!r} is not a valid container name "
            "(lower-case letters, digits, '-' and '_').",
            field="container",
        )
    original = getattr(uploaded_file, "name", "") or ""
    name = safe_file_name(file_name or original)
    if not name:
        raise InvalidInput(
            "file_name: the file name is empty after removing unsafe characters.", field="file_name"
        )
    ext = Path(name).suffix.lower()
    if ext not in ALLOWED_EXTENSIONS:
        raise UnsupportedFileType(
            f"{name}: files of type {ext or '(none)'} are not accepted; "
            "upload a PDF, Word (.docx) or Excel (.xlsx) file.",
            field="file_content",
        )
    file_type = ALLOWED_EXTENSIONS[ext]
    limit = settings.FOLIO_MAX_UPLOAD_MB * 1024 * 1024
    declared = getattr(uploaded_file, "size", None)
    if declared is not None and declared > limit:
        raise FileTooLarge(
            f"{name}: the file is larger than the {settings.FOLIO_MAX_UPLOAD_MB} MB limit.",
            field="file_content",
        )

    with tempfile.TemporaryDirectory(prefix="folio-upload-") as tmp:
        tmp_path = Path(tmp) / "upload"
        digest = hashlib.sha256()
        size = 0
        with tmp_path.open("wb") as out:
            for chunk in uploaded_file.chunks():
                size += len(chunk)
                if size > limit:
                    raise FileTooLarge(
                        f"{name}: the file is larger than the "
                        f"{settings.FOLIO_MAX_UPLOAD_MB} MB limit.",
                        field="file_content",
                    )
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise InvalidInput(
                f"{name}: the file is empty.", field="file_content", code="empty_file"
            )
        _sniff_type(tmp_path, name, file_type)
        sha256 = digest.hexdigest()

        for _attempt in range(5):
            existing = SourceFile.objects.filter(
                organization=organization, container=container, name=name
            ).first()
            next_version = 1
            if existing is not None:
                next_version = (existing.versions.aggregate(m=Max("version"))["m"] or 0) + 1
            wanted_key = f"{organization.id}/{container}/v{next_version}/{name}"
            with tmp_path.open("rb") as fh:
                stored_key = default_storage.save(wanted_key, File(fh, name=name))
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
            raise Conflict(f"{name}: too many concurrent uploads of this file; try again.")

    audit_record(
        organization_id=organization.id,
        actor=user,
        action="upload",
        object_type="file",
        object_id=version.source_file.file_path,
        details={"version": version.version, "sha256": sha256, "size": size},
    )
    return version


# --- document sets --------------------------------------------------------------------------------


def document_set_create(
    *, user: Any, name: str, key: str | None = None, details: str = ""
) -> DocumentSet:
    organization = organization_for(user)
    name = (name or "").strip()
    if not name:
        raise InvalidInput("document_set_name: this field is required.", field="document_set_name")
    key = (key or "").strip() or f"set-{uuid.uuid4().hex[:12]}"
    if DocumentSet.objects.filter(organization=organization, key=key).exists():
        raise Conflict(
            f"document_set_key: a document set with key {key!r} already exists.",
            field="document_set_key",
        )
    document_set = DocumentSet.objects.create(
        organization=organization, key=key, name=name, details=details, created_by=user
    )
    return document_set


def _document_set_get_or_create(
    *, organization: Any, user: Any, key: str, name: str
) -> DocumentSet:
    document_set, _ = DocumentSet.objects.get_or_create(
        organization=organization, key=key, defaults={"name": name, "created_by": user}
    )
    return document_set


# --- generation -----------------------------------------------------------------------------------


_TRAVERSAL = re.compile(r"(^|/)\.\.?(/|$)")


def _path_problem(path: Any, org_prefix: str) -> str | None:
    """Why ``path`` cannot be a reference to one of the caller's uploads (None if it may be)."""
    if not isinstance(path, str) or not path.strip():
        return "is not a file path"
    if "\x00" in path or "\\" in path or "%" in path:
        return "contains characters that are not allowed"
    if "://" in path or path.startswith(("/", "~")) or re.match(r"^[A-Za-z]:", path):
        return "must be a file_path returned by an upload, not a URL or absolute path"
    if _TRAVERSAL.search(path):
        return "must not contain '.' or '..' segments"
    if not path.startswith(org_prefix):
        return "is not one of your uploads"
    return None


@dataclass(frozen=True)
class OutlinePlan:
    sections: list[dict[str, Any]]
    template_meta: dict[str, Any]


_SNAPSHOTS: dict[tuple[Any, Any], list[dict[str, Any]]] = {}
_SNAPSHOT_SHAS: dict[int, str] = {}  # id() of a cached snapshot list → its sha256
_SNAPSHOTS_MAX = 64


def _snapshot_template(template: Any) -> list[dict[str, Any]]:
    """The template's outline as plain data.

    On the accept path, so it is cached per process by (template id, ``updated_at``): every change
    to a template, a section or a rule moves ``updated_at`` (templates_app/signals.py). The list
    is shared: callers must not mutate it (they only serialise it).
    """
    key = (template.pk, template.updated_at)
    cached = _SNAPSHOTS.get(key)
    if cached is None:
        cached = _read_snapshot(template)
        if len(_SNAPSHOTS) >= _SNAPSHOTS_MAX:
            _SNAPSHOTS.clear()
            _SNAPSHOT_SHAS.clear()
        _SNAPSHOTS[key] = cached
        _SNAPSHOT_SHAS[id(cached)] = snapshot_sha256(cached)
    return cached


def template_outline(template: Any) -> list[dict[str, Any]]:
    """A template's outline snapshot (sections as plain data); shared, do not mutate."""
    return _snapshot_template(template)


def _read_snapshot(template: Any) -> list[dict[str, Any]]:
    from templates_app.models import Rule, TemplateSection

    rules: dict[Any, list[dict[str, Any]]] = {}
    for r in (
        Rule.objects.filter(section__template=template)
        .order_by("pk")
        .values("id", "section_id", "rule_type", "description", "parameters")
    ):
        rules.setdefault(r["section_id"], []).append(
            {
                "rule_id": str(r["id"]),
                "rule_type": r["rule_type"],
                "description": r["description"],
                "parameters": r["parameters"] or {},
            }
        )
    sections = []
    for s in (
        TemplateSection.objects.filter(template=template)
        .order_by("order_index")
        .values(
            "id",
            "order_index",
            "level",
            "number",
            "title",
            "synopsis",
            "instructions",
            "template_text",
            "hints",
        )
    ):
        sections.append(
            {
                "section_id": str(s["id"]),
                "order_index": s["order_index"],
                "level": s["level"],
                "number": s["number"],
                "title": s["title"],
                "synopsis": s["synopsis"],
                "instructions": s["instructions"],
                "template_text": s["template_text"],
                "hints": s["hints"] or {},
                "rules": rules.get(s["id"], []),
            }
        )
    return sections


_NUMBERED = re.compile(r"^\s*((?:\d+|[A-Z])(?:\.\d+)*)\.?\s+(.*)$")


def _split_section_name(name: str) -> tuple[str, str]:
    match = _NUMBERED.match(name or "")
    if match:
        return match.group(1), match.group(2).strip()
    return "", (name or "").strip()


def _outline_from_full(outline_full: Any) -> list[dict[str, Any]]:
    """Validate an Artos ``generic_mrt_outline_full`` and turn it into outline sections."""
    if not isinstance(outline_full, dict) or not isinstance(outline_full.get("sections"), list):
        raise InvalidInput(
            'generic_mrt_outline_full: must be an object {"sections": [...]}.',
            field="generic_mrt_outline_full",
        )
    raw_sections = outline_full["sections"]
    if not raw_sections:
        raise InvalidInput(
            "generic_mrt_outline_full: sections must not be empty.",
            field="generic_mrt_outline_full",
        )
    out = []
    problems = []
    for i, item in enumerate(raw_sections):
        if not isinstance(item, dict):
            problems.append(f"sections[{i}] is not an object")
            continue
        name = item.get("section_name") or item.get("title") or ""
        if not isinstance(name, str) or not name.strip():
            problems.append(f"sections[{i}] has no title or section_name")
            continue
        number, title = _split_section_name(name)
        if item.get("number"):
            number = str(item["number"]).rstrip(".")
        level = item.get("level", 1)
        if not isinstance(level, int) or not 1 <= level <= 9:
            problems.append(f"sections[{i}].level must be an integer from 1 to 9")
            continue
        section_id = str(item.get("section_id") or uuid.uuid5(uuid.NAMESPACE_URL, f"{i}:{name}"))
        out.append(
            {
                "section_id": section_id,
                "order_index": int(item.get("order_index", i))
                if str(item.get("order_index", i)).isdigit()
                else i,
                "level": level,
                "number": number,
                "title": title,
                "synopsis": str(item.get("synopsis") or ""),
                "instructions": str(
                    item.get("template_instructions") or item.get("instructions") or ""
                ),
                "template_text": str(item.get("template_text") or ""),
                "hints": item.get("hints") if isinstance(item.get("hints"), dict) else {},
                "rules": [r for r in item.get("rules", []) if isinstance(r, dict)]
                if isinstance(item.get("rules"), list)
                else [],
            }
        )
    if problems:
        raise InvalidInput(
            "generic_mrt_outline_full: " + "; ".join(problems) + ".",
            field="generic_mrt_outline_full",
        )
    ids = [s["section_id"] for s in out]
    if len(set(ids)) != len(ids):
        raise InvalidInput(
            "generic_mrt_outline_full: section ids must be unique.",
            field="generic_mrt_outline_full",
        )
    out.sort(key=lambda s: s["order_index"])
    return out


def _normalise_selected(value: Any) -> list[str]:
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        raise InvalidInput(
            "selected_section_ids: must be a list of section ids.", field="selected_section_ids"
        )
    ids = []
    for item in value:
        if isinstance(item, dict):
            item = item.get("section_id")
        if not isinstance(item, str | int) or str(item).strip() == "":
            raise InvalidInput(
                "selected_section_ids: each item must be a section id "
                "or an object with section_id.",
                field="selected_section_ids",
            )
        ids.append(str(item).strip())
    return ids


def snapshot_sha256(sections: list[dict[str, Any]]) -> str:
    return hashlib.sha256(
        json.dumps(sections, sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()


def _request_hash(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _lock_organization(organization: Any) -> None:
    """Serialise generation requests of one organization until the transaction ends.

    A row lock on PostgreSQL; SQLite has no row locks, but every transaction there begins
    IMMEDIATE (portal/settings.py), which already takes the database's write lock.
    """
    list(Organization.objects.select_for_update().filter(pk=organization.pk).values_list("pk"))


def _check_capacity(organization: Any) -> None:
    active = GeneratedDocument.objects.filter(
        organization=organization,
        status__in=[GeneratedDocument.Status.PENDING, GeneratedDocument.Status.GENERATING],
    ).count()
    if active >= settings.FOLIO_MAX_ACTIVE_JOBS_PER_ORG:
        raise TooManyRequests(
            f"Your organization already has {active} documents queued or generating "
            f"(limit {settings.FOLIO_MAX_ACTIVE_JOBS_PER_ORG}); try again when some finish.",
            retry_after=30,
        )
    queued = GeneratedDocument.objects.filter(status=GeneratedDocument.Status.PENDING).count()
    if queued >= settings.FOLIO_MAX_QUEUED_JOBS:
        raise TooManyRequests(
            "The generation queue is full; try again in a minute.", retry_after=60
        )


def generation_request(
    *,
    user: Any,
    document_type: str,
    file_paths: list[str],
    document_set_key: str,
    document_set_name: str,
    template_ref: str,
    output_name: str,
    selected_section_ids: Any = None,
    outline_full: Any = None,
    instructions: str = "",
    style_guide_ref: str | None = None,
    writer: str = "builtin",
    idempotency_key: str | None = None,
) -> GeneratedDocument:
    """Create the document row (the job's status) and queue its generation after commit.

    Raises InvalidInput naming every offending value, TooManyRequests under backpressure and
    QueueUnavailable (the row then ends Failed with ``queue_unavailable``).
    """
    from templates_app.selectors import style_guide_resolve_for_user, template_resolve_for_user

    organization = organization_for(user)
    if idempotency_key is not None and (
        len(idempotency_key) > IDEMPOTENCY_KEY_MAX
        or not idempotency_key.isascii()
        or not idempotency_key.isprintable()
    ):
        raise InvalidInput(
            f"Idempotency-Key: at most {IDEMPOTENCY_KEY_MAX} printable ASCII characters "
            f"(got {len(idempotency_key)} characters).",
            field="Idempotency-Key",
            code="invalid_idempotency_key",
        )
    problems: list[str] = []
    document_type, output_name, document_set_key, document_set_name, instructions = (
        clean_text(v)
        for v in (document_type, output_name, document_set_key, document_set_name, instructions)
    )
    outline_full = clean_text(outline_full)
    # Refuse cheaply under backpressure, before any validation work (a replay of an accepted
    # Idempotency-Key is answered below, whatever the load).
    if not (
        idempotency_key
        and GeneratedDocument.objects.filter(
            organization=organization, idempotency_key=idempotency_key
        ).exists()
    ):
        _check_capacity(organization)

    document_type = (document_type or "").strip() if isinstance(document_type, str) else ""
    if not document_type:
        problems.append("document_type: this field is required.")

    output = output_name.strip() if isinstance(output_name, str) else ""
    if output.lower().endswith(".docx"):
        output = output[:-5]
    try:
        output = safe_file_name(output)
    except InvalidInput as exc:
        problems.append(exc.message.replace("file_name:", "output_name:", 1))
        output = "-"
    if not output:
        problems.append("output_name: this field is required.")

    set_key = document_set_key.strip() if isinstance(document_set_key, str) else ""
    set_name = document_set_name.strip() if isinstance(document_set_name, str) else ""
    if not set_key:
        problems.append("connector_data_id (document_set_key): this field is required.")
    if not set_name:
        problems.append("workspace_name (document_set_name): this field is required.")

    versions: list[SourceFileVersion] = []
    if not isinstance(file_paths, list) or not file_paths:
        problems.append("file_paths: must be a non-empty list of uploaded file paths.")
    elif len(file_paths) > settings.FOLIO_MAX_FILES_PER_REQUEST:
        problems.append(
            f"file_paths: at most {settings.FOLIO_MAX_FILES_PER_REQUEST} files per request, "
            f"got {len(file_paths)}."
        )
    else:
        prefix = f"{organization.id}/"
        bad: list[str] = []
        seen: set[str] = set()
        for path in file_paths:
            reason = _path_problem(path, prefix)
            if reason is None:
                source = SourceFile.objects.filter(
                    organization=organization, file_path=path
                ).first()
                latest = source.versions.order_by("-version").first() if source else None
                if latest is None:
                    reason = "is not one of your uploads"
                elif path not in seen:
                    versions.append(latest)
                    seen.add(path)
            if reason is not None:
                bad.append(f"{str(path)[:200]!r} {reason}")
        if bad:
            shown = "; ".join(bad[:10]) + (f"; and {len(bad) - 10} more" if len(bad) > 10 else "")
            problems.append("file_paths: " + shown + ".")

    template = None
    if not isinstance(template_ref, str) or not template_ref.strip():
        problems.append("template_id (generic_mrt_id): this field is required.")
    else:
        template = template_resolve_for_user(user, template_ref.strip())
        if template is None:
            problems.append(f"template_id: unknown template {template_ref.strip()[:100]!r}.")

    style_guide = None
    if style_guide_ref not in (None, ""):
        style_guide = style_guide_resolve_for_user(user, str(style_guide_ref))
        if style_guide is None:
            problems.append(f"style_guide_id: unknown style guide {str(style_guide_ref)[:100]!r}.")

    if writer not in ("builtin", "llm"):
        problems.append(f"writer: must be 'builtin' or 'llm', got {str(writer)[:40]!r}.")
    elif writer == "llm":
        if not (settings.FOLIO_LLM_BASE_URL and settings.FOLIO_LLM_MODEL):
            problems.append(
                "writer: the LLM writer is not configured on this server "
                "(FOLIO_LLM_BASE_URL, FOLIO_LLM_MODEL)."
            )
        elif not organization.llm_enabled:
            problems.append(
                "writer: your organization has not enabled the LLM writer "
                "(its text would leave this server)."
            )

    if not isinstance(instructions, str):
        problems.append("document_instructions: must be text.")
        instructions = ""

    sections: list[dict[str, Any]] = []
    try:
        selected = _normalise_selected(selected_section_ids)
    except InvalidInput as exc:
        problems.append(exc.message)
        selected = []
    if outline_full not in (None, {}):
        try:
            sections = _outline_from_full(outline_full)
        except InvalidInput as exc:
            problems.append(exc.message)
    elif template is not None:
        sections = _snapshot_template(template)
    if sections and selected:
        known = {s["section_id"] for s in sections}
        unknown = [s for s in selected if s not in known]
        if unknown:
            problems.append(
                "selected_section_ids: unknown section ids "
                + ", ".join(repr(u[:60]) for u in unknown)
                + "."
            )

    if problems:
        raise InvalidInput(" ".join(problems))

    request_hash = _request_hash(
        {
            "document_type": document_type,
            "file_paths": [v.source_file.file_path for v in versions],
            "set": [set_key, set_name],
            "template": str(template.id) if template else None,
            "output": output,
            "selected": selected,
            "outline": sections if outline_full else None,
            "instructions": instructions,
            "style_guide": str(style_guide.id) if style_guide else None,
            "writer": writer,
        }
    )
    if idempotency_key:
        previous = GeneratedDocument.objects.filter(
            organization=organization, idempotency_key=idempotency_key
        ).first()
        if previous is not None:
            if previous.request_hash != request_hash:
                raise Conflict(
                    "Idempotency-Key was already used with a different request body.",
                    code="idempotency_key_reused",
                )
            return previous

    selected_set = set(selected)
    sha = _SNAPSHOT_SHAS.get(id(sections)) or snapshot_sha256(sections)
    outline = {
        "template": {
            "template_id": str(template.id) if template else None,
            "name": template.name if template else "Custom outline",
            "snapshot_sha256": sha,
            "tense": getattr(template, "tense", "past") if template else "past",
        },
        "sections": [
            {k: s[k] for k in ("section_id", "number", "title", "level")} for s in sections
        ],
    }
    snapshot_id = _outline_snapshot_id(sha, sections)
    try:
        with transaction.atomic():
            # Count and insert under one lock: concurrent requests all counted before any was
            # inserted used to pass the limit together (docs/security.md, finding 9).
            _lock_organization(organization)
            if idempotency_key and (
                previous := GeneratedDocument.objects.filter(
                    organization=organization, idempotency_key=idempotency_key
                ).first()
            ):
                if previous.request_hash != request_hash:
                    raise Conflict(
                        "Idempotency-Key was already used with a different request body.",
                        code="idempotency_key_reused",
                    )
                return previous
            _check_capacity(organization)
            document_set = _document_set_get_or_create(
                organization=organization, user=user, key=set_key, name=set_name
            )
            document = GeneratedDocument.objects.create(
                organization=organization,
                document_set=document_set,
                outline_snapshot_id=snapshot_id,
                template=template,
                style_guide=style_guide,
                created_by=user,
                output_name=output,
                document_type=document_type,
                writer=writer,
                instructions=instructions,
                selected_section_ids=selected,
                outline=outline,
                sections_total=len(
                    [s for s in sections if not selected_set or s["section_id"] in selected_set]
                ),
                idempotency_key=idempotency_key or None,
                request_hash=request_hash,
            )
            GeneratedDocumentSource.objects.bulk_create(
                GeneratedDocumentSource(document=document, version=v, position=i)
                for i, v in enumerate(versions)
            )
            for v in versions:
                if not v.source_file.document_set_id:
                    SourceFile.objects.filter(pk=v.source_file_id).update(document_set=document_set)
            audit_record(
                organization_id=organization.id,
                actor=user,
                action="generate",
                object_type="document",
                object_id=document.id,
                details={
                    "template": outline["template"],
                    "sources": [
                        {"file_path": v.source_file.file_path, "sha256": v.sha256} for v in versions
                    ],
                    "writer": writer,
                },
            )
            _enqueue_on_commit(document)
    except IntegrityError:
        # Two requests raced with one Idempotency-Key: the other one won.
        previous = GeneratedDocument.objects.filter(
            organization=organization, idempotency_key=idempotency_key
        ).first()
        if previous is None:
            raise
        if previous.request_hash != request_hash:
            raise Conflict(
                "Idempotency-Key was already used with a different request body.",
                code="idempotency_key_reused",
            ) from None
        return previous
    _raise_if_enqueue_failed(document)
    return document


def _outline_snapshot_id(sha: str, sections: list[dict[str, Any]]) -> int:
    """The id of the shared snapshot row for this outline content, created on first use.

    Only the id is read: the content is large and already known here.
    """
    found = OutlineSnapshot.objects.filter(sha256=sha).values_list("id", flat=True).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return OutlineSnapshot.objects.create(sha256=sha, sections=sections).pk
    except IntegrityError:  # another request stored the same outline first
        return OutlineSnapshot.objects.filter(sha256=sha).values_list("id", flat=True).get()


def _enqueue_on_commit(document: GeneratedDocument) -> None:
    transaction.on_commit(partial(_enqueue_or_fail, document.pk))


_ENQUEUE_FAILED: set[str] = set()


def _enqueue_or_fail(document_id: Any) -> None:
    """Queue the job; if the queue cannot be reached, the row ends Failed (never left Pending)."""
    try:
        queue.enqueue_generation(str(document_id))
    except queue.QueueError:
        _ENQUEUE_FAILED.add(str(document_id))
        logger.warning("Queue unavailable; document %s marked failed", document_id)
        GeneratedDocument.objects.filter(
            pk=document_id, status=GeneratedDocument.Status.PENDING
        ).update(
            status=GeneratedDocument.Status.FAILED,
            error=ERROR_MESSAGES["queue_unavailable"],
            error_code="queue_unavailable",
            finished_at=timezone.now(),
        )


def _raise_if_enqueue_failed(document: GeneratedDocument) -> None:
    if str(document.id) not in _ENQUEUE_FAILED:
        return  # queued, or the enqueue waits for an outer transaction to commit
    _ENQUEUE_FAILED.discard(str(document.id))
    document.refresh_from_db(fields=["status", "error_code", "error", "finished_at"])
    if document.error_code == "queue_unavailable":
        raise QueueUnavailable(ERROR_MESSAGES["queue_unavailable"], task_id=str(document.id))


def generation_cancel(*, user: Any, document: GeneratedDocument) -> GeneratedDocument:
    """Cancel a queued or running generation; a running job stops at its next step boundary."""
    with transaction.atomic():
        row = GeneratedDocument.objects.select_for_update().get(pk=document.pk)
        if row.is_terminal:
            raise Conflict(
                f"The document has already ended ({row.status}); it cannot be cancelled."
            )
        if row.status == GeneratedDocument.Status.PENDING:
            row.status = GeneratedDocument.Status.CANCELLED
            row.error = ERROR_MESSAGES["cancelled"]
            row.error_code = "cancelled"
            row.finished_at = timezone.now()
        row.cancel_requested = True
        row.save(
            update_fields=[
                "status",
                "error",
                "error_code",
                "finished_at",
                "cancel_requested",
                "updated_at",
            ]
        )
        audit_record(
            organization_id=row.organization_id,
            actor=user,
            action="cancel",
            object_type="document",
            object_id=row.id,
        )
    if row.status == GeneratedDocument.Status.CANCELLED:
        queue.cancel_job(str(row.id))
    return row


def generation_regenerate(
    *,
    user: Any,
    document: GeneratedDocument,
    section_ids: Any,
    instructions: str = "",
) -> GeneratedDocument:
    """A new version in which only ``section_ids`` are written again; the rest is copied."""
    if document.status != GeneratedDocument.Status.COMPLETE:
        raise Conflict("Only a complete document can be regenerated.")
    ids = _normalise_selected(section_ids)
    if not ids:
        raise InvalidInput("section_ids: give at least one section id.", field="section_ids")
    sections = (document.outline or {}).get("sections", [])
    known = {s["section_id"] for s in sections}
    unknown = [s for s in ids if s not in known]
    if unknown:
        raise InvalidInput(
            "section_ids: unknown section ids " + ", ".join(repr(u[:60]) for u in unknown) + ".",
            field="section_ids",
        )
    if not isinstance(instructions, str):
        raise InvalidInput("instructions: must be text.", field="instructions")
    instructions = clean_text(instructions)
    _check_capacity(document.organization)
    links = list(document.source_links.order_by("position"))
    with transaction.atomic():
        _lock_organization(document.organization)
        _check_capacity(document.organization)
        new = GeneratedDocument.objects.create(
            organization=document.organization,
            document_set=document.document_set,
            template=document.template,
            style_guide=document.style_guide,
            previous_version=document,
            created_by=user,
            output_name=document.output_name,
            document_type=document.document_type,
            writer=document.writer,
            instructions=instructions or document.instructions,
            selected_section_ids=document.selected_section_ids,
            regenerate_section_ids=ids,
            outline=document.outline,
            outline_snapshot_id=document.outline_snapshot_id,
            sections_total=len(ids),
        )
        GeneratedDocumentSource.objects.bulk_create(
            GeneratedDocumentSource(
                document=new, version_id=link.version_id, position=link.position
            )
            for link in links
        )
        audit_record(
            organization_id=document.organization_id,
            actor=user,
            action="regenerate",
            object_type="document",
            object_id=new.id,
            details={"previous_version": str(document.id), "section_ids": ids},
        )
        _enqueue_on_commit(new)
    _raise_if_enqueue_failed(new)
    return new


def document_download_record(*, user: Any, document: GeneratedDocument) -> None:
    audit_record(
        organization_id=document.organization_id,
        actor=user,
        action="download",
        object_type="document",
        object_id=document.id,
        details={
            "sources": [
                {"file_path": link.version.source_file.file_path, "sha256": link.version.sha256}
                for link in document.source_links.select_related("version__source_file")
            ]
        },
    )


def uploads_for_files(
    *, user: Any, uploaded_files: Iterable[Any], document_set: DocumentSet | None = None
) -> list[SourceFileVersion]:
    """Upload several files at once (portal form); stops at the first bad file."""
    return [
        file_upload(user=user, uploaded_file=f, document_set=document_set) for f in uploaded_files
    ]
