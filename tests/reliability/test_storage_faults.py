"""Storage that refuses writes (issue 11, fault 5): ``storage_unavailable``, nothing half-written.

A real full file system: a tiny tmpfs mounted over the organization's output or upload folder
(root only; skipped elsewhere). Before: the job ended ``internal_error`` leaving a 0-byte .docx;
the upload answered 500 leaving a truncated file. Now: bounded retries, then the job is
``Failed storage_unavailable`` and the upload answers 503 with ``Retry-After``; no partial file
and no row.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.reliability.conftest import outcome, wait_terminal

pytestmark = [
    pytest.mark.reliability(category="fault"),
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.mark.timeout(120)
def test_a_full_output_folder_fails_the_job_storage_unavailable_leaving_no_file(
    request, stack, member, tiny_source, submit, api_client, settings, full_folder
):
    path = tiny_source(member)
    output = full_folder(
        Path(settings.MEDIA_ROOT) / str(member.membership.organization_id) / "output"
    )
    stack.start_worker()
    started = time.monotonic()
    task = submit(member, [path]).json()["task_id"]
    doc = wait_terminal(task, 60)
    elapsed = time.monotonic() - started
    assert (doc.status, doc.error_code) == ("Failed", "storage_unavailable"), (
        doc.status,
        doc.error_code,
    )
    assert "storage" in doc.error
    assert _files(output) == [".filler"], "no partial .docx is left behind"
    assert doc.output_key == ""
    download = api_client(member).get(f"/api/v1/documents/{task}/download")
    assert download.status_code == 409
    status = api_client(member).get(f"/api/v1/documents/status/{task}").json()
    assert status["error_code"] == "storage_unavailable"
    outcome(request, f"Failed storage_unavailable in {elapsed:.1f} s; no file left")


@pytest.mark.timeout(60)
def test_an_upload_into_a_full_folder_is_a_503_with_no_row_and_no_file(
    request, member, api_client, settings, full_folder
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from documents.models import SourceFile
    from tests.fixtures.builders import build_plain_docx

    folder = full_folder(
        Path(settings.MEDIA_ROOT) / str(member.membership.organization_id) / "documents"
    )
    source = Path(settings.MEDIA_ROOT).parent / f"upload-{time.time_ns()}.docx"
    build_plain_docx(source, ("Study Protocol FULL-1", "A study of 120 adults. " * 400))
    response = api_client(member).post(
        "/api/v1/files/upload",
        {"file_content": SimpleUploadedFile("protocol.docx", source.read_bytes())},
        format="multipart",
    )
    source.unlink()
    assert response.status_code == 503, response.content
    body = response.json()
    assert body["code"] == "storage_unavailable"
    assert body["detail"]
    assert response["Retry-After"]
    assert SourceFile.objects.count() == 0
    assert _files(folder) == [".filler"], "no truncated file is left behind"
    outcome(request, "503 storage_unavailable with Retry-After; no row, no file")


@pytest.mark.timeout(120)
def test_an_object_store_answering_503_is_storage_unavailable_after_bounded_retries(
    request, tmp_path
):
    """S3 variant: a local HTTP endpoint that answers 503 to everything (no network)."""
    from storages.backends.s3 import S3Storage

    from documents import filestore
    from tests.helpers.failing_s3 import failing_s3

    with failing_s3() as (endpoint, hits):
        storage = S3Storage(
            bucket_name="folio-test",
            endpoint_url=endpoint,
            region_name="us-east-1",
            access_key="test",
            secret_key="test",
            file_overwrite=False,
        )
        source = tmp_path / "out.docx"
        source.write_bytes(b"PK" + b"x" * 2048)
        started = time.monotonic()
        with pytest.raises(filestore.StorageUnavailableError):
            filestore.save_file("org/output/doc.docx", source, "doc.docx", storage=storage)
        elapsed = time.monotonic() - started
        # Reading back: the same bounded tries, and "unavailable", not "missing".
        read_started = time.monotonic()
        with pytest.raises(filestore.StorageUnavailableError):
            filestore.read_file(
                "org/documents/v1/protocol.pdf", tmp_path / "in.pdf", storage=storage
            )
        read_elapsed = time.monotonic() - read_started
    assert hits, "the endpoint was asked"
    assert elapsed < 60 and read_elapsed < 60, (elapsed, read_elapsed)
    outcome(
        request,
        f"StorageUnavailableError after {len(hits)} requests (write {elapsed:.1f} s, "
        f"read {read_elapsed:.1f} s)",
    )


def _big_docx(tmp_path: Path) -> bytes:
    """A real .docx past FILE_UPLOAD_MAX_MEMORY_SIZE (2.5 MB), so Django spools it to disk."""
    import zipfile

    import docx

    path = tmp_path / "big.docx"
    document = docx.Document()
    document.add_paragraph("Study Protocol SPOOL-1")
    document.save(path)
    part_blob = os.urandom(3 * 1024 * 1024)  # incompressible, so the file stays over 2.5 MB
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("word/media/noise.bin", part_blob, compress_type=zipfile.ZIP_STORED)
    data = path.read_bytes()
    assert len(data) > 2_621_440
    return data


@pytest.mark.timeout(60)
def test_a_full_temporary_folder_while_an_upload_is_spooled_is_a_503_not_a_500(
    request, member, api_client, settings, full_folder, tmp_path
):
    """Django spools an upload over 2.5 MB to the temporary folder while it parses the request,
    before any view runs. A full folder there was a 500 (and a truncated temporary file); it is
    now 503 ``storage_unavailable`` with ``Retry-After`` on the API and on the portal's form,
    with no row and nothing left in the folder."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client

    from documents.models import GeneratedDocument, SourceFile
    from templates_app.models import Template

    spool = full_folder(tmp_path / "spool")
    settings.FILE_UPLOAD_TEMP_DIR = str(spool)
    data = _big_docx(tmp_path)

    response = api_client(member).post(
        "/api/v1/files/upload",
        {"file_content": SimpleUploadedFile("protocol.docx", data)},
        format="multipart",
    )
    assert response.status_code == 503, response.content
    body = response.json()
    assert body["code"] == "storage_unavailable" and body["detail"], body
    assert response["Retry-After"]

    portal = Client()
    portal.force_login(member)
    page = portal.post(
        "/documents/new/",
        {
            "document_set": "Study SPOOL",
            "template": str(Template.objects.get(key="ich-e3-csr").pk),
            "output_name": "CSR_Draft",
            "instructions": "",
            "source_files": [SimpleUploadedFile("protocol.docx", data)],
        },
        HTTP_ACCEPT="text/html",
    )
    assert page.status_code == 503, page.content[:500]
    assert "temporary folder is full" in page.content.decode()
    assert page["Retry-After"]

    assert SourceFile.objects.count() == 0 and GeneratedDocument.objects.count() == 0
    assert _files(spool) == [".filler"], "no partial temporary file is left behind"
    outcome(request, "API and portal: 503 storage_unavailable with Retry-After; no row, no file")


@pytest.mark.timeout(60)
def test_a_chunked_body_that_cannot_be_spooled_is_a_503(request, member, full_folder, tmp_path):
    """A chunked upload is copied (de-chunked, counted) before anything reads it; past 2.5 MB
    the copy is on disk, and a full temporary folder there is a 503, not a 500."""
    import io
    import tempfile

    from django.http import HttpResponse
    from django.test import RequestFactory

    from portal.bodylimit import BodyLimitMiddleware

    spool = full_folder(tmp_path / "chunked-spool")
    body = os.urandom(3 * 1024 * 1024)
    factory_request = RequestFactory().post(
        "/api/v1/files/upload",
        data=b"",
        content_type="application/octet-stream",
        HTTP_TRANSFER_ENCODING="chunked",
    )
    factory_request.environ["wsgi.input"] = io.BytesIO(body)
    factory_request.environ["wsgi.input_terminated"] = True
    factory_request.META.pop("CONTENT_LENGTH", None)
    factory_request.user = member
    reached: list[bool] = []
    middleware = BodyLimitMiddleware(lambda r: reached.append(True) or HttpResponse("ok"))
    saved = tempfile.tempdir
    tempfile.tempdir = str(spool)
    try:
        response = middleware(factory_request)
    finally:
        tempfile.tempdir = saved
    assert response.status_code == 503, response.content
    assert response["Retry-After"]
    assert b"storage_unavailable" in response.content
    assert not reached, "the view never ran"
    assert _files(spool) == [".filler"]
    outcome(request, "503 storage_unavailable; the view never ran; nothing left in the folder")
