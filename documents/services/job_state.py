"""The job's writes: its status row through the state machine, and the extraction cache.

``GeneratedDocument`` is the job's status (documents/models.py). The job (``documents/jobs.py``),
RQ's failure hooks, the worker and the reconciler (``documents/reconciler.py``) move it only
through these functions. Every write is a conditional UPDATE: a claim (Pending → Generating)
that counts the attempt, and every later write conditional on that attempt, so a duplicate
delivery runs once and an attempt that was given up on never overwrites a newer one.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Greatest
from django.utils import timezone

from documents.events import document_ended
from documents.models import Extraction, GeneratedDocument, SourceFileVersion
from documents.pipeline.errors import ERROR_MESSAGES
from documents.pipeline.types import ExtractedSource, SourceDescriptor, Step

logger = logging.getLogger(__name__)
Status = GeneratedDocument.Status


# --- timing ---------------------------------------------------------------------------------------


def stale_after_seconds() -> int:
    return int(settings.FOLIO_STALE_JOB_SECONDS)


def hard_limit_seconds() -> int:
    """The longest any attempt may stay Generating before it is failed whatever RQ says."""
    return int(getattr(settings, "FOLIO_JOB_HARD_LIMIT_SECONDS", settings.FOLIO_JOB_TIMEOUT + 120))


def heartbeat_is_fresh(heartbeat_at: datetime | None, now: datetime | None = None) -> bool:
    if heartbeat_at is None:
        return False
    now = now or timezone.now()
    return (now - heartbeat_at).total_seconds() < stale_after_seconds()


# --- the row --------------------------------------------------------------------------------------


def generation_claim(document_id: Any, worker_name: str = "") -> bool:
    """Pending → Generating, counting the attempt; False when another delivery got it first.

    ``worker_name`` is the RQ worker whose horse claims it: the attempt is that worker's.
    """
    now = timezone.now()
    return bool(
        GeneratedDocument.objects.filter(pk=document_id, status=Status.PENDING).update(
            status=Status.GENERATING,
            started_at=now,
            heartbeat_at=now,
            updated_at=now,
            attempts=F("attempts") + 1,
            step=Step.EXTRACT,
            worker_name=worker_name[:200],
        )
    )


def _held_by(worker_name: str | None) -> Q:
    """Rows whose current attempt is ``worker_name``'s (or claimed outside any worker)."""
    if not worker_name:
        return Q()
    return Q(worker_name=worker_name) | Q(worker_name="")


def _attempt(document_id: Any, attempt: int) -> QuerySet[GeneratedDocument]:
    """The row while it is Generating in this attempt (empty once it was given up on)."""
    return GeneratedDocument.objects.filter(
        pk=document_id, status=Status.GENERATING, attempts=attempt
    )


def generation_report(
    document_id: Any,
    attempt: int,
    step: str,
    percent: int,
    sections_done: int | None = None,
    sections_total: int | None = None,
) -> int:
    """Progress of this attempt (never decreasing) and a heartbeat."""
    fields: dict[str, Any] = {
        "step": step,
        "progress": Greatest(F("progress"), min(100, max(0, int(percent)))),
        "heartbeat_at": timezone.now(),
    }
    if sections_done is not None:
        fields["sections_done"] = sections_done
    if sections_total is not None:
        fields["sections_total"] = sections_total
    return _attempt(document_id, attempt).update(**fields)


def generation_should_stop(document_id: Any, attempt: int) -> bool:
    """Cancelled, or this attempt was given up on (failed or retried): its work is not wanted."""
    return not _attempt(document_id, attempt).filter(cancel_requested=False).exists()


def generation_complete(
    document_id: Any,
    attempt: int,
    *,
    output_key: str,
    twin: dict[str, Any],
    qc: dict[str, Any],
    finished: datetime,
    redline_key: str = "",
) -> bool:
    """Complete, in one UPDATE conditional on this attempt; False when the row ended meanwhile."""
    done = bool(
        _attempt(document_id, attempt).update(
            status=Status.COMPLETE,
            step=Step.GENERATE,
            progress=100,
            output_key=output_key,
            redline_key=redline_key,
            twin=twin,
            qc=qc,
            sections_done=F("sections_total"),
            finished_at=finished,
            updated_at=finished,
            heartbeat_at=finished,
            error=None,
            error_code=None,
        )
    )
    if done:
        document_ended(document_id)
    return done


def generation_cancelled(document_id: Any, attempt: int) -> bool:
    """Cancelled at a step boundary (when the user asked); False when the attempt was given up."""
    now = timezone.now()
    done = bool(
        _attempt(document_id, attempt)
        .filter(cancel_requested=True)
        .update(
            status=Status.CANCELLED,
            error=ERROR_MESSAGES["cancelled"],
            error_code="cancelled",
            finished_at=now,
            updated_at=now,
        )
    )
    if done:
        document_ended(document_id)
    return done


def generation_fail(
    document_id: Any,
    code: str,
    message: str | None = None,
    *,
    only_if: tuple = (),
    attempt: int | None = None,
    worker_name: str | None = None,
) -> int:
    """Mark a row Failed unless it already ended. Returns the number of rows changed.

    With ``attempt``, only that attempt's row is failed (a newer attempt is left alone); with
    ``worker_name``, only a row whose current attempt that worker claimed.
    """
    qs = GeneratedDocument.objects.filter(_held_by(worker_name), pk=document_id).exclude(
        status__in=GeneratedDocument.TERMINAL
    )
    if only_if:
        qs = qs.filter(status__in=only_if)
    if attempt is not None:
        qs = qs.filter(attempts=attempt)
    changed = qs.update(
        status=Status.FAILED,
        error=message or ERROR_MESSAGES.get(code, ERROR_MESSAGES["internal_error"]),
        error_code=code,
        finished_at=timezone.now(),
        updated_at=timezone.now(),
    )
    if changed:
        document_ended(document_id)
    return changed


def generation_heartbeat(document_id: str, worker_name: str | None = None) -> int:
    """Called by the worker parent while a horse runs the job: the attempt's worker is alive.

    With ``worker_name``, only while the current attempt is that worker's: a worker whose
    attempt was given up on (its host was cut off, then came back) must not keep a newer
    attempt, run elsewhere, looking alive.
    """
    now = timezone.now()
    return GeneratedDocument.objects.filter(
        _held_by(worker_name), pk=document_id, status=Status.GENERATING
    ).update(heartbeat_at=now)


def generation_retry_or_fail(
    document_id: Any,
    code: str,
    *,
    require_stale: bool,
    attempt: int | None = None,
    worker_name: str | None = None,
) -> str:
    """An attempt died: put the row back to Pending for another attempt, or fail it.

    Returns ``"retry"`` (row is Pending again; the caller enqueues it), ``"failed"`` or
    ``"noop"`` (the row is not Generating, or, with ``require_stale``, its heartbeat is fresh so
    another attempt is alive). Retries are bounded by ``FOLIO_MAX_ATTEMPTS`` claims; a row that
    was never claimed (``attempts == 0``) is inconsistent and is failed. With ``attempt``, only
    that attempt is given up on (a newer one is left alone); with ``worker_name``, only an
    attempt that worker claimed (a worker whose horse died speaks for its own attempt only).
    """
    with transaction.atomic():
        row = (
            GeneratedDocument.objects.select_for_update()
            .filter(pk=document_id)
            .only("id", "status", "attempts", "heartbeat_at", "worker_name")
            .first()
        )
        if row is None or row.status != Status.GENERATING:
            return "noop"
        if attempt is not None and row.attempts != attempt:
            return "noop"
        if worker_name and row.worker_name and row.worker_name != worker_name:
            return "noop"
        if require_stale and heartbeat_is_fresh(row.heartbeat_at):
            return "noop"
        if 0 < row.attempts < settings.FOLIO_MAX_ATTEMPTS:
            changed = GeneratedDocument.objects.filter(
                pk=document_id, status=Status.GENERATING, attempts=row.attempts
            ).update(status=Status.PENDING, updated_at=timezone.now())
            if changed:
                logger.warning(
                    "Attempt %s of document %s died (%s); retrying", row.attempts, document_id, code
                )
                return "retry"
            return "noop"
        return (
            "failed" if generation_fail(document_id, code, only_if=(Status.GENERATING,)) else "noop"
        )


def generation_needs_requeue(document_id: Any) -> bool:
    """True for a row put back to Pending by ``generation_retry_or_fail`` (claimed before)."""
    return GeneratedDocument.objects.filter(
        pk=document_id, status=Status.PENDING, attempts__gt=0
    ).exists()


# --- the extraction cache ------------------------------------------------------------------------


class DatabaseExtractionCache:
    """Extraction results kept per file content (sha256) and extractor version."""

    def __init__(self, versions: dict[str, SourceFileVersion]):
        self.versions = versions

    def get(self, source: SourceDescriptor) -> ExtractedSource | None:
        from documents.selectors import cached_extraction

        return cached_extraction(source.sha256, source.file_type)  # type: ignore[no-any-return]

    def put(self, source: ExtractedSource) -> None:
        from documents.pipeline import extract

        try:
            with transaction.atomic():
                Extraction.objects.create(
                    sha256=source.sha256,
                    file_type=source.file_type,
                    extractor_version=extract.EXTRACTOR_VERSION,
                    page_count=source.page_count,
                    data=extract.source_to_json(source),
                )
        except IntegrityError:
            pass  # another job cached the same content first
        version = self.versions.get(source.sha256)
        if version is not None and source.page_count and version.page_count is None:
            SourceFileVersion.objects.filter(sha256=source.sha256, page_count__isnull=True).update(
                page_count=source.page_count
            )
