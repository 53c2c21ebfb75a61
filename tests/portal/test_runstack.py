"""``manage.py runstack`` (``make run``): starts the stack, serves, and stops without orphans.

These start real processes (valkey-server, an RQ worker, the web server) in a throw-away
``FOLIO_DATA_DIR``; each test takes a few seconds.
"""

from __future__ import annotations

import io
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from portal.embedded_redis import redact_url
from portal.management.commands.runstack import data_dir_lock
from portal.processes import descendants, process_identity

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 120.0

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"REDIS_URL", "DATABASE_URL", "DJANGO_SECRET_KEY", "DJANGO_DEBUG"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings",
        DJANGO_DEBUG="1",
        FOLIO_DATA_DIR=str(data_dir),
        **extra,
    )
    return env


@pytest.fixture(scope="module")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite database; each test starts from a copy, so runstack's own migrate
    has nothing left to do and the tests stay quick."""
    data_dir = tmp_path_factory.mktemp("migrated")
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "--verbosity", "0"],
        cwd=PROJECT_ROOT,
        env=_env(data_dir),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return data_dir / "folio.sqlite3"


@pytest.fixture
def data_dir(tmp_path: Path, migrated_db: Path) -> Path:
    shutil.copy(migrated_db, tmp_path / "folio.sqlite3")
    return tmp_path


def _start(
    data_dir: Path, port: int, redis_url: str | None = None
) -> tuple[subprocess.Popen[str], str]:
    env = _env(data_dir, PORT=str(port))
    if redis_url:
        env["REDIS_URL"] = redis_url
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runstack", "--verbosity", "0"],
        cwd=PROJECT_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # like a terminal's foreground job: Ctrl-C goes to this group
    )
    output = _read_until(process, "Press Ctrl-C to stop.", STARTUP_TIMEOUT)
    return process, output


def _read_until(process: subprocess.Popen[str], marker: str, timeout: float) -> str:
    """Read the output until ``marker`` (a thread reads, so a pipe buffer never hides a line)."""
    assert process.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()

    def reader() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=reader, daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        if line is None:
            break
        seen.append(line)
        if marker in line:
            return "".join(seen)
    process.kill()
    output = "".join(seen)
    raise AssertionError(f"runstack did not get to {marker!r}:\n{output}")


def _gone(processes: dict[int, str], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [pid for pid, ident in processes.items() if process_identity(pid) == ident]
        zombies = [pid for pid in alive if _is_zombie(pid)]
        if len(alive) == len(zombies):
            return []
        time.sleep(0.2)
    return [pid for pid, ident in processes.items() if process_identity(pid) == ident]


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_it_starts_everything_serves_health_and_ctrl_c_stops_it_all(data_dir):
    tmp_path = data_dir
    port = _free_port()
    process, output = _start(tmp_path, port)
    try:
        assert f"http://127.0.0.1:{port}/" in output
        assert "demo / demo-password" in output
        children = descendants(process.pid)
        commands = " ".join(Path(f"/proc/{pid}/cmdline").read_text() for pid in children)
        assert "valkey-server" in commands
        assert "rqworker" in commands
        assert "runserver" in commands
        url = (tmp_path / "redis.url").read_text().strip()
        assert url.startswith("redis://folio:") and "@127.0.0.1:" in url
        assert url.split("@")[0] not in output, "the banner does not print the queue's password"

        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
            assert response.status == 200
            assert json.loads(response.read())["queue"] == "ok"

        os.killpg(process.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
        assert process.wait(timeout=60) == 0
        assert _gone(children, timeout=10) == []
        assert not (tmp_path / "redis.url").exists()
    finally:
        if process.poll() is None:
            process.kill()


def _worker_pids(stack_pid: int) -> set[int]:
    return {
        pid
        for pid in descendants(stack_pid)
        if "rqworker" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
    }


def test_a_worker_that_exits_is_started_again(data_dir):
    """Issue 11, fault 1: a worker that died used to stop the whole stack (or, before that,
    nothing served the queue); the supervisor now starts a new one and keeps serving."""
    port = _free_port()
    process, _ = _start(data_dir, port)
    try:
        first = _worker_pids(process.pid)
        assert first
        for pid in first:
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 60
        again: set[int] = set()
        while time.monotonic() < deadline and not again:
            time.sleep(0.3)
            with_errors = _worker_pids(process.pid) - first
            again = {pid for pid in with_errors if not _is_zombie(pid)}
        assert again, "no new worker was started"
        assert process.poll() is None, "the stack keeps running"

        def healthy() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                    return json.loads(r.read()).get("workers", 0) >= 1
            except OSError:
                return False

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not healthy():
            time.sleep(0.5)
        assert healthy(), "the new worker registers and /healthz counts it"
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()


def test_when_the_stack_is_killed_its_children_die_with_it(data_dir):
    process, _ = _start(data_dir, _free_port())
    children = descendants(process.pid)
    try:
        process.kill()
        process.wait(timeout=10)
        assert _gone(children, timeout=30) == []
    finally:
        for pid, ident in children.items():
            if process_identity(pid) == ident:
                os.kill(pid, signal.SIGKILL)


def test_with_redis_url_set_no_embedded_server_is_started(data_dir, redis_server):
    tmp_path = data_dir
    process, output = _start(tmp_path, _free_port(), redis_url=redis_server)
    try:
        children = descendants(process.pid)
        commands = " ".join(Path(f"/proc/{pid}/cmdline").read_text() for pid in children)
        assert "valkey-server" not in commands
        assert "rqworker" in commands
        assert redact_url(redis_server) in output
        assert not (tmp_path / "redis.url").exists()
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(timeout=60) == 0
        assert _gone(children, timeout=10) == []
    finally:
        if process.poll() is None:
            process.kill()


def test_a_second_stack_on_the_same_data_dir_is_refused(settings):
    with data_dir_lock(Path(settings.DATA_DIR)), pytest.raises(CommandError, match="already"):
        call_command("runstack", port=_free_port(), stdout=io.StringIO())


def test_a_port_in_use_is_reported_before_anything_starts(db):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(CommandError, match=f"Port {port} .* is in use"):
            call_command("runstack", port=port, stdout=io.StringIO())


def test_worker_only_needs_a_queue(settings, monkeypatch, tmp_path):
    settings.REDIS_URL_SETTING = ""
    settings.DATA_DIR = tmp_path
    with pytest.raises(CommandError, match="No queue to work on"):
        call_command("runstack", worker_only=True, stdout=io.StringIO())


def test_the_worker_class_is_folios_and_rqs_only_while_the_module_is_missing(monkeypatch):
    from portal.management.commands import runstack

    assert runstack.worker_class_or_none() == "documents.worker.FolioWorker"
    monkeypatch.setattr(runstack, "WORKER_CLASS", "no_such_package.worker.Worker")
    out = io.StringIO()
    assert runstack.worker_class_or_none(out) is None
    assert "does not exist yet" in out.getvalue()
    command = runstack.worker_command(None)
    assert command[-3:] == ["rqworker", "default", "--with-scheduler"]
