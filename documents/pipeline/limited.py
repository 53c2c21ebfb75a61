"""Running a parser with limits: a forked child with an address-space limit, a wall-clock
deadline, the parent-death signal and a deadline of its own, whose result (or failure, as a
stable ``SourceError`` code) comes back through a pipe. ``run_limited`` runs one;
``start_limited`` + ``collect_limited`` run several at once (a job's sources are extracted
side by side, ``Limits.extract_parallel``).
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import resource
import signal
import time
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from documents.pipeline.errors import GenerationError, SourceError

T = TypeVar("T")
MB = 1024 * 1024

# --------------------------------------------------------------------------------------------
# Running a parser with limits


def _address_space_bytes() -> int:
    """The current process's virtual size, so the child's limit is headroom above it."""
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[0])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


# prctl(2) option: the signal the kernel sends this process when its parent dies.
_PR_SET_PDEATHSIG = 1
# The child's own deadline is the parent's plus this (the parent normally kills it first).
CHILD_DEADLINE_GRACE_SECONDS = 5


def die_with_parent(parent_pid: int) -> None:
    """SIGKILL this process when its parent dies (Linux); exit now if it already did."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the deadline below still bounds the child
        pass
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)


def _child_main(
    conn: Any,
    func: Callable[..., Any],
    args: tuple[Any, ...],
    memory_mb: int,
    parent_end: Any = None,
    parent_pid: int | None = None,
    deadline_seconds: float | None = None,
) -> None:
    # Runs in the forked child. Nothing here may raise past the pipe: the parent learns of every
    # outcome through a message, or through the exit status when even that fails.
    try:
        # A killed parent must never leave this child behind (issue 11, fault 4): the child
        # closes its copy of the parent's end of the pipe (so a write to a dead parent fails
        # instead of blocking for ever), dies with its parent, and has its own deadline.
        if parent_end is not None:
            parent_end.close()
        if parent_pid is not None:
            die_with_parent(parent_pid)
        if deadline_seconds is not None:
            signal.signal(signal.SIGALRM, signal.SIG_DFL)  # not the work horse's timeout handler
            signal.alarm(max(1, int(deadline_seconds) + CHILD_DEADLINE_GRACE_SECONDS))
        # Objects inherited from the parent are never collected here; keeping the collector
        # off them avoids touching (and so copying) their pages.
        gc.freeze()
        limit = _address_space_bytes() + memory_mb * MB
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        message: tuple[Any, ...]
        try:
            message = ("ok", func(*args))
        except MemoryError:
            message = ("memory",)
        except GenerationError as exc:
            message = (
                "generation_error",
                type(exc).__module__,
                type(exc).__qualname__,
                exc.code,
                exc.message,
                getattr(exc, "file_name", None),
            )
        except RecursionError:
            message = ("error", "RecursionError", "")
        except BaseException as exc:
            message = ("error", type(exc).__name__, str(exc)[:500])
        try:
            conn.send(message)
        except MemoryError:
            conn.send(("memory",))
        except Exception as exc:  # an unpicklable result
            conn.send(("error", type(exc).__name__, str(exc)[:500]))
    finally:
        conn.close()


def _rebuild_generation_error(
    module: str, qualname: str, code: str, message: str, file_name: str | None
) -> GenerationError:
    import importlib

    cls: type[GenerationError] = GenerationError
    try:
        found = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
        if isinstance(found, type) and issubclass(found, GenerationError):
            cls = found
    except Exception:
        cls = SourceError if file_name else GenerationError
    exc = cls.__new__(cls)
    Exception.__init__(exc, message)
    exc.code = code
    exc.message = message
    if file_name is not None:
        exc.file_name = file_name  # type: ignore[attr-defined]
    return exc


def run_limited(
    func: Callable[..., T],
    *args: Any,
    timeout: float,
    memory_mb: int,
    file_name: str = "The file",
) -> T:
    """Run ``func(*args)`` in a forked child with a wall-clock deadline and a memory limit.

    ``memory_mb`` is the address space the child may add to what it inherits (RLIMIT_AS is set
    to the inherited virtual size plus this). On timeout the child is killed and
    ``processing_timeout`` is raised; a MemoryError in the child, or the child being killed by a
    signal, gives ``resource_limit_exceeded``. A ``GenerationError`` raised in the child is
    re-raised as is; any other exception becomes ``unreadable_document`` naming the file.
    The function and its result must be picklable (the result comes back through a pipe).
    The child dies with the calling process (parent-death signal) and on its own after
    ``timeout`` plus a grace period, so a killed work horse never leaves it behind.
    """
    return start_limited(
        func, *args, timeout=timeout, memory_mb=memory_mb, file_name=file_name
    ).result()


class LimitedChild(Generic[T]):
    """A ``run_limited`` child that was started and whose result is collected later, so that
    several can run at once (``collect_limited``)."""

    def __init__(self, proc: Any, conn: Any, deadline: float, file_name: str) -> None:
        self.proc, self.conn, self.deadline, self.file_name = proc, conn, deadline, file_name
        self.message: tuple[Any, ...] | None = None
        self.done = False

    def receive(self) -> None:
        """Read the child's message (it is ready, or the child is gone) and reap the child."""
        try:
            self.message = self.conn.recv()
        except (EOFError, OSError):
            self.message = None
        except MemoryError:
            self.message = ("memory",)
        self._finish()

    def give_up(self) -> None:
        """The deadline passed: kill the child."""
        _kill(self.proc)
        self.message = ("timeout",)
        self._finish()

    def _finish(self) -> None:
        self.done = True
        self.conn.close()
        self.proc.join(timeout=5)
        if self.proc.is_alive():
            _kill(self.proc)

    def result(self) -> T:
        if not self.done:
            if self.conn.poll(max(0.0, self.deadline - time.monotonic())):
                self.receive()
            else:
                self.give_up()
        return self._outcome()

    def _outcome(self) -> T:
        message, file_name, proc = self.message, self.file_name, self.proc
        if message is None:
            # The child died without a word: killed by a signal (the kernel's OOM killer, or a
            # C allocation failing under RLIMIT_AS and aborting) or exited abruptly.
            if proc.exitcode is not None and proc.exitcode < 0:
                raise SourceError(file_name, "resource_limit_exceeded")
            raise SourceError(file_name, "unreadable_document")
        kind = message[0]
        if kind == "ok":
            return message[1]  # type: ignore[no-any-return]
        if kind == "timeout":
            raise SourceError(file_name, "processing_timeout")
        if kind == "memory":
            raise SourceError(file_name, "resource_limit_exceeded")
        if kind == "generation_error":
            raise _rebuild_generation_error(*message[1:])
        raise SourceError(file_name, "unreadable_document")


def start_limited(
    func: Callable[..., T],
    *args: Any,
    timeout: float,
    memory_mb: int,
    file_name: str = "The file",
) -> LimitedChild[T]:
    """Start ``run_limited``'s child and return at once; ``.result()`` waits for it."""
    ctx = multiprocessing.get_context("fork")
    parent_conn, child_conn = ctx.Pipe(duplex=False)
    # Not a daemon: daemonic processes may not have children, and callers may be daemons
    # themselves. The child is always joined or killed (``LimitedChild``).
    proc = ctx.Process(
        target=_child_main,
        args=(child_conn, func, args, memory_mb, parent_conn, os.getpid(), timeout),
    )
    proc.start()
    child_conn.close()
    return LimitedChild(proc, parent_conn, time.monotonic() + timeout, file_name)


def collect_limited(children: Sequence[LimitedChild[Any]]) -> None:
    """Wait for every started child at once, reading each message as soon as it is ready (a
    child never waits on a full pipe for a sibling to finish) and killing each child whose
    deadline passes. Afterwards each child's ``.result()`` returns or raises at once."""
    from multiprocessing.connection import wait

    pending = [c for c in children if not c.done]
    while pending:
        now = time.monotonic()
        for child in [c for c in pending if c.deadline <= now]:
            child.give_up()
        pending = [c for c in pending if not c.done]
        if not pending:
            break
        ready = wait([c.conn for c in pending], timeout=min(c.deadline for c in pending) - now)
        for child in pending:
            if child.conn in ready:
                child.receive()
        pending = [c for c in pending if not c.done]


def _kill(proc: Any) -> None:
    with contextlib.suppress(ProcessLookupError, OSError):
        if proc.pid is not None:
            os.kill(proc.pid, signal.SIGKILL)
    proc.join(timeout=5)
