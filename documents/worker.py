"""The RQ worker: ``manage.py rqworker default --worker-class documents.worker.FolioWorker``.

- Imports the heavy libraries (pypdf, python-docx, bm25s, numpy) once in the parent, so each
  forked work horse starts with them loaded instead of importing them per job.
- Closes the parent's database connections before forking, so a horse never shares a socket,
  and after every database write of its own (a database restart never leaves it a dead socket).
- While a horse runs a job, writes the row's ``heartbeat_at`` every job-monitoring interval
  (``FOLIO_WORKER_MONITOR_SECONDS``): the reconciler tells a live attempt from a dead one by it.
- When a horse is killed (SIGKILL/OOM, which RQ's ``on_failure`` does not cover) the row is
  retried or failed (``documents.jobs.on_work_horse_killed``), and a retry is enqueued again as
  soon as RQ has recorded the failure.
- Runs the reconciler when it starts and on every maintenance pass, every
  ``FOLIO_RECONCILE_SECONDS`` (the blocking dequeue is shortened to match, so an idle worker
  still runs it on time).
- Runs only Folio's own jobs (docs/security.md, finding 1): job data is read with RQ's JSON
  serializer, never pickle (unpickling a job someone else wrote would run their code before any
  check), and a job whose function or callbacks are not on ``ALLOWED_FUNCTIONS`` /
  ``ALLOWED_CALLBACKS`` is failed without being run. So a process that reaches the queue can at
  most queue a generation of an existing Pending row, which the row's claim makes harmless.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import connections
from rq.serializers import JSONSerializer
from rq.worker import Worker

from documents import jobs
from documents import queue as folio_queue
from documents.reconciler import reconcile
from documents.services import job_state

logger = logging.getLogger(__name__)

# Every function Folio enqueues, and every callback it attaches (documents/queue.py).
ALLOWED_FUNCTIONS = frozenset(
    {folio_queue.JOB_FUNCTION, folio_queue.STALENESS_FUNCTION, folio_queue.WEBHOOK_FUNCTION}
)
ALLOWED_CALLBACKS = frozenset({"documents.jobs.on_job_failure"})

try:  # heavy imports, once, in the parent
    from documents.pipeline import run as _preload_pipeline  # noqa: F401
except Exception:  # a broken pipeline must fail jobs (with a code), not stop the worker
    logger.exception("The generation pipeline could not be imported; jobs will fail")


def job_refusal(job: Any) -> str | None:
    """Why ``job`` must not run (None when it is one of Folio's own)."""
    try:
        func_name = job.func_name
        instance = job.instance
    except Exception:  # not JSON, or not a job RQ can read: someone else's
        return "its data cannot be read as a Folio job"
    if func_name not in ALLOWED_FUNCTIONS or instance is not None:
        return f"{str(func_name)[:200]!r} is not one of Folio's job functions"
    for kind in ("success", "failure", "stopped"):
        callback = getattr(job, f"_{kind}_callback_name", None)
        if callback is not None and callback not in ALLOWED_CALLBACKS:
            return f"its {kind} callback {str(callback)[:200]!r} is not one of Folio's"
    return None


def is_generation(job: Any) -> bool:
    try:
        return bool(job.func_name == folio_queue.JOB_FUNCTION)
    except Exception:
        return False


class FolioWorker(Worker):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Always JSON, whatever `rqworker --serializer` says (its default is pickle).
        kwargs["serializer"] = JSONSerializer
        kwargs.setdefault("work_horse_killed_handler", jobs.on_work_horse_killed)
        kwargs.setdefault("maintenance_interval", int(settings.FOLIO_RECONCILE_SECONDS))
        kwargs.setdefault("job_monitoring_interval", int(settings.FOLIO_WORKER_MONITOR_SECONDS))
        super().__init__(*args, **kwargs)

    @property
    def dequeue_timeout(self) -> int:
        # RQ blocks on the queue for worker_ttl - 15 s and runs maintenance only between waits.
        return max(1, min(super().dequeue_timeout, int(self.maintenance_interval)))

    def execute_job(self, job: Any, queue: Any) -> None:
        refusal = job_refusal(job)
        if refusal is None:
            super().execute_job(job, queue)
            return
        logger.warning("Refused job %s: %s; it was not run", job.id, refusal)
        # RQ's own failure handling (not ours below: a foreign job has no row to retry).
        Worker.handle_job_failure(self, job, queue, exc_string=f"Refused by Folio: {refusal}.")

    def fork_work_horse(self, job: Any, queue: Any) -> None:
        connections.close_all()
        super().fork_work_horse(job, queue)

    def maintain_heartbeats(self, job: Any, execution: Any) -> None:
        if not is_generation(job):  # a stale check or a webhook delivery has no status row
            super().maintain_heartbeats(job, execution)
            return
        # The database first: it must not depend on Redis answering.
        try:
            job_state.generation_heartbeat(job.id)
        except Exception:
            logger.warning("Could not record the heartbeat of %s", job.id, exc_info=True)
        finally:
            connections.close_all()
        super().maintain_heartbeats(job, execution)

    def handle_job_failure(self, job: Any, queue: Any, *args: Any, **kwargs: Any) -> None:
        super().handle_job_failure(job, queue, *args, **kwargs)
        if self.is_horse or not is_generation(job):
            return
        try:
            if job_state.generation_needs_requeue(job.id):
                folio_queue.requeue_generation(job.id, force=True)
        except Exception:  # the reconciler enqueues it on its next pass
            logger.warning("Could not enqueue the retry of %s now", job.id, exc_info=True)
        finally:
            connections.close_all()

    def bootstrap(self, *args: Any, **kwargs: Any) -> None:
        super().bootstrap(*args, **kwargs)
        self._reconcile()

    def clean_registries(self) -> None:
        super().clean_registries()
        self._reconcile()

    def _reconcile(self) -> None:
        try:
            counts = reconcile()
            if any(counts.values()):
                logger.warning("Reconciler: %s", counts)
        except Exception:  # the worker must keep working even if a pass fails
            logger.exception("Reconciler pass failed")
        finally:
            connections.close_all()
