"""Faults injected into real processes (reliability plan §B): every accepted job ends terminal.

Each test owns its valkey-server and workers (``stack``); they share the test database. "Mid-job"
is made deterministic with the test-only ``FOLIO_TEST_SLOW_STEP_SECONDS`` hook
(tests/reliability/slow_worker.py), which sleeps whenever a job enters a pipeline step. Workers
run with a 1 s maintenance interval, a 1 s heartbeat and ``FOLIO_STALE_JOB_SECONDS=5``, so the
reconciler acts within seconds.
"""

from __future__ import annotations

import os
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


def _accepted(response) -> str:
    assert response.status_code == 202, response.content
    return response.json()["task_id"]


def _assert_one_downloadable_output(api_client, user, doc) -> None:
    files = output_files(doc)
    assert len(files) == 1, files
    assert doc.output_key.endswith(files[0])
    download = api_client(user).get(f"/api/v1/documents/{doc.id}/download")
    assert download.status_code == 200
    assert b"".join(download.streaming_content)[:2] == b"PK"


@pytest.mark.timeout(120)
def test_a_killed_work_horse_is_retried_and_the_worker_takes_the_next_job(
    request, stack, member, tiny_source, submit, api_client
):
    """Work horse SIGKILLed mid-job (OOM stand-in): retried once, one output, next job runs."""
    worker = stack.start_worker(FOLIO_TEST_SLOW_STEP_SECONDS="1")
    path = tiny_source(member)
    task = _accepted(submit(member, [path]))
    assert wait_status(task, "Generating", 30), row(task).status
    horse = worker.horse_pid()
    assert horse
    os.kill(horse, signal.SIGKILL)

    doc = wait_terminal(task, 60)
    assert (doc.status, doc.error_code, doc.attempts) == ("Complete", None, 2)
    _assert_one_downloadable_output(api_client, member, doc)

    assert api_client(member).get("/healthz").json()["workers"] == 1
    following = _accepted(submit(member, [path], output_name="Next"))
    nxt = wait_terminal(following, 60)
    assert (nxt.status, nxt.attempts) == ("Complete", 1)
    assert worker.proc.poll() is None, "the worker parent survives its horse"
    outcome(request, "retried: Complete after 2 attempts; next job Complete")


@pytest.mark.timeout(150)
def test_a_horse_killed_on_every_attempt_ends_failed_worker_crashed(
    request, stack, member, tiny_source, submit, api_client, settings
):
    """A poison job whose horse dies every time: Failed worker_crashed after FOLIO_MAX_ATTEMPTS."""
    worker = stack.start_worker(FOLIO_TEST_SLOW_STEP_SECONDS="1")
    path = tiny_source(member)
    task = _accepted(submit(member, [path]))
    for attempt in range(1, settings.FOLIO_MAX_ATTEMPTS + 1):
        claimed = wait_for(
            lambda a=attempt: row(task).status == "Generating" and row(task).attempts == a, 45
        )
        assert claimed, (row(task).status, row(task).attempts)
        horse = worker.horse_pid()
        assert horse
        os.kill(horse, signal.SIGKILL)

    doc = wait_terminal(task, 30)
    assert (doc.status, doc.error_code) == ("Failed", "worker_crashed")
    assert doc.attempts == settings.FOLIO_MAX_ATTEMPTS
    assert output_files(doc) == []
    download = api_client(member).get(f"/api/v1/documents/{task}/download")
    assert download.status_code == 409
    status = api_client(member).get(f"/api/v1/documents/status/{task}").json()
    assert status["error_code"] == "worker_crashed"
    assert "stopped unexpectedly" in status["error"]

    following = _accepted(submit(member, [path], output_name="Next"))
    assert wait_terminal(following, 60).status == "Complete"
    outcome(request, f"Failed worker_crashed after {doc.attempts} attempts; next job Complete")


@pytest.mark.timeout(150)
def test_a_whole_worker_killed_mid_job_is_recovered_by_another_worker(
    request, stack, member, tiny_source, submit, api_client
):
    """Worker and horse SIGKILLed (host loss): a new worker's reconciler retries the job."""
    first = stack.start_worker(FOLIO_TEST_SLOW_STEP_SECONDS="2")
    path = tiny_source(member)
    task = _accepted(submit(member, [path]))
    assert wait_status(task, "Generating", 30)
    first.kill()
    assert first.proc.wait(timeout=10) == -signal.SIGKILL
    health = api_client(member).get("/healthz").json()
    assert health["workers"] == 0, "a dead worker's registration is not counted as alive"

    second = stack.start_worker()
    doc = wait_terminal(task, 90)
    assert (doc.status, doc.attempts) == ("Complete", 2), (doc.status, doc.error_code)
    _assert_one_downloadable_output(api_client, member, doc)
    following = _accepted(submit(member, [path], output_name="Next"))
    assert wait_terminal(following, 60).status == "Complete"
    assert second.proc.poll() is None
    outcome(request, "recovered by the reconciler: Complete after 2 attempts")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("fault", ["frozen", "stopped"])
def test_redis_down_at_submit_is_a_503_within_two_seconds_and_the_row_ends_failed(
    request, stack, member, tiny_source, submit, fault
):
    """Redis frozen (SIGSTOP) or stopped while a generation is submitted: 503, row Failed."""
    path = tiny_source(member)
    if fault == "frozen":
        stack.freeze_redis()
    else:
        stack.kill_redis()
    started = time.monotonic()
    response = submit(member, [path])
    elapsed = time.monotonic() - started
    stack.thaw_redis()

    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "queue_unavailable"
    assert response["Retry-After"]
    assert elapsed < 2.0, elapsed
    doc = row(body["task_id"])
    assert (doc.status, doc.error_code) == ("Failed", "queue_unavailable")
    outcome(request, f"503 queue_unavailable in {elapsed:.2f} s; row Failed")


@pytest.mark.timeout(60)
def test_status_polling_is_unaffected_while_redis_is_frozen(
    request, stack, member, tiny_source, submit, api_client
):
    """Redis SIGSTOPped while clients poll: status answers at once; /healthz names the queue."""
    path = tiny_source(member)
    task = _accepted(submit(member, [path]))
    client = api_client(member)
    stack.freeze_redis()
    try:
        timings = []
        for _ in range(5):
            started = time.monotonic()
            response = client.get(f"/api/v1/documents/status/{task}")
            timings.append(time.monotonic() - started)
            assert response.status_code == 200
            assert response.json()["status"] == "Pending"
        started = time.monotonic()
        health = client.get("/healthz")
        health_seconds = time.monotonic() - started
    finally:
        stack.thaw_redis()
    assert max(timings) < 0.5, timings
    assert health.status_code == 503
    assert health.json()["queue"] == "down"
    assert health.json()["database"] == "ok"
    assert health_seconds < 2.0
    outcome(request, f"status p100 {max(timings) * 1000:.0f} ms; healthz 503 queue down")


@pytest.mark.timeout(180)
def test_redis_restarted_without_persistence_loses_nothing(
    request, stack, member, tiny_source, submit, api_client
):
    """Redis restarted empty with jobs queued and running: all re-enqueued, all terminal, once."""
    stack.start_worker(FOLIO_TEST_SLOW_STEP_SECONDS="0.5")
    path = tiny_source(member)
    tasks = [_accepted(submit(member, [path], output_name=f"Doc {i}")) for i in range(4)]
    assert wait_status(tasks[0], "Generating", 30)
    stack.restart_redis()

    docs = [wait_terminal(t, 120) for t in tasks]
    assert [d.status for d in docs] == ["Complete"] * 4, [(d.status, d.error_code) for d in docs]
    for doc in docs:
        assert len(output_files(doc)) == 1, output_files(doc)
    assert all(d.attempts <= 2 for d in docs)
    outcome(request, "4/4 Complete, one output each")


@pytest.mark.timeout(90)
def test_a_job_past_its_timeout_fails_with_processing_timeout_and_the_worker_goes_on(
    request, stack, member, tiny_source, submit, settings
):
    """A job that outlives job_timeout (SIGALRM in the horse): Failed processing_timeout."""
    settings.FOLIO_JOB_TIMEOUT = 10  # given to RQ at enqueue time
    worker = stack.start_worker(FOLIO_TEST_SLOW_STEP_SECONDS="4")
    path = tiny_source(member)
    task = _accepted(submit(member, [path]))
    doc = wait_terminal(task, 40)
    assert (doc.status, doc.error_code) == ("Failed", "processing_timeout")
    assert (doc.finished_at - doc.started_at).total_seconds() < 15
    assert output_files(doc) == []
    assert worker.proc.poll() is None
    outcome(request, "Failed processing_timeout at the 10 s job timeout")
