"""Attacks on what Folio keeps and writes (issue 12, findings 7, 10, 11 and the extras): file
modes of the data directory, secrets in a development run's log, inputs that gave 500s, the
Idempotency-Key column, and Swagger UI from a CDN.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework_simplejwt.tokens import RefreshToken

from documents.models import GeneratedDocument
from tests.reliability.conftest import PROJECT_ROOT, outcome
from tests.reliability.live import free_port

pytestmark = [pytest.mark.reliability(category="attack"), pytest.mark.timeout(180)]


def _clean_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "FOLIO_", "DATABASE_URL", "REDIS_URL"))
    }
    env.update({"FOLIO_DATA_DIR": str(data_dir), **extra})
    return env


# --- finding 7: file modes ------------------------------------------------------------------------

MODES_SCRIPT = textwrap.dedent(
    """
    import os, django
    os.umask(0o022)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    django.setup()
    from django.conf import settings
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.core.management import call_command
    call_command("migrate", verbosity=0)
    key = default_storage.save("org/documents/v1/protocol.pdf", ContentFile(b"%PDF-1.4 x"))
    out = default_storage.save("org/output/draft.docx", ContentFile(b"PK docx"))
    data = settings.DATA_DIR
    def mode(path):
        return oct(os.stat(path).st_mode & 0o777)
    for name, path in [
        ("data_dir", data), ("database", data / "folio.sqlite3"),
        ("wal", data / "folio.sqlite3-wal"), ("secret_key", data / "secret_key"),
        ("files", data / "files"), ("upload", default_storage.path(key)),
        ("upload_dir", os.path.dirname(default_storage.path(key))),
        ("output", default_storage.path(out)),
    ]:
        if os.path.exists(path):
            print(name, mode(path))
    """
)


def test_the_data_directory_and_everything_in_it_are_private(request, tmp_path):
    """Finding 7: with umask 022, and a data directory that already exists as 755, the directory
    becomes 0700 and the database, key, uploads and outputs are 0600."""
    data = tmp_path / "var"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    result = subprocess.run(
        [sys.executable, "-c", MODES_SCRIPT],
        cwd=PROJECT_ROOT,
        env=_clean_env(data, DJANGO_DEBUG="1"),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    modes = dict(line.split() for line in result.stdout.strip().splitlines())
    assert modes["data_dir"] == "0o700"
    for name in ("database", "secret_key", "upload", "output"):
        assert modes[name] == "0o600", (name, modes)
    assert modes.get("wal", "0o600") == "0o600", modes
    for name in ("files", "upload_dir"):
        assert modes[name] == "0o700", (name, modes)
    outcome(request, ", ".join(f"{k} {v[2:]}" for k, v in sorted(modes.items())))


@pytest.mark.django_db
def test_an_upload_through_the_api_is_stored_owner_only(member, api_client, settings):
    old = os.umask(0o022)
    try:
        response = api_client(member).post(
            "/api/v1/files/upload",
            {"file_content": SimpleUploadedFile("note.pdf", b"%PDF-1.4\n%%EOF\n")},
            format="multipart",
        )
    finally:
        os.umask(old)
    assert response.status_code == 201, response.content
    from documents.models import SourceFileVersion

    key = SourceFileVersion.objects.get().storage_key
    stored = Path(settings.MEDIA_ROOT) / key
    assert stored.stat().st_mode & 0o777 == 0o600
    assert stored.parent.stat().st_mode & 0o777 == 0o700


# --- finding 10: the development server's log -----------------------------------------------------


def test_the_log_of_a_development_run_holds_no_token_or_signature(request, tmp_path):
    """Finding 10: runserver's request lines (the "django.server" handler) used to skip the
    redaction filter: a signed download URL and a JWT in a query string landed in run.log."""
    data = tmp_path / "var"
    env = _clean_env(data, DJANGO_DEBUG="1", PYTHONUNBUFFERED="1")
    port = free_port()
    log = tmp_path / "run.log"
    server = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "runserver",
            "--noreload",
            "--skip-checks",
            f"127.0.0.1:{port}",
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    jwt = str(RefreshToken().access_token)
    signature = "c2lnbmF0dXJlLXNlY3JldA"
    signed = f"/api/v1/files/signed/eyJrIjoic2VjcmV0In0:1t2u3v:{signature}"
    try:
        deadline = time.monotonic() + 60
        urls = [
            signed,
            f"/api/v1/documents/?token={jwt}",
            f"/healthz?access={jwt}",
            f"/no-such-page/{jwt}",
        ]
        answered = 0
        while time.monotonic() < deadline and answered == 0:
            for path in urls:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5)
                    answered += 1
                except urllib.error.HTTPError:
                    answered += 1
                except OSError:
                    time.sleep(0.3)
                    break
        assert answered == len(urls), log.read_text(errors="replace")
        time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(timeout=10)
    text = log.read_text(errors="replace")
    assert "/api/v1/files/signed/[redacted]" in text, text[-2000:]
    for secret in (jwt, signature, jwt.split(".")[2]):
        assert secret not in text, f"{secret[:20]}… in run.log:\n{text[-2000:]}"
    outcome(request, "4 requests with secrets in the URL: none in the log")


# --- finding 11: inputs that gave 500s ------------------------------------------------------------


@pytest.mark.django_db
def test_a_file_name_over_the_file_systems_limit_is_a_400(request, member, api_client):
    """90 × "€" is 270 bytes: past the file system's 255-byte limit (used to be a 500)."""
    client = api_client(member)
    for name in ("€" * 90 + ".pdf", "a" * 300 + ".pdf", "€" * 70 + ".pdf"):
        response = client.post(
            "/api/v1/files/upload",
            {"file_content": SimpleUploadedFile(name, b"%PDF-1.4\n%%EOF\n")},
            format="multipart",
        )
        assert response.status_code == 400, (name[:10], response.content)
        assert response.json()["code"] == "file_name_too_long"
        assert "bytes" in response.json()["detail"]
    ok = client.post(
        "/api/v1/files/upload",
        {"file_content": SimpleUploadedFile("€" * 60 + ".pdf", b"%PDF-1.4\n%%EOF\n")},
        format="multipart",
    )
    assert ok.status_code == 201, ok.content
    outcome(request, "400 file_name_too_long; 184 bytes accepted")


@pytest.mark.django_db
def test_deeply_nested_json_is_a_400_without_a_traceback(
    request, member, manager, api_client, caplog
):
    """Nesting is limited before parsing: no RecursionError, no 2,800-line traceback."""
    caplog.set_level(logging.INFO)
    deep = "[" * 5000 + "]" * 5000
    checked = 0
    for user, method, url in (
        (member, "post", "/api/v1/documents/generate"),
        (member, "post", "/api/v1/document-sets/"),
        (manager, "post", "/api/v1/templates/"),
        (manager, "patch", "/api/v1/templates/ich-e3-csr"),
        (member, "post", "/api/v1/auth/token"),
        (member, "post", "/generate-presigned-url"),
    ):
        client = api_client(user)
        response = getattr(client, method)(url, deep, content_type="application/json")
        assert response.status_code == 400, (url, response.status_code)
        assert response.json()["code"] == "json_too_deep", url
        checked += 1
    fine = api_client(member).post(
        "/api/v1/documents/generate", '{"a": [[[[1]]]]}', content_type="application/json"
    )
    assert fine.status_code == 400 and fine.json().get("code") != "json_too_deep"
    assert "Traceback" not in caplog.text
    assert len(caplog.text.splitlines()) < 50
    outcome(request, f"{checked} routes: 400 json_too_deep, no traceback")


@pytest.mark.django_db
def test_huge_offsets_and_limits_are_a_400(request, member, manager, api_client):
    client = api_client(member)
    boss = api_client(manager)
    for who, url in (
        (client, "/api/v1/documents/?offset=99999999999999999999"),
        (client, "/api/v1/documents/?offset=1000000001"),
        (client, "/api/v1/documents/?limit=99999999999999999999999"),
        (client, "/api/v1/document-sets/?offset=99999999999999999999"),
        (client, "/api/v1/templates/?offset=99999999999999999999"),
        (client, "/api/v1/files/documents?offset=99999999999999999999"),
        (boss, "/api/v1/audit-events/?offset=99999999999999999999"),
    ):
        response = who.get(url)
        assert response.status_code == 400, (url, response.status_code)
        assert response.json()["code"] == "invalid_parameter", url
    assert client.get("/api/v1/documents/?offset=1000000000").status_code == 200
    outcome(request, "400 invalid_parameter on every list")


@pytest.mark.django_db
def test_an_idempotency_key_longer_than_its_column_is_a_400(request, member, submit, tiny_source):
    """Accepted at 5,000 characters on SQLite; PostgreSQL would have answered 500."""
    path = tiny_source(member)
    response = submit(member, [path], headers={"Idempotency-Key": "k" * 5000})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_idempotency_key"
    assert not GeneratedDocument.objects.exists()
    ok = submit(member, [path], headers={"Idempotency-Key": "k" * 200})
    assert ok.status_code == 202
    outcome(request, "400 invalid_idempotency_key at 5,000 characters; 200 accepted")


def test_the_api_docs_load_nothing_from_a_cdn(request, db):
    """/api/docs/ is served from drf-spectacular-sidecar's static files, under the same-origin
    policy of every page."""
    page = Client().get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "cdn." not in html and "https://" not in html
    assert "'self'" in page["Content-Security-Policy"]
    assert "cdn" not in page["Content-Security-Policy"]
    import re

    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    static = [a for a in assets if a.startswith("/static/")]
    assert len(static) >= 3, assets
    for asset in static:
        assert finders.find(asset.removeprefix("/static/")), asset
    script = Client().get("/api/docs/?script=")
    assert script.status_code == 200 and b"SwaggerUIBundle" in script.content
    outcome(request, f"{len(static)} assets, all local")
