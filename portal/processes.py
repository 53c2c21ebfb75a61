"""Process helpers of the site shell, shared by ``runstack`` (the ``make run`` supervisor) and
``embedded_redis`` (the embedded valkey): a process's identity (pid + start time, since pids are
reused), its tree of descendants, killing only the processes that are still the ones recorded,
the command line of a pid, and the ``Popen`` options of a child that dies with its parent.

Built on psutil (portable, and no hand parsing of ``/proc``). The parent-death signal is Linux's
``prctl(PR_SET_PDEATHSIG)``, which psutil does not offer; elsewhere the child simply lacks it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

import psutil

_GONE = (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess)


def process_identity(pid: int) -> str | None:
    """The process's start time: with the pid, it tells a process from a later one. None when
    the process is gone (or a zombie)."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return repr(proc.create_time())
    except _GONE:
        return None


def descendants(pid: int) -> dict[int, str]:
    """Every live descendant of ``pid`` with its identity (empty when ``pid`` is gone)."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except _GONE:
        return {}
    found: dict[int, str] = {}
    for child in children:
        identity = process_identity(child.pid)
        if identity is not None:
            found[child.pid] = identity
    return found


def kill_if_same(processes: dict[int, str]) -> None:
    """SIGKILL each process that is still the one recorded (pids get reused)."""
    for pid, identity in processes.items():
        if process_identity(pid) == identity:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def process_command(pid: int) -> str:
    """The command line of ``pid`` joined by spaces ("" when it is gone or not ours to read)."""
    try:
        return " ".join(psutil.Process(pid).cmdline())
    except _GONE:
        return ""


def _parent_death_signal() -> Callable[[], None] | None:
    """A ``preexec_fn`` that asks Linux to SIGTERM the child when its parent dies."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)
        # The parent may have died between fork and prctl: then nobody would signal us.
        if os.getppid() != parent:
            os._exit(1)

    return preexec


def isolated_popen_kwargs() -> dict[str, Any]:
    """Popen arguments for a child that ignores the terminal's Ctrl-C and dies with its parent."""
    # umask 077: whatever the child writes (valkey's append-only file and log, uploads, the
    # database) is the owner's alone, whatever the terminal's umask.
    kwargs: dict[str, Any] = {"process_group": 0, "umask": 0o077}
    preexec = _parent_death_signal()
    if preexec is not None:
        kwargs["preexec_fn"] = preexec
    return kwargs
