"""The reconciler and at-least-once delivery, case by case (reliability plan §B10, B19–B25).

In-process, against the session's valkey-server: each case sets a row and RQ's state by hand,
runs ``documents.reconciler.reconcile`` and asserts what it did (and that a second pass does
nothing).
"""

from __future__ import annotations

import os
import socket
import threading
from datetime import timedelta

import django_rq
import pytest
from django.db import transaction
from django.utils import timezone
from rq import Callback
from rq.job import Job
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer

from documents import jobs, queue
from documents.models import GeneratedDocument
from documents.reconciler import reconcile
from tests.reliability.conftest import outcome, output_files

pytestmark = [pytest.mark.reliability(category="fault"), pytest.mark.timeout(120)]

LONG_AGO = timedelta(hours=1)


@pytest.fixture
def accepted(member, tiny_source, submit, clean_queue, django_capture_on_commit_callbacks):
    """``accepted()`` -> a fresh Pending row whose job is queued on the session's Redis."""

    def make(**overrides):
        path = tiny_source(member)
        with django_capture_on_commit_callbacks(execute=True):
            response = submit(member, [path], **overrides)
        assert response.status_code == 202, response.content
        return GeneratedDocument.objects.get(pk=response.json()["task_id"])

    return make


def _set(doc, **fields):
    GeneratedDocument.objects.filter(pk=doc.pk).update(**fields)
    doc.refresh_from_db()
    return doc


def _connection():
    return django_rq.get_queue("default").connection


@pytest.mark.django_db
def test_a_pending_row_whose_job_vanished_is_enqueued_again_with_the_same_id(request, accepted):
    """Redis lost the queue (restart without persistence): the row's job comes back, once."""
    doc = _set(accepted(), created_at=timezone.now() - LONG_AGO)
    _connection().flushdb()
    assert reconcile(stale_after=60) == {"failed": 0, "requeued": 1}
    assert queue.job_status(str(doc.id)) == "queued"
    assert reconcile(stale_after=60) == {"failed": 0, "requeued": 0}
    assert django_rq.get_queue("default").job_ids == [str(doc.id)]
    outcome(request, "requeued once with the same id")


@pytest.mark.django_db
def test_a_stale_attempt_whose_job_failed_in_rq_is_retried_then_failed(request, accepted, settings):
    """Generating, heartbeat stale, job in FailedJobRegistry: retried until FOLIO_MAX_ATTEMPTS."""
    doc = accepted()
    q = django_rq.get_queue("default")
    job = Job.fetch(str(doc.id), connection=q.connection, serializer=JSONSerializer)
    q.remove(job)
    FailedJobRegistry(queue=q).add(job, exc_string="worker died")
    job.set_status("failed")
    stale = timezone.now() - LONG_AGO
    _set(doc, status="Generating", attempts=1, heartbeat_at=stale, started_at=stale)

    assert reconcile(stale_after=60) == {"failed": 0, "requeued": 1}
    doc.refresh_from_db()
    assert doc.status == "Pending"
    assert queue.job_status(str(doc.id)) == "queued"
    assert str(doc.id) not in FailedJobRegistry(queue=q).get_job_ids()

    _set(doc, status="Generating", attempts=settings.FOLIO_MAX_ATTEMPTS, heartbeat_at=stale)
    Job.fetch(str(doc.id), connection=q.connection, serializer=JSONSerializer).delete()
    assert reconcile(stale_after=60) == {"failed": 1, "requeued": 0}
    doc.refresh_from_db()
    assert (doc.status, doc.error_code) == ("Failed", "worker_crashed")
    outcome(request, "retried once, then Failed worker_crashed")


@pytest.mark.django_db
def test_a_stale_row_still_run_by_a_live_worker_is_left_alone_until_the_hard_limit(
    request, accepted, settings
):
    """RQ says started on a live worker: the reconciler waits, up to the hard limit."""
    doc = accepted()
    conn = _connection()
    worker_name = "live-worker"
    conn.hset(
        f"rq:worker:{worker_name}",
        mapping={
            "pid": os.getpid(),
            "hostname": socket.gethostname(),
            "last_heartbeat": timezone.now().strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        },
    )
    conn.hset(Job.key_for(str(doc.id)), mapping={"status": "started", "worker_name": worker_name})
    stale = timezone.now() - LONG_AGO
    _set(doc, status="Generating", attempts=1, heartbeat_at=stale, started_at=timezone.now())
    assert reconcile(stale_after=60) == {"failed": 0, "requeued": 0}
    assert GeneratedDocument.objects.get(pk=doc.pk).status == "Generating"

    over = timezone.now() - timedelta(seconds=settings.FOLIO_JOB_HARD_LIMIT_SECONDS + 1)
    _set(doc, started_at=over)
    assert reconcile(stale_after=60) == {"failed": 1, "requeued": 0}
    doc.refresh_from_db()
    assert (doc.status, doc.error_code) == ("Failed", "processing_timeout")
    outcome(request, "left alone while alive; Failed processing_timeout past the hard limit")


@pytest.mark.django_db
def test_a_started_job_on_a_dead_worker_of_this_host_counts_as_dead(accepted):
    """A SIGKILLed worker's registration outlives it; its pid on this host tells the truth."""
    doc = accepted()
    conn = _connection()
    dead_pid = 2**22 - 3  # above the default pid_max: never a live process
    conn.hset(
        "rq:worker:dead-worker",
        mapping={"pid": dead_pid, "hostname": socket.gethostname()},
    )
    conn.hset(Job.key_for(str(doc.id)), mapping={"status": "started", "worker_name": "dead-worker"})
    assert queue.job_is_running(str(doc.id)) is False
    assert queue.worker_is_alive("dead-worker") is False


@pytest.mark.django_db
def test_fresh_rows_and_finished_rows_are_left_alone(accepted):
    pending = accepted()
    complete = _set(accepted(output_name="Other"), status="Complete", progress=100)
    before = set(django_rq.get_queue("default").job_ids)
    assert reconcile(stale_after=60) == {"failed": 0, "requeued": 0}
    assert GeneratedDocument.objects.get(pk=pending.pk).status == "Pending"
    assert GeneratedDocument.objects.get(pk=complete.pk).status == "Complete"
    assert set(django_rq.get_queue("default").job_ids) == before


@pytest.mark.django_db
def test_nothing_happens_while_redis_is_unreachable(accepted, settings):
    doc = _set(accepted(), created_at=timezone.now() - LONG_AGO)
    config = settings.RQ_QUEUES["default"]
    saved = dict(config)
    config.update({"HOST": "127.0.0.1", "PORT": 1})
    try:
        assert reconcile(stale_after=60) == {"failed": 0, "requeued": 0}
    finally:
        config.clear()
        config.update(saved)
    assert GeneratedDocument.objects.get(pk=doc.pk).status == "Pending"


@pytest.mark.django_db(transaction=True)
def test_two_reconcilers_at_once_act_once(request, member, tiny_source, submit, clean_queue):
    """Two passes racing over ten lost jobs: each is re-enqueued exactly once."""
    path = tiny_source(member)
    ids = []
    for i in range(10):
        response = submit(member, [path], output_name=f"Doc {i}")
        assert response.status_code == 202
        ids.append(response.json()["task_id"])
    GeneratedDocument.objects.filter(pk__in=ids).update(created_at=timezone.now() - LONG_AGO)
    _connection().flushdb()

    results: list[dict[str, int]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        from django.db import connection

        try:
            barrier.wait()
            results.append(reconcile(stale_after=60))
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert sum(r["requeued"] for r in results) == 10, results
    job_ids = django_rq.get_queue("default").job_ids
    assert sorted(job_ids) == sorted(ids), "each job exactly once on the queue"
    outcome(request, f"passes {results}: 10 re-enqueued once")


@pytest.mark.django_db(transaction=True)
def test_a_job_delivered_twice_produces_one_output(
    request, member, tiny_source, submit, clean_queue, api_client
):
    """At-least-once: the same job run twice, one after the other and at once: one output."""
    path = tiny_source(member)
    first = submit(member, [path]).json()["task_id"]
    assert jobs.run_generation(first) == "complete"
    assert jobs.run_generation(first) == "already-Complete"
    doc = GeneratedDocument.objects.get(pk=first)
    assert len(output_files(doc)) == 1

    second = submit(member, [path], output_name="Concurrent").json()["task_id"]
    results: list[str] = []

    def run() -> None:
        from django.db import connection

        try:
            results.append(jobs.run_generation(second))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(results) == ["complete", "duplicate"], results
    doc = GeneratedDocument.objects.get(pk=second)
    assert (doc.status, doc.attempts) == ("Complete", 1)
    assert len(output_files(doc)) == 1
    outcome(request, f"sequential: complete + already-Complete; concurrent: {sorted(results)}")


@pytest.mark.django_db
def test_a_superseded_attempt_never_overwrites_the_newer_one(accepted):
    """An old attempt finishing after the row moved on deletes its file and writes nothing."""
    doc = accepted()
    original = jobs.output_key

    def give_up_midway(document, attempt):
        # While the old attempt renders, the reconciler gives up on it and a retry claims the row.
        GeneratedDocument.objects.filter(pk=document.pk).update(attempts=attempt + 1)
        return original(document, attempt)

    jobs.output_key = give_up_midway
    try:
        assert jobs.run_generation(str(doc.id)) == "superseded"
    finally:
        jobs.output_key = original
    doc.refresh_from_db()
    assert doc.status == "Generating" and doc.output_key == ""
    assert output_files(doc) == []


@pytest.mark.django_db
def test_a_job_for_code_that_no_longer_exists_fails_the_row_with_internal_error(
    request, accepted, rq_worker
):
    """Deploy skew: a queued job names a function a new release removed."""
    doc = accepted()
    q = queue.get_queue()
    Job.fetch(str(doc.id), connection=q.connection, serializer=JSONSerializer).delete()
    q.enqueue_call(
        "documents.jobs.run_generation_v0",
        args=(str(doc.id),),
        job_id=str(doc.id),
        on_failure=Callback(jobs.on_job_failure),
    )
    rq_worker()
    doc.refresh_from_db()
    assert (doc.status, doc.error_code) == ("Failed", "internal_error")
    outcome(request, "Failed internal_error")


@pytest.mark.django_db
def test_status_and_download_survive_the_rq_result_expiring(
    accepted, rq_worker, api_client, member
):
    """RQ forgets results (result_ttl); the row, not Redis, answers status and download."""
    doc = accepted()
    rq_worker()
    Job.fetch(str(doc.id), connection=_connection(), serializer=JSONSerializer).delete()
    status = api_client(member).get(f"/api/v1/documents/status/{doc.id}").json()
    assert status["status"] == "Complete"
    assert status["download_url"]
    assert api_client(member).get(status["download_url"]).status_code == 200
    assert reconcile(stale_after=0) == {"failed": 0, "requeued": 0}


@pytest.mark.django_db(transaction=True)
def test_a_generation_inside_a_rolled_back_transaction_leaves_no_row_and_no_job(
    member, tiny_source, clean_queue
):
    from documents import services

    path = tiny_source(member)
    member.folio_membership = member.membership

    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        services.generation_request(
            user=member,
            document_type="CSR",
            file_paths=[path],
            document_set_key="rollback",
            document_set_name="Rollback",
            template_ref="ich-e3-csr",
            output_name="Never",
        )
        raise Boom
    assert not GeneratedDocument.objects.filter(output_name="Never").exists()
    assert django_rq.get_queue("default").job_ids == []


@pytest.mark.django_db
def test_the_reconcile_command_runs_one_pass(accepted):
    """`manage.py reconcile` (cron or sidecar): one pass, its counts on one line."""
    from io import StringIO

    from django.core.management import call_command

    doc = _set(accepted(), created_at=timezone.now() - LONG_AGO)
    _connection().flushdb()
    out = StringIO()
    call_command("reconcile", "--stale-after", "60", stdout=out)
    assert out.getvalue().strip() == "failed 0, requeued 1"
    assert queue.job_status(str(doc.id)) == "queued"
