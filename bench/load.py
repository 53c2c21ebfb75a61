"""Load benchmark: how does accepting, polling and running generations hold up under load?

Yardstick: a bare authenticated DRF route measured in the same run on the same stack
(``GET /api/v1/documents/?limit=1``: JWT authentication, membership lookup, one count and one
page query). The questions, each answered as a ratio against that baseline and as absolute
numbers beside it (reliability plan §D):

1. Accept (``POST /api/v1/documents/generate``) at 50 concurrent clients (closed loop) and at a
   fixed 50 requests/s (open model): throughput >= 50 % of the baseline's, p99 <= 2x its p99.
2. Status polling (``GET /api/v1/documents/status/<id>``) at 50 concurrent clients:
   p99 <= 1.5x the baseline's; SQL queries and Redis commands per request counted in-process.
3. A mixed run: 100 users each submit a generation (with an ``Idempotency-Key``, sent twice),
   poll every second until it ends, then download it, against two RQ workers. Every accepted
   task must end terminal, none twice, each with exactly one output.

The stack: gunicorn (4 sync workers) on 127.0.0.1 and a free port; PostgreSQL in a throw-away
database on 127.0.0.1:5432 when the server answers (else SQLite); an embedded valkey-server on a
free port; two ``FolioWorker`` processes. The load generator is this process (threads, one
``http.client`` connection each). Everything is bounded in time (about 2-3 minutes with the
defaults) and stopped by pid at the end. Writes bench/out/load.json (read by ``make
reliability``'s report) and prints the table.

    .venv/bin/python bench/load.py [--seconds 10] [--users 100] [--repeat 3] [--sqlite]

``--repeat 3`` runs every measurement three times in a row on the same stack (the workers run
from the end of the first round on, generating the accept runs' backlog while the next rounds
measure) and passes only if every check holds in every round (``--strict``: the exit status
says so; otherwise it is 0 whenever the benchmark ran, as ``make bench`` expects).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/_docsync.py
OUT = ROOT / "bench" / "out" / "load.json"
PY = sys.executable
HOST = "127.0.0.1"
# What the workers' work horses run at (FOLIO_WORKER_NICE, documents/worker.py), for the table.
WORKER_NICE_NOTE = os.environ.get("FOLIO_WORKER_NICE", "10")


# --- measuring ------------------------------------------------------------------------------------


@dataclass
class Run:
    name: str
    latencies: list[float] = field(default_factory=list)
    codes: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, latency: float, code: int) -> None:
        with self.lock:
            self.latencies.append(latency)
            self.codes[code] = self.codes.get(code, 0) + 1

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        data = sorted(self.latencies)
        k = min(len(data) - 1, max(0, round(p / 100 * (len(data) - 1))))
        return data[k] * 1000

    def non_2xx(self) -> int:
        return sum(n for c, n in self.codes.items() if not 200 <= c < 300) + self.errors


class Client:
    """One keep-alive connection (reopened when the server closes it)."""

    def __init__(self, port: int, token: str | None = None) -> None:
        self.port = port
        self.token = token
        self.conn: http.client.HTTPConnection | None = None

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes, dict[str, str]]:
        data = json.dumps(body).encode() if body is not None else None
        h = {"Host": f"{HOST}:{self.port}", "Accept": "application/json"}
        if data is not None:
            h["Content-Type"] = "application/json"
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        h.update(headers or {})
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
            try:
                self.conn.request(method, path, body=data, headers=h)
                response = self.conn.getresponse()
                payload = response.read()
                if response.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return response.status, payload, dict(response.getheaders())
            except (http.client.RemoteDisconnected, ConnectionError, BrokenPipeError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise RuntimeError("unreachable")


def closed_loop(
    name: str,
    port: int,
    token: str,
    clients: int,
    seconds: float,
    call: Callable[[Client, int], tuple[str, str, Any]],
) -> Run:
    run = Run(name)
    stop = time.monotonic() + seconds
    barrier = threading.Barrier(clients + 1)

    def worker(i: int) -> None:
        client = Client(port, token)
        barrier.wait()
        n = 0
        while time.monotonic() < stop:
            method, path, body = call(client, i * 1_000_000 + n)
            n += 1
            started = time.monotonic()
            try:
                code, _, _ = client.request(method, path, body)
            except Exception:
                with run.lock:
                    run.errors += 1
                continue
            run.add(time.monotonic() - started, code)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.monotonic()
    for t in threads:
        t.join(seconds + 60)
    run.seconds = time.monotonic() - started
    return run


def open_model(
    name: str,
    port: int,
    token: str,
    rate: float,
    seconds: float,
    call: Callable[[Client, int], tuple[str, str, Any]],
    pool: int = 64,
) -> Run:
    """Requests at a fixed arrival rate; latency counts from the scheduled start."""
    run = Run(name)
    total = int(rate * seconds)
    schedule_start = time.monotonic() + 0.2
    next_index = iter(range(total))
    lock = threading.Lock()

    def worker() -> None:
        client = Client(port, token)
        while True:
            with lock:
                i = next(next_index, None)
            if i is None:
                return
            due = schedule_start + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            method, path, body = call(client, i)
            try:
                code, _, _ = client.request(method, path, body)
            except Exception:
                with run.lock:
                    run.errors += 1
                continue
            run.add(time.monotonic() - due, code)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(pool)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 60)
    run.seconds = max(seconds, time.monotonic() - schedule_start)
    return run


# --- the stack ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class Stack:
    def __init__(self, *, use_postgres: bool, web_workers: int = 4) -> None:
        self.web_workers = web_workers
        self.data_dir = Path(tempfile.mkdtemp(prefix="folio-load-"))
        self.procs: list[subprocess.Popen[bytes]] = []
        self.redis: Any = None
        self.pg_db: str | None = None
        self.port = free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "FOLIO_"))}
        self.env.update(
            {
                "PYTHONPATH": str(ROOT),
                "DJANGO_SETTINGS_MODULE": "portal.settings",
                "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
                "DJANGO_ALLOWED_HOSTS": f"{HOST},localhost",
                "FOLIO_DATA_DIR": str(self.data_dir),
                "FOLIO_SSL_REDIRECT": "0",
                "FOLIO_SECURE_COOKIES": "0",
                "FOLIO_HSTS_SECONDS": "0",
                "FOLIO_LOGIN_RATE": "100000/min",
                "FOLIO_MAX_ACTIVE_JOBS_PER_ORG": "1000000",
                "FOLIO_MAX_QUEUED_JOBS": "1000000",
                "FOLIO_LOG_LEVEL": "WARNING",
                "FOLIO_RECONCILE_SECONDS": "5",
            }
        )
        self.database = "sqlite"
        if use_postgres and self._postgres_answers():
            self.pg_db = f"folio_bench_{uuid.uuid4().hex[:12]}"
            subprocess.run(
                ["psql", "-h", HOST, "-U", "postgres", "-qc", f'CREATE DATABASE "{self.pg_db}"'],
                check=True,
                capture_output=True,
            )
            self.env["DATABASE_URL"] = f"postgres://postgres@{HOST}:5432/{self.pg_db}"
            self.env["FOLIO_DB_CONN_MAX_AGE"] = "60"
            self.database = "PostgreSQL (throw-away database)"

    @staticmethod
    def _postgres_answers() -> bool:
        if not shutil.which("psql"):
            return False
        try:
            out = subprocess.run(
                ["psql", "-h", HOST, "-U", "postgres", "-tAc", "select 1"],
                capture_output=True,
                text=True,
                timeout=5,
            )
        except (OSError, subprocess.TimeoutExpired):
            return False
        return out.returncode == 0 and out.stdout.strip() == "1"

    def manage(self, *args: str) -> str:
        out = subprocess.run(
            [PY, str(ROOT / "manage.py"), *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
        )
        if out.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
        return out.stdout

    def start(self) -> None:
        sys.path.insert(0, str(ROOT))
        from portal.embedded_redis import EmbeddedRedis

        self.redis = EmbeddedRedis(persist=False)
        self.env["REDIS_URL"] = self.redis.start()
        self.manage("migrate", "--no-input", "-v", "0")
        self.manage("create_org_user", "Bench Pharma", "bench", "--password", "bench-password-1")
        log = (self.data_dir / "gunicorn.log").open("wb")
        self.procs.append(
            subprocess.Popen(
                [
                    # Through this interpreter: the venv's gunicorn script may name another one.
                    PY,
                    "-m",
                    "gunicorn",
                    "portal.wsgi:application",
                    "--bind",
                    f"{HOST}:{self.port}",
                    "--workers",
                    str(self.web_workers),
                    "--worker-class",
                    "sync",
                    "--timeout",
                    "30",
                    "--log-level",
                    "warning",
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, http.client.HTTPException):
                code, _, _ = Client(self.port).request("GET", "/healthz")
                if code in (200, 503):
                    return
            time.sleep(0.2)
        raise RuntimeError(
            "gunicorn did not start: " + (self.data_dir / "gunicorn.log").read_text()
        )

    def start_workers(self, n: int) -> None:
        for i in range(n):
            log = (self.data_dir / f"worker-{i}.log").open("wb")
            self.procs.append(
                subprocess.Popen(
                    [
                        PY,
                        str(ROOT / "manage.py"),
                        "rqworker",
                        "default",
                        "--worker-class",
                        "documents.worker.FolioWorker",
                    ],
                    cwd=ROOT,
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )

    def stop(self) -> None:
        for proc in reversed(self.procs):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        if self.redis is not None:
            self.redis.stop()
        if self.pg_db:
            subprocess.run(
                [
                    "psql",
                    "-h",
                    HOST,
                    "-U",
                    "postgres",
                    "-qc",
                    f'DROP DATABASE IF EXISTS "{self.pg_db}" WITH (FORCE)',
                ],
                capture_output=True,
            )
        shutil.rmtree(self.data_dir, ignore_errors=True)


def tiny_docx() -> bytes:
    import io

    import docx

    d = docx.Document()
    d.add_paragraph("Study Protocol BENCH-1")
    d.add_paragraph(
        "This randomised, double-blind study compares drug A with placebo in 120 adults."
    )
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def upload(port: int, token: str, name: str, content: bytes) -> str:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file_content"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    conn.request(
        "POST",
        "/api/v1/files/upload",
        body=body,
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
    )
    response = conn.getresponse()
    payload = json.loads(response.read())
    assert response.status == 201, payload
    return str(payload["file_path"])


SHORT_OUTLINE = {
    "sections": [
        {"section_id": "s-title", "section_name": "1 Title Page", "level": 1},
        {"section_id": "s-synopsis", "section_name": "2 Synopsis", "level": 1},
    ]
}


def generate_body(path: str, i: int) -> dict[str, Any]:
    return {
        "document_type": "CSR",
        "file_paths": [path],
        "connector_data_id": "bench",
        "workspace_name": "Bench",
        "template_id": "ich-e3-csr",
        "output_name": f"Bench {i}",
        "generic_mrt_outline_full": SHORT_OUTLINE,
    }


def count_status_cost(stack: Stack, task: str) -> tuple[int, int]:
    """(SQL queries, Redis commands) of one status request, measured in this process."""
    os.environ.update({k: v for k, v in stack.env.items() if k != "PYTHONPATH"})
    import django

    django.setup()
    from django.db import connection
    from django.test import Client as DjangoClient
    from django.test.utils import CaptureQueriesContext
    from redis.client import Redis
    from rest_framework_simplejwt.tokens import RefreshToken

    from portal.models import Membership

    membership = Membership.objects.select_related("user").get(user__username="bench")
    refresh = RefreshToken.for_user(membership.user)
    refresh["org"] = str(membership.organization_id)
    refresh["role"] = membership.role
    client = DjangoClient(HTTP_AUTHORIZATION=f"Bearer {refresh.access_token}", HTTP_HOST=HOST)
    client.get(f"/api/v1/documents/status/{task}")
    calls = []
    original = Redis.execute_command

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(args[:1])
        return original(self, *args, **kwargs)

    Redis.execute_command = counting  # type: ignore[method-assign]
    try:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(f"/api/v1/documents/status/{task}")
    finally:
        Redis.execute_command = original  # type: ignore[method-assign]
    assert response.status_code == 200, response.content
    return len(queries.captured_queries), len(calls)


# --- the scenarios --------------------------------------------------------------------------------


def mixed_run(port: int, token: str, path: str, users: int, deadline_s: float) -> dict[str, Any]:
    accepted: dict[str, str] = {}
    replays_same = 0
    finals: dict[str, str] = {}
    downloads: dict[str, int] = {}
    post_lat: list[float] = []
    status_lat: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    end = time.monotonic() + deadline_s

    def user(i: int) -> None:
        nonlocal replays_same
        client = Client(port, token)
        key = f"bench-{i}-{uuid.uuid4().hex[:8]}"
        try:
            started = time.monotonic()
            code, payload, _ = client.request(
                "POST",
                "/api/v1/documents/generate",
                generate_body(path, i),
                {"Idempotency-Key": key},
            )
            with lock:
                post_lat.append(time.monotonic() - started)
            if code != 202:
                with lock:
                    errors.append(f"POST {code}")
                return
            task = json.loads(payload)["task_id"]
            code2, payload2, _ = client.request(
                "POST",
                "/api/v1/documents/generate",
                generate_body(path, i),
                {"Idempotency-Key": key},
            )
            with lock:
                accepted[key] = task
                if code2 == 202 and json.loads(payload2)["task_id"] == task:
                    replays_same += 1
            while time.monotonic() < end:
                started = time.monotonic()
                code, payload, _ = client.request("GET", f"/api/v1/documents/status/{task}")
                with lock:
                    status_lat.append(time.monotonic() - started)
                status = json.loads(payload)["status"]
                if status in ("Complete", "Failed", "Cancelled"):
                    with lock:
                        finals[task] = status
                    if status == "Complete":
                        code, _, _ = client.request("GET", f"/api/v1/documents/{task}/download")
                        with lock:
                            downloads[task] = code
                    return
                time.sleep(1.0)
        except Exception as exc:  # reported, never hidden
            with lock:
                errors.append(repr(exc))

    threads = [threading.Thread(target=user, args=(i,), daemon=True) for i in range(users)]
    started = time.monotonic()
    for t in threads:
        t.start()
        time.sleep(0.02)  # users arrive over ~2 s
    for t in threads:
        t.join(max(1.0, end - time.monotonic() + 5))
    return {
        "accepted": accepted,
        "finals": finals,
        "downloads": downloads,
        "replays_same": replays_same,
        "post_p99": (sorted(post_lat)[int(0.99 * (len(post_lat) - 1))] * 1000)
        if post_lat
        else float("nan"),
        "status_p99": (sorted(status_lat)[int(0.99 * (len(status_lat) - 1))] * 1000)
        if status_lat
        else float("nan"),
        "errors": errors,
        "seconds": time.monotonic() - started,
    }


def verify_outputs(stack: Stack, tasks: list[str]) -> tuple[int, int]:
    """(tasks whose row has exactly one output file, rows in the database) via the ORM."""
    from documents.models import GeneratedDocument

    rows = GeneratedDocument.objects.filter(pk__in=tasks)
    files_dir = stack.data_dir / "files"
    ok = 0
    for doc in rows:
        found = list((files_dir / str(doc.organization_id) / "output").glob(f"{doc.id}*"))
        if doc.status != "Complete" or len(found) == 1:
            ok += 1
    return ok, rows.count()


def measure_round(
    stack: Stack, port: int, token: str, path: str, args: argparse.Namespace, first: bool
) -> dict[str, Any]:
    """One round of every timed run, the status cost and the mixed run; its runs and checks."""

    def baseline_call(c: Client, i: int) -> tuple[str, str, Any]:
        return "GET", "/api/v1/documents/?limit=1", None

    def accept_call(c: Client, i: int) -> tuple[str, str, Any]:
        return "POST", "/api/v1/documents/generate", generate_body(path, i)

    # Warm up every gunicorn worker.
    closed_loop("warm-up", port, token, 8, 2, baseline_call)
    closed_loop("warm-up", port, token, 8, 1, accept_call)

    _code, payload, _ = Client(port, token).request(
        "POST", "/api/v1/documents/generate", generate_body(path, -1)
    )
    task = json.loads(payload)["task_id"]

    def status_call(c: Client, i: int) -> tuple[str, str, Any]:
        return "GET", f"/api/v1/documents/status/{task}", None

    # Each comparison right after its baseline, before the accept runs grow the tables. From the
    # second round on the workers run, and the accept runs' backlog is generated meanwhile:
    # the web process competes with generation work, as in production.
    base_c = closed_loop("baseline, 50 clients", port, token, 50, args.seconds, baseline_call)
    stat_c = closed_loop("status, 50 clients", port, token, 50, args.seconds, status_call)
    acc_c = closed_loop("accept, 50 clients", port, token, 50, args.seconds, accept_call)
    base_o = open_model("baseline, 50 req/s", port, token, 50, args.seconds, baseline_call)
    acc_o = open_model("accept, 50 req/s", port, token, 50, args.seconds, accept_call)
    queries, redis_calls = count_status_cost(stack, task)

    # Mixed: drop the backlog of the accept runs so the users' jobs are what the workers run.
    import django_rq

    django_rq.get_queue("default").empty()
    from documents.models import GeneratedDocument

    GeneratedDocument.objects.filter(status="Pending").update(
        status="Cancelled", error_code="cancelled"
    )
    if first:
        stack.start_workers(2)
    mixed = mixed_run(port, token, path, args.users, deadline_s=max(60.0, 9 * args.seconds))
    tasks = list(mixed["accepted"].values())
    one_output, rows = verify_outputs(stack, tasks)

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}" if b else "n/a"

    runs = [base_c, stat_c, acc_c, base_o, acc_o]
    failures = sum(r.non_2xx() for r in runs) + len(mixed["errors"])
    checks = [
        (
            "accept throughput / baseline (50 clients) >= 0.50",
            acc_c.rps / base_c.rps >= 0.5 if base_c.rps else False,
            ratio(acc_c.rps, base_c.rps),
        ),
        (
            "accept p99 / baseline p99 (50 clients) <= 2",
            acc_c.pct(99) <= 2 * base_c.pct(99),
            ratio(acc_c.pct(99), base_c.pct(99)),
        ),
        (
            "accept p99 / baseline p99 (50 req/s) <= 2",
            acc_o.pct(99) <= 2 * base_o.pct(99),
            ratio(acc_o.pct(99), base_o.pct(99)),
        ),
        (
            "status p99 / baseline p99 (50 clients) <= 1.5",
            stat_c.pct(99) <= 1.5 * base_c.pct(99),
            ratio(stat_c.pct(99), base_c.pct(99)),
        ),
        ("status SQL queries per request <= 2", queries <= 2, str(queries)),
        ("status Redis commands per request = 0", redis_calls == 0, str(redis_calls)),
        (
            "mixed: every accepted task terminal",
            len(mixed["finals"]) == len(tasks) and len(tasks) == args.users,
            f"{len(mixed['finals'])}/{len(tasks)}",
        ),
        (
            "mixed: no task duplicated (one row, one output each)",
            rows == len(tasks) and one_output == rows and mixed["replays_same"] == len(tasks),
            f"{rows} rows, {one_output} one output, {mixed['replays_same']} same id",
        ),
        ("no errors or 5xx", failures == 0, str(failures)),
    ]
    return {"runs": runs, "checks": checks, "mixed": mixed, "tasks": tasks}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each timed run")
    parser.add_argument("--users", type=int, default=100, help="users of the mixed run")
    parser.add_argument(
        "--repeat", type=int, default=1, help="rounds in a row; every check must hold in each"
    )
    parser.add_argument(
        "--sqlite", action="store_true", help="use SQLite even if PostgreSQL answers"
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 unless every check held in every round"
    )
    args = parser.parse_args()

    stack = Stack(use_postgres=not args.sqlite)
    began = time.monotonic()
    rounds: list[dict[str, Any]] = []
    try:
        stack.start()
        port = stack.port
        code, payload, _ = Client(port).request(
            "POST", "/api/v1/auth/token", {"username": "bench", "password": "bench-password-1"}
        )
        assert code == 200, payload
        token = json.loads(payload)["access"]
        path = upload(port, token, "protocol.docx", tiny_docx())
        for n in range(max(1, args.repeat)):
            rounds.append(measure_round(stack, port, token, path, args, first=n == 0))
            print(
                f"round {n + 1}: "
                + ", ".join(
                    f"{label.split(' (')[0]}={value}"
                    for label, _ok, value in rounds[-1]["checks"][:4]
                ),
                flush=True,
            )
    finally:
        stack.stop()
    total = time.monotonic() - began

    every = all(ok for r in rounds for _label, ok, _value in r["checks"])
    last = rounds[-1]
    lines = [
        f"Stack: gunicorn 4 sync workers, {stack.database}, embedded valkey, 2 RQ workers "
        f"(work horses at nice +{WORKER_NICE_NOTE}); {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; {args.seconds:.0f} s per run; {len(rounds)} round(s) in a "
        f"row; total {total:.0f} s.",
        "",
        f"Last round ({len(rounds)} of {len(rounds)}):",
        "",
        "| run | requests | req/s | p50 ms | p90 ms | p99 ms | max ms | non-2xx |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in last["runs"]:
        lines.append(
            f"| {r.name} | {len(r.latencies)} | {r.rps:.0f} | {r.pct(50):.0f} | {r.pct(90):.0f} | "
            f"{r.pct(99):.0f} | {max(r.latencies) * 1000 if r.latencies else 0:.0f} | "
            f"{r.non_2xx()} |"
        )
    mixed = last["mixed"]
    lines += [
        f"| mixed, {args.users} users (POST) | {len(last['tasks'])} | - | - | - | "
        f"{mixed['post_p99']:.0f} | - | {len(mixed['errors'])} |",
        f"| mixed, {args.users} users (status) | - | - | - | - | {mixed['status_p99']:.0f} | - "
        "| - |",
        "",
        "| check | " + " | ".join(f"round {i + 1}" for i in range(len(rounds))) + " | result |",
        "|---|" + "---|" * len(rounds) + "---|",
    ]
    for i, (label, _ok, _value) in enumerate(last["checks"]):
        cells = [f"{r['checks'][i][2]}{'' if r['checks'][i][1] else ' ✗'}" for r in rounds]
        held = all(r["checks"][i][1] for r in rounds)
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {'PASS' if held else 'FAIL'} |")
    lines.append("")
    finals = mixed["finals"].values()
    lines.append(
        f"Mixed run (last round): {len(last['tasks'])} accepted, "
        f"{sum(1 for s in finals if s == 'Complete')} Complete, "
        f"{sum(1 for s in finals if s != 'Complete')} other terminal, all within "
        f"{mixed['seconds']:.0f} s; downloads {sorted(set(mixed['downloads'].values()))}. "
        f"Every check in every round: {'yes' if every else 'NO'}."
    )
    markdown = "\n".join(lines)
    print("\n## Load (bench/load.py)\n")
    print(markdown)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    results = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {stack.database}",
        "markdown": markdown,
        "rounds": len(rounds),
        "all_rounds_pass": every,
        "checks": {
            label: all(r["checks"][i][1] for r in rounds)
            for i, (label, _o, _v) in enumerate(last["checks"])
        },
    }
    OUT.write_text(json.dumps(results, indent=2))
    import _docsync

    changed = _docsync.rewrite("load", _docsync.load_block(results))
    print(f"\nRewrote the load figures in: {', '.join(changed) or 'no file (no block found)'}")
    return 0 if every or not args.strict else 1


if __name__ == "__main__":
    raise SystemExit(main())
