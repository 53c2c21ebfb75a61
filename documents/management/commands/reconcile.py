"""``manage.py reconcile [--loop SECONDS] [--stale-after SECONDS]``: run the job reconciler.

Every worker already runs it when it starts and every ``FOLIO_RECONCILE_SECONDS``; this command
is for cron or a sidecar (``--loop``) when workers may all be busy or down, and for operators
after an incident (Redis restarted without persistence, workers lost). It is safe to run beside
the workers: passes never act twice on one row (documents/jobs.py ``reconcile``).
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import connections

from documents.reconciler import reconcile


class Command(BaseCommand):
    help = "Retry, fail or re-enqueue generation jobs whose worker or queue entry was lost."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--loop",
            type=int,
            default=0,
            metavar="SECONDS",
            help="run a pass every SECONDS until interrupted (default: one pass)",
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
        every = max(0, int(options["loop"]))
        while True:
            counts = reconcile(stale_after=options["stale_after"])
            connections.close_all()
            self.stdout.write(f"failed {counts['failed']}, requeued {counts['requeued']}")
            if not every:
                return
            try:
                time.sleep(every)
            except KeyboardInterrupt:
                return
