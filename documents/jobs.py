"""RQ entry points: ``run_generation(document_id)``, the failure hooks and the reconciler.

The job only moves rows through their state machine (documents/models.py) and hands the work to
the pipeline. Delivery is at-least-once, so everything here is safe to run twice:

- the claim is a conditional UPDATE (Pending → Generating) that also counts the attempt; every
  later write of the job (progress, cancel, Complete, Failed) is conditional on that attempt, so
  an attempt that was given up on can never overwrite a newer one;
- each attempt writes its own output key and only the attempt that wins the final conditional
  UPDATE is referenced by the row; a superseded attempt deletes its file, so there is never a
  second output and never a partial one that can be downloaded;
- a row found Generating when a job starts is left alone while its heartbeat is fresh (another
  attempt is alive) and failed (``worker_crashed``) when it is stale.

A dead attempt (work horse SIGKILLed, worker lost, Redis restarted) is retried up to
``FOLIO_MAX_ATTEMPTS`` claims by putting the row back to Pending and enqueueing it again with the
same id; after that it is Failed. ``reconcile`` makes sure every accepted row reaches a terminal
state even when no RQ hook ran (docs/reliability.md).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, close_old_connections, connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.utils import timezone

from documents.models import Extraction, GeneratedDocument, SourceFileVersion
from documents.pipeline.errors import ERROR_MESSAGES, Cancelled, GenerationError
from documents.pipeline.types import ExtractedSource, SourceDescriptor, Step
from documents.pipeline_input import build_manifest, document_pipeline_input

logger = logging.getLogger(__name__)
Status = GeneratedDocument.Status

# Test-only hook: sleep this many seconds whenever the job enters a new pipeline step, so fault
# tests can act "mid-job" deterministically. Never set in production.
SLOW_STEP_ENV = "FOLIO_TEST_SLOW_STEP_SECONDS"
# Rows examined per reconciler pass (the next pass takes the rest).
RECONCILE_BATCH = 500


# --- helpers -------------------------------------------------------------------------------------


def _fail(
    document_id: Any,
    code: str,
    message: str | None = None,
    *,
    only_if: tuple = (),
    attempt: int | None = None,
) -> int:
    """Mark a row Failed unless it already ended. Returns the number of rows changed.

    With ``attempt``, only that attempt's row is failed (a newer attempt is left alone).
    """
    qs = GeneratedDocument.objects.filter(pk=document_id).exclude(
        status__in=GeneratedDocument.TERMINAL
    )
    if only_if:
        qs = qs.filter(status__in=only_if)
    if attempt is not None:
        qs = qs.filter(attempts=attempt)
    return qs.update(
        status=Status.FAILED,
        error=message or ERROR_MESSAGES.get(code, ERROR_MESSAGES["internal_error"]),
        error_code=code,
        finished_at=timezone.now(),
        updated_at=timezone.now(),
    )


def _release_connections() -> None:
    """Drop database connections that are broken or past their age (jobs start and end clean).

    Never inside a caller's transaction (a test, a shell): closing would break that caller.
    """
    if not connection.in_atomic_block:
        close_old_connections()


def stale_after_seconds() -> int:
    return int(settings.FOLIO_STALE_JOB_SECONDS)


def hard_limit_seconds() -> int:
    """The longest any attempt may stay Generating before it is failed whatever RQ says."""
    return int(getattr(settings, "FOLIO_JOB_HARD_LIMIT_SECONDS", settings.FOLIO_JOB_TIMEOUT + 120))


def _heartbeat_is_fresh(heartbeat_at: datetime | None, now: datetime | None = None) -> bool:
    if heartbeat_at is None:
        return False
    now = now or timezone.now()
    return (now - heartbeat_at).total_seconds() < stale_after_seconds()


def output_key(document: GeneratedDocument, attempt: int) -> str:
    """Where an attempt stores its .docx; the first attempt's key is the plain one."""
    suffix = "" if attempt <= 1 else f"-attempt{attempt}"
    return f"{document.organization_id}/output/{document.id}{suffix}.docx"


def heartbeat(document_id: str) -> int:
    """Called by the worker parent while a horse runs the job: the attempt's worker is alive."""
    now = timezone.now()
    return GeneratedDocument.objects.filter(pk=document_id, status=Status.GENERATING).update(
        heartbeat_at=now
    )


def retry_or_fail(document_id: Any, code: str, *, require_stale: bool) -> str:
    """An attempt died: put the row back to Pending for another attempt, or fail it.

    Returns ``"retry"`` (row is Pending again; the caller enqueues it), ``"failed"`` or
    ``"noop"`` (the row is not Generating, or, with ``require_stale``, its heartbeat is fresh so
    another attempt is alive). Retries are bounded by ``FOLIO_MAX_ATTEMPTS`` claims; a row that
    was never claimed (``attempts == 0``) is inconsistent and is failed.
    """
    with transaction.atomic():
        row = (
            GeneratedDocument.objects.select_for_update()
            .filter(pk=document_id)
            .only("id", "status", "attempts", "heartbeat_at")
            .first()
        )
        if row is None or row.status != Status.GENERATING:
            return "noop"
        if require_stale and _heartbeat_is_fresh(row.heartbeat_at):
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
        return "failed" if _fail(document_id, code, only_if=(Status.GENERATING,)) else "noop"


def needs_requeue(document_id: Any) -> bool:
    """True for a row put back to Pending by ``retry_or_fail`` (it was claimed before)."""
    return GeneratedDocument.objects.filter(
        pk=document_id, status=Status.PENDING, attempts__gt=0
    ).exists()


def _slow_step_seconds() -> float:
    raw = os.environ.get(SLOW_STEP_ENV, "").strip()
    if not raw:
        return 0.0
    try:
        return max(0.0, float(raw))
    except ValueError:
        return 0.0


class DatabaseExtractionCache:
    """Extraction results kept per file content (sha256) and extractor version."""

    def __init__(self, versions: dict[str, SourceFileVersion]):
        self.versions = versions

    def get(self, source: SourceDescriptor) -> ExtractedSource | None:
        from documents.pipeline import extract

        row = Extraction.objects.filter(
            sha256=source.sha256,
            file_type=source.file_type,
            extractor_version=extract.EXTRACTOR_VERSION,
        ).first()
        if row is None:
            return None
        try:
            return extract.source_from_json(row.data)
        except Exception:  # a cache entry we cannot read is simply rebuilt
            logger.warning("Ignoring unreadable extraction cache entry %s", row.pk)
            return None

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


# --- the job -------------------------------------------------------------------------------------


def run_generation(document_id: str) -> str:
    """Generate one document.

    1. Claim the row (Pending → Generating, attempts + 1) with a conditional UPDATE. A row already
       Generating means another attempt: left alone while its heartbeat is fresh, failed
       (``worker_crashed``) when it is stale.
    2. Copy the exact source versions to a private temp folder.
    3. Run the pipeline, reporting progress to the row and stopping at the next step boundary
       when the row is cancelled or no longer this attempt's.
    4. Store the .docx at this attempt's key and the twin, then mark Complete in one UPDATE
       conditional on this attempt, so a late duplicate can never overwrite a finished row; a
       superseded attempt deletes its own file.
    """
    _release_connections()
    now = timezone.now()
    claimed = GeneratedDocument.objects.filter(pk=document_id, status=Status.PENDING).update(
        status=Status.GENERATING,
        started_at=now,
        heartbeat_at=now,
        updated_at=now,
        attempts=F("attempts") + 1,
        step=Step.EXTRACT,
    )
    if not claimed:
        row = (
            GeneratedDocument.objects.filter(pk=document_id).only("status", "heartbeat_at").first()
        )
        if row is None:
            logger.warning("Document %s no longer exists; nothing to do", document_id)
            return "missing"
        if row.status == Status.GENERATING:
            if _heartbeat_is_fresh(row.heartbeat_at):
                # Delivered twice while the first delivery still runs: never run it twice.
                return "duplicate"
            _fail(document_id, "worker_crashed", only_if=(Status.GENERATING,))
            return "crashed-before"
        return f"already-{row.status}"

    document = GeneratedDocument.objects.select_related(
        "outline_snapshot", "template", "style_guide", "previous_version", "organization"
    ).get(pk=document_id)
    attempt = int(document.attempts)
    ours = GeneratedDocument.objects.filter(
        pk=document_id, status=Status.GENERATING, attempts=attempt
    )
    workdir = Path(tempfile.mkdtemp(prefix=f"folio-job-{document_id}-"))
    slow = _slow_step_seconds()
    if slow:
        logger.warning("%s=%s: test-only slow steps are on", SLOW_STEP_ENV, slow)
    entered: set[str] = set()

    def report(
        step: str,
        percent: int,
        sections_done: int | None = None,
        sections_total: int | None = None,
    ) -> None:
        fields: dict[str, Any] = {
            "step": step,
            "progress": Greatest(F("progress"), min(100, max(0, int(percent)))),
            "heartbeat_at": timezone.now(),
        }
        if sections_done is not None:
            fields["sections_done"] = sections_done
        if sections_total is not None:
            fields["sections_total"] = sections_total
        ours.update(**fields)
        if slow and step not in entered:
            entered.add(step)
            time.sleep(slow)

    def is_cancelled() -> bool:
        # Stop at the next boundary when cancelled, and also when this attempt was given up on
        # (the reconciler failed or retried it): its work would be thrown away anyway.
        return not ours.filter(cancel_requested=False).exists()

    stored_key: str | None = None
    try:
        from documents.pipeline.run import run_pipeline
        from documents.pipeline.twin import section_to_dict

        inp, versions = document_pipeline_input(document, workdir)
        result = run_pipeline(
            inp,
            report=report,
            is_cancelled=is_cancelled,
            cache=DatabaseExtractionCache(versions),
            output_path=str(workdir / "output.docx"),
        )
        key = output_key(document, attempt)
        if default_storage.exists(key):
            default_storage.delete(key)  # left by this very attempt's earlier, killed try
        with open(result.docx_path, "rb") as fh:
            stored_key = default_storage.save(key, File(fh, name=f"{document.id}.docx"))
        ordered_versions = [
            link.version
            for link in document.source_links.select_related("version__source_file").order_by(
                "position"
            )
        ]
        manifest = build_manifest(document, ordered_versions)
        finished = timezone.now()
        manifest["finished_at"] = finished.isoformat().replace("+00:00", "Z")
        twin = {
            "document_id": str(document.id),
            "template_id": (document.outline or {}).get("template", {}).get("template_id"),
            "manifest": manifest,
            "qc": result.qc,
            "sections": [section_to_dict(s) for s in result.sections],
        }
        done = ours.update(
            status=Status.COMPLETE,
            step=Step.GENERATE,
            progress=100,
            output_key=stored_key,
            twin=twin,
            qc=result.qc,
            sections_done=F("sections_total"),
            finished_at=finished,
            updated_at=finished,
            heartbeat_at=finished,
            error=None,
            error_code=None,
        )
        if not done:
            # The row ended meanwhile (cancelled, reconciled, retried): leave no stray output.
            _delete_quietly(stored_key)
            return "superseded"
        for earlier in range(1, attempt):
            _delete_quietly(output_key(document, earlier))  # files of attempts that died
        return "complete"
    except Cancelled:
        changed = ours.filter(cancel_requested=True).update(
            status=Status.CANCELLED,
            error=ERROR_MESSAGES["cancelled"],
            error_code="cancelled",
            finished_at=timezone.now(),
            updated_at=timezone.now(),
        )
        return "cancelled" if changed else "superseded"
    except GenerationError as exc:
        _delete_quietly(stored_key)
        _fail(document_id, exc.code, exc.message, attempt=attempt)
        return f"failed-{exc.code}"
    except MemoryError:
        _delete_quietly(stored_key)
        _fail(document_id, "resource_limit_exceeded", attempt=attempt)
        return "failed-resource_limit_exceeded"
    except Exception as exc:
        _delete_quietly(stored_key)
        if type(exc).__name__ == "JobTimeoutException":
            # RQ's job_timeout (SIGALRM in the work horse): the job's hard limit, not a crash.
            _fail(document_id, "processing_timeout", attempt=attempt)
            return "failed-processing_timeout"
        logger.exception("Generation %s failed unexpectedly", document_id)
        _fail(document_id, "internal_error", attempt=attempt)
        return "failed-internal_error"
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        _release_connections()


def _delete_quietly(key: str | None) -> bool:
    if not key:
        return False
    try:
        if default_storage.exists(key):
            default_storage.delete(key)
            return True
    except Exception:  # storage trouble must not hide the job's real outcome
        logger.warning("Could not delete %s", key, exc_info=True)
    return False


# --- RQ failure hooks ----------------------------------------------------------------------------


def on_job_failure(
    job: Any, connection: Any, exc_type: Any, exc_value: Any, traceback: Any
) -> None:
    """RQ calls this for exceptions, timeouts and abandoned jobs (not for SIGKILLed horses).

    The job function catches its own errors, so an exception here escaped before or after the
    job's own handling (the database was unreachable at the claim, a deploy removed the
    function, ...). An abandoned job (its worker died) is retried or failed, unless a fresh
    heartbeat shows that another attempt of the same document is alive.
    """
    name = getattr(exc_type, "__name__", "")
    _release_connections()
    try:
        if name == "JobTimeoutException":
            _fail(job.id, "processing_timeout")
        elif name in {"AbandonedJobError", "WorkHorseKilledError"}:
            retry_or_fail(job.id, "worker_crashed", require_stale=True)
        else:
            _fail(job.id, "internal_error")
    finally:
        _release_connections()


def on_work_horse_killed(job: Any, retpid: int, ret_val: int, rusage: Any) -> None:
    """The horse died (OOM killer, SIGKILL, RQ's hard kill at timeout + 60 s).

    A horse killed after its job's timeout was stuck past the limit: ``processing_timeout``.
    Otherwise the attempt is retried (the worker enqueues it again, see
    ``documents.worker.FolioWorker.handle_job_failure``) or, after ``FOLIO_MAX_ATTEMPTS``
    claims, failed with ``worker_crashed``.
    """
    _release_connections()
    try:
        started = getattr(job, "started_at", None)
        timeout = getattr(job, "timeout", None)
        if started is not None and timeout and timeout > 0:
            elapsed = (datetime.now(started.tzinfo) - started).total_seconds()
            if elapsed >= timeout:
                _fail(job.id, "processing_timeout", only_if=(Status.GENERATING, Status.PENDING))
                return
        retry_or_fail(job.id, "worker_crashed", require_stale=False)
    finally:
        _release_connections()


# --- reconciler ----------------------------------------------------------------------------------


def reconcile(*, stale_after: int | None = None, now: Any = None) -> dict[str, int]:
    """Make every accepted job reach a terminal state; returns ``{"failed": n, "requeued": n}``.

    - Generating rows whose heartbeat is older than ``stale_after`` seconds: when no live worker
      runs their job (the job vanished, failed, or its worker is dead), the attempt is retried
      (row back to Pending, job enqueued again with the same id) or failed (``worker_crashed``)
      after ``FOLIO_MAX_ATTEMPTS`` claims. A row Generating for longer than the hard limit
      (``FOLIO_JOB_HARD_LIMIT_SECONDS``) is failed (``processing_timeout``) whatever RQ says.
    - Pending rows whose job is not on its way (vanished when Redis restarted without
      persistence, or ended in RQ while the row waits for a retry) are enqueued again with the
      same id; a vanished job of a fresh row is given ``stale_after`` seconds for its on-commit
      enqueue to land.

    Nothing happens while Redis is unreachable. Rows are locked with
    ``select_for_update(skip_locked=True)`` (on SQLite the IMMEDIATE transaction serialises
    passes) and every change is a conditional UPDATE, and jobs are enqueued with ``unique=True``:
    two reconcilers running at once never act twice.
    """
    from documents import queue

    stale_after = stale_after if stale_after is not None else stale_after_seconds()
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=stale_after)
    hard_cutoff = now - timedelta(seconds=hard_limit_seconds())
    counts = {"failed": 0, "requeued": 0}
    if not queue.queue_reachable():
        return counts

    with transaction.atomic():
        stale = list(
            GeneratedDocument.objects.select_for_update(skip_locked=True)
            .filter(status=Status.GENERATING)
            .filter(
                Q(heartbeat_at__lt=cutoff)
                | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
                | Q(heartbeat_at__isnull=True, started_at__isnull=True)
            )
            .only("id", "started_at")
            .order_by("heartbeat_at")[:RECONCILE_BATCH]
        )
        for row in stale:
            running = queue.job_is_running(str(row.id), stale_after=max(stale_after, 5))
            if running is None:
                break  # Redis stopped answering: try again next pass
            if running:
                if row.started_at is not None and row.started_at < hard_cutoff:
                    counts["failed"] += _fail(
                        row.id, "processing_timeout", only_if=(Status.GENERATING,)
                    )
                continue  # a live worker still runs it (RQ kills it at its timeout)
            outcome = retry_or_fail(row.id, "worker_crashed", require_stale=False)
            if outcome == "failed":
                counts["failed"] += 1
            elif outcome == "retry":
                try:
                    queue.requeue_generation(str(row.id), force=True)
                    counts["requeued"] += 1
                except queue.QueueError:
                    break  # the row is Pending; the next pass enqueues it

    with transaction.atomic():
        pending = list(
            GeneratedDocument.objects.select_for_update(skip_locked=True)
            .filter(status=Status.PENDING)
            .filter(Q(created_at__lt=cutoff) | Q(attempts__gt=0))
            .only("id", "attempts", "created_at")
            .order_by("updated_at")[:RECONCILE_BATCH]
        )
        for row in pending:
            status = queue.job_status(str(row.id))
            if status is None:
                break
            if status in {"queued", "deferred", "scheduled"}:
                continue
            if status == "started":
                alive = queue.job_is_running(str(row.id), stale_after=max(stale_after, 5))
                if alive is None:
                    break
                if alive:
                    continue  # a horse has it and is about to claim the row
            if status == "missing" and row.attempts == 0 and row.created_at >= cutoff:
                continue  # its on-commit enqueue may still be on the way
            if row.attempts >= settings.FOLIO_MAX_ATTEMPTS:
                counts["failed"] += _fail(row.id, "worker_crashed", only_if=(Status.PENDING,))
                continue
            try:
                if queue.requeue_generation(str(row.id), force=True):
                    counts["requeued"] += 1
            except queue.QueueError:
                break
    return counts
