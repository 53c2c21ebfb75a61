"""Backpressure and idempotency of the generate route (reliability plan §B18, B21, D6).

Per-organization limit on queued + running jobs (``FOLIO_MAX_ACTIVE_JOBS_PER_ORG``) and a global
queue-depth limit (``FOLIO_MAX_QUEUED_JOBS``): 429 with ``Retry-After``, no row created, other
organizations unaffected. ``Idempotency-Key``: the same key and body give the same task, once.
"""

from __future__ import annotations

import threading
import time

import django_rq
import pytest

from documents.models import GeneratedDocument
from tests.reliability.conftest import outcome

pytestmark = [pytest.mark.reliability(category="attack"), pytest.mark.timeout(120)]


@pytest.fixture
def post(submit, django_capture_on_commit_callbacks, clean_queue):
    def make(user, paths, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return submit(user, paths, **kwargs)

    return make


@pytest.mark.django_db
def test_an_organization_over_its_active_job_limit_gets_429_and_no_row(
    request, settings, member, outsider, tiny_source, post
):
    settings.FOLIO_MAX_ACTIVE_JOBS_PER_ORG = 2
    path = tiny_source(member)
    for i in range(2):
        assert post(member, [path], output_name=f"D{i}").status_code == 202
    before = GeneratedDocument.objects.count()
    started = time.monotonic()
    refused = post(member, [path], output_name="Third")
    elapsed = time.monotonic() - started
    assert refused.status_code == 429
    assert refused.json()["code"] == "too_many_requests"
    assert int(refused["Retry-After"]) > 0
    assert "limit 2" in refused.json()["detail"]
    assert GeneratedDocument.objects.count() == before
    assert elapsed < 2.0  # the refusal runs after the body's validation (see docs/limits.md)

    other = tiny_source(outsider)
    assert post(outsider, [other]).status_code == 202, "another organization is unaffected"
    # A finished job frees a slot.
    GeneratedDocument.objects.filter(organization__memberships__user=member).update(
        status="Complete"
    )
    assert post(member, [path], output_name="Later").status_code == 202
    outcome(request, f"429 too_many_requests in {elapsed * 1000:.0f} ms, Retry-After")


@pytest.mark.django_db
def test_a_full_queue_gets_429_for_everyone(request, settings, member, outsider, tiny_source, post):
    settings.FOLIO_MAX_QUEUED_JOBS = 2
    a = tiny_source(member)
    b = tiny_source(outsider)
    assert post(member, [a]).status_code == 202
    assert post(outsider, [b]).status_code == 202
    refused = post(outsider, [b], output_name="Third")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 30
    assert GeneratedDocument.objects.count() == 2
    outcome(request, "429 when the global queue is full")


@pytest.mark.django_db
def test_the_same_idempotency_key_and_body_give_the_same_task_once(
    request, member, outsider, tiny_source, post
):
    path = tiny_source(member)
    key = {"Idempotency-Key": "retry-after-timeout-1"}
    first = post(member, [path], headers=key)
    again = post(member, [path], headers=key)
    assert first.status_code == again.status_code == 202
    assert first.json()["task_id"] == again.json()["task_id"]
    assert django_rq.get_queue("default").job_ids == [first.json()["task_id"]]

    changed = post(member, [path], headers=key, output_name="Different")
    assert changed.status_code == 409
    assert changed.json()["code"] == "idempotency_key_reused"

    other_path = tiny_source(outsider)
    theirs = post(outsider, [other_path], headers=key)
    assert theirs.status_code == 202
    assert theirs.json()["task_id"] != first.json()["task_id"], "keys are per organization"
    outcome(request, "same task_id; 409 for a different body; keys scoped per organization")


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_idempotency_key_create_one_task(
    request, member, tiny_source, api_client, clean_queue
):
    path = tiny_source(member)
    body = {
        "document_type": "CSR",
        "file_paths": [path],
        "connector_data_id": "study-1",
        "workspace_name": "Study 1",
        "template_id": "ich-e3-csr",
        "output_name": "Draft",
    }
    clients = [api_client(member) for _ in range(4)]
    barrier = threading.Barrier(len(clients))
    answers: list[tuple[int, str | None]] = []

    def go(client):
        from django.db import connection

        try:
            barrier.wait()
            response = client.post(
                "/api/v1/documents/generate",
                body,
                format="json",
                HTTP_IDEMPOTENCY_KEY="double-click",
            )
            answers.append((response.status_code, response.json().get("task_id")))
        finally:
            connection.close()

    threads = [threading.Thread(target=go, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(answers) == 4
    assert {code for code, _ in answers} <= {202, 409}
    assert len({task for code, task in answers if code == 202}) == 1, answers
    assert GeneratedDocument.objects.filter(idempotency_key="double-click").count() == 1
    assert len(django_rq.get_queue("default").job_ids) == 1
    outcome(request, f"answers {sorted(c for c, _ in answers)}: one task, one job")
