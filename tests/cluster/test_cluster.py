"""Several machines, proven on one: the deployment recipe on network-namespace hosts.

A web host (``folio-migrate``, ``folio-web`` = gunicorn with ``deploy/gunicorn.conf.py``,
``folio-reconciler``) and two worker hosts (``folio-worker@1``), each with only the recipe's
environment, share a PostgreSQL, a password-protected valkey and an S3 bucket (moto) that listen
on the bridge in the root namespace (tests/cluster/harness.py). The tests talk to the web host
as the TLS proxy would, and read the outcome from the services themselves: the rows, the bucket,
RQ's records of which worker (hence which host) ran a job, and each host's log.

"Mid-job" is made deterministic with the test-only ``FOLIO_TEST_SLOW_STEP_SECONDS`` (each
pipeline step sleeps that long on entry; ``harness.slow_steps``, which leaves the worker's
command line alone), given to the worker hosts only.
"""

from __future__ import annotations

import io
import time
import zipfile

import docx
import pytest

from tests.cluster import harness
from tests.cluster.conftest import TIMING

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(300)]

STALE = int(TIMING["FOLIO_STALE_JOB_SECONDS"])
RECONCILE = int(TIMING["FOLIO_RECONCILE_SECONDS"])
# docs/limits.md: a lost worker's attempt is noticed within FOLIO_STALE_JOB_SECONDS +
# FOLIO_RECONCILE_SECONDS; the slack covers a pass in progress and a busy machine's scheduling.
NOTICE_BOUND = STALE + RECONCILE + 6


def _start(cluster: harness.Cluster, worker_hosts: int, slow_step: float) -> list[harness.Host]:
    cluster.start_web()
    extra = harness.slow_steps(slow_step)
    hosts = [cluster.add_worker_host(extra=extra) for _ in range(worker_hosts)]
    cluster.wait_workers_registered(hosts)
    return hosts


def _assert_docx(data: bytes) -> None:
    assert zipfile.is_zipfile(io.BytesIO(data))
    document = docx.Document(io.BytesIO(data))
    assert any(p.text.strip() for p in document.paragraphs)


def _assert_one_output(cluster: harness.Cluster, row: harness.Row) -> None:
    """A Complete row references exactly one object, and no other attempt left one behind."""
    outputs = cluster.output_keys(row.id)
    assert outputs == [row.output_key], (row, outputs)


def test_documents_submitted_through_the_web_host_are_generated_on_worker_hosts(
    cluster: harness.Cluster, source: bytes
) -> None:
    """Round trip: upload, generate, poll and download through the web host; every job is run
    by a worker on another host, exactly once (attempt counters, one output, one "Job OK")."""
    workers = _start(cluster, worker_hosts=2, slow_step=0.2)
    for host in [cluster.web, *workers]:
        assert host is not None
        routes = cluster.network.routes_of(host)
        assert "default" not in routes, f"{host.name} must reach nothing but the bridge: {routes}"

    api = cluster.api()
    code, health = api.healthz()
    assert code == 200 and health["database"] == "ok" and health["queue"] == "ok", health
    assert health["workers"] >= 2, health
    file_path = api.upload("protocol.docx", source)
    tasks = [api.generate(file_path, f"Round trip {i}", harness.SHORT_OUTLINE) for i in range(6)]
    for task in tasks:
        assert api.status(task)["status"] in {"Pending", "Generating", "Complete"}

    def all_done() -> bool:
        return all(api.status(t)["status"] in harness.TERMINAL for t in tasks)

    assert harness.wait_for(all_done, 120, 0.5), [api.status(t) for t in tasks]
    rows = cluster.rows(tasks)
    for task in tasks:
        row = rows[task]
        assert (row.status, row.attempts, row.error_code) == ("Complete", 1, None), row
        _assert_one_output(cluster, row)
        _assert_docx(api.download(task))

    ran_on = {task: cluster.completed_by(task) for task in tasks}
    assert set(ran_on.values()) == {h.name for h in workers}, ran_on  # both hosts, never web
    web_workers = [h for h in cluster.registered_workers().values() if h == "web"]
    assert not web_workers, "the web host runs no worker"
    logs = {h.name: cluster.worker_log(h) for h in workers}
    for task in tasks:
        counts = {name: harness.job_ok_lines(log, task) for name, log in logs.items()}
        assert sum(counts.values()) == 1, (task, counts)
        assert counts[ran_on[task]] == 1, (task, counts, ran_on[task])
        assert harness.job_ok_lines(cluster.worker_log(cluster.web), task) == 0
        assert cluster.job_results(task) == ["complete"], task
    for name, log in logs.items():
        assert "Traceback" not in log, f"{name}:\n{log[-4000:]}"


def test_a_worker_host_killed_mid_job_is_taken_over_by_another_host(
    cluster: harness.Cluster, source: bytes
) -> None:
    """Every process of a worker host SIGKILLed mid-job: the reconciler notices the lost attempt
    within FOLIO_STALE_JOB_SECONDS + FOLIO_RECONCILE_SECONDS, another host finishes the job
    (attempt 2 of FOLIO_MAX_ATTEMPTS=2), never twice and never stuck; the other host's own job
    is untouched."""
    cluster.recipe["FOLIO_MAX_ATTEMPTS"] = "2"
    _start(cluster, worker_hosts=2, slow_step=1)
    api = cluster.api()
    file_path = api.upload("protocol.docx", source)

    lost = harness.lose_worker_host(cluster, api, file_path, how="kill", into_job=1.5)

    assert lost.processes_killed >= 2, lost  # the worker and its work horse, at least
    assert lost.noticed_after is not None and lost.noticed_after <= NOTICE_BOUND, lost
    row = lost.row
    assert (row.status, row.attempts, row.error_code) == ("Complete", 2, None), row
    assert lost.finished_by not in (None, lost.victim), lost
    _assert_one_output(cluster, row)
    assert row.output_key.endswith(f"{row.id}-attempt2.docx"), row
    assert lost.job_ok[lost.task][lost.victim] == 0, lost.job_ok
    assert sum(lost.job_ok[lost.task].values()) == 1, lost.job_ok
    assert lost.results[lost.task] == ["complete"], lost.results  # attempt 1 never returned
    bystander = lost.rows[lost.other_task]
    assert (bystander.status, bystander.attempts) == ("Complete", 1), bystander
    _assert_one_output(cluster, bystander)
    _assert_docx(api.download(lost.task))


def test_a_worker_host_killed_on_the_last_attempt_fails_the_job_as_worker_crashed(
    cluster: harness.Cluster, source: bytes
) -> None:
    """The same loss with FOLIO_MAX_ATTEMPTS=1: the row is Failed `worker_crashed` within the
    bound, with no output and no run recorded; nothing else runs it later."""
    cluster.recipe["FOLIO_MAX_ATTEMPTS"] = "1"
    _start(cluster, worker_hosts=2, slow_step=1)
    api = cluster.api()
    file_path = api.upload("protocol.docx", source)

    lost = harness.lose_worker_host(cluster, api, file_path, how="kill", into_job=1.5)

    row = lost.row
    assert (row.status, row.attempts, row.error_code) == ("Failed", 1, "worker_crashed"), row
    assert lost.terminal_after is not None and lost.terminal_after <= NOTICE_BOUND, lost
    status = api.status(lost.task)
    assert (status["status"], status["error_code"]) == ("Failed", "worker_crashed"), status
    assert lost.outputs[lost.task] == [], lost.outputs
    assert lost.results[lost.task] == [], lost.results
    assert sum(lost.job_ok[lost.task].values()) == 0, lost.job_ok
    assert lost.rows[lost.other_task].status == "Complete", lost.rows
    # Nothing picks it up again afterwards.
    time.sleep(3)
    assert cluster.rows([lost.task])[lost.task].attempts == 1


def test_a_worker_host_cut_off_mid_job_and_restored_leaves_every_row_truthful(
    cluster: harness.Cluster, source: bytes
) -> None:
    """A worker host's link taken down mid-job and restored once its attempt was given up: the
    job ends Complete once, by one attempt, with one output; the old attempt, back on the
    network, changes nothing; the cluster then serves new jobs."""
    _start(cluster, worker_hosts=2, slow_step=1)
    api = cluster.api()
    file_path = api.upload("protocol.docx", source)

    lost = harness.lose_worker_host(cluster, api, file_path, how="cut", into_job=1.5)

    assert lost.noticed_after is not None and lost.noticed_after <= NOTICE_BOUND, lost
    assert not harness.work_horses(cluster.host(lost.victim)), "the old attempt never ended"
    row = cluster.rows([lost.task])[lost.task]  # read again: the old attempt has ended now
    assert row.status == "Complete" and row.error_code is None, row
    assert row.attempts == 2, row
    _assert_one_output(cluster, row)
    # The old attempt may have run on after the link came back; it must have given way.
    results = cluster.job_results(lost.task)
    assert results.count("complete") == 1, results
    assert set(results) <= {"complete", "superseded", "cancelled", "duplicate"}, results
    # Either host may have run attempt 2 (the victim is back and idle once its attempt gave way).
    assert cluster.completed_by(lost.task) is not None, cluster.job_runs(lost.task)
    bystander = cluster.rows([lost.other_task])[lost.other_task]
    assert (bystander.status, bystander.attempts) == ("Complete", 1), bystander
    _assert_one_output(cluster, bystander)
    _assert_docx(api.download(lost.task))

    after = [api.generate(file_path, f"After the cut {i}", harness.SHORT_OUTLINE) for i in range(2)]
    rows = cluster.wait_terminal(after, 90)
    for task in after:
        assert (rows[task].status, rows[task].attempts) == ("Complete", 1), rows[task]
        _assert_one_output(cluster, rows[task])
