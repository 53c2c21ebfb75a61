"""A killed work horse leaves nothing behind (issue 11, fault 4).

Before: SIGKILL to a work horse while its parser child ran left the child re-parented to PID 1,
blocked on its pipe (it held the read end itself) for ever. Now the child dies with its parent
(parent-death signal), has its own deadline, and the worker kills the horse's process group.
The child is made to run long with the test-only ``FOLIO_TEST_SLOW_CHILD_SECONDS``.
"""

from __future__ import annotations

import os
import signal
import time

import psutil
import pytest

from tests.reliability.conftest import outcome, row, wait_for, wait_status

pytestmark = [
    pytest.mark.reliability(category="fault"),
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.timeout(120)
def test_a_killed_work_horse_takes_its_extraction_child_with_it(
    request, stack, member, tiny_source, submit
):
    worker = stack.start_worker(FOLIO_TEST_SLOW_CHILD_SECONDS="60")
    path = tiny_source(member, paragraphs=(f"Leak check {time.time_ns()}", "Body text."))
    task = submit(member, [path]).json()["task_id"]
    assert wait_status(task, "Generating", 30)
    horse = worker.horse_pid()
    assert horse

    def extraction_child() -> int | None:
        try:
            children = psutil.Process(horse).children()
        except psutil.NoSuchProcess:
            return None
        return children[0].pid if children else None

    child = wait_for(extraction_child, 30, 0.05)
    assert child, "the horse started its parser child"
    os.kill(horse, signal.SIGKILL)
    started = time.monotonic()
    assert wait_for(lambda: _gone(child), 10, 0.05), "the parser child outlived its horse"
    elapsed = time.monotonic() - started

    assert worker.proc.poll() is None, "the worker survives"
    assert wait_for(lambda: row(task).attempts == 2, 30), "the attempt is retried"
    outcome(request, f"parser child gone {elapsed * 1000:.0f} ms after the horse; retried")


@pytest.mark.timeout(90)
def test_a_killed_worker_leaves_no_scheduler_behind(request, stack):
    """Issue 11, fault 6: ``--with-scheduler`` forks RQ's scheduler; SIGKILL to the worker alone
    used to leave it running (re-parented), holding the scheduler lock."""
    worker = stack.start_worker(with_scheduler=True)

    def scheduler() -> int | None:
        try:
            children = psutil.Process(worker.pid).children()
        except psutil.NoSuchProcess:
            return None
        return children[0].pid if children else None

    child = wait_for(scheduler, 30, 0.1)
    assert child, "the worker forked its scheduler"
    os.kill(worker.pid, signal.SIGKILL)
    worker.proc.wait(timeout=10)
    started = time.monotonic()
    assert wait_for(lambda: _gone(child), 10, 0.05), "the scheduler outlived its worker"
    elapsed_ms = (time.monotonic() - started) * 1000
    outcome(request, f"scheduler gone {elapsed_ms:.0f} ms after its worker")
