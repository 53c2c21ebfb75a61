"""Attacks on the queue (issue 12, findings 1 and 2): who may use it, what a worker will run,
and who reaches django-rq's dashboard.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import time
import uuid
import zlib
from pathlib import Path
from typing import Any

import pytest
import redis
from django.test import Client
from rq import Callback, Queue
from rq.job import Job
from rq.serializers import DefaultSerializer, JSONSerializer

from portal import embedded_redis
from tests.reliability.conftest import outcome, wait_for

pytestmark = [pytest.mark.reliability(category="attack"), pytest.mark.timeout(180)]


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


# --- finding 1: the embedded server ---------------------------------------------------------------


def test_the_embedded_queue_refuses_a_local_process_without_the_password(request, tmp_path):
    """Finding 1: another local process cannot enqueue on `make run`'s valkey (no password)."""
    os.umask(0o022)  # what a typical login shell has; the files must not depend on it
    server = embedded_redis.for_run(tmp_path)
    url = server.start()
    try:
        stranger = redis.Redis(host="127.0.0.1", port=_port(url), socket_timeout=2)
        assert stranger.ping(), "PING stays open (readiness checks)"
        with pytest.raises(redis.RedisError):
            Queue("default", connection=stranger).enqueue("os.system", "true")
        with pytest.raises(redis.RedisError):
            stranger.keys("*")
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(
                host="127.0.0.1", port=_port(url), username="folio", password="guess"
            ).ping()
        assert embedded_redis.ping(url), "Folio's own URL still works"
        # The password is only in files nobody else can read.
        assert (tmp_path / "redis.url").stat().st_mode & 0o777 == 0o600
        valkey = tmp_path / "valkey"
        assert valkey.stat().st_mode & 0o777 == 0o700
        for name in ("password", "users.acl", "valkey.conf"):
            assert (valkey / name).stat().st_mode & 0o777 == 0o600, name
        password = (valkey / "password").read_text().strip()
        assert len(password) >= 32 and password in url
    finally:
        server.stop()
    outcome(request, "no password: PING only, enqueue and reads refused; files 0600 in a 0700 dir")


def test_the_password_survives_a_restart_so_a_second_terminal_keeps_working(tmp_path):
    """`make worker` in another terminal reconnects after `make run` restarts."""
    first = embedded_redis.for_run(tmp_path)
    url = first.start()
    first.stop()
    again = embedded_redis.for_run(tmp_path)
    try:
        assert again.start() == url
        assert embedded_redis.ping(url)
    finally:
        again.stop()


def test_the_banner_and_logs_show_the_queue_url_without_its_password():
    url = "redis://folio:s3cret-value@127.0.0.1:6390/0"
    shown = embedded_redis.redact_url(url)
    assert "s3cret-value" not in shown
    assert shown == "redis://folio:***@127.0.0.1:6390/0"
    assert embedded_redis.redact_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


# --- finding 1: the worker runs only Folio's jobs -------------------------------------------------


class _Touch:
    """A pickle that creates a file when it is unpickled (what a forged job's data can do)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.path}",))


def _forge_pickled_job(connection: Any, marker: Path) -> str:
    """A job hash written by hand whose `data` runs code when a pickle-reading worker loads it."""
    job_id = f"forged-{uuid.uuid4().hex[:8]}"
    payload = pickle.dumps(("os.getcwd", None, [_Touch(str(marker))], {}))
    connection.hset(
        f"rq:job:{job_id}",
        mapping={
            "data": payload,
            "origin": "default",
            "status": "queued",
            "created_at": "2026-01-01T00:00:00.000000Z",
            "enqueued_at": "2026-01-01T00:00:00.000000Z",
            "description": "forged",
            "timeout": 60,
        },
    )
    connection.rpush("rq:queue:default", job_id)
    connection.sadd("rq:queues", "rq:queue:default")
    return job_id


@pytest.mark.django_db(transaction=True)
def test_a_worker_refuses_every_job_that_is_not_one_of_folios(
    request, stack, tiny_source, submit, member, tmp_path
):
    """Finding 1: foreign callables (JSON or pickle), a forged pickle and a foreign callback are
    failed without running; a real generation still completes."""
    connection = stack.connection()
    markers = {name: tmp_path / f"ran-{name}" for name in ("json", "pickle", "forged")}
    json_queue = Queue("default", connection=connection, serializer=JSONSerializer)
    pickle_queue = Queue("default", connection=connection, serializer=DefaultSerializer)
    foreign = {
        "json": json_queue.enqueue("os.system", f"touch {markers['json']}").id,
        "pickle": pickle_queue.enqueue("os.system", f"touch {markers['pickle']}").id,
        "forged": _forge_pickled_job(connection, markers["forged"]),
        # Folio's function, but a callback of someone else's choosing.
        "callback": json_queue.enqueue_call(
            "documents.jobs.run_generation",
            args=(str(uuid.uuid4()),),
            on_failure=Callback("os.system"),
        ).id,
    }
    worker = stack.start_worker()

    def ended(job_id: str) -> bool:
        status = connection.hget(f"rq:job:{job_id}", "status")
        return status in (b"failed", b"finished", b"stopped")

    assert wait_for(lambda: all(ended(j) for j in foreign.values()), 60), worker.output()
    time.sleep(0.5)
    for name, marker in markers.items():
        assert not marker.exists(), f"the {name} job ran:\n{worker.output()}"
    for name, job_id in foreign.items():
        assert connection.hget(f"rq:job:{job_id}", "status") == b"failed", name
    log = worker.output()
    assert log.count("Refused job") >= len(foreign), log
    assert re.search(r"Refused job .*'os\.system' is not one of Folio's job functions", log)

    # Folio's own job still runs on the same worker.
    from django.db import connection as db

    path = tiny_source(member)
    task = submit(member, [path]).json()["task_id"]
    db.close()
    from tests.reliability.conftest import wait_terminal

    assert wait_terminal(task, 90).status == "Complete", worker.output()
    outcome(request, f"{len(foreign)} foreign jobs failed unrun; a Folio job completed")


def test_folios_own_jobs_are_written_as_json_not_pickle(clean_queue, redis_server):
    """The queue is configured for JSON, so no process of Folio ever unpickles job data."""
    from documents import queue as folio_queue

    job_id = str(uuid.uuid4())
    assert folio_queue.enqueue_generation(job_id)
    raw = clean_queue.connection.hget(f"rq:job:{job_id}", "data")
    func, instance, args, kwargs = json.loads(zlib.decompress(raw))
    assert (func, instance, args, kwargs) == ("documents.jobs.run_generation", None, [job_id], {})
    job = Job.fetch(job_id, connection=clean_queue.connection, serializer=JSONSerializer)
    assert job.func_name == "documents.jobs.run_generation"


# --- finding 2: django-rq's dashboard ------------------------------------------------------------


def _django_rq_urls(prefix: str, job_id: str) -> list[str]:
    """Every route django-rq defines, filled in, under ``prefix``."""
    import django_rq.urls

    values = {
        "queue_index": "0",
        "scheduler_index": "0",
        "connection_index": "0",
        "job_id": job_id,
        "result_id": "0-0",
        "key": "rq:worker:x",
        "scheduler_name": "x",
        "cron_job_name": "x",
        "token": "guess",
    }
    urls = []
    for pattern in django_rq.urls.urlpatterns:
        route = str(pattern.pattern)
        if route.startswith("^"):  # the regex routes: stats.json[/<token>], metrics
            route = route.strip("^$").replace("/?", "/")
            route = re.sub(r"\(\?P<(\w+)>[^)]*\)\??", lambda m: values[m.group(1)], route)
        else:
            route = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], route)
        urls.append(prefix + route)
    return urls


@pytest.mark.django_db
def test_a_manager_is_refused_on_every_django_rq_route(
    request, manager, member, django_user_model, clean_queue
):
    """Finding 2: every dashboard route, under /admin/rq/ and the admin integration, GET and
    POST: never answered to a manager, and the shared queue is left alone."""
    from documents import queue as folio_queue

    job = folio_queue.get_queue().enqueue_call(
        "documents.jobs.run_generation", args=(str(uuid.uuid4()),)
    )
    urls = _django_rq_urls("/admin/rq/", job.id) + _django_rq_urls(
        "/admin/django_rq/dashboard/", job.id
    )
    urls.append("/admin/django_rq/")
    checked = 0
    for user in (manager, member):
        client = Client()
        client.force_login(user)
        for url in urls:
            for method in ("get", "post"):
                response = getattr(client, method)(url)
                assert response.status_code in (302, 403, 404), (user, method, url)
                if response.status_code == 302:
                    assert "/admin/login/" in response["Location"], url
                assert b"rq:queue" not in response.content, url
                checked += 1
    assert clean_queue.job_ids == [job.id], "the queue was not emptied nor changed"
    admin_index = Client()
    admin_index.force_login(manager)
    assert b"django_rq" not in admin_index.get("/admin/").content
    boss = django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-123")
    client = Client()
    client.force_login(boss)
    assert client.get("/admin/rq/").status_code == 200
    assert client.get("/admin/rq/queues/0/").status_code == 200
    outcome(request, f"{checked} route/method pairs refused to a manager and a member")
