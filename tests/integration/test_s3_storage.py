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


@pytest.fixture
def s3_storage():
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    options = {
        "bucket_name": BUCKET,
        "endpoint_url": endpoint,
        "region_name": "us-east-1",
        "access_key": "testing",
        "secret_key": "testing",
        "file_overwrite": False,
        "default_acl": None,
        "querystring_auth": True,
        "querystring_expire": 3600,
    }
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_bucket(Bucket=BUCKET)
    storages = {
        "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=storages):
        yield endpoint
    server.stop()


def test_upload_generate_download_and_presigned_url_on_s3(
    s3_storage, api_client, member, org, rq_worker, clean_queue, tmp_path: Path
):
    pdf = tmp_path / "protocol.pdf"
    builders.build_protocol_pdf(pdf)
    client = api_client(member)
    response = client.post(
        "/api/v1/files/upload",
        {"file_content": SimpleUploadedFile("protocol.pdf", pdf.read_bytes())},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    file_path = response.json()["file_path"]

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
        assert fh.read() == pdf.read_bytes()

    task = client.post(
        "/api/v1/documents/generate",
        {
            "document_type": "CSR",
            "file_paths": [file_path],
            "connector_data_id": "s3",
            "workspace_name": "S3",
            "template_id": "ich-e3-csr",
            "output_name": "S3_CSR",
        },
        format="json",
    ).json()["task_id"]
    rq_worker()
    status = client.get(f"/api/v1/documents/status/{task}").json()
    assert status["status"] == "Complete", status
    download = client.get(status["download_url"])
    assert download.status_code == 200
    body = b"".join(download.streaming_content)
    assert body[:2] == b"PK"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert f"{org.id}/output/{task}.docx" in keys
