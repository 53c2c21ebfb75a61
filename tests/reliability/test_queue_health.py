"""Is the queue served? ``/healthz`` says so (issue 11, faults 2 and 6).

Before: ``/healthz`` answered 200 ``ok`` with no live worker while jobs waited, and during a
Redis freeze every ``/healthz`` or generate request held its web worker for the whole socket
timeout. Now: 503 ``degraded`` with no worker alive or a Pending row older than
``FOLIO_QUEUE_STALL_SECONDS``; a frozen Redis costs one request the timeout, the next ones fail
at once for ``QUEUE_DOWN_HOLD_SECONDS``.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tests.reliability.conftest import outcome, row, wait_for

pytestmark = [
    pytest.mark.reliability(category="fault"),
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]


def _health() -> tuple[int, dict]:
    response = Client().get("/healthz")
    return response.status_code, response.json()


@pytest.mark.timeout(120)
def test_healthz_is_degraded_while_no_worker_serves_the_queue(
    request, stack, member, tiny_source, submit
):
    path = tiny_source(member)
    task = submit(member, [path]).json()["task_id"]
    code, body = _health()
    assert code == 503, body
    assert (body["status"], body["queue"], body["workers"]) == ("degraded", "ok", 0), body
    assert "No worker" in body["detail"]
    web = Client().get("/healthz?scope=web")
    assert web.status_code == 200, "the web itself still serves (status polls, downloads)"

    stack.start_worker()
    assert wait_for(lambda: row(task).status == "Complete", 60), row(task).status
    code, body = _health()
    assert (code, body["status"], body["workers"]) == (200, "ok", 1), body
    outcome(request, "0 workers: 503 degraded; a worker started: 200 ok, job Complete")


@pytest.mark.timeout(120)
def test_healthz_is_degraded_when_the_oldest_pending_job_waits_too_long(
    request, stack, member, tiny_source, submit, settings
):
    from rq import Worker

    from documents.queue import get_queue

    settings.FOLIO_QUEUE_STALL_SECONDS = 60
    # A live worker registration (this process) that takes nothing: a stuck or overloaded fleet.
    idle = Worker([get_queue()], connection=stack.connection(), name=f"idle-{time.time_ns()}")
    idle.register_birth()
    try:
        path = tiny_source(member)
        task = submit(member, [path]).json()["task_id"]
        code, body = _health()
        assert (code, body["status"], body["workers"]) == (200, "ok", 1), body

        from documents.models import GeneratedDocument

        GeneratedDocument.objects.filter(pk=task).update(
            updated_at=timezone.now() - timedelta(seconds=90)
        )
        code, body = _health()
        assert (code, body["status"]) == (503, "degraded"), body
        assert body["oldest_pending_seconds"] >= 90
        assert "FOLIO_QUEUE_STALL_SECONDS" in body["detail"]
    finally:
        idle.register_death()
    outcome(request, f"Pending for {body['oldest_pending_seconds']} s > 60 s: 503 degraded")


@pytest.mark.timeout(60)
def test_a_frozen_redis_costs_one_request_the_timeout_not_every_request(
    request, stack, member, tiny_source, submit
):
    path = tiny_source(member)
    stack.freeze_redis()
    try:
        timings = []
        for _ in range(6):
            started = time.monotonic()
            code, body = _health()
            timings.append(time.monotonic() - started)
            assert (code, body["queue"]) == (503, "down"), body
        started = time.monotonic()
        response = submit(member, [path])
        submit_seconds = time.monotonic() - started
    finally:
        stack.thaw_redis()
    assert response.status_code == 503 and response.json()["code"] == "queue_unavailable"
    assert timings[0] < 2.0, timings
    assert max(timings[1:]) < 0.3, timings
    assert submit_seconds < 0.5, submit_seconds
    assert sum(timings) < 3.0, timings
    outcome(
        request,
        f"healthz {timings[0]:.2f} s once, then <= {max(timings[1:]) * 1000:.0f} ms; "
        f"generate 503 in {submit_seconds * 1000:.0f} ms",
    )
