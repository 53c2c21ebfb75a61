"""Cluster benchmark: does throughput grow with worker machines, and what does losing one cost?

Built with the cluster tests' harness (tests/cluster/harness.py): a web host (gunicorn with
deploy/gunicorn.conf.py, the reconciler unit) and 1, 2, then 3 worker hosts (one
``folio-worker@1`` each), all Linux network namespaces on a bridge, sharing a scratch PostgreSQL,
a valkey with a password and a moto S3 bucket in the root namespace; each host has only the
recipe's environment (deploy/folio.env.example) with its defaults.

1. Throughput: ``--jobs`` documents (the full ICH E3 template, each from its own 97-page protocol
   PDF, about a real protocol's size, unique so no extraction is cached) are submitted at once
   through the web host's API; the clock runs from the first POST to the last row terminal.
   Documents per minute, and the speed-up over one worker host. Every host shares this machine's
   cores, so the speed-up is bounded by the cores (about 2x on 2 cores), not by the number of
   hosts.
2. Losing a host mid-job, with the tests' short bounds (``FOLIO_STALE_JOB_SECONDS=5``,
   ``FOLIO_RECONCILE_SECONDS=1``): every process of the host SIGKILLed, and (unless
   ``--no-cut``) its link cut and restored. When the row left the lost attempt, when it ended,
   how, and on which host.

Needs root and ``ip`` (network namespaces); prints SKIP and exits 0 otherwise. Writes
bench/out/cluster.json. About three minutes on 2 cores.

    .venv/bin/python bench/cluster.py [--jobs 20] [--hosts 1,2,3] [--copies 16] [--no-cut]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import print_table  # noqa: E402
from tests.cluster import harness  # noqa: E402

OUT = ROOT / "bench" / "out" / "cluster.json"
SHORT_BOUNDS = {
    "FOLIO_STALE_JOB_SECONDS": "5",
    "FOLIO_RECONCILE_SECONDS": "1",
    "FOLIO_WORKER_MONITOR_SECONDS": "1",
}


def throughput(
    cluster: harness.Cluster, api: harness.Api, jobs: int, tag: str, copies: int
) -> dict[str, Any]:
    paths = [
        api.upload(f"protocol-{tag}-{i}.pdf", harness.protocol_pdf(f"{tag}-{i}", copies))
        for i in range(jobs)
    ]
    started = time.monotonic()
    tasks = [api.generate(path, f"Throughput {tag} {i}") for i, path in enumerate(paths)]
    rows = cluster.wait_terminal(tasks, timeout=60 + 30 * jobs)
    seconds = time.monotonic() - started
    statuses = [r.status for r in rows.values()]
    per_host: dict[str, int] = {}
    for task in tasks:
        host = cluster.job_host(task) or "?"
        per_host[host] = per_host.get(host, 0) + 1
    runs = [(r.finished_at - r.started_at).total_seconds() for r in rows.values() if r.started_at]
    return {
        "documents": jobs,
        "complete": statuses.count("Complete"),
        "attempts_above_one": sum(1 for r in rows.values() if r.attempts != 1),
        "seconds": seconds,
        "per_minute": 60 * statuses.count("Complete") / seconds,
        "mean_job_seconds": sum(runs) / len(runs) if runs else float("nan"),
        "per_host": dict(sorted(per_host.items())),
    }


def lose(cluster: harness.Cluster, how: str) -> dict[str, Any]:
    cluster.remove_hosts()
    cluster.recipe.update(SHORT_BOUNDS)
    cluster.start_web()
    extra = harness.slow_steps(1)
    hosts = [cluster.add_worker_host(extra=extra) for _ in range(2)]
    cluster.wait_workers_registered(hosts)
    api = cluster.api()
    path = api.upload("protocol.docx", harness.protocol_docx(f"lose-{how}"))
    lost = harness.lose_worker_host(cluster, api, path, how=how, into_job=1.5)
    row = cluster.rows([lost.task])[lost.task]
    return {
        "how": how,
        "processes_killed": lost.processes_killed,
        "noticed_after": lost.noticed_after,
        "bound": int(SHORT_BOUNDS["FOLIO_STALE_JOB_SECONDS"])
        + int(SHORT_BOUNDS["FOLIO_RECONCILE_SECONDS"]),
        "restored_after": lost.restored_after,
        "terminal_after": lost.terminal_after,
        "status": row.status,
        "attempts": row.attempts,
        "error_code": row.error_code,
        "victim": lost.victim,
        "finished_by": lost.finished_by,
        "outputs": len(lost.outputs[lost.task]),
        "runs_complete": cluster.job_results(lost.task).count("complete"),
        "victim_worker_alive": lost.victim_worker_alive,
        "health_after": lost.health_after,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=20, help="documents per throughput run")
    parser.add_argument("--hosts", default="1,2,3", help="worker host counts to measure")
    parser.add_argument("--no-cut", action="store_true", help="skip the cut-link case")
    parser.add_argument(
        "--copies",
        type=int,
        default=16,
        help="6-page protocol copies per source PDF (16: 97 pages, about a real protocol)",
    )
    args = parser.parse_args()
    counts = sorted({int(x) for x in args.hosts.split(",") if x.strip()})

    reason = harness.unavailable_reason()
    if reason:
        print(f"SKIP: {reason}")
        return 0

    began = time.monotonic()
    load_before = os.getloadavg()[0]
    cluster = harness.Cluster()
    results: dict[str, Any] = {"throughput": {}, "lost": []}
    failed = True
    try:
        cluster.start_services()
        cluster.start_web()
        api = cluster.api()
        warm = cluster.add_worker_host()
        cluster.wait_workers_registered([warm])
        throughput(cluster, api, 2, "warm-up", args.copies)
        for n in counts:
            while len(cluster.workers) < n:
                cluster.add_worker_host()
            cluster.wait_workers_registered(cluster.workers)
            results["throughput"][n] = throughput(cluster, api, args.jobs, f"{n}h", args.copies)
        for how in ["kill"] if args.no_cut else ["kill", "cut"]:
            results["lost"].append(lose(cluster, how))
        failed = False
    finally:
        cluster.close(keep_files=failed)
        if failed:
            print(f"The hosts' logs are kept in {cluster.logs}", file=sys.stderr)
    total = time.monotonic() - began

    # The load average says whether other work shared the cores (the run itself adds about the
    # number of busy worker hosts).
    machine = (
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, load average "
        f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    )
    base = results["throughput"].get(counts[0], {}).get("per_minute") or float("nan")
    rows = []
    for n, r in results["throughput"].items():
        rows.append(
            [
                n,
                f"{r['complete']}/{r['documents']}",
                f"{r['seconds']:.1f}",
                f"{r['per_minute']:.1f}",
                f"{r['per_minute'] / base:.2f}",
                f"{r['mean_job_seconds']:.2f}",
                ", ".join(f"{h}: {c}" for h, c in r["per_host"].items()),
            ]
        )
    print_table(
        f"Documents per minute by worker hosts ({machine}; full ICH E3 template, one "
        f"{6 * args.copies + 1}-page protocol PDF each; total run {total:.0f} s)",
        [
            "worker hosts",
            "complete",
            "seconds",
            "documents/min",
            "speed-up",
            "s per job",
            "jobs per host",
        ],
        rows,
    )
    lost_rows = []
    for r in results["lost"]:
        lost_rows.append(
            [
                "every process SIGKILLed"
                if r["how"] == "kill"
                else f"link down, up after {r['restored_after']:.1f} s",
                f"{r['noticed_after']:.1f} s (bound {r['bound']} s)"
                if r["noticed_after"] is not None
                else "never",
                f"{r['terminal_after']:.1f} s"
                if r["terminal_after"] is not None
                else "not terminal",
                f"{r['status']}{' ' + r['error_code'] if r['error_code'] else ''}, attempt {r['attempts']}",
                f"{r['finished_by']} (lost: {r['victim']})",
                f"{r['outputs']} output, {r['runs_complete']} complete run",
                "alive" if r["victim_worker_alive"] else "gone",
            ]
        )
    print_table(
        "A worker host lost mid-job (2 worker hosts; FOLIO_STALE_JOB_SECONDS=5, FOLIO_RECONCILE_SECONDS=1)",
        [
            "fault",
            "row left the lost attempt after",
            "terminal after",
            "outcome",
            "completed by",
            "outputs",
            "victim's worker",
        ],
        lost_rows,
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    results["when"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    results["machine"] = machine
    OUT.write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
