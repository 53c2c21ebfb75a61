"""PostgreSQL restarted under a worker (reliability plan §B14), on a cluster this test owns.

A throw-away cluster is made with ``initdb`` on a free port (as the ``postgres`` user when the
tests run as root), migrated, and given to a worker subprocess with persistent connections
(``FOLIO_DB_CONN_MAX_AGE``), the setting under which a restart leaves dead sockets behind.
Generations are requested with ``manage.py shell`` against that database. Skipped, saying why,
when no PostgreSQL server binaries are installed or the cluster cannot be started.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.conftest import PROJECT_ROOT, outcome, wait_for

pytestmark = [
    pytest.mark.reliability(category="fault"),
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

SUBMIT = """
import io, docx
from django.core.files.uploadedfile import SimpleUploadedFile
from documents import services
from portal.management.commands.create_org_user import org_user_ensure
user, _ = org_user_ensure(organization_name="PG Org", username="pg", password="pw-pg-12345",
                          role="member", validate=False)
user.folio_membership = user.membership
d = docx.Document(); d.add_paragraph("Study Protocol PG-1"); d.add_paragraph(
    "This randomised study compares drug A with placebo in 120 adults.")
buf = io.BytesIO(); d.save(buf)
upload = SimpleUploadedFile("p.docx", buf.getvalue())
version = services.file_upload(user=user, uploaded_file=upload)
doc = services.generation_request(
    user=user, document_type="CSR", file_paths=[version.source_file.file_path],
    document_set_key="pg", document_set_name="PG", template_ref="ich-e3-csr",
    output_name=OUTPUT, outline_full={"sections": [
        {"section_id": "s-1", "section_name": "1 Title Page", "level": 1},
        {"section_id": "s-2", "section_name": "2 Synopsis", "level": 1}]})
print("TASK", doc.id)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found:
            pytest.skip("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin)")
        self.bin = Path(found[-1]).parent
        self.dir = Path(tempfile.mkdtemp(prefix="folio-pg-"))
        self.port = _free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                pytest.skip("running as root and there is no 'postgres' user to run initdb as")
            shutil.chown(self.dir, "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        out = self._run("initdb", "-D", str(self.dir / "data"), "-A", "trust", "-U", "postgres")
        if out.returncode != 0:
            pytest.skip(f"initdb failed: {out.stderr[-300:]}")
        if not self.start():
            pytest.skip(f"the test cluster did not start: {self.log()}")

    def _run(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.as_user, str(self.bin / tool), *args], capture_output=True, text=True, timeout=60
        )

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return (self.dir / "log").read_text()[-500:]
        return ""

    def start(self) -> bool:
        out = self._run(
            "pg_ctl",
            "-D",
            str(self.dir / "data"),
            "-o",
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off",
            "-l",
            str(self.dir / "log"),
            "-w",
            "start",
        )
        return out.returncode == 0

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop")

    def url(self, db: str = "folio") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{db}"

    def query(self, sql: str) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.url(), connect_timeout=2) as conn:
            return list(conn.execute(sql).fetchall())

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    c = Cluster()
    try:
        yield c
    finally:
        c.destroy()


def _manage(env: dict[str, str], *args: str, code: str | None = None) -> str:
    command = [sys.executable, "manage.py", *args]
    if code is not None:
        command += ["-c", code]
    out = subprocess.run(
        command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    return out.stdout


def _prepare(stack, cluster: Cluster, slow_step: str) -> tuple[dict[str, str], Any, Any, Any]:
    """Database ``folio`` on the cluster, migrated, a worker on it: (env, submit, status, end)."""
    subprocess.run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            str(cluster.port),
            "-U",
            "postgres",
            "-qc",
            "CREATE DATABASE folio",
        ],
        check=True,
        capture_output=True,
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": cluster.url(),
        "REDIS_URL": stack.url,
        "FOLIO_DB_CONN_MAX_AGE": "600",
    }
    _manage(env, "migrate", "--no-input", "-v", "0")
    stack.worker_env.update({"DATABASE_URL": cluster.url(), "FOLIO_DB_CONN_MAX_AGE": "600"})
    stack.start_worker(FOLIO_TEST_SLOW_STEP_SECONDS=slow_step)

    def submit(name: str) -> str:
        out = _manage(env, "shell", code=f"OUTPUT = {name!r}\n" + SUBMIT)
        return out.split("TASK", 1)[1].split()[0]

    def status(task: str) -> tuple[str, str | None, int]:
        try:
            rows = cluster.query(
                f"select status, error_code, attempts from documents_generateddocument "
                f"where id = '{task}'"
            )
        except Exception:
            return ("?", None, 0)
        return rows[0] if rows else ("?", None, 0)

    def terminal(task: str, timeout: float) -> tuple[str, str | None, int]:
        wait_for(lambda: status(task)[0] in ("Complete", "Failed", "Cancelled"), timeout, 0.3)
        return status(task)

    return env, submit, status, terminal


@pytest.mark.timeout(240)
def test_a_database_restart_neither_fails_the_next_job_nor_loses_a_running_one(
    request, stack, cluster
):
    """B14: PostgreSQL restarted between jobs and stopped mid-job: every job ends, once."""
    _env, submit, status, terminal = _prepare(stack, cluster, "0.5")

    first = submit("before")
    assert terminal(first, 60)[0] == "Complete"

    # Restart between jobs: the worker's pooled connection is now a dead socket.
    cluster.stop()
    assert cluster.start()
    second = submit("after-restart")
    assert terminal(second, 60) == ("Complete", None, 1), "no 'connection already closed'"

    # Stop the database while a job runs; bring it back a few seconds later.
    third = submit("during-outage")
    assert wait_for(lambda: status(third)[0] == "Generating", 30, 0.1)
    cluster.stop()
    time.sleep(3)
    assert cluster.start()
    final = terminal(third, 90)
    assert final[0] in ("Complete", "Failed"), final
    assert final[2] <= 2
    outputs = cluster.query(
        f"select output_key from documents_generateddocument where id = '{third}'"
    )
    media = Path(os.environ["FOLIO_DATA_DIR"]) / "files"
    files = list(media.glob(f"*/output/{third}*"))
    assert len(files) == (1 if final[0] == "Complete" else 0), files
    if final[0] == "Complete":
        assert outputs[0][0].endswith(files[0].name)
    outcome(
        request,
        f"next job after restart Complete; job during outage {final[0]} "
        f"{final[1] or ''} after {final[2]} attempt(s)".replace("  ", " "),
    )


@pytest.mark.timeout(240)
def test_a_terminated_database_connection_is_a_crashed_attempt_that_is_retried(
    request, stack, cluster
):
    """Issue 11, fault 3: ``pg_terminate_backend`` on the job's connection mid-job used to end
    the document ``Failed internal_error`` for good; it is now a crashed attempt, retried."""
    _env, submit, status, terminal = _prepare(stack, cluster, "1")
    kill_others = (
        "select count(pg_terminate_backend(pid)) from pg_stat_activity "
        "where datname = 'folio' and pid <> pg_backend_pid()"
    )

    task = submit("dropped-once")
    assert wait_for(lambda: status(task)[0] == "Generating", 30, 0.1)
    time.sleep(0.5)  # the horse holds its connection (CONN_MAX_AGE) between two progress writes
    assert cluster.query(kill_others)[0][0] >= 1, "the job's connection was open"
    final = terminal(task, 90)
    assert final == ("Complete", None, 2), final
    media = Path(os.environ["FOLIO_DATA_DIR"]) / "files"
    files = list(media.glob(f"*/output/{task}*"))
    assert len(files) == 1, files

    # Dropped in every attempt: bounded by FOLIO_MAX_ATTEMPTS (2), then worker_crashed.
    poison = submit("dropped-always")
    for attempt in (1, 2):
        assert wait_for(
            lambda a=attempt: status(poison)[0] == "Generating" and status(poison)[2] == a, 30, 0.1
        ), status(poison)
        time.sleep(0.5)
        cluster.query(kill_others)
    ended = terminal(poison, 90)
    assert ended == ("Failed", "worker_crashed", 2), ended
    assert list(media.glob(f"*/output/{poison}*")) == []

    after = submit("after-drops")
    assert terminal(after, 60) == ("Complete", None, 1)
    outcome(
        request,
        "dropped once: Complete after 2 attempts; dropped in every attempt: "
        "Failed worker_crashed after 2; next job Complete",
    )


@pytest.mark.timeout(240)
def test_with_the_database_down_status_and_generate_answer_503_not_500(
    request, stack, cluster, live_web
):
    """Issue 11, fault 6: the database stopped under a running gunicorn: the API and the portal
    answer 503 ``database_unavailable`` with Retry-After (they answered 500), and recover."""
    _env, submit, _status, terminal = _prepare(stack, cluster, "0")
    task = submit("before-outage")
    assert terminal(task, 60)[0] == "Complete"
    web = live_web(workers=2, DATABASE_URL=cluster.url(), REDIS_URL=stack.url)
    token = web.token("pg", "pw-pg-12345")
    auth = {"Authorization": f"Bearer {token}"}
    assert web.request("GET", f"/api/v1/documents/status/{task}", headers=auth).status == 200

    cluster.stop()
    try:
        answers = {
            "status": web.request("GET", f"/api/v1/documents/status/{task}", headers=auth),
            "generate": web.post_json(
                "/api/v1/documents/generate",
                {"document_type": "CSR", "file_paths": ["x/documents/p.docx"]},
                token=token,
            ),
            "portal": web.request("GET", "/", headers={"Accept": "text/html"}),
        }
        health = web.request("GET", "/healthz")
    finally:
        assert cluster.start()
    for name, answer in answers.items():
        if name == "portal" and answer.status == 302:
            continue  # the login redirect needs no database
        assert answer.status == 503, (name, answer.status, answer.body[:300])
        assert answer.headers.get("retry-after"), name
    assert answers["status"].json()["code"] == "database_unavailable"
    assert answers["generate"].json()["code"] == "database_unavailable"
    assert health.status == 503 and health.json()["database"] == "down"
    assert "Traceback" not in web.output()

    again = wait_for(
        lambda: web.request("GET", f"/api/v1/documents/status/{task}", headers=auth).status == 200,
        30,
        0.5,
    )
    assert again, "answers again once the database is back"
    outcome(request, "status, generate: 503 database_unavailable with Retry-After; 200 after")
