"""The only module that talks to Redis: enqueue a generation, requeue or cancel it, queue health.

Status polling never comes here: the database row is the source of truth. Every Redis call made
from a web request or the reconciler goes through one cached client per process whose socket
timeouts and retries are short (``FOLIO_REDIS_TIMEOUT_MS``, one retry, no health-check PING), so a
stopped or frozen Redis turns into ``QueueError`` well within two seconds instead of hanging a
request. (django-rq's worker and dashboard build their own clients from ``RQ_QUEUES``, whose
``REDIS_CLIENT_KWARGS`` carry timeouts too; the worker then raises its socket timeout above its
blocking dequeue on purpose.)

A job's id is always the document's id, and jobs are enqueued with ``unique=True``: while a job
with that id exists in Redis, a second enqueue is refused instead of running the document twice.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from datetime import UTC, datetime
from typing import Any

import django_rq
import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry
from rq import Callback
from rq import Retry as RQRetry
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer
from rq.worker import Worker

logger = logging.getLogger(__name__)

QUEUE_NAME = "default"
JOB_FUNCTION = "documents.jobs.run_generation"
# RQ resolves both by name in the worker: this module never imports the job code.
FAILURE_CALLBACK = "documents.jobs.on_job_failure"
# The review cycle's jobs (docs/api.md, "The review cycle"): stale detection after a new source
# version, and one webhook delivery (retried by RQ with back-off).
STALENESS_FUNCTION = "documents.staleness.run_staleness_check"
WEBHOOK_FUNCTION = "portal.webhooks.jobs.deliver"
# A job in one of these RQ states is on its way to a worker (or on one): never enqueue it again.
IN_FLIGHT = {JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED, JobStatus.STARTED}


class QueueError(Exception):
    """The queue could not be reached."""


# After a timeout, requests in this process skip Redis for this long (a freeze costs one
# request the timeout, not every request).
QUEUE_DOWN_HOLD_SECONDS = 2.0
_down_until = 0.0


def _held_down() -> bool:
    return time.monotonic() < _down_until


def _note(exc: BaseException) -> None:
    """Remember a timeout: the server is frozen or overloaded, do not wait on it again soon."""
    global _down_until
    if isinstance(exc, RedisTimeoutError | TimeoutError | socket.timeout):
        _down_until = time.monotonic() + QUEUE_DOWN_HOLD_SECONDS


def reset_down_hold() -> None:
    """Forget a remembered timeout (tests restarting the server)."""
    global _down_until
    _down_until = 0.0


# --- the client ----------------------------------------------------------------------------------

_client_lock = threading.Lock()
_clients: dict[tuple[Any, ...], redis.Redis] = {}


def _client() -> redis.Redis:
    """One bounded client per process and queue configuration (pools are fork-safe in redis-py)."""
    config = settings.RQ_QUEUES[QUEUE_NAME]
    timeout = getattr(settings, "FOLIO_REDIS_TIMEOUT_MS", 600) / 1000
    key = (
        config.get("HOST"),
        config.get("PORT"),
        config.get("DB"),
        config.get("USERNAME"),
        config.get("PASSWORD"),
        config.get("SSL"),
        timeout,
    )
    client = _clients.get(key)
    if client is not None:
        return client
    with _client_lock:
        client = _clients.get(key)
        if client is None:
            client = redis.Redis(
                host=config.get("HOST") or "127.0.0.1",
                port=config.get("PORT") or 6379,
                db=config.get("DB") or 0,
                username=config.get("USERNAME"),
                password=config.get("PASSWORD"),
                ssl=bool(config.get("SSL")),
                socket_connect_timeout=timeout,
                socket_timeout=timeout,
                # One retry covers a connection that went stale (Redis restarted); more would only
                # multiply the wait on a frozen server.
                retry=Retry(NoBackoff(), 1),
                health_check_interval=0,
                # No CLIENT SETINFO on connect: one round trip less, one timeout less.
                driver_info=None,
                max_connections=64,
            )
            _clients[key] = client
    return client


def get_queue() -> Any:
    # Enqueue right away: the caller already runs after the row's transaction committed.
    # JSON: the worker reads nothing else (documents/worker.py).
    return django_rq.get_queue(
        QUEUE_NAME, commit_mode="auto", connection=_client(), serializer=JSONSerializer
    )


# --- enqueue, requeue, cancel --------------------------------------------------------------------


def enqueue_generation(document_id: str) -> bool:
    """Queue ``run_generation(document_id)`` with job id = document id.

    Returns False when a job with that id already exists (nothing was enqueued); raises
    ``QueueError`` when Redis cannot be reached.
    """
    if _held_down():
        raise QueueError("the queue timed out moments ago")
    try:
        get_queue().enqueue_call(
            JOB_FUNCTION,
            args=(document_id,),
            job_id=document_id,
            timeout=settings.FOLIO_JOB_TIMEOUT,
            result_ttl=3600,
            failure_ttl=7 * 24 * 3600,
            on_failure=Callback(FAILURE_CALLBACK),
            unique=True,
        )
    except DuplicateJobError:
        return False
    except (RedisError, OSError) as exc:
        _note(exc)
        raise QueueError(str(exc)) from exc
    return True


def requeue_generation(document_id: str, *, force: bool = False) -> bool:
    """Make sure a job for a Pending row is on the queue again; True if one was enqueued.

    A job still queued or running is left alone, unless ``force`` says its execution is known to
    be dead (then its leftovers are removed from RQ's registries first). A job that RQ considers
    ended (failed, stopped, cancelled, finished) or that vanished is enqueued again with the same
    id. Raises ``QueueError`` when Redis cannot be reached.
    """
    try:
        connection = _client()
        try:
            job = Job.fetch(document_id, connection=connection, serializer=JSONSerializer)
        except NoSuchJobError:
            job = None
        if job is not None:
            status = job.get_status(refresh=False)
            if status in IN_FLIGHT and not force:
                return False
            job.delete()
    except (RedisError, OSError) as exc:
        raise QueueError(str(exc)) from exc
    return enqueue_generation(document_id)


def cancel_job(document_id: str) -> None:
    """Best effort: drop a queued job from Redis (the row is already Cancelled)."""
    try:
        job = Job.fetch(document_id, connection=_client(), serializer=JSONSerializer)
        job.cancel()
    except Exception:  # best effort: the row, not Redis, says the document is cancelled
        logger.debug("Could not cancel RQ job %s", document_id)


def enqueue_staleness_check(version_id: str) -> None:
    """Queue the check of which documents a new source file version makes stale."""
    try:
        get_queue().enqueue_call(
            STALENESS_FUNCTION,
            args=(version_id,),
            timeout=settings.FOLIO_JOB_TIMEOUT,
            result_ttl=600,
            failure_ttl=7 * 24 * 3600,
        )
    except (RedisError, OSError) as exc:
        raise QueueError(str(exc)) from exc


def enqueue_webhook_delivery(webhook_id: str, event_id: str, event: str, body: str) -> None:
    """Queue one webhook event's delivery; RQ retries it after each of
    ``FOLIO_WEBHOOK_RETRY_SECONDS`` while the receiver does not take it."""
    intervals = list(settings.FOLIO_WEBHOOK_RETRY_SECONDS)
    try:
        get_queue().enqueue_call(
            WEBHOOK_FUNCTION,
            args=(webhook_id, event_id, event, body),
            timeout=max(30, int(settings.FOLIO_WEBHOOK_TIMEOUT_SECONDS) * 3),
            result_ttl=600,
            failure_ttl=7 * 24 * 3600,
            retry=RQRetry(max=len(intervals), interval=intervals) if intervals else None,
        )
    except (RedisError, OSError) as exc:
        raise QueueError(str(exc)) from exc


# --- what RQ knows -------------------------------------------------------------------------------


def job_status(document_id: str) -> str | None:
    """RQ's status of the job (``"queued"``, ``"started"``, ..., or ``"missing"``).

    None when Redis cannot be reached.
    """
    try:
        job = Job.fetch(document_id, connection=_client(), serializer=JSONSerializer)
    except NoSuchJobError:
        return "missing"
    except (RedisError, OSError):
        return None
    status = job.get_status(refresh=False)
    return str(status.value if hasattr(status, "value") else status)


def job_exists(document_id: str) -> bool | None:
    """True/False when Redis answers; None when it cannot be reached."""
    try:
        return bool(_client().exists(Job.key_for(document_id)))
    except (RedisError, OSError):
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def worker_is_alive(worker_name: str, *, stale_after: float | None = None) -> bool | None:
    """Whether the RQ worker named ``worker_name`` still lives; None when Redis cannot tell.

    The worker's registration may outlive a SIGKILLed worker by minutes (its key's TTL), so the
    registration alone is not trusted: a worker registered on this host whose pid is gone is
    dead, and so is one whose last heartbeat is older than ``stale_after`` seconds.
    """
    try:
        data = _client().hgetall(f"rq:worker:{worker_name}")
    except (RedisError, OSError):
        return None
    if not data:
        return False
    fields = {k.decode(): v.decode() for k, v in data.items()}
    hostname = fields.get("hostname")
    pid = fields.get("pid")
    if hostname == socket.gethostname() and pid and pid.isdigit() and not _pid_alive(int(pid)):
        return False
    if stale_after is not None and fields.get("last_heartbeat"):
        try:
            beat = datetime.strptime(fields["last_heartbeat"], "%Y-%m-%dT%H:%M:%S.%fZ")
        except ValueError:
            return True
        age = (datetime.now(UTC).replace(tzinfo=None) - beat).total_seconds()
        if age > stale_after:
            return False
    return True


def job_is_running(
    document_id: str, *, stale_after: float | None = None, worker_name: str | None = None
) -> bool | None:
    """True when RQ says the job is started on a live worker; None when Redis cannot tell.

    With ``worker_name`` (the worker the row says holds its attempt), only when RQ's record is
    about that worker: RQ keeps one record per job id, and after a retry a late, older attempt
    can have rewritten it.
    """
    try:
        job = Job.fetch(document_id, connection=_client(), serializer=JSONSerializer)
    except NoSuchJobError:
        return False
    except (RedisError, OSError):
        return None
    if job.get_status(refresh=False) != JobStatus.STARTED:
        return False
    running_on = getattr(job, "worker_name", None)
    if not running_on or (worker_name and running_on != worker_name):
        return False
    return worker_is_alive(running_on, stale_after=stale_after)


def queue_health() -> tuple[bool, int]:
    """(queue reachable, number of live workers)."""
    if _held_down():
        return False, 0
    try:
        connection = _client()
        connection.ping()
        workers = Worker.all(connection=connection)
    except (RedisError, OSError) as exc:
        _note(exc)
        return False, 0
    alive = 0
    for worker in workers:
        if worker_is_alive(worker.name) is not False:
            alive += 1
    return True, alive


def queue_reachable() -> bool:
    if _held_down():
        return False
    try:
        return bool(_client().ping())
    except (RedisError, OSError) as exc:
        _note(exc)
        return False
