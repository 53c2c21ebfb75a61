"""Attacks with request bodies (issue 12, finding 4): filling the disk without logging in.

Against a real gunicorn (tests/reliability/live.py) whose TMPDIR is a folder the test watches:
Django spools uploads there, so a body that is read shows up as a file.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.reliability.conftest import outcome, wait_for

pytestmark = [pytest.mark.reliability(category="attack"), pytest.mark.timeout(180)]

BOUNDARY = "folio-attack-boundary"
MB = 1024 * 1024


class RawRequest:
    """One HTTP request written by hand on a socket, with the answer read by a thread."""

    def __init__(self, port: int, head: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.sendall(head.encode())
        self.sent = 0
        self.answer = b""
        self.done = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        chunks = []
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                if b"\r\n\r\n" in b"".join(chunks) and self._complete(b"".join(chunks)):
                    break
        except OSError:
            pass
        self.answer = b"".join(chunks)
        self.done.set()

    @staticmethod
    def _complete(data: bytes) -> bool:
        head, _, body = data.partition(b"\r\n\r\n")
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                return len(body) >= int(line.split(b":", 1)[1])
        return False

    def send(self, data: bytes) -> bool:
        """Send more of the body; False once the server stopped reading (closed or answered)."""
        if self.done.is_set():
            return False
        try:
            self.sock.sendall(data)
        except OSError:
            return False
        self.sent += len(data)
        return True

    @property
    def status(self) -> int | None:
        if not self.answer:
            return None
        return int(self.answer.split(b" ", 2)[1])

    def body(self) -> Any:
        return json.loads(self.answer.partition(b"\r\n\r\n")[2])

    def close(self) -> None:
        self.sock.close()


def _spooled(tmpdir: Path) -> list[str]:
    """Django's upload spool files (``tmp….upload…``) in the server's temporary folder."""
    return sorted(p.name for p in tmpdir.iterdir() if ".upload" in p.name)


def _multipart_head(port: int, path: str, length: int, extra: str = "") -> str:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {length}\r\n{extra}\r\n"
    )


def _file_part_start(field: str) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; filename="big.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n%PDF-1.4\n"
    ).encode()


@pytest.mark.django_db(transaction=True)
def test_an_oversized_anonymous_body_is_refused_before_it_is_read(request, live_web):
    """Finding 4: 300 MB declared to the login page with any CSRF cookie: 413 from the headers
    alone; after 3 MB sent (more than Django keeps in memory) nothing was spooled to disk."""
    web = live_web(workers=1)
    page = web.request("GET", "/accounts/login/")
    cookie = f"Cookie: csrftoken={page.cookies['csrftoken']}\r\n"
    raw = RawRequest(web.port, _multipart_head(web.port, "/accounts/login/", 300 * MB, cookie))
    try:
        raw.send(_file_part_start("username"))
        spooled: list[str] = []
        for _ in range(48):  # 3 MB in 64 KB pieces, watching the server's temporary folder
            if not raw.send(b"A" * 65536):
                break
            spooled = spooled or _spooled(web.tmpdir)
        time.sleep(0.5)
        spooled = spooled or _spooled(web.tmpdir)
        assert raw.done.wait(10), f"no answer after {raw.sent} bytes: the server is reading it"
        assert raw.status == 413, raw.answer[:300]
        assert raw.body()["code"] == "request_too_large"
        assert spooled == [], f"the body was spooled to disk: {spooled}"
    finally:
        raw.close()
    outcome(request, f"413 after the headers; {raw.sent} bytes sent, 0 temporary files")


@pytest.mark.django_db(transaction=True)
def test_an_upload_larger_than_the_route_allows_is_refused_from_its_declared_length(
    request, member, live_web
):
    """The upload route used to answer 413 only after reading almost all of the body: now a
    declared length over FOLIO_MAX_UPLOAD_MB (plus the form around it) is refused at once."""
    web = live_web(workers=1, FOLIO_MAX_UPLOAD_MB="2")
    token = web.token("member", "pw-member")
    head = _multipart_head(
        web.port, "/api/v1/files/upload", 60 * MB, f"Authorization: Bearer {token}\r\n"
    )
    raw = RawRequest(web.port, head)
    try:
        started = time.monotonic()
        assert raw.done.wait(10), "the server waited for the body"
        assert raw.status == 413
        assert raw.body()["code"] == "request_too_large"
        assert "3 MB" in raw.body()["detail"]
        elapsed = time.monotonic() - started
    finally:
        raw.close()
    # Within the limit, an upload is still read and stored.
    small = web.request(
        "POST",
        "/api/v1/files/upload",
        _file_part_start("file_content") + b"x" * 1000 + f"\r\n--{BOUNDARY}--\r\n".encode(),
        {
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "Authorization": f"Bearer {token}",
        },
    )
    assert small.status in (201, 400), small.body  # read (a broken PDF is a 400, not a 413)
    assert small.status != 413
    outcome(request, f"413 in {elapsed * 1000:.0f} ms with no body sent")


@pytest.mark.django_db(transaction=True)
def test_a_chunked_anonymous_body_is_refused_once_it_passes_the_limit(request, live_web):
    web = live_web(workers=1)
    head = (
        f"POST /api/v1/auth/token HTTP/1.1\r\nHost: 127.0.0.1:{web.port}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    raw = RawRequest(web.port, head)
    try:
        piece = b"A" * 16384
        chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
        for _ in range(256):  # up to 4 MB, at a pace that lets the answer be seen
            if not raw.send(chunk) or raw.done.wait(0.02):
                break
        assert wait_for(raw.done.is_set, 10)
        assert raw.status == 413, raw.answer[:300]
        assert raw.body()["code"] == "request_too_large"
        assert raw.sent < 1 * MB, f"{raw.sent} bytes were sent before the refusal"
    finally:
        raw.close()
    outcome(request, f"413 after {raw.sent // 1024} KB of a chunked body")


@pytest.mark.django_db
def test_body_limits_for_anonymous_and_authenticated_callers(member, api_client, settings):
    """In-process: 413 with a code from the declared length, per caller and per route."""
    settings.FOLIO_MAX_ANONYMOUS_BODY_KB = 4
    settings.FOLIO_MAX_BODY_MB = 1
    padding = "x" * 8000
    anonymous = APIClient().post(
        "/api/v1/auth/token",
        {"username": "member", "password": "pw-member", "pad": padding},
        format="json",
    )
    assert anonymous.status_code == 413 and anonymous.json()["code"] == "request_too_large"
    login = Client().post("/accounts/login/", {"username": "member", "pad": padding})
    assert login.status_code == 413
    client = api_client(member)
    assert client.get("/api/v1/documents/").status_code == 200
    fits = client.post("/api/v1/documents/generate", {"pad": padding}, format="json")
    assert fits.status_code == 400, "an authenticated caller may send more than 4 KB"
    huge = client.post("/api/v1/documents/generate", {"pad": "x" * (2 * MB)}, format="json")
    assert huge.status_code == 413
    forged = APIClient()
    forged.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert (
        forged.post("/api/v1/documents/generate", {"pad": padding}, format="json").status_code
        == 413
    )


@pytest.mark.parametrize(
    ("path", "files"),
    [
        ("/api/v1/files/upload", 1),
        ("/api/v1/templates/import", 1),
        ("/admin/templates_app/template/import-docx/", 1),
        ("/documents/new/", 20),
        ("/api/v1/documents/00000000-0000-0000-0000-000000000001/review", 1),
        ("/documents/00000000-0000-0000-0000-000000000001/review/", 1),
    ],
)
def test_the_upload_routes_accept_their_files(path, files, rf, settings):
    """The route names in portal/bodylimit.py still name the upload routes (a rename would cut
    their limit to FOLIO_MAX_BODY_MB)."""
    from portal.bodylimit import ENVELOPE, route_limit

    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 20
    expected = settings.FOLIO_MAX_UPLOAD_MB * MB * files + ENVELOPE
    assert route_limit(rf.post(path)) == expected
    assert route_limit(rf.post("/api/v1/documents/generate")) == settings.FOLIO_MAX_BODY_MB * MB
