"""``manage.py reconcile [--loop [SECONDS]] [--stale-after SECONDS]``: run the job reconciler.

Every worker already runs it when it starts and every ``FOLIO_RECONCILE_SECONDS``; this command
runs it outside the workers, so lost jobs are still retried or failed when every worker is busy,
dead or cut off: once (for cron, or an operator after an incident), or in a loop as a service of
its own (``deploy/systemd/folio-reconciler.service``; a bare ``--loop`` runs a pass every
``FOLIO_RECONCILE_SECONDS``). In a loop a failed pass (database or Redis unreachable) is logged
and the next pass runs on time: the loop never exits on its own. It is safe beside the workers:
passes never act twice on one row (``documents.reconciler.reconcile``).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from documents.reconciler import reconcile

logger = logging.getLogger(__name__)

# ``--loop`` given without a value.
EVERY_RECONCILE_SECONDS = -1


class Command(BaseCommand):
    help = "Retry, fail or re-enqueue generation jobs whose worker or queue entry was lost."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--loop",
            type=int,
            nargs="?",
            const=EVERY_RECONCILE_SECONDS,
            default=0,
            metavar="SECONDS",
            help="run a pass every SECONDS until stopped (no value: every "
            "FOLIO_RECONCILE_SECONDS; default: one pass)",
        )
        parser.add_argument(
            "--stale-after",
            type=int,
            default=None,
            metavar="SECONDS",
            help="heartbeat age after which a Generating row counts as dead "
            "(default: FOLIO_STALE_JOB_SECONDS)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        every = int(options["loop"])
        if every == EVERY_RECONCILE_SECONDS:
            every = int(settings.FOLIO_RECONCILE_SECONDS)
        elif every < 0:
            raise CommandError(f"--loop must be a positive number of seconds, got {every}")
        if not every:
            self._pass(options["stale_after"], quiet=False)
            return
        self.stdout.write(f"Reconciling every {every} s")
        self.stdout.flush()
        try:
            while True:
                started = time.monotonic()
                try:
                    self._pass(options["stale_after"], quiet=True)
                except Exception:  # the next pass may find the database or Redis back
                    logger.exception("Reconciler pass failed; next pass in %s s", every)
                    connections.close_all()
                time.sleep(max(0.0, every - (time.monotonic() - started)))
        except KeyboardInterrupt:
            return

    def _pass(self, stale_after: int | None, *, quiet: bool) -> None:
        """One pass; in a loop (``quiet``) only a pass that changed something is reported."""
        try:
            counts = reconcile(stale_after=stale_after)
        finally:
            connections.close_all()
        if quiet and not any(counts.values()):
            return
        self.stdout.write(f"failed {counts['failed']}, requeued {counts['requeued']}")
        self.stdout.flush()
