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
- Lives through a Redis outage (a restart, a freeze longer than its socket timeout): a connection
  or timeout error in a heartbeat, a state write, the maintenance pass or the bookkeeping after a
  job is logged and the worker goes on (the dequeue loop already waits with back-off). RQ's own
  loop would exit on any of them, leaving the running job and the queue unserved. After an
  outage the worker registers itself again if its key was lost, and a job whose RQ bookkeeping
  failed is finished in RQ (or enqueued again when it never ran) once Redis answers.
- When a horse ends (killed or not), kills what is left of its process group: a parser child
  (``documents.pipeline.limited.run_limited``) never outlives it.
- Each work horse lowers its CPU priority by ``FOLIO_WORKER_NICE`` (default 10): on a machine
  that also runs the web process, accepting and status requests win over generation work
  (``lower_cpu_priority``: the process's nice value, and its session's autogroup when the
  worker leads a session of its own).
- Its scheduler process (``--with-scheduler``) dies with it (parent-death signal), so a killed
  worker leaves no scheduler behind holding the scheduler lock.
- Runs only Folio's own jobs (docs/security.md, finding 1): job data is read with RQ's JSON
  serializer, never pickle (unpickling a job someone else wrote would run their code before any
  check), and a job whose function or callbacks are not on ``ALLOWED_FUNCTIONS`` /
  ``ALLOWED_CALLBACKS`` is failed without being run. So a process that reaches the queue can at
  most queue a generation of an existing Pending row, which the row's claim makes harmless.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from typing import Any

import rq.scheduler as rq_scheduler
from django.conf import settings
from django.db import connections
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq.exceptions import StopRequested
from rq.job import JobStatus
from rq.serializers import JSONSerializer
from rq.worker import Worker, WorkerStatus

from documents import jobs
from documents import queue as folio_queue
from documents.pipeline.limited import die_with_parent
from documents.reconciler import reconcile
from documents.services import job_state

logger = logging.getLogger(__name__)

# What a Redis outage raises (a restart: connection refused or reset; a freeze: socket timeout).
REDIS_OUTAGE = (RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError)
# The longest wait between two tries to reach Redis again (RQ's default is 60 s).
MAX_REDIS_WAIT_SECONDS = 5.0

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


_rq_scheduler_run = rq_scheduler.run


def _scheduler_dies_with_its_worker(scheduler: Any) -> None:
    """RQ's scheduler process (``--with-scheduler``), made to die with the worker that forked it:
    a SIGKILLed worker used to leave it running, holding the scheduler lock (issue 11, fault 6)."""
    die_with_parent(os.getppid())
    _rq_scheduler_run(scheduler)


# RQScheduler.start() looks ``run`` up in its module when it forks the scheduler process.
rq_scheduler.run = _scheduler_dies_with_its_worker


def is_generation(job: Any) -> bool:
    try:
        return bool(job.func_name == folio_queue.JOB_FUNCTION)
    except Exception:
        return False


AUTOGROUP = "/proc/self/autogroup"


def autogroup_applies() -> bool:
    """Whether the kernel shares the CPU between sessions for this process (autogrouping).

    The file is missing on other systems and kernels built without it, and empty when the
    process sits in a CPU cgroup of its own (a container, a systemd slice with CPU accounting):
    the cgroup's weight then decides, and the autogroup nice does nothing.
    """
    try:
        with open(AUTOGROUP) as handle:
            return "nice" in handle.read()
    except OSError:
        return False


def lower_cpu_priority(nice: int) -> list[str]:
    """Give up ``nice`` steps of CPU priority in this work horse; what was lowered.

    ``os.nice`` alone is not enough on Linux with autogrouping (``kernel.sched_autogroup_enabled``,
    on by default on desktop and most server kernels): the scheduler first shares the CPU between
    sessions, equally, and a nice value only counts inside its own session. A worker started in
    a session of its own (``setsid``: systemd, a supervisor, ``start_new_session``) would then
    compete with the web process as an equal whatever its nice value (measured: two niced horses
    in their own session took about twice the CPU of two web processes). So when the worker
    leads its own session, which then holds only the worker, its horses and their children, the
    horse also lowers that session's autogroup nice (``/proc/self/autogroup``; raising it needs no
    privilege). A worker that shares a session with something else (``make run`` keeps one
    session for the whole stack) changes only its own nice value, which then is what counts.
    Where the process sits in a CPU cgroup instead (containers, systemd with CPU accounting)
    autogrouping does not apply and the unit's ``CPUWeight`` does that work.
    """
    lowered: list[str] = []
    if nice <= 0:
        return lowered
    with contextlib.suppress(OSError):
        os.nice(nice)
        lowered.append("process")
    try:
        own_session = os.getsid(0) == os.getppid()
    except OSError:
        own_session = False
    if own_session and autogroup_applies():
        try:
            fd = os.open(AUTOGROUP, os.O_WRONLY)
        except OSError:
            return lowered
        try:
            os.write(fd, str(min(nice, 19)).encode())
            lowered.append("autogroup")
        except OSError:
            pass
        finally:
            os.close(fd)
    return lowered


class FolioWorker(Worker):
    max_connection_wait_time = MAX_REDIS_WAIT_SECONDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Always JSON, whatever `rqworker --serializer` says (its default is pickle).
        kwargs["serializer"] = JSONSerializer
        kwargs.setdefault("maintenance_interval", int(settings.FOLIO_RECONCILE_SECONDS))
        kwargs.setdefault("job_monitoring_interval", int(settings.FOLIO_WORKER_MONITOR_SECONDS))
        super().__init__(*args, **kwargs)
        self._redis_lost = False
        self._forked = False

    # --- a Redis outage is waited out, never a reason to exit ------------------------------------

    def _outage(self, what: str, exc: BaseException) -> None:
        if not self._redis_lost:
            logger.warning("Worker %s: Redis unreachable (%s: %s); going on", self.name, what, exc)
        self._redis_lost = True

    def _redis_back(self) -> None:
        """First successful call after an outage: register again if the key was lost."""
        if not self._redis_lost:
            return
        self._redis_lost = False
        logger.warning("Worker %s: Redis answers again", self.name)
        try:
            if not self.connection.hexists(self.key, "birth"):
                self.connection.delete(self.key)
                self.register_birth()
        except REDIS_OUTAGE as exc:
            self._outage("register", exc)
        except Exception:
            logger.warning("Worker %s: could not register again", self.name, exc_info=True)

    # --- a stop request is never lost ------------------------------------------------------------

    def request_stop(self, signum: int, frame: Any) -> None:
        """SIGTERM/SIGINT: RQ raises ``StopRequested`` from this handler when the worker is idle.

        Raised in the middle of code that must survive its own failures (a reconciler pass, a
        Redis outage being waited out), an ``except Exception`` there could swallow it and the
        worker would never stop: a ``make run`` stack killed with its worker in a reconciler
        pass left that worker running. So the request is also kept as a flag, which the idle
        loop checks on every turn (``heartbeat``).
        """
        self._stop_requested = True
        super().request_stop(signum, frame)

    def _stop_if_requested(self) -> None:
        if getattr(self, "_stop_requested", False) and self.get_state() != WorkerStatus.BUSY:
            raise StopRequested()

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        if pipeline is not None:  # only queued: the pipeline's caller executes it
            super().heartbeat(timeout, pipeline=pipeline)
            return
        self._stop_if_requested()
        try:
            super().heartbeat(timeout)
        except REDIS_OUTAGE as exc:
            self._outage("heartbeat", exc)
            return
        self._redis_back()

    def set_state(self, state: str, pipeline: Any = None) -> None:
        try:
            super().set_state(state, pipeline=pipeline)
        except REDIS_OUTAGE as exc:
            self._state = state
            self._outage("state", exc)

    def check_for_suspension(self, burst: bool) -> None:
        try:
            super().check_for_suspension(burst)
        except REDIS_OUTAGE as exc:
            self._outage("suspension check", exc)

    def run_maintenance_tasks(self) -> None:
        try:
            super().run_maintenance_tasks()
        except REDIS_OUTAGE as exc:
            self._outage("maintenance", exc)

    def _wait_for_redis(self) -> None:
        """Block (with back-off) until Redis answers or a stop is requested."""
        wait = 0.5
        while not getattr(self, "_stop_requested", False):
            try:
                self.connection.ping()
                self._redis_back()
                return
            except REDIS_OUTAGE:
                time.sleep(wait)
                wait = min(wait * 2, MAX_REDIS_WAIT_SECONDS)

    def _finish_after_outage(self, job: Any, queue: Any) -> None:
        """RQ's bookkeeping of ``job`` failed on a Redis error: finish it once Redis answers.

        A job that never reached a horse is enqueued again (its row is still Pending). A job
        whose horse ended but whose RQ state still says started is failed in RQ, which retries
        the row if the horse died (``handle_job_failure``); a row the horse finished is left as
        it is (the row, not RQ, is the truth).
        """
        horse = getattr(self, "_horse_pid", 0)
        if horse:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(horse, 0)  # never dequeue again while our horse still runs
            self._horse_pid = 0
        self._wait_for_redis()
        try:
            if not self._forked:
                if is_generation(job):
                    folio_queue.requeue_generation(job.id, force=True)
                return
            if job.get_status(refresh=True) == JobStatus.STARTED:
                self.handle_job_failure(
                    job, queue, exc_string="Redis was unreachable when the job ended."
                )
        except Exception:  # the reconciler settles whatever is left
            logger.warning("Worker %s: could not settle job %s", self.name, job.id, exc_info=True)
        finally:
            connections.close_all()

    @property
    def dequeue_timeout(self) -> int:
        # RQ blocks on the queue for worker_ttl - 15 s and runs maintenance only between waits.
        return max(1, min(super().dequeue_timeout, int(self.maintenance_interval)))

    def execute_job(self, job: Any, queue: Any) -> None:
        refusal = job_refusal(job)
        if refusal is None:
            self._forked = False
            try:
                super().execute_job(job, queue)
            except REDIS_OUTAGE as exc:
                self._outage(f"job {job.id}", exc)
                self._finish_after_outage(job, queue)
            return
        logger.warning("Refused job %s: %s; it was not run", job.id, refusal)
        # RQ's own failure handling (not ours below: a foreign job has no row to retry).
        Worker.handle_job_failure(self, job, queue, exc_string=f"Refused by Folio: {refusal}.")

    def fork_work_horse(self, job: Any, queue: Any) -> None:
        connections.close_all()
        self._forked = True
        super().fork_work_horse(job, queue)

    def monitor_work_horse(self, job: Any, queue: Any, execution: Any) -> None:
        horse = int(getattr(self, "_horse_pid", 0) or 0)
        try:
            super().monitor_work_horse(job, queue, execution)
        finally:
            if horse and not getattr(self, "_horse_pid", 0):
                # The horse is reaped; whatever it started (an extraction child) is in its
                # process group (RQ's horse calls setpgrp) and goes with it. Its pid cannot have
                # been reused while that group still has members.
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(horse, signal.SIGKILL)

    def main_work_horse(self, job: Any, queue: Any) -> None:
        # Generation is batch work: on a machine that also serves web requests, the web process
        # must win the CPU (bench/load.py measures the accept path while horses generate).
        lower_cpu_priority(int(getattr(settings, "FOLIO_WORKER_NICE", 0) or 0))
        super().main_work_horse(job, queue)

    def maintain_heartbeats(self, job: Any, execution: Any) -> None:
        if not is_generation(job):  # a stale check or a webhook delivery has no status row
            try:
                super().maintain_heartbeats(job, execution)
            except REDIS_OUTAGE as exc:
                self._outage("job heartbeat", exc)
            return
        # The database first: it must not depend on Redis answering.
        try:
            job_state.generation_heartbeat(job.id, worker_name=self.name)
        except Exception:
            logger.warning("Could not record the heartbeat of %s", job.id, exc_info=True)
        finally:
            connections.close_all()
        try:
            super().maintain_heartbeats(job, execution)
        except REDIS_OUTAGE as exc:  # the row's heartbeat above is what the reconciler reads
            self._outage("job heartbeat", exc)
            return
        self._redis_back()

    def handle_work_horse_killed(self, job: Any, retpid: int, ret_val: int, rusage: Any) -> None:
        """Our horse died: give up this worker's own attempt (never a newer one elsewhere)."""
        super().handle_work_horse_killed(job, retpid, ret_val, rusage)
        jobs.on_work_horse_killed(job, retpid, ret_val, rusage, worker_name=self.name)

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
        try:
            super().clean_registries()
        finally:
            self._reconcile()

    def _reconcile(self) -> None:
        try:
            counts = reconcile()
            if any(counts.values()):
                logger.warning("Reconciler: %s", counts)
        except StopRequested:
            raise  # SIGTERM arrived during the pass: a stop, not a failed pass
        except Exception:  # the worker must keep working even if a pass fails
            logger.exception("Reconciler pass failed")
        finally:
            connections.close_all()
