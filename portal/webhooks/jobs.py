"""The RQ job that delivers one webhook event: ``deliver(webhook_id, event_id, event, body)``.

Each run is one attempt, logged as a ``WebhookDelivery`` row. The URL is checked again first
(``urlcheck``: its host may resolve elsewhere now); a refused URL is logged and not retried. An
answer other than 2xx, or no answer, raises ``DeliveryFailed`` so that RQ retries the job after
the next interval of ``FOLIO_WEBHOOK_RETRY_SECONDS`` (the job is enqueued with RQ's ``Retry``,
``documents/queue.py``); the body is the same bytes every time, only the signature's timestamp
changes.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import close_old_connections

from portal.webhooks.delivery import post
from portal.webhooks.models import Webhook
from portal.webhooks.services import allow_private, delivery_record
from portal.webhooks.urlcheck import UrlRefused, check_url

logger = logging.getLogger(__name__)


class DeliveryFailed(Exception):
    """The receiver did not take the event; RQ retries the job."""


def deliver(webhook_id: str, event_id: str, event: str, body: str) -> str:
    close_old_connections()
    webhook = Webhook.objects.filter(pk=webhook_id, active=True).first()
    if webhook is None:
        return "gone"  # removed since the event was queued
    try:
        target = check_url(webhook.url, allow_private=allow_private())
    except UrlRefused as exc:
        delivery_record(
            webhook=webhook,
            event_id=event_id,
            event=event,
            status_code=None,
            error=f"Not sent: {exc.reason}",
        )
        return "refused"
    answer = post(
        target,
        body=body.encode(),
        secret=webhook.secret,
        event=event,
        timeout=float(getattr(settings, "FOLIO_WEBHOOK_TIMEOUT_SECONDS", 10)),
    )
    delivery_record(
        webhook=webhook,
        event_id=event_id,
        event=event,
        status_code=answer.status_code,
        error=answer.error,
        excerpt=answer.excerpt,
        duration_ms=answer.duration_ms,
    )
    if not answer.ok:
        raise DeliveryFailed(f"{webhook.url}: {answer.error}")
    return "delivered"
