"""Redis restarted or frozen under busy workers (issue 11, fault 1): the workers live through it.

The stack's valkey-server runs with its append-only file (as `make run`'s does). While a worker
runs a job (slowed by ``FOLIO_TEST_SLOW_STEP_SECONDS``) and more jobs wait in the queue, the
server is stopped for a few seconds and started again on the same port, or frozen with SIGSTOP
for longer than every socket timeout. Before the fix, RQ's ``maintain_heartbeats`` raised a
connection or timeout error and the worker's loop exited: the running job was orphaned and the
queued jobs waited for ever. Now every job ends Complete and the same worker processes are
still alive and registered.
"""

from __future__ import annotations

import time

import pytest

from tests.reliability.conftest import outcome, output_files, row, wait_for, wait_status

pytestmark = [
    pytest.mark.reliability(category="fault"),
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]


def _accepted(response) -> str:
    assert response.status_code == 202, response.content
    return response.json()["task_id"]


def _all_terminal(tasks: list[str], timeout: float) -> list:
    def done():
        rows = [row(t) for t in tasks]
        return rows if all(r.is_terminal for r in rows) else None

    return wait_for(done, timeout, 0.3) or [row(t) for t in tasks]


@pytest.mark.timeout(240)
@pytest.mark.parametrize("fault", ["restart", "freeze"])
def test_busy_workers_survive_a_redis_outage_and_run_the_queue_afterwards(
    request, stack, member, tiny_source, submit, fault
):
    stack.use_persistent_redis()
    workers = [stack.start_worker(FOLIO_TEST_SLOW_STEP_SECONDS="1") for _ in range(2)]
    path = tiny_source(member)
    tasks = [_accepted(submit(member, [path], output_name=f"Doc {i}")) for i in range(5)]
    assert wait_status(tasks[0], "Generating", 30), row(tasks[0]).status
    time.sleep(1.5)  # the horses are mid-job, between heartbeats

    started = time.monotonic()
    if fault == "restart":
        stack.stop_redis()
        time.sleep(5)  # longer than one socket timeout and one retry
        stack.start_redis()
    else:
        stack.freeze_redis()
        time.sleep(8)  # the worker's socket timeout is 2 s
        stack.thaw_redis()
    outage = time.monotonic() - started

    docs = _all_terminal(tasks, 150)
    states = [(d.status, d.error_code, d.attempts) for d in docs]
    assert all(d.status == "Complete" for d in docs), (
        states,
        [w.output()[-3000:] for w in workers],
    )
    for doc in docs:
        assert len(output_files(doc)) == 1, output_files(doc)
    for worker in workers:
        assert worker.proc.poll() is None, f"the worker exited:\n{worker.output()}"
        assert stack.worker_ready(worker), "the worker is still registered"
    # And they still take new work.
    following = _accepted(submit(member, [path], output_name="After"))
    assert wait_for(lambda: row(following).status == "Complete", 60), row(following).status
    outcome(
        request,
        f"Redis {fault} for {outage:.0f} s under 2 busy workers: 5/5 Complete "
        f"(attempts {sorted(d.attempts for d in docs)}), workers alive, next job Complete",
    )


@pytest.mark.timeout(60)
def test_redis_at_maxmemory_refuses_the_enqueue_with_503_and_status_is_unaffected(
    request, stack, member, tiny_source, submit, api_client
):
    """Redis full (``maxmemory``, ``noeviction``): generate answers 503 ``queue_unavailable``
    and the row ends Failed; status polls (database only) answer as before."""
    path = tiny_source(member)
    before = _accepted(submit(member, [path], output_name="Before"))
    redis = stack.connection()
    used = int(redis.info("memory")["used_memory"])
    redis.config_set("maxmemory-policy", "noeviction")
    # Over its limit (not just at it: a server a few KB under its limit still takes a small
    # enqueue, which made a fill-up-then-submit version of this test flaky).
    redis.config_set("maxmemory", str(max(1, used // 2)))
    try:
        with pytest.raises(Exception, match=r"(?i)OOM|maxmemory"):
            redis.set("probe", b"x")  # the server refuses writes now
        started = time.monotonic()
        response = submit(member, [path], output_name="Refused")
        elapsed = time.monotonic() - started
        status = api_client(member).get(f"/api/v1/documents/status/{before}")
    finally:
        redis.config_set("maxmemory", "0")
    assert response.status_code == 503, response.content
    body = response.json()
    assert body["code"] == "queue_unavailable" and response["Retry-After"]
    refused = row(body["task_id"])
    assert (refused.status, refused.error_code) == ("Failed", "queue_unavailable")
    assert status.status_code == 200 and status.json()["status"] == "Pending"
    outcome(request, f"503 queue_unavailable in {elapsed * 1000:.0f} ms; row Failed; status 200")


@pytest.mark.timeout(180)
def test_a_worker_whose_registration_expired_during_an_outage_registers_again(
    request, stack, member, tiny_source, submit
):
    """An outage longer than the worker's registration: RQ keeps a worker's key for
    ``--worker-ttl`` + 60 s (480 s by default; 61 s here, the least RQ allows) past its last
    heartbeat. When Redis answers again the key has expired, so RQ no longer knows the worker:
    ``/healthz`` would count no live worker and the dashboard would not list it. The worker
    notices on its first heartbeat after the outage, registers again, still listens for RQ's
    commands and serves the queue."""
    from django.test import Client

    worker = stack.start_worker(args=("--worker-ttl", "1"))
    assert stack.worker_ready(worker)
    registration = stack.connection().ttl(f"rq:worker:{worker.name}")
    assert 0 < registration <= 61, registration

    started = time.monotonic()
    stack.freeze_redis()
    time.sleep(registration + 3)  # past the registration's TTL
    stack.thaw_redis()
    outage = time.monotonic() - started

    def registered() -> bool:
        key = f"rq:worker:{worker.name}"
        connection = stack.connection()
        return bool(connection.hexists(key, "birth")) and connection.sismember("rq:workers", key)

    assert wait_for(registered, 30, 0.3), f"not registered again:\n{worker.output()[-3000:]}"
    # RQ's commands to the worker (stop a job, shut down) still reach it: its pub/sub listener
    # is subscribed again (or never lost its connection).
    channel = f"rq:pubsub:{worker.name}"

    def listening() -> bool:
        return dict(stack.connection().pubsub_numsub(channel)).get(channel.encode(), 0) >= 1

    assert wait_for(listening, 10, 0.3), worker.output()[-3000:]
    health = Client().get("/healthz").json()
    assert health["workers"] >= 1, health
    path = tiny_source(member)
    task = _accepted(submit(member, [path], output_name="After the outage"))
    assert wait_for(lambda: row(task).status == "Complete", 60), row(task).status
    assert worker.proc.poll() is None, worker.output()
    outcome(
        request,
        f"Redis frozen {outage:.0f} s, past the worker's {registration} s registration: "
        "registered again and listening for commands, "
        f"/healthz counts {health['workers']} worker(s), the next job Complete",
    )


@pytest.mark.timeout(120)
def test_a_full_disk_under_the_append_only_file_refuses_generations_with_503_until_freed(
    request, stack, member, tiny_source, submit, api_client, full_folder
):
    """The queue's append-only file on a full file system (a real tmpfs, filled): valkey stops
    accepting writes, so a generation answers 503 ``queue_unavailable`` and its row ends
    ``Failed``, never a 500 or a row left Pending; status polls answer as before. Once space is
    freed, valkey writes its file again and generations are accepted and run."""
    from tests.reliability.conftest import fill_up

    folder = full_folder(stack.tmp / "valkey", fill=False, size="4m")
    stack.use_persistent_redis()
    assert stack.redis_dir == folder
    path = tiny_source(member)
    before = _accepted(submit(member, [path], output_name="Before"))

    fill_up(folder)
    answers, taken = [], []
    for i in range(8):  # writes that meet the full disk may still be taken (in memory)
        response = submit(member, [path], output_name=f"Disk full {i}")
        answers.append(response.status_code)
        if response.status_code == 503:
            break
        taken.append(response.json()["task_id"])
        time.sleep(0.5)  # valkey notices its failed write within a second
    assert answers[-1] == 503, answers
    assert set(answers) <= {202, 503}, answers
    body = response.json()
    assert body["code"] == "queue_unavailable" and response["Retry-After"], body
    refused = row(body["task_id"])
    assert (refused.status, refused.error_code) == ("Failed", "queue_unavailable")
    status = api_client(member).get(f"/api/v1/documents/status/{before}")
    assert status.status_code == 200 and status.json()["status"] == "Pending"

    (folder / ".filler").unlink()

    def accepted_again():
        response = submit(member, [path], output_name="After")
        return response.json()["task_id"] if response.status_code == 202 else None

    after = wait_for(accepted_again, 20, 1.0)
    assert after, "valkey took writes again once space was freed"
    stack.start_worker()
    # Nothing accepted is lost: the jobs taken while the disk filled up run as well.
    for task in (before, *taken, after):
        assert wait_for(lambda t=task: row(t).status == "Complete", 90), row(task).status
    outcome(
        request,
        f"answers while full {answers}: 503 queue_unavailable, row Failed, status 200; "
        f"space freed: accepted again; {len(taken) + 2} accepted jobs all Complete",
    )
