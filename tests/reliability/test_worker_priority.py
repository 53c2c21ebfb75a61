"""Generation gives way to the web process, however the worker was started (issue 11, load).

Linux shares the CPU between sessions first (autogrouping) and a nice value counts only inside
its session, so a work horse niced by ``os.nice`` alone in a worker of its own session (systemd,
a supervisor, bench/load.py) still took an equal share against gunicorn: the accept p99 under
load missed its target in one run of three. The horse now also lowers its session's autogroup
nice when the worker leads that session, and only then (``make run`` keeps the whole stack in
one session, where the process nice is what counts and the autogroup is everyone's).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import psutil
import pytest

from documents.worker import autogroup_applies
from tests.reliability.conftest import wait_status

pytestmark = [
    pytest.mark.reliability(category="load"),
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

NO_AUTOGROUP = (
    "this process is not scheduled by autogroup (a kernel without it, or a CPU cgroup of its own,"
    " as in containers: /proc/self/autogroup is missing or empty)"
)


def _autogroup_nice(pid: int) -> int:
    text = Path(f"/proc/{pid}/autogroup").read_text()
    match = re.search(r"nice (-?\d+)", text)
    assert match, text
    return int(match.group(1))


def _running_horse(stack, member, tiny_source, submit, **worker_options):
    worker = stack.start_worker(FOLIO_TEST_SLOW_STEP_SECONDS="3", **worker_options)
    path = tiny_source(member, paragraphs=(f"Priority check {time.time_ns()}", "Body text."))
    task = submit(member, [path]).json()["task_id"]
    assert wait_status(task, "Generating", 30)
    horse = worker.horse_pid()
    assert horse, "the worker forked a work horse"
    return worker, horse


@pytest.mark.skipif(not autogroup_applies(), reason=NO_AUTOGROUP)
@pytest.mark.timeout(90)
def test_a_worker_in_its_own_session_lowers_the_sessions_autogroup(
    stack, member, tiny_source, submit
):
    ours = _autogroup_nice(os.getpid())
    worker, horse = _running_horse(
        stack, member, tiny_source, submit, own_session=True, FOLIO_WORKER_NICE="7"
    )
    assert os.getsid(worker.pid) == worker.pid, "the worker leads its own session"
    assert psutil.Process(horse).nice() >= 7
    # The session's autogroup (the worker's and its horse's), not this test's.
    assert _autogroup_nice(horse) == 7
    assert _autogroup_nice(worker.pid) == 7
    assert _autogroup_nice(os.getpid()) == ours, "this test's session keeps its priority"


@pytest.mark.skipif(not autogroup_applies(), reason=NO_AUTOGROUP)
@pytest.mark.timeout(90)
def test_a_worker_sharing_a_session_leaves_the_autogroup_alone(stack, member, tiny_source, submit):
    before = _autogroup_nice(os.getpid())
    worker, horse = _running_horse(stack, member, tiny_source, submit, FOLIO_WORKER_NICE="7")
    assert os.getsid(worker.pid) == os.getsid(0), "the worker shares this session"
    assert psutil.Process(horse).nice() >= 7, "the horse's own nice value is lowered"
    assert _autogroup_nice(os.getpid()) == before, "this session's autogroup is untouched"


@pytest.mark.timeout(90)
def test_nice_zero_keeps_the_workers_priority(stack, member, tiny_source, submit):
    worker, horse = _running_horse(
        stack, member, tiny_source, submit, own_session=True, FOLIO_WORKER_NICE="0"
    )
    assert psutil.Process(horse).nice() == psutil.Process(worker.pid).nice()
    if autogroup_applies():
        assert _autogroup_nice(horse) == 0
