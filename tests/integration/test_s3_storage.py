"""S3 storage through django-storages against a local S3-compatible server (moto in server mode).

Upload → generate (a real RQ worker) → download, and the presigned URL, all with
``FOLIO_STORAGE=s3``-style settings pointing at the test's own moto server on a free port.
"""

from __future__ import annotations

import socket
import urllib.request
from pathlib import Path

import boto3
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from tests.fixtures import builders

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

BUCKET = "folio-test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _storages(endpoint: str) -> dict:
    return {
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": endpoint,
                "region_name": "us-east-1",
                "access_key": "testing",
                "secret_key": "testing",
                "file_overwrite": False,
                "default_acl": None,
                "querystring_auth": True,
                "querystring_expire": 3600,
            },
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def _generate(client, file_path: str, name: str) -> str:
    response = client.post(
        "/api/v1/documents/generate",
        {
            "document_type": "CSR",
            "file_paths": [file_path],
            "connector_data_id": "s3",
            "workspace_name": "S3",
            "template_id": "ich-e3-csr",
            "output_name": name,
        },
        format="json",
    )
    assert response.status_code == 202, response.json()
    return str(response.json()["task_id"])


def _upload(client, tmp_path: Path) -> tuple[str, bytes]:
    """Upload a generated protocol PDF; (its file_path, its bytes)."""
    pdf = tmp_path / "protocol.pdf"
    builders.build_protocol_pdf(pdf)
    response = client.post(
        "/api/v1/files/upload",
        {"file_content": SimpleUploadedFile("protocol.pdf", pdf.read_bytes())},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    return str(response.json()["file_path"]), pdf.read_bytes()


@pytest.fixture
def s3_storage():
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_bucket(Bucket=BUCKET)
    storages = _storages(endpoint)
    with override_settings(STORAGES=storages):
        yield endpoint
    server.stop()


def test_upload_generate_download_and_presigned_url_on_s3(
    s3_storage, api_client, member, org, rq_worker, clean_queue, tmp_path: Path
):
    client = api_client(member)
    file_path, content = _upload(client, tmp_path)

    s3 = boto3.client(
        "s3",
        endpoint_url=s3_storage,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert keys == [f"{org.id}/documents/v1/protocol.pdf"]

    url = client.post("/generate-presigned-url", {"key": file_path}, format="json").json()["url"]
    assert (url.startswith(s3_storage) and "Signature" in url) or "X-Amz-Signature" in url
    with urllib.request.urlopen(url, timeout=10) as fh:
        assert fh.read() == content

    task = _generate(client, file_path, "S3_CSR")
    rq_worker()
    status = client.get(f"/api/v1/documents/status/{task}").json()
    assert status["status"] == "Complete", status
    download = client.get(status["download_url"])
    assert download.status_code == 200
    body = b"".join(download.streaming_content)
    assert body[:2] == b"PK"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert f"{org.id}/output/{task}.docx" in keys


def test_a_whole_job_while_the_object_store_is_down_fails_storage_unavailable_not_missing(
    s3_storage, api_client, member, rq_worker, clean_queue, tmp_path: Path
):
    """The object store answers 503 to everything while a job runs: the job reads its source
    with bounded tries and ends ``Failed storage_unavailable`` (try again later), not
    ``source_unavailable`` ("upload it again": the file was never lost) and not
    ``internal_error``; nothing is written. With the store back, the same file generates."""
    from documents.models import GeneratedDocument
    from tests.helpers.failing_s3 import failing_s3

    client = api_client(member)
    file_path, _ = _upload(client, tmp_path)

    with failing_s3() as (down, hits), override_settings(STORAGES=_storages(down)):
        task = _generate(client, file_path, "While_S3_Is_Down")
        rq_worker()
        row = GeneratedDocument.objects.get(pk=task)
        status = client.get(f"/api/v1/documents/status/{task}").json()
    assert (row.status, row.error_code) == ("Failed", "storage_unavailable"), (row.error, hits)
    assert status["status"] == "Failed" and status["error_code"] == "storage_unavailable", status
    # Bounded tries (Folio's 3, each with botocore's own retries), then a stop; only reads.
    assert 3 <= len(hits) <= 30 and set(hits) <= {"HEAD", "GET"}, hits
    assert not row.output_key

    again = _generate(client, file_path, "With_S3_Back")
    rq_worker()
    assert GeneratedDocument.objects.get(pk=again).status == "Complete"
