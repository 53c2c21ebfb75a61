"""Generation: ask for a document, cancel it, write sections again, record a download.

``generation_request`` checks what only a service can know (the caller's files, template and
style guide; what the server and the organization allow; the chosen sections), snapshots the
outline, creates the ``GeneratedDocument`` row (the job's status) and queues the job once the
transaction commits: a queue that cannot be reached leaves the row ``Failed`` with
``queue_unavailable``, never ``Pending``. A reference to another organization's object is
reported exactly like a reference to nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
from functools import partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from documents import queue
from documents.events import document_ended
from documents.exceptions import QueueUnavailable
from documents.models import (
    GeneratedDocument,
    GeneratedDocumentSource,
    OutlineSnapshot,
    SourceFile,
)
from documents.pipeline.errors import ERROR_MESSAGES
from documents.selectors import organization_for
from documents.services import accept_sql
from documents.services.document_sets import document_set_get_or_create
from documents.services.uploads import clean_text, safe_file_name
from portal.audit import audit_record
from portal.errors import (
    Conflict,
    InvalidInput,
    Problems,
    TooManyRequests,
)
from templates_app.selectors import (
    TemplateOutline,
    outline_sha256,
    style_guide_resolve_for_user,
    template_outline,
    template_resolve_for_user,
)

logger = logging.getLogger(__name__)
IDEMPOTENCY_KEY_MAX = 200  # GeneratedDocument.idempotency_key

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


_NUMBERED = re.compile(r"^\s*((?:\d+|[A-Z])(?:\.\d+)*)\.?\s+(.*)$")


def _split_section_name(name: str) -> tuple[str, str]:
    match = _NUMBERED.match(name or "")
    if match:
        return match.group(1), match.group(2).strip()
    return "", (name or "").strip()


def _outline_from_full(outline_full: Any) -> list[dict[str, Any]]:
    """Validate an Artos ``generic_mrt_outline_full`` and turn it into outline sections."""
    if not isinstance(outline_full, dict) or not isinstance(outline_full.get("sections"), list):
        raise InvalidInput.about(
            "generic_mrt_outline_full", 'must be an object {"sections": [...]}.'
        )
    raw_sections = outline_full["sections"]
    if not raw_sections:
        raise InvalidInput.about(
            "generic_mrt_outline_full",
            "sections must not be empty.",
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
        raise InvalidInput.about(
            "generic_mrt_outline_full",
            "; ".join(problems) + ".",
        )
    ids = [s["section_id"] for s in out]
    if len(set(ids)) != len(ids):
        raise InvalidInput.about(
            "generic_mrt_outline_full",
            "section ids must be unique.",
        )
    out.sort(key=lambda s: s["order_index"])
    return out


def normalise_selected(value: Any) -> list[str]:
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        raise InvalidInput.about("selected_section_ids", "must be a list of section ids.")
    ids = []
    for item in value:
        if isinstance(item, dict):
            item = item.get("section_id")
        if not isinstance(item, str | int) or str(item).strip() == "":
            raise InvalidInput.about(
                "selected_section_ids",
                "each item must be a section id or an object with section_id.",
            )
        ids.append(str(item).strip())
    return ids


def _request_hash(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def lock_organization(organization: Any) -> None:
    """Serialise generation requests of one organization until the transaction ends.

    A row lock on PostgreSQL; SQLite has no row locks, but every transaction there begins
    IMMEDIATE (portal/settings.py), which already takes the database's write lock.
    """
    accept_sql.lock_organization(organization.pk)


def check_capacity(organization: Any, *, own_rows: int = 0) -> None:
    """429 past ``FOLIO_MAX_ACTIVE_JOBS_PER_ORG`` (this organization's Pending and Generating
    rows) or ``FOLIO_MAX_QUEUED_JOBS`` (every Pending row).

    Called under the organization's lock (``lock_organization``), once per request;
    ``own_rows`` Pending rows of this organization inserted by the caller's own transaction are
    counted and allowed for. Both counts are one statement, and each stops at its limit
    (``COUNT`` over a ``LIMIT``ed index range), so its cost is bounded by the limit, not by the
    backlog: counting every queued row made each acceptance slower the longer the queue grew
    (bench/load.py: 15 ms at an empty queue, 27 ms at 5,000 rows).
    """
    active_limit = settings.FOLIO_MAX_ACTIVE_JOBS_PER_ORG
    queued_limit = settings.FOLIO_MAX_QUEUED_JOBS
    active, queued = accept_sql.active_and_queued(
        organization.pk, active_limit + own_rows, queued_limit + own_rows
    )
    active, queued = active - own_rows, queued - own_rows
    if active >= active_limit:
        raise TooManyRequests(
            f"Your organization already has {active} documents queued or generating "
            f"(limit {active_limit}); try again when some finish.",
            retry_after=30,
        )
    if queued >= queued_limit:
        raise TooManyRequests(
            "The generation queue is full; try again in a minute.", retry_after=60
        )


def _source_versions(
    organization: Any, file_paths: list[str], problems: Problems
) -> list[accept_sql.PinnedVersion]:
    """The newest version of each of the caller's ``file_paths`` (duplicates once), in order."""
    versions: list[accept_sql.PinnedVersion] = []
    if not file_paths:
        problems.add("file_paths", "must be a non-empty list of uploaded file paths.")
        return versions
    if len(file_paths) > settings.FOLIO_MAX_FILES_PER_REQUEST:
        problems.add(
            "file_paths",
            f"at most {settings.FOLIO_MAX_FILES_PER_REQUEST} files per request, "
            f"got {len(file_paths)}.",
        )
        return versions
    prefix = f"{organization.id}/"
    bad: list[str] = []
    seen: set[str] = set()
    for path in file_paths:
        reason = _path_problem(path, prefix)
        if reason is None:
            # The newest version and its file in one query.
            latest = accept_sql.newest_version(organization.pk, path)
            if latest is None:
                reason = "is not one of your uploads"
            elif path not in seen:
                versions.append(latest)
                seen.add(path)
        if reason is not None:
            bad.append(f"{str(path)[:200]!r} {reason}")
    if bad:
        shown = "; ".join(bad[:10]) + (f"; and {len(bad) - 10} more" if len(bad) > 10 else "")
        problems.add("file_paths", shown + ".")
    return versions


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
    organization = organization_for(user)
    if idempotency_key is not None and (
        len(idempotency_key) > IDEMPOTENCY_KEY_MAX
        or not idempotency_key.isascii()
        or not idempotency_key.isprintable()
    ):
        raise InvalidInput.about(
            "Idempotency-Key",
            f"at most {IDEMPOTENCY_KEY_MAX} printable ASCII characters "
            f"(got {len(idempotency_key)} characters).",
            code="invalid_idempotency_key",
        )
    problems = Problems()
    document_type, output_name, document_set_key, document_set_name, instructions = (
        clean_text(v or "")
        for v in (document_type, output_name, document_set_key, document_set_name, instructions)
    )
    outline_full = clean_text(outline_full)
    # Backpressure (429) is decided once, under the organization's lock with the insert below:
    # a replay of an accepted Idempotency-Key is answered whatever the load.

    document_type = document_type.strip()
    if not document_type:
        problems.add("document_type", "this field is required.")

    output = output_name.strip()
    if output.lower().endswith(".docx"):
        output = output[:-5]
    try:
        output = safe_file_name(output, field="output_name")
    except InvalidInput as exc:
        for field, messages in exc.errors.items():
            for message in messages:
                problems.add(field, message)
        output = "-"
    if not output:
        problems.add("output_name", "this field is required.")

    set_key, set_name = document_set_key.strip(), document_set_name.strip()
    if not set_key:
        problems.add(
            "connector_data_id",
            "this field is required.",
            label="connector_data_id (document_set_key)",
        )
    if not set_name:
        problems.add(
            "workspace_name", "this field is required.", label="workspace_name (document_set_name)"
        )

    versions = _source_versions(organization, file_paths or [], problems)

    template = None
    template_ref = (template_ref or "").strip()
    if not template_ref:
        problems.add("template_id", "this field is required.", label="template_id (generic_mrt_id)")
    else:
        template = template_resolve_for_user(user, template_ref)
        if template is None:
            problems.add("template_id", f"unknown template {template_ref[:100]!r}.")

    style_guide = None
    if style_guide_ref not in (None, ""):
        style_guide = style_guide_resolve_for_user(user, str(style_guide_ref))
        if style_guide is None:
            problems.add("style_guide_id", f"unknown style guide {str(style_guide_ref)[:100]!r}.")

    if writer == "llm":
        if not (settings.FOLIO_LLM_BASE_URL and settings.FOLIO_LLM_MODEL):
            problems.add(
                "writer",
                "the LLM writer is not configured on this server "
                "(FOLIO_LLM_BASE_URL, FOLIO_LLM_MODEL).",
            )
        elif not organization.llm_enabled:
            problems.add(
                "writer",
                "your organization has not enabled the LLM writer "
                "(its text would leave this server).",
            )

    sections: list[dict[str, Any]] = []
    template_snapshot: TemplateOutline | None = None
    try:
        selected = normalise_selected(selected_section_ids)
    except InvalidInput as exc:
        problems.add_error(exc)
        selected = []
    if outline_full not in (None, {}):
        try:
            sections = _outline_from_full(outline_full)
        except InvalidInput as exc:
            problems.add_error(exc)
    elif template is not None:
        template_snapshot = template_outline(template)
        sections = template_snapshot.sections
    if sections and selected:
        known = {s["section_id"] for s in sections}
        unknown = [s for s in selected if s not in known]
        if unknown:
            problems.add(
                "selected_section_ids",
                "unknown section ids " + ", ".join(repr(u[:60]) for u in unknown) + ".",
            )

    problems.raise_if_any()

    request_hash = _request_hash(
        {
            "document_type": document_type,
            "file_paths": [v.file_path for v in versions],
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
                raise Conflict.saying(
                    "Idempotency-Key was already used with a different request body.",
                    code="idempotency_key_reused",
                )
            return previous

    selected_set = set(selected)
    sha = template_snapshot.sha256 if template_snapshot else outline_sha256(sections)
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
            if idempotency_key and (
                previous := GeneratedDocument.objects.filter(
                    organization=organization, idempotency_key=idempotency_key
                ).first()
            ):
                if previous.request_hash != request_hash:
                    raise Conflict.saying(
                        "Idempotency-Key was already used with a different request body.",
                        code="idempotency_key_reused",
                    )
                return previous
            set_id = accept_sql.document_set_id(organization.pk, set_key) or (
                document_set_get_or_create(
                    organization=organization, user=user, key=set_key, name=set_name
                ).pk
            )
            document = GeneratedDocument.objects.create(
                organization=organization,
                document_set_id=set_id,
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
                GeneratedDocumentSource(document=document, version_id=v.id, position=i)
                for i, v in enumerate(versions)
            )
            for v in versions:
                if not v.document_set_id:
                    SourceFile.objects.filter(pk=v.source_file_id).update(document_set_id=set_id)
            audit_record(
                organization_id=organization.id,
                actor=user,
                action="generate",
                object_type="document",
                object_id=document.id,
                details={
                    "template": outline["template"],
                    "sources": [{"file_path": v.file_path, "sha256": v.sha256} for v in versions],
                    "writer": writer,
                },
            )
            # Insert, then count under the organization's lock until the commit, this row
            # included: concurrent requests that all counted before any had inserted used to
            # pass the limit together (docs/security.md, finding 9). Taking the lock last keeps
            # what requests of one organization do one at a time to the count and the commit
            # (bench/load.py: the inserts used to queue behind the lock too). Over a limit, the
            # whole transaction (row, sources, audit event, a new document set) is rolled back.
            lock_organization(organization)
            check_capacity(organization, own_rows=1)
            enqueue_on_commit(document)
    except IntegrityError:
        # Two requests raced with one Idempotency-Key: the other one won.
        previous = GeneratedDocument.objects.filter(
            organization=organization, idempotency_key=idempotency_key
        ).first()
        if previous is None:
            raise
        if previous.request_hash != request_hash:
            raise Conflict.saying(
                "Idempotency-Key was already used with a different request body.",
                code="idempotency_key_reused",
            ) from None
        return previous
    raise_if_enqueue_failed(document)
    return document


def _outline_snapshot_id(sha: str, sections: list[dict[str, Any]]) -> int:
    """The id of the shared snapshot row for this outline content, created on first use.

    Only the id is read: the content is large and already known here.
    """
    found = accept_sql.outline_snapshot_id(sha)
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return OutlineSnapshot.objects.create(sha256=sha, sections=sections).pk
    except IntegrityError:  # another request stored the same outline first
        return OutlineSnapshot.objects.filter(sha256=sha).values_list("id", flat=True).get()


def enqueue_on_commit(document: GeneratedDocument) -> None:
    transaction.on_commit(partial(_enqueue_or_fail, document.pk))


_ENQUEUE_FAILED: set[str] = set()


def _enqueue_or_fail(document_id: Any) -> None:
    """Queue the job; if the queue cannot be reached, the row ends Failed (never left Pending)."""
    try:
        queue.enqueue_generation(str(document_id))
    except queue.QueueError:
        _ENQUEUE_FAILED.add(str(document_id))
        logger.warning("Queue unavailable; document %s marked failed", document_id)
        if GeneratedDocument.objects.filter(
            pk=document_id, status=GeneratedDocument.Status.PENDING
        ).update(
            status=GeneratedDocument.Status.FAILED,
            error=ERROR_MESSAGES["queue_unavailable"],
            error_code="queue_unavailable",
            finished_at=timezone.now(),
        ):
            document_ended(document_id)


def raise_if_enqueue_failed(document: GeneratedDocument) -> None:
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
            raise Conflict.saying(
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
            document_ended(row.id)
    if row.status == GeneratedDocument.Status.CANCELLED:
        queue.cancel_job(str(row.id))
    return row


def document_download_record(
    *, user: Any, document: GeneratedDocument, redline: bool = False, kind: str = "clean"
) -> None:
    audit_record(
        organization_id=document.organization_id,
        actor=user,
        action="download",
        object_type="document",
        object_id=document.id,
        details={
            "redline": redline,
            "copy": kind,
            "sources": [
                {"file_path": link.version.source_file.file_path, "sha256": link.version.sha256}
                for link in document.source_links.select_related("version__source_file")
            ],
        },
    )
