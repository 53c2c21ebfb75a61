"""The reconciler: every accepted generation reaches a terminal state, whatever happened to RQ.

Run by each worker when it starts and on every maintenance pass (``documents/worker.py``) and by
``manage.py reconcile``. It reads the rows and RQ, and moves rows only through the job's
services (``documents/services/job_state.py``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from documents import queue
from documents.models import GeneratedDocument
from documents.services.job_state import (
    generation_fail,
    generation_retry_or_fail,
    hard_limit_seconds,
    stale_after_seconds,
)

Status = GeneratedDocument.Status
# Rows examined per reconciler pass (the next pass takes the rest).
RECONCILE_BATCH = 500


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
            .only("id", "started_at", "worker_name")
            .order_by("heartbeat_at")[:RECONCILE_BATCH]
        )
        for row in stale:
            running = queue.job_is_running(
                str(row.id), stale_after=max(stale_after, 5), worker_name=row.worker_name or None
            )
            if running is None:
                break  # Redis stopped answering: try again next pass
            if running:
                if row.started_at is not None and row.started_at < hard_cutoff:
                    counts["failed"] += generation_fail(
                        row.id, "processing_timeout", only_if=(Status.GENERATING,)
                    )
                continue  # a live worker still runs it (RQ kills it at its timeout)
            outcome = generation_retry_or_fail(row.id, "worker_crashed", require_stale=False)
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
                counts["failed"] += generation_fail(
                    row.id, "worker_crashed", only_if=(Status.PENDING,)
                )
                continue
            try:
                if queue.requeue_generation(str(row.id), force=True):
                    counts["requeued"] += 1
            except queue.QueueError:
                break
    return counts
