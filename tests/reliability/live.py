"""A real web server for the attack tests: gunicorn worker processes on a port the test owns.

``live_web(workers=2, **env)`` starts ``gunicorn portal.wsgi`` with ``tests.settings`` against the
test database (a file on SQLite, the test database on PostgreSQL: ``conftest.database_url``) and
the session's queue, waits for ``/healthz`` and returns a ``LiveWeb`` that sends plain HTTP
requests (``http.client``: what the server reads is exactly what the test sends). Extra
environment variables configure that server only. Everything is stopped by pid at teardown.
Tests using it need the ``transactional_db`` fixture (the server sees committed rows only).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.reliability.conftest import PROJECT_ROOT, database_url

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    cookies: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class LiveWeb:
    port: int
    proc: subprocess.Popen[bytes]
    log: Path
    tmpdir: Path

    def request(
        self,
        method: str,
        path: str,
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> Answer:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=timeout)
        try:
            data = body.encode() if isinstance(body, str) else body
            all_headers = {"Host": f"{HOST}:{self.port}", **(headers or {})}
            conn.request(method, path, body=data, headers=all_headers)
            response = conn.getresponse()
            raw_headers = response.getheaders()
            payload = response.read()
        finally:
            conn.close()
        cookies = {}
        for name, value in raw_headers:
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                cookies[key.strip()] = rest.split(";", 1)[0]
        return Answer(
            response.status, {k.lower(): v for k, v in raw_headers}, payload, cookies=cookies
        )

    def post_json(self, path: str, data: Any, token: str | None = None, **headers: str) -> Answer:
        extra = {"Content-Type": "application/json", **headers}
        if token:
            extra["Authorization"] = f"Bearer {token}"
        return self.request("POST", path, json.dumps(data), extra)

    def token(self, username: str, password: str) -> str:
        answer = self.post_json("/api/v1/auth/token", {"username": username, "password": password})
        assert answer.status == 200, answer.body
        return str(answer.json()["access"])

    def portal_login(self, username: str, password: str, **headers: str) -> Answer:
        """GET the login page for a CSRF token, then POST the form (as a browser does)."""
        page = self.request("GET", "/accounts/login/", headers=headers)
        csrf = page.cookies.get("csrftoken", "")
        match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.body)
        assert match and csrf, "the login page sets a CSRF token"
        form = urlencode(
            {
                "csrfmiddlewaretoken": match.group(1).decode(),
                "username": username,
                "password": password,
            }
        )
        return self.request(
            "POST",
            "/accounts/login/",
            form,
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": f"csrftoken={csrf}",
                "Referer": f"http://{HOST}:{self.port}/accounts/login/",
                **headers,
            },
        )

    def worker_pids(self) -> list[int]:
        import psutil

        try:
            return [child.pid for child in psutil.Process(self.proc.pid).children()]
        except psutil.NoSuchProcess:
            return []

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-6000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


def start_live_web(tmp: Path, *, workers: int = 2, **env: str) -> LiveWeb:
    port = free_port()
    tmpdir = tmp / f"web-tmp-{port}"
    tmpdir.mkdir()
    log = tmp / f"web-{port}.log"
    full_env = os.environ.copy()
    full_env.update(
        {
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": database_url(),
            "TMPDIR": str(tmpdir),  # where Django spools uploads: the tests look in it
            "PYTHONUNBUFFERED": "1",
            "FOLIO_LOG_LEVEL": "WARNING",
        }
    )
    full_env.update(env)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "portal.wsgi:application",
            "--bind",
            f"{HOST}:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            "sync",
            "--timeout",
            "90",
            "--log-level",
            "warning",
        ],
        cwd=PROJECT_ROOT,
        env=full_env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    web = LiveWeb(port=port, proc=proc, log=log, tmpdir=tmpdir)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"gunicorn exited:\n{web.output()}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            answered = web.request("GET", "/healthz", timeout=5).status in (200, 503)
            if answered and len(web.worker_pids()) >= workers:
                return web
        time.sleep(0.2)
    web.stop()
    raise AssertionError(f"gunicorn did not answer:\n{web.output()}")


@pytest.fixture
def live_web(transactional_db: None, tmp_path: Path) -> Iterator[Callable[..., LiveWeb]]:
    started: list[LiveWeb] = []

    def make(*, workers: int = 2, **env: str) -> LiveWeb:
        web = start_live_web(tmp_path, workers=workers, **env)
        started.append(web)
        return web

    try:
        yield make
    finally:
        for web in started:
            web.stop()
