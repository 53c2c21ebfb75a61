"""The job's state machine and its failure paths (documents/jobs.py, documents/queue.py).

Real database, real embedded Redis (the ``redis_server`` fixture), real RQ registries.
"""

from __future__ import annotations

import time
from datetime import timedelta

import django_rq
import pytest
from django.conf import settings
from django.utils import timezone
from rq.job import Job
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer
from rq.worker import SimpleWorker

from documents import jobs, queue
from documents.models import GeneratedDocument
from documents.reconciler import reconcile
from documents.services import job_state
from documents.worker import FolioWorker

pytestmark = pytest.mark.django_db


@pytest.fixture
def pending(
    api_client, upload, member, generate_body, django_capture_on_commit_callbacks, clean_queue
):
    path = upload(member, "protocol.pdf").json()["file_path"]
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client(member).post(
            "/api/v1/documents/generate", generate_body([path]), format="json"
        )
    assert response.status_code == 202, response.json()
    return GeneratedDocument.objects.get(pk=response.json()["task_id"])


def test_the_job_is_queued_with_the_rows_id_and_an_explicit_timeout(pending):
    q = django_rq.get_queue("default")
    job = Job.fetch(str(pending.id), connection=q.connection, serializer=JSONSerializer)
    assert job.func_name == "documents.jobs.run_generation"
    assert list(job.args) == [str(pending.id)]  # JSON: the args come back as a list
    assert job.timeout == settings.FOLIO_JOB_TIMEOUT


def test_a_row_already_generating_when_a_job_starts_is_failed_as_crashed(pending):
    GeneratedDocument.objects.filter(pk=pending.pk).update(status="Generating")
    assert jobs.run_generation(str(pending.id)) == "crashed-before"
    pending.refresh_from_db()
    assert pending.status == "Failed"
    assert pending.error_code == "worker_crashed"
    assert "stopped unexpectedly" in pending.error


def test_a_finished_row_is_left_alone_when_the_job_runs_again(pending):
    GeneratedDocument.objects.filter(pk=pending.pk).update(status="Complete", progress=100)
    assert jobs.run_generation(str(pending.id)) == "already-Complete"
    pending.refresh_from_db()
    assert pending.status == "Complete"


def test_a_cancel_before_the_job_starts_wins(api_client, member, pending):
    api_client(member).post(f"/api/v1/documents/{pending.id}/cancel")
    assert jobs.run_generation(str(pending.id)) == "already-Cancelled"


def test_a_cancel_while_running_stops_at_the_next_step(pending):
    GeneratedDocument.objects.filter(pk=pending.pk).update(cancel_requested=True)
    assert jobs.run_generation(str(pending.id)) == "cancelled"
    pending.refresh_from_db()
    assert pending.status == "Cancelled"


def test_a_killed_work_horse_fails_the_row(pending):
    GeneratedDocument.objects.filter(pk=pending.pk).update(status="Generating")
    job = Job.fetch(
        str(pending.id),
        connection=django_rq.get_queue("default").connection,
        serializer=JSONSerializer,
    )
    jobs.on_work_horse_killed(job, 1234, 9, None)
    pending.refresh_from_db()
    assert (pending.status, pending.error_code) == ("Failed", "worker_crashed")


def test_rqs_abandoned_job_path_fails_the_row(pending):
    """A worker that died leaves the job in StartedJobRegistry; RQ's cleanup calls on_failure."""
    q = django_rq.get_queue("default")
    job = Job.fetch(str(pending.id), connection=q.connection, serializer=JSONSerializer)
    GeneratedDocument.objects.filter(pk=pending.pk).update(status="Generating")
    # What a worker does when it starts the job, then dies without a trace.
    q.remove(job)
    job.set_status("started")
    registry = StartedJobRegistry(queue=q)
    q.connection.zadd(registry.key, {f"{job.id}:dead-execution": 1})
    registry.cleanup(timestamp=time.time() + 10)
    pending.refresh_from_db()
    assert pending.status == "Failed"
    assert pending.error_code == "worker_crashed"


def test_timeout_failures_get_processing_timeout(pending):
    class JobTimeoutException(Exception):
        pass

    GeneratedDocument.objects.filter(pk=pending.pk).update(status="Generating")
    job = Job.fetch(
        str(pending.id),
        connection=django_rq.get_queue("default").connection,
        serializer=JSONSerializer,
    )
    jobs.on_job_failure(job, None, JobTimeoutException, JobTimeoutException(), None)
    pending.refresh_from_db()
    assert pending.error_code == "processing_timeout"


def test_the_reconciler_fails_stale_running_rows_whose_job_is_gone(pending):
    GeneratedDocument.objects.filter(pk=pending.pk).update(
        status="Generating", heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    django_rq.get_queue("default").connection.flushdb()
    counts = reconcile(stale_after=60)
    pending.refresh_from_db()
    assert counts["failed"] == 1
    assert (pending.status, pending.error_code) == ("Failed", "worker_crashed")
    assert reconcile(stale_after=60)["failed"] == 0


def test_the_reconciler_requeues_pending_rows_whose_job_vanished(pending):
    conn = django_rq.get_queue("default").connection
    conn.flushdb()  # Redis restarted without persistence
    GeneratedDocument.objects.filter(pk=pending.pk).update(
        created_at=timezone.now() - timedelta(hours=1)
    )
    counts = reconcile(stale_after=60)
    assert counts["requeued"] == 1
    assert queue.job_exists(str(pending.id)) is True
    pending.refresh_from_db()
    assert pending.status == "Pending"


def test_the_reconciler_leaves_fresh_rows_alone(pending):
    assert reconcile(stale_after=60) == {"failed": 0, "requeued": 0}
    pending.refresh_from_db()
    assert pending.status == "Pending"


@pytest.mark.django_db(transaction=True)
def test_redis_unreachable_at_submit_is_a_503_and_the_row_ends_failed(
    api_client, upload, member, generate_body
):
    path = upload(member, "protocol.pdf").json()["file_path"]
    config = settings.RQ_QUEUES["default"]
    saved = dict(config)
    config.update({"HOST": "127.0.0.1", "PORT": 1})  # nothing listens there
    try:
        started = time.monotonic()
        response = api_client(member).post(
            "/api/v1/documents/generate", generate_body([path]), format="json"
        )
        elapsed = time.monotonic() - started
    finally:
        config.clear()
        config.update(saved)
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "queue_unavailable"
    assert elapsed < 5
    row = GeneratedDocument.objects.get(pk=body["task_id"])
    assert (row.status, row.error_code) == ("Failed", "queue_unavailable")


# --- an attempt belongs to the worker that claimed it (issue 11: a host cut off, then back) -----


def _fetch(document: GeneratedDocument) -> Job:
    return Job.fetch(
        str(document.id),
        connection=django_rq.get_queue("default").connection,
        serializer=JSONSerializer,
    )


def _worker(name: str) -> FolioWorker:
    q = django_rq.get_queue("default")
    return FolioWorker([q], connection=q.connection, name=name)


def test_the_claim_records_the_worker_whose_horse_runs_the_attempt(pending):
    """Run by a real RQ worker (in-process), the claim names that worker on the row."""
    GeneratedDocument.objects.filter(pk=pending.pk).update(cancel_requested=True)
    q = django_rq.get_queue("default")
    worker = SimpleWorker([q], connection=q.connection, serializer=JSONSerializer, name="desk-7")
    assert worker.work(burst=True)
    pending.refresh_from_db()
    assert (pending.status, pending.attempts, pending.worker_name) == ("Cancelled", 1, "desk-7")


def test_a_worker_whose_horse_died_gives_up_only_its_own_attempt(pending):
    """Host A was cut off mid-job; attempt 2 now runs on host B. When A comes back and its horse
    ends badly, A must not fail B's attempt; B's own horse dying still counts."""
    GeneratedDocument.objects.filter(pk=pending.pk).update(
        status="Generating", attempts=2, worker_name="host-b-worker", heartbeat_at=timezone.now()
    )
    _worker("host-a-worker").handle_work_horse_killed(_fetch(pending), 1234, 256, None)
    pending.refresh_from_db()
    assert (pending.status, pending.error_code) == ("Generating", None)

    _worker("host-b-worker").handle_work_horse_killed(_fetch(pending), 1234, 9, None)
    pending.refresh_from_db()
    assert (pending.status, pending.error_code) == ("Failed", "worker_crashed")


def test_only_the_claiming_worker_keeps_the_attempt_alive(pending):
    old = timezone.now() - timedelta(hours=1)
    GeneratedDocument.objects.filter(pk=pending.pk).update(
        status="Generating", attempts=2, worker_name="host-b-worker", heartbeat_at=old
    )
    assert job_state.generation_heartbeat(str(pending.id), worker_name="host-a-worker") == 0
    pending.refresh_from_db()
    assert pending.heartbeat_at == old
    assert job_state.generation_heartbeat(str(pending.id), worker_name="host-b-worker") == 1
    pending.refresh_from_db()
    assert pending.heartbeat_at > old


def test_rqs_record_of_an_older_attempt_does_not_keep_a_newer_one_running(pending):
    """RQ keeps one record per job id: after a retry, a late older attempt can rewrite it."""
    q = django_rq.get_queue("default")
    older = _worker("host-a-worker")
    older.register_birth()
    try:
        job = _fetch(pending)
        with q.connection.pipeline() as pipe:
            job.prepare_for_execution("host-a-worker", pipeline=pipe)
            pipe.execute()
        assert queue.job_is_running(str(pending.id), stale_after=60) is True
        assert queue.job_is_running(str(pending.id), worker_name="host-a-worker") is True
        assert queue.job_is_running(str(pending.id), worker_name="host-b-worker") is False

        GeneratedDocument.objects.filter(pk=pending.pk).update(
            status="Generating",
            attempts=1,
            worker_name="host-b-worker",
            heartbeat_at=timezone.now() - timedelta(hours=1),
        )
        assert reconcile(stale_after=60)["requeued"] == 1
        pending.refresh_from_db()
        assert pending.status == "Pending"
    finally:
        older.register_death()
