"""Storage that refuses writes (issue 11, fault 5): ``storage_unavailable``, nothing half-written.

A real full file system: a tiny tmpfs mounted over the organization's output or upload folder
(root only; skipped elsewhere). Before: the job ended ``internal_error`` leaving a 0-byte .docx;
the upload answered 500 leaving a truncated file. Now: bounded retries, then the job is
``Failed storage_unavailable`` and the upload answers 503 with ``Retry-After``; no partial file
and no row.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Callable, Iterator
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


@pytest.fixture
def full_folder() -> Iterator[Callable[[Path], Path]]:
    """``full_folder(path)`` mounts an 8 KB tmpfs at ``path`` and fills it."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mounted: list[Path] = []

    def make(path: Path) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        out = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=8k,mode=0700", "tmpfs", str(path)],
            capture_output=True,
            text=True,
        )
        if out.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {out.stderr.strip()}")
        mounted.append(path)
        with contextlib.suppress(OSError), (path / ".filler").open("wb") as fh:
            fh.write(b"\0" * 64 * 1024)  # ENOSPC after 8 KB: the folder is now full
        return path

    try:
        yield make
    finally:
        for path in mounted:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


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
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from storages.backends.s3 import S3Storage

    from documents import filestore

    hits: list[str] = []

    class Failing(BaseHTTPRequestHandler):
        def _fail(self) -> None:
            hits.append(self.command)
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            body = b"<Error><Code>SlowDown</Code><Message>busy</Message></Error>"
            self.send_response(503)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = _fail

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        storage = S3Storage(
            bucket_name="folio-test",
            endpoint_url=f"http://127.0.0.1:{server.server_address[1]}",
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
    finally:
        server.shutdown()
    assert hits, "the endpoint was asked"
    assert elapsed < 60, elapsed
    outcome(request, f"StorageUnavailableError after {len(hits)} requests in {elapsed:.1f} s")
