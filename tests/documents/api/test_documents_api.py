"""Status, list, download, sections, cancel and document sets (docs/api.md)."""

from __future__ import annotations

import uuid

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from documents.models import GeneratedDocument

pytestmark = pytest.mark.django_db


@pytest.fixture
def task(api_client, upload, member, generate_body):
    path = upload(member, "protocol.pdf").json()["file_path"]
    response = api_client(member).post(
        "/api/v1/documents/generate", generate_body([path]), format="json"
    )
    assert response.status_code == 202, response.json()
    return GeneratedDocument.objects.get(pk=response.json()["task_id"])


def complete(document: GeneratedDocument) -> GeneratedDocument:
    key = f"{document.organization_id}/output/{document.id}.docx"
    default_storage.save(key, ContentFile(b"PK fake docx"))
    GeneratedDocument.objects.filter(pk=document.pk).update(
        status="Complete",
        progress=100,
        step="Generate",
        output_key=key,
        twin={"document_id": str(document.id), "sections": [], "manifest": {}, "qc": {}},
        qc={"sections_generated": 3, "sections_no_source": 1},
        finished_at=timezone.now(),
    )
    document.refresh_from_db()
    return document


def test_status_of_a_pending_document(api_client, member, task):
    response = api_client(member).get(f"/api/v1/documents/status/{task.id}")
    assert response.status_code == 200
    body = response.json()
    assert body["task_id"] == str(task.id)
    assert body["status"] == "Pending"
    assert body["progress"] == 0
    assert body["error"] is None and body["error_code"] is None
    assert body["qc"] is None and body["download_url"] is None
    assert body["created_at"].endswith("Z")
    assert set(body) == {
        "task_id",
        "status",
        "progress",
        "step",
        "error",
        "error_code",
        "sections_total",
        "sections_done",
        "qc",
        "download_url",
        "created_at",
        "started_at",
        "finished_at",
        "version",
        "previous_version",
        "stale_sections",
    }
    assert body["version"] == 1 and body["previous_version"] is None
    assert body["stale_sections"] == []


def test_status_of_a_complete_document_has_qc_and_download_url(api_client, member, task):
    complete(task)
    body = api_client(member).get(f"/api/v1/documents/status/{task.id}").json()
    assert body["status"] == "Complete"
    assert body["qc"]["sections_generated"] == 3
    assert body["download_url"].endswith(f"/api/v1/documents/{task.id}/download")


@pytest.mark.parametrize(
    "route",
    ["documents/status/{id}", "documents/{id}/download", "documents/{id}/sections"],
)
def test_another_organizations_document_is_a_404_like_a_random_id(
    api_client, outsider, task, route
):
    complete(task)
    theirs = api_client(outsider).get("/api/v1/" + route.format(id=task.id))
    random = api_client(outsider).get("/api/v1/" + route.format(id=uuid.uuid4()))
    assert theirs.status_code == random.status_code == 404
    assert theirs.json() == random.json()


def test_a_malformed_id_is_a_404(api_client, member):
    assert api_client(member).get("/api/v1/documents/status/not-a-uuid").status_code == 404


def test_status_needs_a_token(client, task):
    assert client.get(f"/api/v1/documents/status/{task.id}").status_code == 401


def test_status_answers_with_few_queries(api_client, member, task, django_assert_max_num_queries):
    client = api_client(member)
    with django_assert_max_num_queries(3):
        client.get(f"/api/v1/documents/status/{task.id}")


def test_list_shows_the_organizations_documents(api_client, member, outsider, task):
    body = api_client(member).get("/api/v1/documents/").json()
    assert body["count"] == 1
    item = body["documents"][0]
    assert item["document_id"] == str(task.id)
    assert item["document_name"] == "CSR_Draft.docx"
    assert item["template"]["template_name"]
    assert item["previous_version"] is None
    assert api_client(outsider).get("/api/v1/documents/").json()["count"] == 0


def test_list_paginates(api_client, member, task):
    body = api_client(member).get("/api/v1/documents/?limit=0&offset=0").json()
    assert body["count"] == 1 and body["documents"] == []
    assert api_client(member).get("/api/v1/documents/?limit=-1").status_code == 400


def test_download_is_409_until_complete_then_the_docx(api_client, member, task):
    client = api_client(member)
    assert client.get(f"/api/v1/documents/{task.id}/download").status_code == 409
    complete(task)
    # The review copy of a document with no section marked is the stored file itself.
    response = client.get(f"/api/v1/documents/{task.id}/download?copy=review")
    assert response.status_code == 200
    assert 'filename="CSR_Draft-review.docx"' in response["Content-Disposition"]
    assert b"".join(response.streaming_content) == b"PK fake docx"
    for bad in ("copy=draft", "part=all", "redline=maybe"):
        response = client.get(f"/api/v1/documents/{task.id}/download?{bad}")
        assert response.status_code == 400
        assert response.json()["code"] == "invalid"


def test_sections_is_409_until_complete(api_client, member, task):
    assert api_client(member).get(f"/api/v1/documents/{task.id}/sections").status_code == 409
    complete(task)
    assert api_client(member).get(f"/api/v1/documents/{task.id}/sections").json()[
        "document_id"
    ] == str(task.id)


def test_cancel_a_pending_job_then_409_once_ended(api_client, member, task):
    client = api_client(member)
    response = client.post(f"/api/v1/documents/{task.id}/cancel")
    assert response.status_code == 202
    task.refresh_from_db()
    assert task.status == "Cancelled"
    assert client.post(f"/api/v1/documents/{task.id}/cancel").status_code == 409


def test_cancel_a_running_job_sets_the_flag(api_client, member, task):
    GeneratedDocument.objects.filter(pk=task.pk).update(status="Generating")
    assert api_client(member).post(f"/api/v1/documents/{task.id}/cancel").status_code == 202
    task.refresh_from_db()
    assert task.status == "Generating" and task.cancel_requested


def test_cancel_another_organizations_job_is_a_404(api_client, outsider, task):
    assert api_client(outsider).post(f"/api/v1/documents/{task.id}/cancel").status_code == 404


def test_document_sets_create_list_and_get(api_client, member, outsider):
    client = api_client(member)
    created = client.post("/api/v1/document-sets/", {"document_set_name": "Study X"}, format="json")
    assert created.status_code == 201
    set_id = created.json()["document_set_id"]
    listing = client.get("/api/v1/document-sets/").json()
    assert listing["count"] == 1 and listing["document_sets"][0]["document_set_name"] == "Study X"
    assert client.get(f"/api/v1/document-sets/{set_id}").status_code == 200
    assert api_client(outsider).get(f"/api/v1/document-sets/{set_id}").status_code == 404
    assert client.post("/api/v1/document-sets/", {}, format="json").status_code == 400


def test_duplicate_document_set_key_is_a_409(api_client, member):
    client = api_client(member)
    body = {"document_set_name": "A", "document_set_key": "k"}
    assert client.post("/api/v1/document-sets/", body, format="json").status_code == 201
    assert client.post("/api/v1/document-sets/", body, format="json").status_code == 409


def test_healthz_reports_database_queue_and_workers(client):
    from rq import Worker

    from documents.queue import _client, get_queue

    # No worker: the queue answers but nobody serves it.
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 503
    assert (body["status"], body["database"], body["queue"], body["workers"]) == (
        "degraded",
        "ok",
        "ok",
        0,
    )
    assert client.get("/healthz?scope=web").status_code == 200

    worker = Worker([get_queue()], connection=_client(), name="healthz-test-worker")
    worker.register_birth()
    try:
        response = client.get("/healthz")
    finally:
        worker.register_death()
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok" and body["database"] == "ok" and body["queue"] == "ok"
    assert body["workers"] == 1 and body["oldest_pending_seconds"] is None


def test_openapi_schema_and_docs_page(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/documents/generate" in schema.content
    assert client.get("/api/docs/").status_code == 200
