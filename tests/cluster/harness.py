"""Several machines on one: Folio's deployment recipe run on network-namespace "hosts".

Used by the cluster tests (``tests/cluster/``) and by ``bench/cluster.py``; plain Python, no
pytest and no Django in this process (it only speaks HTTP, SQL, Redis and S3 to what it started).

- :class:`Cluster` builds the bridge and the shared services (``tests/cluster/services.py``), a
  web host (the ``folio-migrate`` oneshot, a user, ``folio-web`` and ``folio-reconciler``) and
  worker hosts (``folio-worker@N``), each service started from its unit
  (``tests/cluster/recipe.py``) inside its host (``tests/cluster/hosts.py``) with nothing but the
  recipe's environment.
- :class:`Api` talks to the web host as a client behind the recipe's TLS proxy does (the proxy's
  ``Host`` and ``X-Forwarded-Proto: https`` headers, from the proxy's address).
- What happened is read from the shared services themselves: the rows in PostgreSQL, the objects
  in the bucket, RQ's job and worker records in Redis (which worker host ran a job), and the
  hosts' logs.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import secrets
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.cluster.hosts import Host, Network, Proc, unavailable_reason, wait_for
from tests.cluster.recipe import (
    INSTALL_DIR,
    INSTALL_PYTHON,
    ROOT,
    host_environment,
    localize,
    read_unit,
    unit_commands,
)
from tests.cluster.services import BUCKET, MotoS3, Postgres, Valkey

__all__ = ["Api", "Cluster", "Host", "Row", "unavailable_reason", "wait_for"]

SITE_HOST = "folio.cluster.test"
WEB_PORT = 8000
ORG_NAME = "Cluster Pharma"
USERNAME = "alice"
TERMINAL = ("Complete", "Failed", "Cancelled")


# --- the web API, as a client behind the TLS proxy would use it ----------------------------------


class ApiError(RuntimeError):
    pass


class Api:
    """HTTP to the web host, with the headers the recipe's TLS proxy adds."""

    def __init__(self, ip: str, port: int = WEB_PORT) -> None:
        self.ip = ip
        self.port = port
        self.token: str | None = None

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 30,
    ) -> tuple[int, bytes]:
        h = {"Host": SITE_HOST, "X-Forwarded-Proto": "https", "Accept": "application/json"}
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        h.update(headers or {})
        conn = http.client.HTTPConnection(self.ip, self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=h)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def json(self, method: str, path: str, payload: Any = None, expect: int = 200) -> Any:
        body = json.dumps(payload).encode() if payload is not None else None
        headers = {"Content-Type": "application/json"} if body is not None else {}
        code, data = self.request(method, path, body, headers)
        if code != expect:
            raise ApiError(f"{method} {path}: {code} {data[:500]!r}")
        return json.loads(data) if data else None

    def login(self, username: str, password: str) -> None:
        self.token = None
        answer = self.json(
            "POST", "/api/v1/auth/token", {"username": username, "password": password}
        )
        self.token = answer["access"]

    def healthz(self) -> tuple[int, dict[str, Any]]:
        code, data = self.request("GET", "/healthz", timeout=10)
        try:
            return code, json.loads(data)
        except ValueError:
            return code, {"raw": data[:200].decode(errors="replace")}

    def upload(self, name: str, content: bytes) -> str:
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file_content"; '
                f'filename="{name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
            ).encode()
            + content
            + f"\r\n--{boundary}--\r\n".encode()
        )
        code, data = self.request(
            "POST",
            "/api/v1/files/upload",
            body,
            {"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        if code != 201:
            raise ApiError(f"upload: {code} {data[:500]!r}")
        return str(json.loads(data)["file_path"])

    def generate(self, file_path: str, name: str, outline: dict[str, Any] | None = None) -> str:
        body: dict[str, Any] = {
            "document_type": "CSR",
            "file_paths": [file_path],
            "connector_data_id": "cluster",
            "workspace_name": "Cluster study",
            "template_id": "ich-e3-csr",
            "output_name": name,
        }
        if outline is not None:
            body["generic_mrt_outline_full"] = outline
        return str(self.json("POST", "/api/v1/documents/generate", body, expect=202)["task_id"])

    def status(self, task: str) -> dict[str, Any]:
        return dict(self.json("GET", f"/api/v1/documents/status/{task}"))

    def download(self, task: str) -> bytes:
        code, data = self.request("GET", f"/api/v1/documents/{task}/download", timeout=60)
        if code != 200:
            raise ApiError(f"download {task}: {code} {data[:300]!r}")
        return data


# --- the cluster ---------------------------------------------------------------------------------

# A generation outline of two sections: a job takes a second or two (plus any slow steps).
SHORT_OUTLINE = {
    "sections": [
        {"section_id": "s-title", "section_name": "1 Title Page", "level": 1},
        {"section_id": "s-synopsis", "section_name": "2 Synopsis", "level": 1},
    ]
}


@dataclass
class Row:
    id: str
    status: str
    attempts: int
    error_code: str | None
    output_key: str
    started_at: Any
    finished_at: Any
    created_at: Any


class Cluster:
    """The shared services, the web host and worker hosts, built from the recipe."""

    def __init__(self, workdir: Path | None = None, *, recipe: dict[str, str] | None = None):
        self._own_workdir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="folio-cluster-"))
        self.logs = self.workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.network = Network(self.logs)
        self.secret_key = secrets.token_urlsafe(64)
        self.user_password = secrets.token_urlsafe(16)
        # Values of the recipe's own variables for every host started from now on (e.g. the
        # tests' short bounds); each must be named in deploy/folio.env.example.
        self.recipe = dict(recipe or {})
        self.postgres: Postgres | None = None
        self.valkey: Valkey | None = None
        self.s3: MotoS3 | None = None
        self.web: Host | None = None
        self.workers: list[Host] = []
        self._worker_hosts_seen: dict[str, str] = {}
        self._worker_count = 0  # worker host names are never reused within a run

    # -- services --
    def start_services(self) -> None:
        self.network.create()
        gateway, subnet = self.network.gateway, str(self.network.subnet)
        self.postgres = Postgres(gateway, subnet)
        self.postgres.start()
        self.valkey = Valkey(gateway, self.workdir)
        self.valkey.start()
        self.s3 = MotoS3(gateway, self.workdir)
        self.s3.start()

    def env(self, host: Host, unit: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        """What ``host`` has in /etc/folio/folio.env, plus the unit's own lines."""
        assert self.postgres and self.valkey and self.s3
        filled = {
            "DJANGO_SECRET_KEY": self.secret_key,
            "DJANGO_ALLOWED_HOSTS": SITE_HOST,
            "FOLIO_DATA_DIR": str(self.workdir / "data" / host.name),
            "FOLIO_STATIC_ROOT": str(self.workdir / "data" / host.name / "static"),
            "DATABASE_URL": self.postgres.url,
            "REDIS_URL": self.valkey.url,
            "FOLIO_STORAGE": "s3",
            "AWS_STORAGE_BUCKET_NAME": BUCKET,
            "AWS_S3_REGION_NAME": self.s3.region,
            "AWS_S3_ENDPOINT_URL": self.s3.endpoint,
            "AWS_ACCESS_KEY_ID": self.s3.access_key,
            "AWS_SECRET_ACCESS_KEY": self.s3.secret_key,
            "FOLIO_WEB_BIND": f"{host.ip}:{WEB_PORT}",
            "FOLIO_WEB_WORKERS": "2",
            "FOLIO_PROXY_IPS": self.network.gateway,
            **self.recipe,
        }
        return host_environment(filled, unit=unit, extra=extra)

    def start_unit(
        self, host: Host, unit: str, instance: str = "", extra: dict[str, str] | None = None
    ) -> list[Proc]:
        """Start a unit's ``ExecStart`` lines on ``host`` (a oneshot runs them in turn)."""
        env = self.env(host, unit, extra)
        commands = unit_commands(unit, instance)
        label = unit.replace("@.service", "").replace(".service", "") + (
            f"-{instance}" if instance else ""
        )
        settings = read_unit(unit)
        cwd = Path(localize(settings.get("WorkingDirectory", [INSTALL_DIR]))[-1])
        if settings.get("Type", ["simple"])[-1] == "oneshot":
            for i, argv in enumerate(commands):
                host.run(localize(argv), env, f"{label}-{i}", timeout=300, cwd=cwd)
            return []
        assert len(commands) == 1, f"{unit}: one ExecStart expected"
        return [host.spawn(localize(commands[0]), env, label, cwd)]

    # -- hosts --
    def start_web(self, extra: dict[str, str] | None = None) -> Host:
        """The web machine: migrations, a user, gunicorn and the reconciler."""
        self.web = self.network.add_host("web")
        self.start_unit(self.web, "folio-migrate.service")
        env = self.env(self.web, "folio-web.service")
        self.web.run(
            localize(
                [
                    INSTALL_PYTHON,
                    f"{INSTALL_DIR}/manage.py",
                    "create_org_user",
                    ORG_NAME,
                    USERNAME,
                    "--password",
                    self.user_password,
                ]
            ),
            env,
            "create-org-user",
            timeout=120,
        )
        self.start_unit(self.web, "folio-web.service", extra=extra)
        self.start_unit(self.web, "folio-reconciler.service", extra=extra)
        api = Api(self.web.ip)

        def up() -> bool:
            try:
                code, _ = api.healthz()
                return code in (200, 503)
            except OSError:
                return False

        if not wait_for(up, 60, 0.25):
            raise RuntimeError("gunicorn did not answer:\n" + self.web.procs[-2].output())
        return self.web

    def add_worker_host(self, extra: dict[str, str] | None = None, workers: int = 1) -> Host:
        """A worker machine running ``folio-worker@1`` ... ``@workers``."""
        self._worker_count += 1
        host = self.network.add_host(f"worker-{self._worker_count}")
        self.workers.append(host)
        for i in range(1, workers + 1):
            self.start_unit(host, "folio-worker@.service", str(i), extra=extra)
        return host

    def wait_workers_registered(self, hosts: Iterable[Host], timeout: float = 90) -> None:
        """Until every worker process of the given hosts has registered with RQ, under its
        host's name (a registration left by an earlier, dead worker does not count)."""
        hosts = list(hosts)
        assert self.valkey
        client = self.valkey.client()

        def ready() -> bool:
            for h in hosts:
                for proc in h.procs:
                    if not proc.alive():
                        raise RuntimeError(f"{h.name}: worker exited:\n{proc.output()}")
            live = set()
            for raw in client.smembers("rq:workers"):
                hostname, pid = client.hmget(raw.decode(), "hostname", "pid")
                if hostname and pid:
                    live.add((hostname.decode(), int(pid)))
            return all((h.name, p.pid) in live for h in hosts for p in h.procs)

        if not wait_for(ready, timeout, 0.25):
            raise RuntimeError(f"workers not registered: {self.registered_workers()}")
        self.registered_workers()

    def registered_workers(self) -> dict[str, str]:
        """RQ worker name -> hostname, for every worker registered now (remembered after)."""
        assert self.valkey
        client = self.valkey.client()
        for raw in client.smembers("rq:workers"):
            key = raw.decode()
            hostname = client.hget(key, "hostname")
            if hostname:
                self._worker_hosts_seen[key.split("rq:worker:", 1)[-1]] = hostname.decode()
        return dict(self._worker_hosts_seen)

    def job_host(self, task: str) -> str | None:
        """The hostname of the RQ worker that has (or last had) the job, from Redis."""
        assert self.valkey
        name = self.valkey.client().hget(f"rq:job:{task}", "worker_name")
        if not name:
            return None
        self.registered_workers()
        return self._worker_hosts_seen.get(name.decode())

    def job_runs(self, task: str) -> list[tuple[str, str | None]]:
        """Each run of the job as RQ recorded it: (what ``run_generation`` returned, the host
        of the worker that ran it). Outcomes are ``complete``, ``superseded``,
        ``failed-<code>``..., or ``error`` for an exception."""
        assert self.valkey
        from rq.job import Job
        from rq.results import Result
        from rq.serializers import JSONSerializer

        try:
            # Folio's queue writes jobs as JSON (documents/queue.py), never pickle.
            job = Job.fetch(task, connection=self.valkey.client(), serializer=JSONSerializer)
            results = job.results()
        except Exception:
            return []
        self.registered_workers()
        return [
            (
                str(r.return_value) if r.type == Result.Type.SUCCESSFUL else "error",
                self._worker_hosts_seen.get(r.worker_name),
            )
            for r in results
        ]

    def job_results(self, task: str) -> list[str]:
        """The outcomes of every run of the job, sorted."""
        return sorted(outcome for outcome, _ in self.job_runs(task))

    def completed_by(self, task: str) -> str | None:
        """The host whose run completed the job (None if no run did)."""
        hosts = [host for outcome, host in self.job_runs(task) if outcome == "complete"]
        return hosts[0] if len(hosts) == 1 else None

    def host(self, name: str) -> Host:
        return next(h for h in self.network.hosts if h.name == name)

    def api(self) -> Api:
        assert self.web
        api = Api(self.web.ip)
        api.login(USERNAME, self.user_password)
        return api

    # -- what the shared services say --
    def rows(self, ids: Iterable[str]) -> dict[str, Row]:
        assert self.postgres
        ids = list(ids)
        with self.postgres.connect() as conn:
            cursor = conn.execute(
                "SELECT id::text, status, attempts, error_code, output_key, started_at, "
                "finished_at, created_at FROM documents_generateddocument "
                "WHERE id::text = ANY(%s)",
                (ids,),
            )
            return {r[0]: Row(*r) for r in cursor.fetchall()}

    def wait_terminal(self, ids: Iterable[str], timeout: float) -> dict[str, Row]:
        ids = list(ids)

        def done() -> dict[str, Row] | None:
            rows = self.rows(ids)
            ok = len(rows) == len(ids) and all(r.status in TERMINAL for r in rows.values())
            return rows if ok else None

        return wait_for(done, timeout, 0.25) or self.rows(ids)

    def output_keys(self, task: str) -> list[str]:
        """Every object in the bucket that is an output of ``task`` (any attempt)."""
        assert self.s3
        return [k for k in self.s3.object_keys() if f"/output/{task}" in k]

    def worker_log(self, host: Host) -> str:
        return "\n".join(p.output(200_000) for p in host.procs)

    # -- the end --
    def close(self, *, keep_files: bool = False) -> None:
        """Remove everything this cluster made; its own work directory (the hosts' logs and
        data) too, unless ``keep_files``."""
        with contextlib.suppress(Exception):
            self.network.close()
        for service in (self.s3, self.valkey, self.postgres):
            if service is not None:
                with contextlib.suppress(Exception):
                    service.stop()
        with contextlib.suppress(Exception):
            self.network.sweep()
        if self._own_workdir and not keep_files:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def remove_hosts(self) -> None:
        """Every host gone (services kept): the next test starts from fresh machines."""
        for host in list(self.network.hosts):
            self.network.remove_host(host, graceful=3)
        self.web = None
        self.workers = []


# --- sources and scenarios (shared by the tests and bench/cluster.py) ----------------------------

SLOW_STEPS_DIR = Path(__file__).resolve().parent / "slow_steps"


def slow_steps(seconds: float) -> dict[str, str]:
    """Test-only environment for a worker host whose pipeline steps pause ``seconds`` each, so
    a test can act "mid-job" with the unit's command line unchanged (slow_steps/sitecustomize.py).
    """
    return {
        "FOLIO_TEST_SLOW_STEP_SECONDS": str(seconds),
        "PYTHONPATH": f"{SLOW_STEPS_DIR}:{ROOT}",
    }


def protocol_docx(tag: str = "") -> bytes:
    """The test suite's small protocol as a .docx; ``tag`` makes its content (and sha256) unique,
    so each upload is extracted afresh instead of coming from the extraction cache."""
    import docx

    from tests.fixtures.builders import build_protocol_docx

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "protocol.docx"
        build_protocol_docx(path)
        if tag:
            document = docx.Document(str(path))
            document.add_paragraph(f"Document reference {tag}.")
            document.save(str(path))
        return path.read_bytes()


def protocol_pdf(tag: str, copies: int = 16) -> bytes:
    """A protocol PDF of ``copies`` x 6 pages (the test suite's small protocol, repeated) and a
    last page naming ``tag``, so its content (and sha256) is unique: 16 copies make 97 pages,
    about the size of a real protocol."""
    import io

    from pypdf import PdfWriter

    from tests.fixtures.builders import build_plain_pdf, build_protocol_pdf

    with tempfile.TemporaryDirectory() as tmp:
        protocol, tag_page = Path(tmp) / "protocol.pdf", Path(tmp) / "tag.pdf"
        build_protocol_pdf(protocol)
        build_plain_pdf(tag_page, f"Document reference {tag}.")
        writer = PdfWriter()
        for _ in range(copies):
            writer.append(str(protocol))
        writer.append(str(tag_page))
        out = io.BytesIO()
        writer.write(out)
        return out.getvalue()


def job_ok_lines(log: str, task: str) -> int:
    """How many times an RQ worker log says it finished ``task`` successfully."""
    return log.count(f"Job OK ({task})")


@dataclass
class LostHost:
    """What happened to a job whose worker host was lost (killed or cut off) mid-job."""

    how: str
    task: str
    other_task: str
    victim: str
    processes_killed: int
    noticed_after: float | None  # seconds from the loss until the row left its attempt
    restored_after: float | None  # seconds from the loss until the link came back (cut only)
    terminal_after: float | None  # seconds from the loss until the row was terminal
    rows: dict[str, Row]
    finished_by: str | None
    outputs: dict[str, list[str]]
    job_ok: dict[str, dict[str, int]]  # task -> host -> "Job OK" lines
    results: dict[str, list[str]]  # task -> what each run returned (RQ's records)
    victim_worker_alive: bool
    health_after: dict[str, Any]

    @property
    def row(self) -> Row:
        return self.rows[self.task]


def lose_worker_host(
    cluster: Cluster,
    api: Api,
    file_path: str,
    *,
    how: str,
    into_job: float = 1.0,
    timeout: float = 120,
    settle: float = 45,
) -> LostHost:
    """Submit two jobs (one per worker host), then lose the host of the first one mid-job.

    ``how="kill"`` SIGKILLs every process of that host; ``how="cut"`` takes its link down and
    brings it back as soon as the row has left the lost attempt (retried or failed), so the old
    attempt comes back to life while the new one runs. Waits until both rows are terminal and,
    for a cut, until the victim's work horse is gone (``settle`` seconds at most).
    """
    if how not in {"kill", "cut"}:
        raise ValueError(how)
    task = api.generate(file_path, f"Lost host ({how})", SHORT_OUTLINE)
    other = api.generate(file_path, f"Bystander ({how})", SHORT_OUTLINE)

    def both_running() -> bool:
        rows = cluster.rows([task, other])
        if len(rows) < 2 or any(r.status != "Generating" for r in rows.values()):
            return False
        return bool(cluster.job_host(task) and cluster.job_host(other))

    if not wait_for(both_running, 60, 0.1):
        raise RuntimeError(f"the two jobs did not start: {cluster.rows([task, other])}")
    victim = cluster.host(str(cluster.job_host(task)))
    time.sleep(into_job)
    first_attempt = cluster.rows([task])[task].attempts
    lost_at = time.monotonic()
    killed = 0
    if how == "kill":
        killed = victim.kill_all()
    else:
        victim.link_down()
    noticed = restored = terminal = None
    try:
        while time.monotonic() - lost_at < timeout:
            row = cluster.rows([task])[task]
            elapsed = time.monotonic() - lost_at
            if noticed is None and (row.status != "Generating" or row.attempts != first_attempt):
                noticed = elapsed
            if how == "cut" and restored is None and noticed is not None:
                victim.link_up()
                restored = time.monotonic() - lost_at
            if row.status in TERMINAL:
                terminal = elapsed
                break
            time.sleep(0.2)
    finally:
        if how == "cut" and restored is None:
            victim.link_up()
            restored = time.monotonic() - lost_at
    rows = cluster.wait_terminal([task, other], timeout)
    worker_procs = [p for p in victim.procs if "rqworker" in p.argv]
    if how == "cut":
        # The old attempt's work horse resumes (its worker may be gone); wait until it ends.
        def horse_gone() -> bool:
            return not work_horses(victim)

        wait_for(horse_gone, settle, 0.25)
    hosts = [h for h in cluster.network.hosts if h is not cluster.web]
    # The row is Complete when the work horse commits it; RQ records the run (its result, the
    # worker's "Job OK" line) a moment later, in the worker's parent process. Read what RQ says
    # only once it has said it (a niced worker on a busy machine took long enough to race).
    complete = [t for t in (task, other) if rows[t].status == "Complete"]

    def recorded() -> bool:
        return all(
            cluster.completed_by(t) is not None
            and sum(job_ok_lines(cluster.worker_log(h), t) for h in hosts) >= 1
            for t in complete
        )

    wait_for(recorded, settle, 0.2)
    return LostHost(
        how=how,
        task=task,
        other_task=other,
        victim=victim.name,
        processes_killed=killed,
        noticed_after=noticed,
        restored_after=restored,
        terminal_after=terminal,
        rows=rows,
        finished_by=cluster.completed_by(task),
        outputs={t: cluster.output_keys(t) for t in (task, other)},
        job_ok={
            t: {h.name: job_ok_lines(cluster.worker_log(h), t) for h in hosts}
            for t in (task, other)
        },
        results={t: cluster.job_results(t) for t in (task, other)},
        victim_worker_alive=any(p.alive() for p in worker_procs),
        health_after=api.healthz()[1],
    )


def work_horses(host: Host) -> list[int]:
    """The RQ work horses running on ``host``: RQ forks each into a process group of its own
    (the worker's other child, the scheduler, stays in the worker's group)."""
    horses = []
    for pid in host.pids():
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        state, ppid, pgrp = fields[0], int(fields[1]), int(fields[2])
        if state == "Z" or pgrp != pid:
            continue
        if any(proc.pid == ppid for proc in host.procs) or ppid == 1:
            horses.append(pid)
    return horses
