"""The embedded valkey-server: URL file, PING, persistence, isolation and clean-up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import redis

from portal import embedded_redis

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False


def test_start_writes_the_url_file_and_answers_ping_stop_removes_it(tmp_path):
    server = embedded_redis.for_run(tmp_path)
    url = server.start()
    try:
        assert (tmp_path / "redis.url").read_text().strip() == url
        assert embedded_redis.read_url_file(tmp_path) == url
        # The user and password of the server's ACL are part of the URL (and the file is 0600).
        assert url.startswith("redis://folio:") and "@127.0.0.1:" in url
        assert (tmp_path / "redis.url").stat().st_mode & 0o777 == 0o600
        assert embedded_redis.ping(url)
    finally:
        server.stop()
    assert not (tmp_path / "redis.url").exists()
    assert not embedded_redis.ping(url, timeout=0.3)


def test_stop_leaves_a_url_file_that_names_another_server_alone(tmp_path):
    server = embedded_redis.for_run(tmp_path)
    server.start()
    (tmp_path / "redis.url").write_text("redis://127.0.0.1:6390/0\n")
    server.stop()
    assert (tmp_path / "redis.url").read_text().strip() == "redis://127.0.0.1:6390/0"


def test_the_run_server_keeps_queued_data_across_a_restart_on_the_same_port(tmp_path):
    server = embedded_redis.for_run(tmp_path)
    url = server.start()
    client = redis.Redis.from_url(url)
    client.rpush("rq:queue:default", "job-1")
    client.close()
    server.stop()
    assert (tmp_path / "valkey" / "appendonlydir").is_dir()

    again = embedded_redis.for_run(tmp_path)
    url_again = again.start()
    try:
        assert url_again == url  # the previous port is preferred when free
        client = redis.Redis.from_url(url_again)
        assert client.lrange("rq:queue:default", 0, -1) == [b"job-1"]
        client.close()
    finally:
        again.stop()


def test_the_test_server_keeps_nothing_on_disk():
    server = embedded_redis.for_tests()
    url = server.start()
    data_dir = server.data_dir
    assert data_dir is not None
    try:
        assert embedded_redis.ping(url)
        assert not (data_dir / "appendonlydir").exists()
    finally:
        server.stop()
    assert not data_dir.exists()


def test_the_server_runs_in_its_own_process_group(tmp_path):
    with embedded_redis.EmbeddedRedis(data_dir=tmp_path) as server:
        assert server.pid is not None
        # A Ctrl-C in the terminal must reach the orchestrator only, not the queue server.
        assert os.getpgid(server.pid) == server.pid


def test_the_session_uses_an_embedded_server_not_the_machines_redis(redis_server):
    from django.conf import settings

    assert settings.RQ_QUEUES["default"]["PORT"] != 6379 or os.environ.get("REDIS_URL")
    assert embedded_redis.ping(redis_server)


def test_a_server_left_behind_by_a_killed_stack_is_stopped(tmp_path):
    server = embedded_redis.for_run(tmp_path)
    server.start()
    pid = server.pid
    assert pid is not None
    # Forget the handle, as a SIGKILLed `make run` would; the pid file still names the server.
    server._server = None
    stopped = embedded_redis.stop_stale_server(tmp_path / "valkey")
    assert stopped == pid
    assert _wait_gone(pid)
    assert embedded_redis.stop_stale_server(tmp_path / "valkey") is None


def test_a_stale_pid_file_of_another_program_is_ignored(tmp_path):
    valkey_dir = tmp_path / "valkey"
    valkey_dir.mkdir()
    (valkey_dir / "valkey.pid").write_text(f"{os.getpid()}\n")
    assert embedded_redis.stop_stale_server(valkey_dir) is None
    assert _alive(os.getpid())


def test_the_server_dies_with_the_process_that_started_it(tmp_path):
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from portal import embedded_redis
        server = embedded_redis.EmbeddedRedis(data_dir=Path({str(tmp_path)!r}))
        server.start()
        print(server.pid, flush=True)
        time.sleep(60)
        """
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        pid = int(parent.stdout.readline())
        assert _alive(pid)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        assert _wait_gone(pid), "valkey-server outlived the process that started it"
    finally:
        if parent.poll() is None:
            parent.kill()
