"""Test-only: pipeline steps that pause on the cluster's worker hosts, with the unit's own command.

The cluster tests need jobs that are reliably "mid-job" when they kill or cut off a host, but the
worker hosts must run ``folio-worker@.service``'s command line unchanged. So instead of another
worker class, a worker host given ``FOLIO_TEST_SLOW_STEP_SECONDS`` also gets this directory and
the checkout on ``PYTHONPATH``: Python imports this module when the interpreter starts, and it
wraps ``documents.pipeline.run.run_pipeline`` (which the job looks up when it runs) so that each
step sleeps that many seconds when entered. The forked work horses inherit the wrapper. Nothing
of this ships: it lives under ``tests/`` and the product never reads the variable
(tests/reliability/slow_worker.py does the same for the single-machine fault tests).
"""

from __future__ import annotations

import functools
import os
import sys
import time
from typing import Any

SLOW_STEP_ENV = "FOLIO_TEST_SLOW_STEP_SECONDS"


def _seconds() -> float:
    try:
        return max(0.0, float(os.environ.get(SLOW_STEP_ENV, "").strip() or 0))
    except ValueError:
        return 0.0


def _install(seconds: float) -> None:
    from documents.pipeline import run  # the pipeline imports no Django: safe this early

    original = run.run_pipeline

    @functools.wraps(original)
    def run_pipeline(inp: Any, *, report: Any, **kwargs: Any) -> Any:
        entered: set[str] = set()

        def slow_report(step: Any, *args: Any, **kw: Any) -> None:
            report(step, *args, **kw)
            if step not in entered:
                entered.add(step)
                time.sleep(seconds)

        return original(inp, report=slow_report, **kwargs)

    run.run_pipeline = run_pipeline
    print(f"{SLOW_STEP_ENV}={seconds}: test-only slow steps are on", file=sys.stderr)


if _seconds():
    _install(_seconds())
