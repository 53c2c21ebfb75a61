"""A test worker whose jobs pause at every pipeline step, so fault tests can act "mid-job".

``FOLIO_TEST_SLOW_STEP_SECONDS`` (set by ``start_worker(FOLIO_TEST_SLOW_STEP_SECONDS="1")``) is
the pause, on entering each step. The product knows nothing of it: this module wraps
``documents.pipeline.run.run_pipeline`` in the worker process (the job looks it up at call time),
and the forked work horses inherit the wrapper.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from typing import Any

from documents.pipeline import run
from documents.worker import FolioWorker

SLOW_STEP_ENV = "FOLIO_TEST_SLOW_STEP_SECONDS"
# The pause at the start of every extraction in its limited child process (to kill the horse
# while that child runs).
SLOW_CHILD_ENV = "FOLIO_TEST_SLOW_CHILD_SECONDS"
logger = logging.getLogger(__name__)


def _slow_step_seconds(name: str = SLOW_STEP_ENV) -> float:
    try:
        return max(0.0, float(os.environ.get(name, "").strip() or 0))
    except ValueError:
        return 0.0


def _slowed(run_pipeline: Any, seconds: float) -> Any:
    @functools.wraps(run_pipeline)
    def wrapper(inp: Any, *, report: Any, **kwargs: Any) -> Any:
        entered: set[str] = set()

        def slow_report(step: str, *args: Any, **kw: Any) -> None:
            report(step, *args, **kw)
            if step not in entered:
                entered.add(step)
                time.sleep(seconds)

        return run_pipeline(inp, report=slow_report, **kwargs)

    return wrapper


def _delayed(func: Any, seconds: float) -> Any:
    """``func``, entered ``seconds`` late on every call."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        time.sleep(seconds)
        return func(*args, **kwargs)

    return wrapper


SLOW = _slow_step_seconds()
if SLOW:
    logger.warning("%s=%s: test-only slow steps are on", SLOW_STEP_ENV, SLOW)
    run.run_pipeline = _slowed(run.run_pipeline, SLOW)


SLOW_CHILD = _slow_step_seconds(SLOW_CHILD_ENV)
if SLOW_CHILD:
    from documents.pipeline.extract import dispatch

    logger.warning("%s=%s: test-only slow extraction children", SLOW_CHILD_ENV, SLOW_CHILD)
    dispatch._extract_in_child = _delayed(dispatch._extract_in_child, SLOW_CHILD)


# The length of every reconciler pass (a stop request arriving during one must not be lost).
SLOW_RECONCILE_ENV = "FOLIO_TEST_SLOW_RECONCILE_SECONDS"
SLOW_RECONCILE = _slow_step_seconds(SLOW_RECONCILE_ENV)
if SLOW_RECONCILE:
    import documents.worker as folio_worker

    logger.warning("%s=%s: test-only slow reconciler passes", SLOW_RECONCILE_ENV, SLOW_RECONCILE)
    folio_worker.reconcile = _delayed(folio_worker.reconcile, SLOW_RECONCILE)


class SlowStepWorker(FolioWorker):
    """Folio's worker, importing this module (and so its pauses) first."""
