"""Webhooks (docs/api.md, "Webhooks") against a real HTTP server started by the test: one signed
event per terminal document, retries with back-off on a failing receiver, nothing for another
organization, and URLs that could reach the operator's network refused unless allowed."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from portal.webhooks.models import Webhook, WebhookDelivery
from tests.fixtures import builders

pytestmark = [pytest.mark.django_db(transaction=True)]


class Receiver:
    """A local HTTP server that records every POST and answers the given status codes in turn
    (the last one for every later request)."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [200])
        self.received: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.received.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                code = (
                    receiver.statuses.pop(0) if len(receiver.statuses) > 1 else receiver.statuses[0]
                )
                self.send_response(code)
                self.end_headers()
                self.wfile.write(b"ok" if code < 300 else b"try again")

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/folio?x=1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def allow_private(settings) -> Any:
    settings.FOLIO_WEBHOOK_ALLOW_PRIVATE = True  # the receiver listens on loopback
    settings.FOLIO_WEBHOOK_RETRY_SECONDS = [0, 0, 0]  # retries at once, in the same drain
    return settings


def register(client: Any, url: str, events: list[str] | None = None) -> Any:
    body: dict[str, Any] = {"url": url}
    if events is not None:
        body["events"] = events
    return client.post("/api/v1/webhooks", body, format="json")


def generate_one(client: Any, tmp_path: Path, rq_worker: Any) -> str:
    sap = tmp_path / "sap.docx"
    builders.build_sap_docx(sap)
    upload = client.post(
        "/api/v1/files/upload",
        {"file_content": SimpleUploadedFile("sap.docx", sap.read_bytes())},
        format="multipart",
    )
    response = client.post(
        "/api/v1/documents/generate",
        {
            "document_type": "CSR",
            "file_paths": [upload.json()["file_path"]],
            "connector_data_id": "hooks",
            "workspace_name": "Hooks",
            "template_id": "ich-e3-csr",
            "output_name": "Hooked",
        },
        format="json",
    )
    assert response.status_code == 202
    rq_worker()
    return response.json()["task_id"]


def verify(secret: str, request: dict[str, Any]) -> bool:
    header = request["headers"]["X-Folio-Signature"]
    parts = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(
        secret.encode(), f"{parts['t']}.".encode() + request["body"], hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


# ---------------------------------------------------------------- registration


def test_managers_register_webhooks_and_see_the_secret_once(
    api_client, manager, member, receiver, allow_private
) -> None:
    assert register(api_client(member), receiver.url).status_code == 403
    response = register(api_client(manager), receiver.url)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) >= {"webhook_id", "url", "events", "secret"}
    assert body["events"] == ["document.complete", "document.failed", "document.cancelled"]
    assert len(body["secret"]) == 64
    listed = api_client(manager).get("/api/v1/webhooks").json()
    assert listed["count"] == 1 and "secret" not in listed["webhooks"][0]
    detail = api_client(manager).get(f"/api/v1/webhooks/{body['webhook_id']}")
    assert detail.status_code == 200 and "secret" not in detail.json()


@pytest.mark.parametrize(
    "url,reason",
    [
        ("http://127.0.0.1:9/x", "loopback, private or link-local"),
        ("http://localhost/x", "loopback, private or link-local"),
        ("http://169.254.169.254/latest/meta-data", "loopback, private or link-local"),
        ("http://10.0.0.8/hook", "loopback, private or link-local"),
        ("http://[::1]/hook", "loopback, private or link-local"),
        ("ftp://example.com/hook", "only http and https"),
        ("https://user:secret@example.com/hook", "user name or password"),
        ("https://no-such-host.invalid/hook", "does not resolve"),
    ],
)
def test_urls_that_could_reach_the_operator_s_network_are_refused(
    api_client, manager, url, reason
) -> None:
    response = register(api_client(manager), url)
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "webhook_url_refused"
    assert reason in response.json()["detail"]
    assert Webhook.objects.count() == 0


def test_unknown_events_are_refused(api_client, manager, receiver, allow_private) -> None:
    response = register(api_client(manager), receiver.url, ["document.exploded"])
    assert response.status_code == 400 and "document.exploded" in response.json()["detail"]


def test_another_organization_s_webhook_is_a_404(
    api_client, manager, outsider, receiver, allow_private
) -> None:
    from portal.models import Membership

    Membership.objects.filter(user=outsider).update(role="manager")
    hook = register(api_client(manager), receiver.url).json()
    theirs = api_client(outsider)
    assert theirs.get(f"/api/v1/webhooks/{hook['webhook_id']}").status_code == 404
    assert theirs.get(f"/api/v1/webhooks/{hook['webhook_id']}/deliveries").status_code == 404
    assert theirs.delete(f"/api/v1/webhooks/{hook['webhook_id']}").status_code == 404
    assert api_client(manager).delete(f"/api/v1/webhooks/{hook['webhook_id']}").status_code == 204


# ---------------------------------------------------------------- deliveries


def test_one_signed_event_per_terminal_document(
    api_client, manager, member, receiver, allow_private, rq_worker, clean_queue, tmp_path
) -> None:
    hook = register(api_client(manager), receiver.url).json()
    task_id = generate_one(api_client(member), tmp_path, rq_worker)
    assert len(receiver.received) == 1
    request = receiver.received[0]
    assert request["path"] == "/hooks/folio?x=1"
    assert request["headers"]["Content-Type"] == "application/json"
    assert verify(hook["secret"], request)
    event = json.loads(request["body"])
    assert event == {
        "event": "document.complete",
        "document_id": task_id,
        "status": "Complete",
        "error_code": None,
        "download_url": f"/api/v1/documents/{task_id}/download",
        "occurred_at": event["occurred_at"],
    }
    assert event["occurred_at"].endswith("Z")
    deliveries = api_client(manager).get(f"/api/v1/webhooks/{hook['webhook_id']}/deliveries")
    assert deliveries.json() == {
        "count": 1,
        "deliveries": [
            {
                "event": "document.complete",
                "status_code": 200,
                "attempt": 1,
                "delivered_at": deliveries.json()["deliveries"][0]["delivered_at"],
                "error": None,
            }
        ],
    }
    rq_worker()  # nothing more is queued: one event, once
    assert len(receiver.received) == 1


def test_a_failing_receiver_is_retried_with_the_same_body(
    api_client, manager, member, allow_private, rq_worker, clean_queue, tmp_path
) -> None:
    failing = Receiver([500, 503, 200])
    try:
        hook = register(api_client(manager), failing.url).json()
        generate_one(api_client(member), tmp_path, rq_worker)
        assert len(failing.received) == 3
        assert len({r["body"] for r in failing.received}) == 1
        assert all(verify(hook["secret"], r) for r in failing.received)
    finally:
        failing.close()
    rows = list(WebhookDelivery.objects.order_by("attempt").values_list("attempt", "status_code"))
    assert rows == [(1, 500), (2, 503), (3, 200)]
    assert "503" in WebhookDelivery.objects.get(attempt=2).error


def test_deliveries_are_queued_with_back_off(
    api_client, manager, member, receiver, settings, clean_queue, tmp_path
) -> None:
    settings.FOLIO_WEBHOOK_ALLOW_PRIVATE = True
    settings.FOLIO_WEBHOOK_RETRY_SECONDS = [10, 60, 300]
    from documents import queue

    queue.enqueue_webhook_delivery("00000000-0000-0000-0000-000000000001", "e", "x", "{}")
    job = next(j for j in clean_queue.get_jobs() if j.func_name == queue.WEBHOOK_FUNCTION)
    assert job.retries_left == 3 and job.retry_intervals == [10, 60, 300]


def test_nothing_is_sent_to_another_organization(
    api_client, member, outsider, receiver, allow_private, rq_worker, clean_queue, tmp_path
) -> None:
    from portal.models import Membership

    Membership.objects.filter(user=outsider).update(role="manager")
    assert register(api_client(outsider), receiver.url).status_code == 201
    generate_one(api_client(member), tmp_path, rq_worker)
    assert receiver.received == []


def test_a_cancelled_document_sends_document_cancelled(
    api_client, manager, member, receiver, allow_private, rq_worker, clean_queue, tmp_path
) -> None:
    register(api_client(manager), receiver.url, ["document.cancelled"])
    sap = tmp_path / "sap.docx"
    builders.build_sap_docx(sap)
    client = api_client(member)
    path = client.post(
        "/api/v1/files/upload",
        {"file_content": SimpleUploadedFile("sap.docx", sap.read_bytes())},
        format="multipart",
    ).json()["file_path"]
    task = client.post(
        "/api/v1/documents/generate",
        {
            "document_type": "CSR",
            "file_paths": [path],
            "connector_data_id": "c",
            "workspace_name": "C",
            "template_id": "ich-e3-csr",
            "output_name": "Cancelled",
        },
        format="json",
    ).json()["task_id"]
    assert client.post(f"/api/v1/documents/{task}/cancel").status_code == 202
    rq_worker()
    assert [json.loads(r["body"])["event"] for r in receiver.received] == ["document.cancelled"]


def test_a_url_that_resolves_privately_by_delivery_time_is_not_called(
    api_client, manager, member, receiver, allow_private, rq_worker, clean_queue, tmp_path
) -> None:
    hook = register(api_client(manager), receiver.url).json()
    allow_private.FOLIO_WEBHOOK_ALLOW_PRIVATE = False  # the check runs again at delivery
    generate_one(api_client(member), tmp_path, rq_worker)
    assert receiver.received == []
    row = WebhookDelivery.objects.get(webhook_id=hook["webhook_id"])
    assert row.status_code is None and row.error.startswith("Not sent:")
