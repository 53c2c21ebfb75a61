"""Per-organization storage quota (``FOLIO_ORG_STORAGE_QUOTA_MB``, issue 11): an upload past it
is a 413 ``quota_exceeded`` naming the quota and the usage, in the API and beside the portal's
file field; managers see the usage (API and the document sets page)."""

from __future__ import annotations

import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from documents.models import GeneratedDocument, SourceFileVersion
from templates_app.models import Template

pytestmark = pytest.mark.django_db

KB = 1024


def _text(size: int, name: str) -> SimpleUploadedFile:
    # Printable, incompressible-looking text: a .txt source is accepted as is.
    body = os.urandom(size // 2).hex().encode()[:size]
    return SimpleUploadedFile(name, body, content_type="text/plain")


def test_an_upload_past_the_quota_is_a_413_naming_quota_and_usage(api_client, member, settings):
    settings.FOLIO_ORG_STORAGE_QUOTA_MB = 1
    client = api_client(member)
    first = client.post(
        "/api/v1/files/upload", {"file_content": _text(600 * KB, "a.txt")}, format="multipart"
    )
    assert first.status_code == 201, first.content
    second = client.post(
        "/api/v1/files/upload", {"file_content": _text(600 * KB, "b.txt")}, format="multipart"
    )
    assert second.status_code == 413, second.content
    body = second.json()
    assert body["code"] == "quota_exceeded"
    assert "1.0 MB" in body["detail"] and "0.6 MB" in body["detail"], body["detail"]
    assert (body["quota_bytes"], body["usage_bytes"]) == (1024 * KB, 600 * KB)
    assert SourceFileVersion.objects.count() == 1

    small = client.post(
        "/api/v1/files/upload", {"file_content": _text(100 * KB, "c.txt")}, format="multipart"
    )
    assert small.status_code == 201, "what still fits is accepted"


def test_no_quota_when_unset(api_client, member, settings):
    settings.FOLIO_ORG_STORAGE_QUOTA_MB = 0
    client = api_client(member)
    for name in ("a.txt", "b.txt"):
        answer = client.post(
            "/api/v1/files/upload", {"file_content": _text(600 * KB, name)}, format="multipart"
        )
        assert answer.status_code == 201


def test_managers_see_the_usage_members_do_not(api_client, member, manager, settings, login):
    settings.FOLIO_ORG_STORAGE_QUOTA_MB = 5
    api_client(member).post(
        "/api/v1/files/upload", {"file_content": _text(300 * KB, "a.txt")}, format="multipart"
    )
    usage = api_client(manager).get("/api/v1/storage-usage")
    assert usage.status_code == 200
    assert usage.json() == {"usage_bytes": 300 * KB, "quota_bytes": 5 * 1024 * KB}
    assert api_client(member).get("/api/v1/storage-usage").status_code == 403

    page = login(manager).get("/sets/").content.decode()
    assert 'id="storage-usage"' in page and "300.0\xa0KB" in page and "5.0\xa0MB" in page
    assert 'id="storage-usage"' not in login(member).get("/sets/").content.decode()


def test_the_portal_form_names_the_quota_beside_the_file_field(login, member, settings):
    settings.FOLIO_ORG_STORAGE_QUOTA_MB = 1
    client = login(member)
    data = {
        "document_set": "Study 001",
        "template": str(Template.objects.get(key="ich-e3-csr").pk),
        "output_name": "CSR_Draft",
        "instructions": "",
        "source_files": [_text(1100 * KB, "big.txt")],
    }
    response = client.post("/documents/new/", data)
    body = response.content.decode()
    assert response.status_code in (400, 413)
    assert "storage quota" in body and "big.txt" in body
    assert 'class="field-error"' in body
    assert GeneratedDocument.objects.count() == 0
    assert SourceFileVersion.objects.count() == 0
