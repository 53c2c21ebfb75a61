"""RQ entry points: ``run_generation(document_id)`` and the failure hooks.

The job only moves rows through their state machine (documents/models.py), with the services of
``documents/services/job_state.py``, and hands the work to the pipeline (its input assembled by
``documents/pipeline_input.py``). Delivery is at-least-once, so everything here is safe to run
twice:

- the claim is a conditional UPDATE (Pending → Generating) that also counts the attempt; every
  later write of the job (progress, cancel, Complete, Failed) is conditional on that attempt, so
  an attempt that was given up on can never overwrite a newer one;
- each attempt writes its own output key and only the attempt that wins the final conditional
  UPDATE is referenced by the row; a superseded attempt deletes its file, so there is never a
  second output and never a partial one that can be downloaded;
- a row found Generating when a job starts is left alone while its heartbeat is fresh (another
  attempt is alive) and failed (``worker_crashed``) when it is stale.

A lost database connection (PostgreSQL restarted, the connection terminated, a failover) in the
middle of an attempt is a crashed attempt too, not a failed document: the connection is closed,
the row goes back to Pending and the same job claims it again at once (within
``FOLIO_MAX_ATTEMPTS`` claims, then ``worker_crashed``). If the database stays away, the job
raises and the reconciler settles the row when it is back.

A dead attempt (work horse SIGKILLed, worker lost, Redis restarted) is retried up to
``FOLIO_MAX_ATTEMPTS`` claims by putting the row back to Pending and enqueueing it again with the
same id; after that it is Failed. The reconciler (``documents/reconciler.py``) makes sure every
accepted row reaches a terminal state even when no RQ hook ran (docs/reliability.md).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import InterfaceError, OperationalError, close_old_connections, connection
from django.utils import timezone

from documents import filestore
from documents.models import GeneratedDocument
from documents.pipeline.errors import Cancelled, GenerationError
from documents.pipeline_input import build_manifest, document_pipeline_input
from documents.services.job_state import (
    DatabaseExtractionCache,
    generation_cancelled,
    generation_claim,
    generation_complete,
    generation_fail,
    generation_report,
    generation_retry_or_fail,
    generation_should_stop,
    heartbeat_is_fresh,
)

logger = logging.getLogger(__name__)
Status = GeneratedDocument.Status
# What a lost database connection raises (Django's wrappers of the driver's errors).
DATABASE_LOST = (OperationalError, InterfaceError)
# How long an attempt that lost its connection waits for the database to answer again.
DATABASE_WAIT_SECONDS = 30.0
RETRY = "retry"


def _release_connections() -> None:
    """Drop database connections that are broken or past their age (jobs start and end clean).

    Never inside a caller's transaction (a test, a shell): closing would break that caller.
    """
    if not connection.in_atomic_block:
        close_old_connections()


def output_key(document: GeneratedDocument, attempt: int, *, redline: bool = False) -> str:
    """Where an attempt stores its .docx (or its redline); the first attempt's key is plain."""
    suffix = "" if attempt <= 1 else f"-attempt{attempt}"
    kind = "-redline" if redline else ""
    return f"{document.organization_id}/output/{document.id}{suffix}{kind}.docx"


# --- the job -------------------------------------------------------------------------------------


def run_generation(document_id: str) -> str:
    """Generate one document; an attempt that lost its database connection is claimed again."""
    outcome = RETRY
    for _ in range(max(1, int(settings.FOLIO_MAX_ATTEMPTS))):
        outcome = _run_attempt(document_id)
        if outcome != RETRY:
            return outcome
    return outcome


def _forget_connection() -> None:
    """Close a connection the server dropped, so the next query opens a new one."""
    if not connection.in_atomic_block:
        try:
            connection.close()
        except Exception:  # already broken: closing it is all we wanted
            connection.connection = None


def _after_database_lost(document_id: str, attempt: int, exc: BaseException) -> str:
    """Give up on this attempt: Pending again (``RETRY``) or failed after the last attempt.

    Waits (with back-off, up to ``DATABASE_WAIT_SECONDS``) for the database to answer; if it
    never does, re-raises: the row stays Generating and the reconciler retries or fails it.
    """
    logger.warning(
        "Generation %s lost its database connection in attempt %s (%s); retrying",
        document_id,
        attempt,
        exc,
    )
    deadline = time.monotonic() + DATABASE_WAIT_SECONDS
    wait = 0.25
    while True:
        _forget_connection()
        try:
            outcome = generation_retry_or_fail(
                document_id, "worker_crashed", require_stale=False, attempt=attempt
            )
        except DATABASE_LOST:
            if time.monotonic() > deadline:
                raise exc from None
            time.sleep(wait)
            wait = min(wait * 2, 4.0)
            continue
        if outcome == "retry":
            return RETRY
        return "failed-worker_crashed" if outcome == "failed" else "superseded"


def _current_worker_name() -> str:
    """The RQ worker whose work horse runs this job ("" outside a worker)."""
    from rq import get_current_job

    job = get_current_job()
    return str(getattr(job, "worker_name", None) or "") if job is not None else ""


def _run_attempt(document_id: str) -> str:
    """Generate one document (one attempt).

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
    if not generation_claim(document_id, _current_worker_name()):
        row = (
            GeneratedDocument.objects.filter(pk=document_id).only("status", "heartbeat_at").first()
        )
        if row is None:
            logger.warning("Document %s no longer exists; nothing to do", document_id)
            return "missing"
        if row.status == Status.GENERATING:
            if heartbeat_is_fresh(row.heartbeat_at):
                # Delivered twice while the first delivery still runs: never run it twice.
                return "duplicate"
            generation_fail(document_id, "worker_crashed", only_if=(Status.GENERATING,))
            return "crashed-before"
        return f"already-{row.status}"

    document = GeneratedDocument.objects.select_related(
        "outline_snapshot", "template", "style_guide", "previous_version", "organization"
    ).get(pk=document_id)
    attempt = int(document.attempts)
    workdir = Path(tempfile.mkdtemp(prefix=f"folio-job-{document_id}-"))

    def report(
        step: str,
        percent: int,
        sections_done: int | None = None,
        sections_total: int | None = None,
    ) -> None:
        generation_report(document_id, attempt, step, percent, sections_done, sections_total)

    def is_cancelled() -> bool:
        # Stop at the next boundary when cancelled, and also when this attempt was given up on
        # (the reconciler failed or retried it): its work would be thrown away anyway.
        return generation_should_stop(document_id, attempt)

    stored_key: str | None = None
    redline_key: str | None = None
    try:
        from documents.pipeline.run import run_pipeline
        from documents.pipeline.twin import section_to_dict
        from documents.review_outputs import finish_outputs

        inp, versions = document_pipeline_input(document, workdir)
        result = run_pipeline(
            inp,
            report=report,
            is_cancelled=is_cancelled,
            cache=DatabaseExtractionCache(versions),
            output_path=str(workdir / "output.docx"),
        )
        # The review cycle: edited sections carried as people left them, comments on the
        # version, and the redline against the previous version (documents/review_outputs.py).
        outputs = finish_outputs(
            document,
            docx_path=result.docx_path,
            sections=[section_to_dict(s) for s in result.sections],
            workdir=workdir,
        )
        stored_key = _store(output_key(document, attempt), outputs.docx_path, document)
        if outputs.redline_path:
            redline_key = _store(
                output_key(document, attempt, redline=True), outputs.redline_path, document
            )
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
            "version": document.version,
            "previous_version": str(document.previous_version_id)
            if document.previous_version_id
            else None,
            "qc": result.qc,
            "sections": outputs.sections,
        }
        done = generation_complete(
            document_id,
            attempt,
            output_key=stored_key,
            redline_key=redline_key or "",
            twin=twin,
            qc=result.qc,
            finished=finished,
        )
        if not done:
            # The row ended meanwhile (cancelled, reconciled, retried): leave no stray output.
            _delete_quietly(stored_key)
            _delete_quietly(redline_key)
            return "superseded"
        for earlier in range(1, attempt):
            _delete_quietly(output_key(document, earlier))  # files of attempts that died
            _delete_quietly(output_key(document, earlier, redline=True))
        return "complete"
    except Cancelled:
        return "cancelled" if generation_cancelled(document_id, attempt) else "superseded"
    except DATABASE_LOST as exc:
        _forget_connection()
        _delete_quietly(stored_key)
        _delete_quietly(redline_key)
        return _after_database_lost(document_id, attempt, exc)
    except GenerationError as exc:
        _delete_quietly(stored_key)
        _delete_quietly(redline_key)
        generation_fail(document_id, exc.code, exc.message, attempt=attempt)
        return f"failed-{exc.code}"
    except MemoryError:
        _delete_quietly(stored_key)
        _delete_quietly(redline_key)
        generation_fail(document_id, "resource_limit_exceeded", attempt=attempt)
        return "failed-resource_limit_exceeded"
    except Exception as exc:
        _delete_quietly(stored_key)
        _delete_quietly(redline_key)
        if type(exc).__name__ == "JobTimeoutException":
            # RQ's job_timeout (SIGALRM in the work horse): the job's hard limit, not a crash.
            generation_fail(document_id, "processing_timeout", attempt=attempt)
            return "failed-processing_timeout"
        logger.exception("Generation %s failed unexpectedly", document_id)
        generation_fail(document_id, "internal_error", attempt=attempt)
        return "failed-internal_error"
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        _release_connections()


def _store(key: str, path: str, document: GeneratedDocument) -> str:
    """Store an output; a storage that keeps refusing is ``storage_unavailable``."""
    try:
        if default_storage.exists(key):
            default_storage.delete(key)  # left by this very attempt's earlier, killed try
        return filestore.save_file(key, path, f"{document.id}.docx")
    except (filestore.StorageUnavailableError, *filestore.STORAGE_ERRORS) as exc:
        logger.warning("Storing the output of %s failed: %s", document.id, exc)
        raise GenerationError(code="storage_unavailable") from exc


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
            generation_fail(job.id, "processing_timeout")
        elif name in {"AbandonedJobError", "WorkHorseKilledError"}:
            generation_retry_or_fail(job.id, "worker_crashed", require_stale=True)
        else:
            generation_fail(job.id, "internal_error")
    finally:
        _release_connections()


def on_work_horse_killed(
    job: Any, retpid: int, ret_val: int, rusage: Any, *, worker_name: str | None = None
) -> None:
    """The horse died (OOM killer, SIGKILL, RQ's hard kill at timeout + 60 s).

    A horse killed after its job's timeout was stuck past the limit: ``processing_timeout``.
    Otherwise the attempt is retried (the worker enqueues it again, see
    ``documents.worker.FolioWorker.handle_job_failure``) or, after ``FOLIO_MAX_ATTEMPTS``
    claims, failed with ``worker_crashed``.

    ``worker_name`` (the worker whose horse died) limits this to that worker's own attempt: a
    worker cut off from the network mid-job whose attempt was meanwhile retried on another host
    sees its horse end badly when it comes back, and must not fail the newer attempt.
    """
    if getattr(job, "func_name", None) != "documents.jobs.run_generation":
        return  # a stale check or a webhook delivery: no status row to retry or fail
    _release_connections()
    try:
        started = getattr(job, "started_at", None)
        timeout = getattr(job, "timeout", None)
        if started is not None and timeout and timeout > 0:
            elapsed = (datetime.now(started.tzinfo) - started).total_seconds()
            if elapsed >= timeout:
                generation_fail(
                    job.id,
                    "processing_timeout",
                    only_if=(Status.GENERATING, Status.PENDING),
                    worker_name=worker_name,
                )
                return
        generation_retry_or_fail(
            job.id, "worker_crashed", require_stale=False, worker_name=worker_name
        )
    finally:
        _release_connections()
