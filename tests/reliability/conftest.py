"""Harness of the reliability suite: real processes on ports the test owns, and the report.

- ``stack`` starts a valkey-server of its own on a free port (never the machine's Redis), points
  this process's queue at it and starts RQ worker subprocesses on demand
  (``manage.py rqworker default``, Folio's worker with the test-only slow steps of
  ``slow_worker.py``) that share the
  test database (a file: tests/settings.py) and ``FOLIO_DATA_DIR``. It can freeze (SIGSTOP),
  kill and restart the server and kill a worker or its work horse. Everything it started is
  stopped by pid at teardown, before pytest-django flushes the database.
- ``tiny_source`` uploads a small text .docx; ``submit`` posts a generation of it with a
  two-section outline, so a job takes a second or two (plus any ``FOLIO_TEST_SLOW_STEP_SECONDS``
  given to the workers).
- ``outcome(request, text)`` records what a case observed (an error code, a status); with
  ``--reliability-report`` the session writes, above the per-test table of tests/conftest.py, a
  summary by category (bad inputs, faults, attacks) and the load figures of bench/load.py.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CATEGORIES = {
    "bad_input": ("Bad inputs", "handled with a clear error", "crashed or unclear"),
    "fault": ("Faults injected", "survived, every job terminal, nothing lost", "not survived"),
    "attack": ("Attacks", "refused", "not refused"),
}

# Outline used by ``submit``: two sections keep a generation short.
SHORT_OUTLINE = {
    "sections": [
        {"section_id": "s-title", "section_name": "1 Title Page", "level": 1},
        {"section_id": "s-synopsis", "section_name": "2 Synopsis", "level": 1},
    ]
}


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.1) -> Any:
    """Poll ``predicate`` until it returns a truthy value (returned) or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            return value
        time.sleep(interval)


# --- the report ----------------------------------------------------------------------------------

_ROWS: list[dict[str, Any]] = []


def outcome(request: pytest.FixtureRequest, text: str) -> None:
    """Record what this case observed, for the reliability report."""
    request.node.user_properties.append(("observed", text))


def _category(item: pytest.Item) -> str | None:
    marker = item.get_closest_marker("reliability")
    if marker is None:
        return None
    return marker.kwargs.get("category") or (marker.args[0] if marker.args else None)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    category = _category(item)
    if category and (
        report.when == "call" or (report.when == "setup" and report.outcome != "passed")
    ):
        observed = "; ".join(v for k, v in item.user_properties if k == "observed")
        outcome_name = "xfailed" if hasattr(report, "wasxfail") else report.outcome
        _ROWS.append(
            {
                "nodeid": item.nodeid,
                "category": category,
                "outcome": outcome_name,
                "observed": observed,
            }
        )
    return report


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    target = session.config.getoption("--reliability-report", default=None)
    if not target:
        return
    path = Path(target)
    if not path.is_absolute():
        path = Path(session.config.rootpath) / path
    body = path.read_text() if path.exists() else "# Reliability\n"
    summary = [
        "## Summary",
        "",
        "How it works: docs/limits.md (bounds, retries, the reconciler) and docs/security.md.",
        "",
        "| category | tried | as expected | not as expected (must be 0) | known gaps (xfail) |",
        "|---|---|---|---|---|",
    ]
    for key, (label, ok_label, bad_label) in CATEGORIES.items():
        rows = [r for r in _ROWS if r["category"] == key]
        ok = sum(1 for r in rows if r["outcome"] == "passed")
        bad = sum(1 for r in rows if r["outcome"] == "failed")
        gaps = sum(1 for r in rows if r["outcome"] == "xfailed")
        tried = sum(1 for r in rows if r["outcome"] != "skipped")
        summary.append(f"| {label} | {tried} | {ok} {ok_label} | {bad} {bad_label} | {gaps} |")
    summary += ["", *_load_section(), "", "## Cases", ""]
    observed = {r["nodeid"]: r["observed"] for r in _ROWS if r["observed"]}
    lines = []
    for line in body.splitlines():
        if line.startswith("| `") and line.count("|") >= 5:
            nodeid = line.split("`")[1]
            if nodeid in observed:
                cells = line.split(" | ")
                cells[1] = f"{cells[1]} → {observed[nodeid].replace('|', '/')}".lstrip(" →")
                line = " | ".join(cells)
        lines.append(line)
    # Insert after the title and the "Outcomes:" line of tests/conftest.py's report.
    at = next((i for i, line in enumerate(lines) if line.startswith("Outcomes:")), 1)
    new = [*lines[: at + 1], "", *summary, *lines[at + 1 :]]
    path.write_text("\n".join(new) + "\n")


def _docsync() -> Any:
    """bench/_docsync.py (the generated load and soak blocks, shared with bench/*.py)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "folio_bench_docsync", PROJECT_ROOT / "bench" / "_docsync.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _load_section() -> list[str]:
    """What is and is not survived (tests/reliability/scope.md), then the latest load and soak
    figures, as generated blocks that bench/load.py and bench/soak.py rewrite in place."""
    sync = _docsync()
    scope = PROJECT_ROOT / "tests" / "reliability" / "scope.md"
    out: list[str] = []
    if scope.exists():
        out += [*scope.read_text().rstrip().splitlines(), ""]
    out += ["## Load", "", *sync.block("load", sync.load_block()).splitlines(), ""]
    out += ["## Soak", "", *sync.block("soak", sync.soak_block()).splitlines()]
    return out


# --- processes -----------------------------------------------------------------------------------


def _kill_tree(pid: int) -> None:
    """SIGKILL a process and all its descendants, the process first (like a lost host)."""
    import psutil

    try:
        root = psutil.Process(pid)
        descendants = root.children(recursive=True)
    except psutil.NoSuchProcess:
        return
    for proc in [root, *descendants]:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.send_signal(signal.SIGKILL)
    # Reap only the descendants here: the caller's Popen reaps its own child (and reads -9).
    psutil.wait_procs(descendants, timeout=5)


def database_url() -> str:
    """A URL for the test database that another process can open."""
    from django.db import connection

    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{Path(s['NAME']).resolve()}"
    if "postgresql" in s["ENGINE"]:
        auth = s.get("USER") or ""
        if s.get("PASSWORD"):
            auth += f":{s['PASSWORD']}"
        host = f"{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}"
        return f"postgres://{auth}@{host}/{s['NAME']}" if auth else f"postgres://{host}/{s['NAME']}"
    raise RuntimeError(f"no cross-process URL for {s['ENGINE']}")


@dataclass
class WorkerProcess:
    proc: subprocess.Popen[bytes]
    log: Path
    name: str

    @property
    def pid(self) -> int:
        return self.proc.pid

    def horse_pid(self, timeout: float = 10) -> int | None:
        """The work horse (the worker's forked child) while it runs a job."""
        import psutil

        def find() -> int | None:
            try:
                children = psutil.Process(self.pid).children()
            except psutil.NoSuchProcess:
                return None
            return children[0].pid if children else None

        return wait_for(find, timeout, 0.05)

    def kill(self) -> None:
        """SIGKILL the worker and its horse at once (host or container loss)."""
        _kill_tree(self.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        _kill_tree(self.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-6000:]
        except OSError:
            return ""


def _forget_queue_timeouts() -> None:
    """This process's queue client stops skipping Redis after a timeout it saw (a new server)."""
    from documents import queue

    queue.reset_down_hold()


@dataclass
class Stack:
    tmp: Path
    redis: Any = None
    url: str = ""
    port: int = 0
    password: str = ""
    workers: list[WorkerProcess] = field(default_factory=list)
    worker_env: dict[str, str] = field(default_factory=dict)
    # With persistence (``use_persistent_redis``): the append-only file lives here and a restart
    # keeps it, as `make run`'s server does.
    redis_dir: Path | None = None

    # -- the queue server --
    def start_redis(self) -> str:
        from django.conf import settings

        from portal import embedded_redis
        from portal.settings import redis_queue_config

        # A restart keeps the port and the password, as `make run`'s server does: the workers
        # reconnect with the URL they were given.
        self.redis = embedded_redis.EmbeddedRedis(
            persist=self.redis_dir is not None,
            data_dir=self.redis_dir,
            port=self.port or None,
            password=self.password or None,
        )
        self.url = self.redis.start()
        self.password = self.redis.password
        self.port = int(self.url.rsplit(":", 1)[1].split("/")[0])
        settings.RQ_QUEUES["default"].update(redis_queue_config(self.url))
        _forget_queue_timeouts()
        return self.url

    @property
    def redis_pid(self) -> int:
        pid = self.redis.pid if self.redis is not None else None
        assert pid, "the stack's valkey-server is not running"
        return pid

    def freeze_redis(self) -> None:
        os.kill(self.redis_pid, signal.SIGSTOP)

    def thaw_redis(self) -> None:
        with contextlib.suppress(ProcessLookupError, AssertionError):
            os.kill(self.redis_pid, signal.SIGCONT)
        _forget_queue_timeouts()

    def kill_redis(self) -> None:
        """SIGKILL the server: without persistence, every queued job and registry is lost."""
        pid = self.redis_pid
        os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, 0)
        with contextlib.suppress(Exception):
            self.redis.stop(timeout=1)
        self.redis = None

    def restart_redis(self) -> str:
        """A fresh, empty server on the same port (what a restart without persistence leaves)."""
        if self.redis is not None:
            self.kill_redis()
        return self.start_redis()

    def use_persistent_redis(self) -> str:
        """Replace the throw-away server by one with an append-only file (same port)."""
        if self.redis is not None:
            self.redis.stop(timeout=5)
            self.redis = None
        self.redis_dir = self.tmp / "valkey"
        return self.start_redis()

    def stop_redis(self) -> None:
        """SIGTERM the server and wait: it flushes its append-only file (a clean restart)."""
        if self.redis is not None:
            self.redis.stop(timeout=10)
            self.redis = None

    def connection(self) -> Any:
        import redis

        return redis.Redis.from_url(self.url, socket_timeout=2, socket_connect_timeout=2)

    # -- workers --
    def start_worker(
        self,
        *,
        wait: bool = True,
        with_scheduler: bool = False,
        own_session: bool = False,
        args: tuple[str, ...] = (),
        **env: str,
    ) -> WorkerProcess:
        n = len(self.workers)
        log = self.tmp / f"worker-{n}.log"
        name = f"test-worker-{os.getpid()}-{n}-{time.monotonic_ns()}"
        full_env = os.environ.copy()
        full_env.update(
            {
                "DJANGO_SETTINGS_MODULE": "tests.settings",
                "REDIS_URL": self.url,
                "DATABASE_URL": database_url(),
                "FOLIO_RECONCILE_SECONDS": "1",
                "FOLIO_WORKER_MONITOR_SECONDS": "1",
                "FOLIO_STALE_JOB_SECONDS": "5",
                "PYTHONUNBUFFERED": "1",
            }
        )
        full_env.update(self.worker_env)
        full_env.update(env)
        proc = subprocess.Popen(
            [
                sys.executable,
                str(PROJECT_ROOT / "manage.py"),
                "rqworker",
                "default",
                "--worker-class",
                "tests.reliability.slow_worker.SlowStepWorker",
                "--name",
                name,
                *(["--with-scheduler"] if with_scheduler else []),
                *args,
            ],
            cwd=PROJECT_ROOT,
            env=full_env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            # As systemd and bench/load.py start it: a session (and so an autogroup) of its own.
            start_new_session=own_session,
        )
        worker = WorkerProcess(proc, log, name)
        self.workers.append(worker)
        if wait:
            ok = wait_for(lambda: self.worker_ready(worker), 30, 0.1)
            assert ok, f"worker did not start:\n{worker.output()}"
        return worker

    def worker_ready(self, worker: WorkerProcess) -> bool:
        assert worker.proc.poll() is None, f"worker exited:\n{worker.output()}"
        try:
            return bool(self.connection().exists(f"rq:worker:{worker.name}"))
        except Exception:
            return False

    def stop(self) -> None:
        self.thaw_redis()
        for worker in self.workers:
            worker.stop()
        if self.redis is not None:
            with contextlib.suppress(Exception):
                self.redis.stop(timeout=2)
            self.redis = None


def fill_up(path: Path) -> None:
    """Write ``path/.filler`` until the file system is full (ENOSPC)."""
    with contextlib.suppress(OSError), (path / ".filler").open("ab") as fh:
        while True:
            fh.write(b"\0" * 64 * 1024)
            fh.flush()


@pytest.fixture
def full_folder() -> Iterator[Callable[[Path], Path]]:
    """``full_folder(path)`` mounts an 8 KB tmpfs at ``path`` and fills it (``fill=False``: a
    tmpfs of ``size`` left empty, for the test to fill later). Root only; skipped elsewhere."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mounted: list[Path] = []

    def make(path: Path, *, fill: bool = True, size: str = "8k") -> Path:
        path.mkdir(parents=True, exist_ok=True)
        out = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)],
            capture_output=True,
            text=True,
        )
        if out.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {out.stderr.strip()}")
        mounted.append(path)
        if fill:
            fill_up(path)
        return path

    try:
        yield make
    finally:
        for path in mounted:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


@pytest.fixture
def stack(transactional_db: None, tmp_path: Path, redis_server: str) -> Iterator[Stack]:
    """A private valkey-server and worker subprocesses sharing the test database."""
    from django.conf import settings

    saved = dict(settings.RQ_QUEUES["default"])
    s = Stack(tmp=tmp_path)
    s.start_redis()
    try:
        yield s
    finally:
        s.stop()
        settings.RQ_QUEUES["default"].clear()
        settings.RQ_QUEUES["default"].update(saved)


# --- sources and submissions ---------------------------------------------------------------------


@pytest.fixture
def tiny_source(api_client: Any, tmp_path: Path) -> Callable[..., str]:
    """``tiny_source(user, name=..., paragraphs=...)`` uploads a small .docx; returns its path."""
    from tests.fixtures.builders import build_plain_docx

    def make(
        user: Any, name: str = "protocol.docx", paragraphs: tuple[str, ...] | None = None
    ) -> str:
        target = tmp_path / f"src-{time.monotonic_ns()}.docx"
        build_plain_docx(
            target,
            paragraphs
            or (
                "Study Protocol ABC-123",
                "This randomised, double-blind study compares drug A with placebo in 120 adults.",
                "The primary endpoint is the change in blood pressure at week 12.",
            ),
        )
        from django.core.files.uploadedfile import SimpleUploadedFile

        response = api_client(user).post(
            "/api/v1/files/upload",
            {"file_content": SimpleUploadedFile(name, target.read_bytes())},
            format="multipart",
        )
        assert response.status_code == 201, response.content
        return str(response.json()["file_path"])

    return make


@pytest.fixture
def submit(api_client: Any) -> Callable[..., Any]:
    """``submit(user, file_paths, **overrides)`` -> the response of POST generate."""

    def post(
        user: Any, file_paths: list[str], headers: dict[str, str] | None = None, **overrides: Any
    ) -> Any:
        body = {
            "document_type": "CSR",
            "file_paths": file_paths,
            "connector_data_id": "study-rel",
            "workspace_name": "Reliability study",
            "template_id": "ich-e3-csr",
            "output_name": "Draft",
            "generic_mrt_outline_full": SHORT_OUTLINE,
        }
        body.update(overrides)
        body = {k: v for k, v in body.items() if v is not None}
        extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (headers or {}).items()}
        return api_client(user).post("/api/v1/documents/generate", body, format="json", **extra)

    return post


def row(document_id: Any) -> Any:
    from documents.models import GeneratedDocument

    return GeneratedDocument.objects.get(pk=document_id)


def wait_terminal(document_id: Any, timeout: float) -> Any:
    from documents.models import GeneratedDocument

    def done() -> Any:
        doc = GeneratedDocument.objects.get(pk=document_id)
        return doc if doc.is_terminal else None

    doc = wait_for(done, timeout, 0.2)
    return doc or row(document_id)


def wait_status(document_id: Any, status: str, timeout: float) -> Any:
    from documents.models import GeneratedDocument

    return wait_for(
        lambda: GeneratedDocument.objects.filter(pk=document_id, status=status).first(),
        timeout,
        0.05,
    )


def output_files(document: Any) -> list[str]:
    """Every stored output file of a document (all attempts)."""
    from django.conf import settings

    folder = Path(settings.MEDIA_ROOT) / str(document.organization_id) / "output"
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(str(document.id)))


# A real gunicorn on a port the test owns (tests/reliability/live.py), for the attack tests.
from tests.reliability.live import live_web  # noqa: E402, F401
