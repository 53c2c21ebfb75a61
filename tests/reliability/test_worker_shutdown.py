"""SIGTERM to a worker during a job (issue 11, "Warm shutdown"): the row never lies.

A warm shutdown (one SIGTERM, what systemd and ``make run`` send) lets the running job finish
and then exits; a cold one (a second SIGTERM) kills the horse, and the attempt is handed back:
another worker finishes it.
"""

from __future__ import annotations

import signal
import time

import pytest

from tests.reliability.conftest import (
    outcome,
    output_files,
    row,
    wait_for,
    wait_status,
    wait_terminal,
)

pytestmark = [
    pytest.mark.reliability(category="fault"),
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]


@pytest.mark.timeout(120)
def test_a_warm_shutdown_finishes_the_running_job_then_exits(
    request, stack, member, tiny_source, submit
):
    worker = stack.start_worker(FOLIO_TEST_SLOW_STEP_SECONDS="1")
    path = tiny_source(member)
    task = submit(member, [path]).json()["task_id"]
    queued = submit(member, [path], output_name="Queued").json()["task_id"]
    assert wait_status(task, "Generating", 30)
    started = time.monotonic()
    worker.proc.send_signal(signal.SIGTERM)
    assert worker.proc.wait(timeout=60) == 0, worker.output()
    elapsed = time.monotonic() - started
    doc = row(task)
    assert (doc.status, doc.attempts) == ("Complete", 1), (doc.status, doc.error_code)
    assert len(output_files(doc)) == 1
    assert row(queued).status == "Pending", "the stopped worker took no new job"

    stack.start_worker()
    assert wait_terminal(queued, 60).status == "Complete"
    outcome(request, f"job Complete, worker exited 0 after {elapsed:.1f} s; queued job Complete")


@pytest.mark.timeout(150)
def test_a_cold_shutdown_hands_the_job_back_to_another_worker(
    request, stack, member, tiny_source, submit
):
    first = stack.start_worker(FOLIO_TEST_SLOW_STEP_SECONDS="2")
    path = tiny_source(member)
    task = submit(member, [path]).json()["task_id"]
    assert wait_status(task, "Generating", 30)
    first.proc.send_signal(signal.SIGTERM)
    time.sleep(1.5)  # RQ ignores a second signal within a second of the first
    first.proc.send_signal(signal.SIGTERM)
    first.proc.wait(timeout=30)
    assert row(task).status in ("Pending", "Generating"), row(task).status

    stack.start_worker()
    doc = wait_terminal(task, 90)
    assert (doc.status, doc.attempts) == ("Complete", 2), (doc.status, doc.error_code)
    assert len(output_files(doc)) == 1
    outcome(request, "horse killed by the cold shutdown; Complete by another worker, attempt 2")


@pytest.mark.timeout(90)
@pytest.mark.parametrize("redis", ["up", "stopped"])
def test_a_stop_request_during_a_reconciler_pass_stops_the_idle_worker(request, stack, redis):
    """SIGTERM to an idle worker arriving in the middle of a reconciler pass (each pass made
    2 s long here; with the default 1 s interval a worker spends part of every second in one).
    RQ answers a stop of an idle worker by raising ``StopRequested`` from the signal handler,
    and the pass's ``except Exception`` (a failing pass must not kill the worker) swallowed it:
    the worker ran on for ever. A ``make run`` stack killed at that moment left its worker
    behind (tests/portal/test_runstack.py saw it once). With Redis stopped as well (the stack's
    valkey gets the same signal) the worker was also stuck waiting for Redis."""
    worker = stack.start_worker(FOLIO_TEST_SLOW_RECONCILE_SECONDS="2")

    def in_a_maintenance_pass() -> bool:  # RQ logs this line, then Folio's pass runs (2 s)
        return "cleaning registries" in worker.output()

    assert wait_for(in_a_maintenance_pass, 30, 0.05), worker.output()
    time.sleep(0.5)
    if redis == "stopped":
        stack.stop_redis()
    started = time.monotonic()
    worker.proc.send_signal(signal.SIGTERM)
    try:
        code = worker.proc.wait(timeout=20)
    except Exception:
        code = None
    elapsed = time.monotonic() - started
    assert code is not None, f"the worker did not stop:\n{worker.output()}"
    outcome(
        request, f"Redis {redis}: the worker stopped {elapsed:.1f} s after SIGTERM (exit {code})"
    )
