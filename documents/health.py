"""Is the queue being served? What ``/healthz`` reports about the workers and the waiting rows.

Cheap and bounded: one indexed query (the oldest Pending row; the number of Pending rows is
capped by ``FOLIO_MAX_QUEUED_JOBS``) and the queue client's short timeouts, which a frozen Redis
trips once per ``queue.QUEUE_DOWN_HOLD_SECONDS`` rather than once per request.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Min
from django.utils import timezone

from documents import queue
from documents.models import GeneratedDocument


def oldest_pending_seconds() -> int | None:
    """Seconds the longest-waiting Pending row has waited since it became Pending (None: none)."""
    oldest = GeneratedDocument.objects.filter(status=GeneratedDocument.Status.PENDING).aggregate(
        oldest=Min("updated_at")
    )["oldest"]
    if oldest is None:
        return None
    return max(0, int((timezone.now() - oldest).total_seconds()))


def queue_service() -> dict[str, Any]:
    """``{"queue": "ok"|"down", "workers": n, "oldest_pending_seconds": s|None, "served": bool,
    "problem": str|None}``: ``served`` is False when the queue is down, no worker is alive, or the
    oldest Pending row waited longer than ``FOLIO_QUEUE_STALL_SECONDS``."""
    reachable, workers = queue.queue_health()
    waited = oldest_pending_seconds()
    limit = int(settings.FOLIO_QUEUE_STALL_SECONDS)
    problem = None
    if not reachable:
        problem = "The queue (Redis) does not answer."
    elif workers == 0:
        problem = "No worker is alive: queued documents are not being generated."
    elif waited is not None and waited > limit:
        problem = (
            f"The oldest queued document has waited {waited} s "
            f"(FOLIO_QUEUE_STALL_SECONDS is {limit} s): the workers are not keeping up."
        )
    return {
        "queue": "ok" if reachable else "down",
        "workers": workers,
        "oldest_pending_seconds": waited,
        "served": problem is None,
        "problem": problem,
    }
