"""The only module that talks to Redis: enqueue a generation, cancel it, report queue health.

Status polling never comes here: the database row is the source of truth. Every Redis call is
bounded by the client's socket timeouts (settings.redis_queue_config), so a stopped or frozen
Redis turns into ``QueueError`` within a couple of seconds instead of hanging a request.
"""

from __future__ import annotations

import logging

import django_rq
from django.conf import settings
from redis.exceptions import RedisError
from rq import Callback
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.worker import Worker

logger = logging.getLogger(__name__)

QUEUE_NAME = "default"
JOB_FUNCTION = "documents.jobs.run_generation"


class QueueError(Exception):
    """The queue could not be reached."""


def get_queue():
    # Enqueue right away: the caller already runs after the row's transaction committed.
    return django_rq.get_queue(QUEUE_NAME, commit_mode="auto")


def enqueue_generation(document_id: str) -> None:
    from documents import jobs

    try:
        get_queue().enqueue_call(
            JOB_FUNCTION,
            args=(document_id,),
            job_id=document_id,
            timeout=settings.FOLIO_JOB_TIMEOUT,
            result_ttl=3600,
            failure_ttl=7 * 24 * 3600,
            on_failure=Callback(jobs.on_job_failure),
        )
    except (RedisError, OSError) as exc:
        raise QueueError(str(exc)) from exc


def cancel_job(document_id: str) -> None:
    """Best effort: drop a queued job from Redis (the row is already Cancelled)."""
    try:
        queue = get_queue()
        job = Job.fetch(document_id, connection=queue.connection)
        job.cancel()
    except (NoSuchJobError, RedisError, OSError, Exception):  # noqa: BLE001 - best effort
        logger.debug("Could not cancel RQ job %s", document_id)


def job_exists(document_id: str) -> bool | None:
    """True/False when Redis answers; None when it cannot be reached."""
    try:
        queue = get_queue()
        return bool(queue.connection.exists(Job.key_for(document_id)))
    except (RedisError, OSError):
        return None


def job_is_running(document_id: str) -> bool | None:
    """True when RQ says the job is started on a live worker; None when Redis cannot tell."""
    try:
        queue = get_queue()
        job = Job.fetch(document_id, connection=queue.connection)
    except NoSuchJobError:
        return False
    except (RedisError, OSError):
        return None
    if job.get_status(refresh=False) != "started":
        return False
    worker_name = getattr(job, "worker_name", None)
    if not worker_name:
        return False
    try:
        return bool(queue.connection.exists(f"rq:worker:{worker_name}"))
    except (RedisError, OSError):
        return None


def queue_health() -> tuple[bool, int]:
    """(queue reachable, number of live workers)."""
    try:
        queue = get_queue()
        queue.connection.ping()
        workers = Worker.count(connection=queue.connection)
        return True, int(workers)
    except (RedisError, OSError):
        return False, 0
