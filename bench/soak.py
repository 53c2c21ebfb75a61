"""Soak: mixed traffic for a while against gunicorn (2 workers) and 2 RQ workers; is anything
leaking, lost or stuck?

Clients (threads) upload files, request generations, poll their status, download finished
documents and cancel some, at random, until ``--minutes`` pass or ``--max-requests`` are sent.
Every few seconds the resident memory of the web process (gunicorn's master and workers) and of
the RQ worker processes (not their short-lived work horses) is sampled. At the end it waits for
every accepted job to be terminal and prints:

- the requests by kind, the errors (a 5xx or a broken connection; expected 4xx such as a 409
  for downloading an unfinished document are counted apart);
- the memory slope of web and workers (MB per minute, least squares over the samples after the
  first fifth of the run), with the first and last sample;
- non-terminal jobs left after the wait;
- orphans: stored output files no row references, rows whose output is missing, source versions
  whose file is missing.

The stack is bench/load.py's (PostgreSQL in a throw-away database when 127.0.0.1:5432 answers,
else SQLite; an embedded valkey; everything on free ports and stopped by pid at the end).
Writes bench/out/soak.json and the soak block of README.md and docs/reliability.md. Exit status
0 whenever it ran (as ``make bench`` expects); with ``--strict``, 0 only when there are no
errors, no non-terminal jobs and no orphans. ``make bench`` runs it only with
``SOAK_MINUTES=<minutes>``.

    .venv/bin/python bench/soak.py [--minutes 20] [--max-requests 200000] [--clients 8]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from load import (
    OUT,
    Client,
    Stack,
    generate_body,
    tiny_docx,
    upload,
)

SOAK_OUT = OUT.parent / "soak.json"
TERMINAL = {"Complete", "Failed", "Cancelled"}
# Share of each action (the rest of the mix is polling).
WEIGHTS = {"upload": 5, "generate": 12, "poll": 55, "download": 18, "cancel": 5, "list": 5}


class Traffic:
    def __init__(self, port: int, token: str, paths: list[str]) -> None:
        self.port = port
        self.token = token
        self.paths = paths
        self.tasks: list[str] = []
        self.done: set[str] = set()
        self.counts: dict[str, int] = {}
        self.expected_4xx: dict[str, int] = {}
        self.errors: list[str] = []
        self.requests = 0
        self.lock = threading.Lock()

    def _count(self, kind: str, code: int) -> None:
        with self.lock:
            self.requests += 1
            self.counts[kind] = self.counts.get(kind, 0) + 1
            if code >= 500:
                self.errors.append(f"{kind} {code}")
            elif code >= 400:
                self.expected_4xx[f"{kind} {code}"] = self.expected_4xx.get(f"{kind} {code}", 0) + 1

    def step(self, client: Client, rng: random.Random) -> None:
        kind = rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
        with self.lock:
            tasks = list(self.tasks)
            paths = list(self.paths)
        if kind in {"poll", "download", "cancel"} and not tasks:
            kind = "generate"
        try:
            if kind == "upload":
                name = f"protocol-{rng.randrange(50)}.docx"
                path = upload(self.port, self.token, name, tiny_docx())
                with self.lock:
                    self.paths.append(path)
                    self.requests += 1
                    self.counts["upload"] = self.counts.get("upload", 0) + 1
                return
            if kind == "generate":
                body = generate_body(rng.choice(paths), rng.randrange(10**9))
                code, payload, _ = client.request("POST", "/api/v1/documents/generate", body)
                self._count(kind, code)
                if code == 202:
                    with self.lock:
                        self.tasks.append(json.loads(payload)["task_id"])
                return
            if kind == "list":
                code, _, _ = client.request("GET", "/api/v1/documents/?limit=20")
                self._count(kind, code)
                return
            task = rng.choice(tasks[-200:])
            if kind == "poll":
                code, payload, _ = client.request("GET", f"/api/v1/documents/status/{task}")
                self._count(kind, code)
                if code == 200 and json.loads(payload)["status"] in TERMINAL:
                    with self.lock:
                        self.done.add(task)
            elif kind == "download":
                code, _, _ = client.request("GET", f"/api/v1/documents/{task}/download")
                self._count(kind, code)
            else:
                code, _, _ = client.request("POST", f"/api/v1/documents/{task}/cancel")
                self._count(kind, code)
        except Exception as exc:  # a broken connection or an upload that failed: an error
            with self.lock:
                self.requests += 1
                self.errors.append(f"{kind}: {exc!r}"[:200])


def rss_mb(pids: list[int]) -> float:
    import psutil

    total = 0
    for pid in pids:
        try:
            total += psutil.Process(pid).memory_info().rss
        except psutil.Error:
            continue
    return total / (1024 * 1024)


def web_pids(stack: Stack) -> list[int]:
    import psutil

    root = stack.procs[0].pid
    try:
        return [root, *(c.pid for c in psutil.Process(root).children())]
    except psutil.Error:
        return []


def worker_pids(stack: Stack) -> list[int]:
    return [p.pid for p in stack.procs[1:]]


def slope_per_minute(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope (MB/min) over the samples after the first fifth (warm-up)."""
    tail = samples[len(samples) // 5 :]
    if len(tail) < 3:
        return float("nan")
    n = len(tail)
    mean_t = sum(t for t, _ in tail) / n
    mean_m = sum(m for _, m in tail) / n
    var = sum((t - mean_t) ** 2 for t, _ in tail)
    if not var:
        return 0.0
    cov = sum((t - mean_t) * (m - mean_m) for t, m in tail)
    return cov / var * 60


def orphans(stack: Stack) -> dict[str, int]:
    """Files no row references and rows whose file is missing (via the ORM)."""
    from documents.models import GeneratedDocument, SourceFileVersion

    files = stack.data_dir / "files"
    referenced: set[str] = set()
    missing_outputs = 0
    for doc in GeneratedDocument.objects.only("output_key", "redline_key", "status"):
        for key in (doc.output_key, doc.redline_key):
            if key:
                referenced.add(key)
                if not (files / key).exists():
                    missing_outputs += 1
    stored_outputs = {str(p.relative_to(files)) for p in files.glob("*/output/*") if p.is_file()}
    versions = set(SourceFileVersion.objects.values_list("storage_key", flat=True))
    stored_sources = {
        str(p.relative_to(files))
        for p in files.glob("*/*/v*/*")
        if p.is_file() and "/output/" not in str(p)
    }
    return {
        "output files without a row": len(stored_outputs - referenced),
        "rows whose output file is missing": missing_outputs,
        "source versions whose file is missing": len(versions - stored_sources),
        "source files without a version": len(stored_sources - versions),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--sample-seconds", type=float, default=5.0)
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--strict", action="store_true", help="exit 1 unless the verdict is PASS")
    args = parser.parse_args()

    stack = Stack(use_postgres=not args.sqlite, web_workers=2)
    began = time.monotonic()
    result: dict[str, Any] = {}
    try:
        stack.start()
        stack.start_workers(2)
        port = stack.port
        code, payload, _ = Client(port).request(
            "POST", "/api/v1/auth/token", {"username": "bench", "password": "bench-password-1"}
        )
        assert code == 200, payload
        token = json.loads(payload)["access"]
        traffic = Traffic(port, token, [upload(port, token, "protocol.docx", tiny_docx())])
        deadline = time.monotonic() + args.minutes * 60
        stop = threading.Event()
        web_mem: list[tuple[float, float]] = []
        worker_mem: list[tuple[float, float]] = []

        def sampler() -> None:
            while not stop.is_set():
                now = time.monotonic() - began
                web_mem.append((now, rss_mb(web_pids(stack))))
                worker_mem.append((now, rss_mb(worker_pids(stack))))
                stop.wait(args.sample_seconds)

        def client_loop(i: int) -> None:
            rng = random.Random(args.seed * 1000 + i)
            client = Client(port, token)
            while not stop.is_set() and time.monotonic() < deadline:
                if traffic.requests >= args.max_requests:
                    return
                traffic.step(client, rng)
                time.sleep(rng.uniform(0.0, 0.05))

        threads = [threading.Thread(target=sampler, daemon=True)]
        threads += [
            threading.Thread(target=client_loop, args=(i,), daemon=True)
            for i in range(args.clients)
        ]
        for t in threads:
            t.start()
        for t in threads[1:]:
            t.join(args.minutes * 60 + 120)
        traffic_seconds = time.monotonic() - began
        stop.set()
        threads[0].join(10)

        # Every accepted job must end: wait for the queue to drain (bounded).
        os.environ.update({k: v for k, v in stack.env.items() if k != "PYTHONPATH"})
        import django

        django.setup()
        from documents.models import GeneratedDocument

        accepted = list(traffic.tasks)
        drain_deadline = time.monotonic() + max(120.0, len(accepted) * 2.0)
        while time.monotonic() < drain_deadline:
            left = GeneratedDocument.objects.filter(pk__in=accepted).exclude(
                status__in=list(TERMINAL)
            )
            if not left.exists():
                break
            time.sleep(2)
        non_terminal = (
            GeneratedDocument.objects.filter(pk__in=accepted)
            .exclude(status__in=list(TERMINAL))
            .count()
        )
        by_status: dict[str, int] = {}
        for status in GeneratedDocument.objects.filter(pk__in=accepted).values_list(
            "status", flat=True
        ):
            by_status[status] = by_status.get(status, 0) + 1
        found = orphans(stack)
        result = {
            "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "database": stack.database,
            "minutes": round(traffic_seconds / 60, 1),
            "clients": args.clients,
            "requests": traffic.requests,
            "by_kind": traffic.counts,
            "expected_4xx": traffic.expected_4xx,
            "errors": len(traffic.errors),
            "first_errors": traffic.errors[:10],
            "jobs": {"accepted": len(accepted), **by_status},
            "non_terminal": non_terminal,
            "web_mb_first_last": [round(web_mem[0][1], 1), round(web_mem[-1][1], 1)]
            if web_mem
            else None,
            "web_mb_per_min": round(slope_per_minute(web_mem), 3),
            "worker_mb_first_last": [round(worker_mem[0][1], 1), round(worker_mem[-1][1], 1)]
            if worker_mem
            else None,
            "worker_mb_per_min": round(slope_per_minute(worker_mem), 3),
            "orphans": found,
        }
    finally:
        stack.stop()
    ok = (
        bool(result)
        and result["errors"] == 0
        and result["non_terminal"] == 0
        and not any(result["orphans"].values())
    )
    result["ok"] = ok
    lines = [
        f"Soak ({result.get('when')}; {result.get('database')}; gunicorn 2 workers, 2 RQ "
        f"workers; {result.get('clients')} clients for {result.get('minutes')} min):",
        "",
        "| figure | value |",
        "|---|---|",
        f"| requests | {result.get('requests')} {result.get('by_kind')} |",
        f"| errors (5xx or broken connection) | {result.get('errors')} |",
        f"| expected 4xx | {result.get('expected_4xx')} |",
        f"| jobs | {result.get('jobs')} |",
        f"| non-terminal jobs after the drain | {result.get('non_terminal')} |",
        f"| web RSS first → last (MB); slope | {result.get('web_mb_first_last')}; "
        f"{result.get('web_mb_per_min')} MB/min |",
        f"| worker RSS first → last (MB); slope | {result.get('worker_mb_first_last')}; "
        f"{result.get('worker_mb_per_min')} MB/min |",
        f"| orphans | {result.get('orphans')} |",
        f"| verdict | {'PASS' if ok else 'FAIL'} |",
    ]
    result["markdown"] = "\n".join(lines)
    print(result["markdown"])
    SOAK_OUT.parent.mkdir(parents=True, exist_ok=True)
    SOAK_OUT.write_text(json.dumps(result, indent=2))
    import _docsync

    changed = _docsync.rewrite("soak", _docsync.soak_block(result))
    print(f"\nRewrote the soak figures in: {', '.join(changed) or 'no file (no block found)'}")
    return 0 if ok or not args.strict else 1


if __name__ == "__main__":
    raise SystemExit(main())
