"""``manage.py runstack``: the whole stack in one foreground process, for ``make run``.

1. Takes the lock on ``FOLIO_DATA_DIR`` (one stack per data directory).
2. Migrates (which loads the built-in templates) and ensures the demo login (debug mode only).
3. Starts the embedded valkey-server with persistence unless ``REDIS_URL`` is set, and records its
   URL in ``FOLIO_DATA_DIR/redis.url`` for every other ``manage.py`` process.
4. Starts one RQ worker (``documents.worker.FolioWorker``, falling back to RQ's own class when that
   module cannot be imported) and the web server on ``127.0.0.1:$PORT``.
5. Prints the URL and the demo login, then watches. A worker that exits on its own is started
   again (at most ``WORKER_RESTARTS`` times in ``WORKER_RESTART_WINDOW`` seconds; past that it
   is broken, not unlucky). Ctrl-C (SIGINT), SIGTERM or SIGHUP, the web server exiting, or a
   worker that keeps exiting, stops everything in order: web, worker (warm shutdown with a grace
   period, then cold), queue server, URL file. A second Ctrl-C skips the grace period.

Children run in their own process groups, so the terminal's Ctrl-C reaches only this process, which
then stops them in that order; on Linux they also get SIGTERM if this process dies, so nothing is
orphaned. ``--worker-only`` replaces this process with a single worker (``make worker``).
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.module_loading import import_string

from portal import embedded_redis
from portal.env import ImproperEnvironment, env_int, private_file
from portal.processes import descendants, isolated_popen_kwargs, kill_if_same

WORKER_CLASS = "documents.worker.FolioWorker"
QUEUE_NAME = "default"
LOCK_FILE_NAME = "runstack.lock"
WEB_START_TIMEOUT = 60.0
WORKER_GRACE_SECONDS = 10.0
KILL_WAIT_SECONDS = 5.0
# A worker that exits is started again, unless it exited this often within the window.
WORKER_RESTARTS = 5
WORKER_RESTART_WINDOW = 120.0


def worker_class_or_none(stdout: TextIO | None = None) -> str | None:
    """Folio's worker class; None (RQ's default class) only while its module does not exist.

    A module that exists but fails to import is a bug: the worker is started with the class
    anyway, fails with the traceback, and the stack stops saying so.
    """
    module = WORKER_CLASS.rsplit(".", 1)[0]
    try:
        found = importlib.util.find_spec(module) is not None
    except ImportError:
        found = False
    if not found:
        if stdout is not None:
            stdout.write(f"Note: {module} does not exist yet; using RQ's default worker class.\n")
        return None
    return WORKER_CLASS


def worker_command(worker_class: str | None) -> list[str]:
    command = [
        sys.executable,
        str(Path(settings.BASE_DIR) / "manage.py"),
        "rqworker",
        QUEUE_NAME,
        "--with-scheduler",
    ]
    if worker_class:
        command += ["--worker-class", worker_class]
    return command


def wait_for_port(host: str, port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass
class Child:
    """A process of the stack, in its own process group."""

    name: str
    process: subprocess.Popen[bytes]
    tree: dict[int, str] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def signal(self, sig: signal.Signals, *, group: bool = False) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if group:
                os.killpg(self.pid, sig)
            else:
                os.kill(self.pid, sig)

    def wait(self, timeout: float) -> bool:
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def kill_everything(self) -> None:
        """SIGKILL the child, its process group and every descendant (RQ's work horse has its
        own process group)."""
        self.tree.update(descendants(self.pid))
        self.signal(signal.SIGKILL, group=True)
        kill_if_same(self.tree)
        self.wait(KILL_WAIT_SECONDS)


class Stack:
    def __init__(self, command: Command, *, host: str, port: int) -> None:
        self.command = command
        self.host = host
        self.port = port
        self.data_dir = Path(settings.DATA_DIR)
        self.redis: embedded_redis.EmbeddedRedis | None = None
        self.redis_url = ""
        self.web: Child | None = None
        self.worker: Child | None = None
        self.stop_requests = 0

    # --- output ---------------------------------------------------------------------------------
    # A closed terminal (SIGHUP) makes every write fail: that must never stop the clean-up.
    def say(self, message: str) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.command.stdout.write(message)
            self.command.stdout.flush()

    def warn(self, message: str) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.command.stderr.write(message)
            self.command.stderr.flush()

    # --- signals --------------------------------------------------------------------------------
    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # Only count: writing from a signal handler can collide with a write in progress.
        self.stop_requests += 1

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self._on_signal)

    @property
    def stopping(self) -> bool:
        return self.stop_requests > 0

    # --- start ----------------------------------------------------------------------------------
    def child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        env["REDIS_URL"] = self.redis_url
        env["FOLIO_DATA_DIR"] = str(self.data_dir)
        return env

    def spawn(self, name: str, argv: list[str]) -> Child:
        process = subprocess.Popen(
            argv,
            env=self.child_env(),
            cwd=str(settings.BASE_DIR),
            stdin=subprocess.DEVNULL,
            **isolated_popen_kwargs(),
        )
        return Child(name=name, process=process)

    def prepare_database(self, verbosity: int) -> None:
        self.say("==> Migrating the database (loads the built-in templates)")
        call_command("migrate", interactive=False, verbosity=verbosity)
        try:
            call_command("ensure_demo", verbosity=verbosity)
        except CommandError as exc:
            self.warn(f"Warning: {exc}")

    def start_queue(self) -> None:
        if settings.REDIS_URL_SETTING:
            self.redis_url = settings.REDIS_URL_SETTING
            if not embedded_redis.ping(self.redis_url):
                self.warn(
                    f"Warning: REDIS_URL ({embedded_redis.redact_url(self.redis_url)}) does not "
                    "answer yet; "
                    "the worker and the web server will keep trying."
                )
            return
        valkey_dir = self.data_dir / embedded_redis.VALKEY_DIR_NAME
        stale = embedded_redis.stop_stale_server(valkey_dir)
        if stale:
            self.warn(f"Stopped a valkey-server (pid {stale}) left behind by an earlier run.")
        self.say(f"==> Starting the embedded valkey-server (data in {valkey_dir})")
        self.redis = embedded_redis.for_run(self.data_dir)
        try:
            self.redis_url = self.redis.start()
        except embedded_redis.EmbeddedRedisError as exc:
            self.redis = None
            raise CommandError(str(exc)) from exc

    def start_worker(self) -> None:
        worker_class = worker_class_or_none(self.command.stdout)
        self.say("==> Starting one RQ worker")
        self.worker = self.spawn("worker", worker_command(worker_class))

    def diagnose_worker_class(self) -> None:
        """RQ reports a worker class that fails to import as "Invalid attribute name": say why."""
        if worker_class_or_none() is None:
            return
        try:
            import_string(WORKER_CLASS)
        except Exception as exc:
            self.warn(f"{WORKER_CLASS} does not import: {type(exc).__name__}: {exc}")

    def start_web(self) -> None:
        argv = [
            sys.executable,
            str(Path(settings.BASE_DIR) / "manage.py"),
            "runserver",
            "--noreload",
            "--skip-checks",  # migrate has just run them
            f"{self.host}:{self.port}",
        ]
        if not settings.DEBUG:
            argv.insert(3, "--insecure")  # still serve the static files
        self.say(f"==> Starting the web server on http://{self.host}:{self.port}/")
        self.web = self.spawn("web server", argv)

    def wait_until_serving(self) -> bool:
        deadline = time.monotonic() + WEB_START_TIMEOUT
        while time.monotonic() < deadline and not self.stopping:
            if self.dead_child() is not None:
                return False
            if wait_for_port(self.host, self.port, 0.5):
                return True
            time.sleep(0.2)
        return False

    def health(self, wait_for_worker: float = 15.0) -> dict[str, Any] | None:
        """``/healthz``, retried until a worker has registered (or the time is up)."""
        url = f"http://{self.host}:{self.port}/healthz"
        deadline = time.monotonic() + wait_for_worker
        body: dict[str, Any] | None = None
        while not self.stopping and self.dead_child() is None:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    body = json.loads(response.read())
            except urllib.error.HTTPError as exc:
                with contextlib.suppress(ValueError):
                    body = json.loads(exc.read())
            except (OSError, ValueError):
                body = None
            if (body and body.get("workers")) or time.monotonic() > deadline:
                return body
            time.sleep(0.5)
        return body

    def banner(self, health: dict[str, Any] | None) -> None:
        base = f"http://{self.host}:{self.port}"
        queue = embedded_redis.redact_url(self.redis_url)
        if self.redis is not None:
            queue += " (embedded valkey-server, persistent)"
        lines = [
            "",
            "Folio is running.",
            f"  Portal      {base}/",
            f"  Admin       {base}/admin/",
            f"  API docs    {base}/api/docs/",
            f"  Health      {base}/healthz",
        ]
        if settings.DEBUG:
            lines.append(
                f"  Demo login  {settings.FOLIO_DEMO_USER} / {settings.FOLIO_DEMO_PASSWORD}"
                "  (template manager of the organization 'Demo')"
            )
        else:
            lines.append("  Demo login  none (debug mode is off)")
        lines += [f"  Queue       {queue}", f"  Data        {self.data_dir}"]
        if health is not None:
            summary = ", ".join(f"{key} {value}" for key, value in health.items())
            lines.append(f"  Health now  {summary}")
        lines += ["Press Ctrl-C to stop.", ""]
        self.say("\n".join(lines))

    # --- watch and stop -------------------------------------------------------------------------
    def dead_child(self) -> Child | None:
        for child in (self.web, self.worker):
            if child is not None and not child.alive():
                return child
        return None

    def watch(self) -> int:
        restarts: list[float] = []
        while not self.stopping:
            dead = self.dead_child()
            if dead is not None and dead is self.worker:
                now = time.monotonic()
                restarts = [t for t in restarts if now - t < WORKER_RESTART_WINDOW]
                if len(restarts) < WORKER_RESTARTS:
                    restarts.append(now)
                    self.warn(
                        f"The worker exited (code {dead.process.returncode}); starting it again "
                        f"({len(restarts)} of {WORKER_RESTARTS} restarts in "
                        f"{WORKER_RESTART_WINDOW:.0f} s)."
                    )
                    time.sleep(min(2.0 ** (len(restarts) - 1), 10.0) * 0.5)
                    if not self.stopping:
                        self.start_worker()
                    continue
            if dead is not None:
                self.warn(
                    f"The {dead.name} exited (code {dead.process.returncode}); stopping Folio."
                )
                return 1
            time.sleep(0.3)
        return 0

    def stop_web(self) -> None:
        if self.web is None:
            return
        self.web.signal(signal.SIGTERM, group=True)
        if not self.web.wait(KILL_WAIT_SECONDS):
            self.web.kill_everything()

    def stop_worker(self) -> None:
        worker = self.worker
        if worker is None or not worker.alive():
            return
        # The work horse is in its own process group; remember it before the worker goes.
        worker.tree = descendants(worker.pid)
        worker.signal(signal.SIGTERM)  # RQ: warm shutdown, finishes the running job
        started = time.monotonic()
        announced = False
        while worker.alive() and self.stop_requests < 2:
            waited = time.monotonic() - started
            if waited > WORKER_GRACE_SECONDS:
                break
            if not announced and waited > 3:
                self.say(
                    f"Waiting up to {WORKER_GRACE_SECONDS:.0f} s for the running job "
                    "(Ctrl-C again to stop at once)..."
                )
                announced = True
            worker.wait(0.2)
        if worker.alive():
            self.say("Stopping the worker now; its running job is abandoned.")
            # A second signal is RQ's cold shutdown: it kills the work horse (the job's row is
            # then failed by the reconciler). RQ ignores one that comes within a second.
            time.sleep(max(0.0, started + 1.2 - time.monotonic()))
            worker.tree.update(descendants(worker.pid))
            worker.signal(signal.SIGTERM)
            if not worker.wait(KILL_WAIT_SECONDS):
                worker.kill_everything()
        # Whatever outlived the worker (a horse, the scheduler) goes too.
        kill_if_same(worker.tree)

    def stop_queue(self) -> None:
        if self.redis is not None:
            self.redis.stop()
            self.redis = None

    def shutdown(self) -> None:
        # Further signals only shorten the waits below; they must not interrupt the clean-up.
        self.install_signal_handlers()
        self.say("Stopping Folio...")
        for step in (self.stop_web, self.stop_worker, self.stop_queue):
            try:
                step()
            except Exception as exc:  # keep going: the next part must still be stopped
                self.warn(f"While stopping: {exc!r}")
        self.say("Folio stopped.")

    def run(self, verbosity: int) -> int:
        if not embedded_redis.port_is_free(self.port, self.host):
            raise CommandError(
                f"Port {self.port} on {self.host} is in use; stop what uses it or run "
                f"`make run PORT=<another port>`."
            )
        self.prepare_database(verbosity)
        self.install_signal_handlers()
        try:
            self.start_queue()
            if self.stopping:
                return 0
            self.start_worker()
            self.start_web()
            if not self.wait_until_serving():
                if self.stopping:
                    return 0
                dead = self.dead_child()
                reason = (
                    f"the {dead.name} exited (code {dead.process.returncode})"
                    if dead
                    else f"nothing answered on port {self.port} within {WEB_START_TIMEOUT:.0f} s"
                )
                self.warn(f"Folio did not start: {reason}.")
                return 1
            health = self.health()
            dead = self.dead_child()
            if dead is not None:
                self.warn(
                    f"Folio did not start: the {dead.name} exited "
                    f"(code {dead.process.returncode}); its output is above."
                )
                if dead is self.worker:
                    self.diagnose_worker_class()
                return 1
            if not self.stopping:
                self.banner(health)
            return self.watch()
        finally:
            self.shutdown()


@contextlib.contextmanager
def data_dir_lock(data_dir: Path):  # type: ignore[no-untyped-def]
    """Hold an exclusive lock on the data directory; the kernel drops it if we die."""
    path = private_file(data_dir / LOCK_FILE_NAME)
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise CommandError(
            f"Another `make run` (pid {holder}) is already using {data_dir}. Stop it first, or "
            "point FOLIO_DATA_DIR at another folder."
        ) from exc
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield
    finally:
        with contextlib.suppress(OSError):
            handle.truncate(0)
        handle.close()


class Command(BaseCommand):
    help = (
        "Run Folio in the foreground: migrate, ensure the demo login, start the embedded "
        "valkey-server (unless REDIS_URL is set), one RQ worker and the web server."
    )
    requires_system_checks = []  # migrate runs them, once, with the right message

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--port", type=int, default=None, help="web port (default: $PORT, else 8000)"
        )
        parser.add_argument("--host", default="127.0.0.1", help="web address (127.0.0.1)")
        parser.add_argument(
            "--worker-only",
            action="store_true",
            help="run just one RQ worker against the configured queue (`make worker`)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["worker_only"]:
            self.exec_worker()
        try:
            port = options["port"] or env_int("PORT", 8000, minimum=1)
        except ImproperEnvironment as exc:
            raise CommandError(str(exc)) from exc
        if not 1 <= port <= 65535:
            raise CommandError(f"The port must be between 1 and 65535, got {port}.")
        data_dir = Path(settings.DATA_DIR)
        try:
            with data_dir_lock(data_dir):
                stack = Stack(self, host=options["host"], port=port)
                code = stack.run(options["verbosity"])
        except KeyboardInterrupt:  # Ctrl-C while migrating: nothing was started yet
            self.stderr.write("Interrupted.")
            code = 130
        if code:
            sys.exit(code)

    def exec_worker(self) -> None:
        """Become ``manage.py rqworker default --with-scheduler [--worker-class ...]``."""
        url = settings.REDIS_URL_SETTING or embedded_redis.read_url_file(Path(settings.DATA_DIR))
        if not url:
            raise CommandError(
                "No queue to work on: start `make run` (it starts the embedded valkey-server "
                "and records it in FOLIO_DATA_DIR) or set REDIS_URL."
            )
        argv = worker_command(worker_class_or_none(self.stdout))
        self.stdout.write(f"Starting an RQ worker on {embedded_redis.redact_url(url)}")
        self.stdout.flush()
        os.chdir(settings.BASE_DIR)
        os.execv(argv[0], argv)
