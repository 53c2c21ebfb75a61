"""The RQ worker Folio runs: ``manage.py rqworker default --worker-class documents.worker.FolioWorker``.

- Imports the heavy libraries (pypdf, python-docx, bm25s, numpy) once in the parent, so each
  forked work horse starts with them loaded instead of importing them per job.
- Closes the parent's database connections before forking, so a horse never shares a socket.
- Fails the row when a horse is killed (SIGKILL/OOM), which RQ's ``on_failure`` does not cover.
- Runs the reconciler when it starts and then on every maintenance pass.
"""

from __future__ import annotations

import logging

from django.db import connections
from rq.worker import Worker

from documents import jobs
from documents.pipeline import run as _preload_pipeline  # noqa: F401  (heavy imports, once)

logger = logging.getLogger(__name__)


class FolioWorker(Worker):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("work_horse_killed_handler", jobs.on_work_horse_killed)
        super().__init__(*args, **kwargs)

    def fork_work_horse(self, job, queue):
        connections.close_all()
        return super().fork_work_horse(job, queue)

    def bootstrap(self, *args, **kwargs):
        super().bootstrap(*args, **kwargs)
        self._reconcile()

    def clean_registries(self):
        super().clean_registries()
        self._reconcile()

    def _reconcile(self) -> None:
        try:
            counts = jobs.reconcile()
            if any(counts.values()):
                logger.warning("Reconciler: %s", counts)
        except Exception:  # the worker must keep working even if a pass fails
            logger.exception("Reconciler pass failed")
        finally:
            connections.close_all()
