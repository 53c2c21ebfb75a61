"""A document reached a terminal state: tell the organization's webhooks (docs/api.md, "Webhooks").

Every terminal write of a document's row (``services/job_state.py``: Complete, Failed,
Cancelled at a step boundary; ``services/generation.py``: cancelled while Pending, or failed
because the queue was down) calls ``document_ended`` once the write changed the row, so each
document gives one event. Once the transaction commits, the event body is built here and one
delivery job per subscribed webhook is queued (``portal/webhooks/jobs.py`` sends and retries
it); the request or job that ended the document never waits for a receiver.
"""

from __future__ import annotations

import json
import logging
import uuid
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from documents import queue
from documents.models import GeneratedDocument

logger = logging.getLogger(__name__)

EVENTS = {
    GeneratedDocument.Status.COMPLETE: "document.complete",
    GeneratedDocument.Status.FAILED: "document.failed",
    GeneratedDocument.Status.CANCELLED: "document.cancelled",
}


def document_ended(document_id: Any) -> None:
    """Queue the webhook deliveries of this document's terminal state, after commit."""
    transaction.on_commit(partial(_publish, str(document_id)))


def event_body(document: GeneratedDocument) -> dict[str, Any]:
    complete = document.status == GeneratedDocument.Status.COMPLETE
    download = None
    if complete:
        download = settings.FOLIO_PUBLIC_URL + reverse("document_download", args=[document.id])
    occurred = document.finished_at or timezone.now()
    return {
        "event": EVENTS[document.status],
        "document_id": str(document.id),
        "status": document.status,
        "error_code": document.error_code,
        "download_url": download,
        "occurred_at": occurred.isoformat().replace("+00:00", "Z"),
    }


def _publish(document_id: str) -> None:
    from portal.webhooks.services import webhooks_for_event

    try:
        document = GeneratedDocument.objects.filter(pk=document_id).first()
        if document is None or document.status not in EVENTS:
            return
        hooks = webhooks_for_event(
            organization_id=document.organization_id, event=EVENTS[document.status]
        )
        if not hooks:
            return
        body = json.dumps(event_body(document), separators=(",", ":"), sort_keys=True)
        event_id = str(uuid.uuid4())
        for hook in hooks:
            queue.enqueue_webhook_delivery(str(hook.id), event_id, EVENTS[document.status], body)
    except queue.QueueError:
        logger.warning("Queue unavailable: webhook events of document %s not sent", document_id)
    except Exception:  # a webhook must never change how a document ends
        logger.exception("Could not queue the webhook events of document %s", document_id)
