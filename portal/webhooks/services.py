"""Every write of the webhooks app: register and remove webhooks (managers only, their own
organization), find the webhooks an event goes to, and log each delivery attempt."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings

from portal.audit import audit_record
from portal.errors import InvalidInput, PermissionDenied, Problems
from portal.selectors import membership_of
from portal.webhooks.models import EVENTS, Webhook, WebhookDelivery
from portal.webhooks.urlcheck import UrlRefused, check_url

MAX_WEBHOOKS_PER_ORG = 20


def require_manager(user: Any) -> Any:
    """The organization of a manager; anyone else is refused (403)."""
    membership = membership_of(user)
    if membership is None or not membership.is_manager:
        raise PermissionDenied.saying(
            "Only the organization's managers may manage webhooks.", code="permission_denied"
        )
    return membership.organization


def allow_private() -> bool:
    return bool(getattr(settings, "FOLIO_WEBHOOK_ALLOW_PRIVATE", False))


def webhook_create(*, user: Any, url: Any, events: Any = None) -> Webhook:
    """A new webhook; its ``secret`` is on the returned object (shown once by the caller)."""
    organization = require_manager(user)
    problems = Problems()
    if events in (None, []):
        events = list(EVENTS)
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        problems.add("events", "must be a list of event names: " + ", ".join(EVENTS) + ".")
        events = []
    unknown = [e for e in events if e not in EVENTS]
    if unknown:
        problems.add(
            "events",
            "unknown events "
            + ", ".join(repr(e[:40]) for e in unknown)
            + "; known: "
            + ", ".join(EVENTS)
            + ".",
        )
    url_text = url.strip() if isinstance(url, str) else ""
    refused = None
    if not url_text:
        problems.add("url", "this field is required.")
    else:
        try:
            check_url(url_text, allow_private=allow_private())
        except UrlRefused as exc:
            refused = exc.reason
    if refused and not problems:
        raise InvalidInput.about("url", refused, code="webhook_url_refused")
    if refused:
        problems.add("url", refused)
    problems.raise_if_any()
    if Webhook.objects.filter(organization=organization).count() >= MAX_WEBHOOKS_PER_ORG:
        raise InvalidInput.saying(
            f"Your organization has {MAX_WEBHOOKS_PER_ORG} webhooks already; remove one first.",
            code="too_many_webhooks",
        )
    webhook = Webhook.objects.create(
        organization=organization,
        url=url_text,
        events=list(dict.fromkeys(events)),
        secret=secrets.token_hex(32),
        created_by=user,
    )
    audit_record(
        organization_id=organization.id,
        actor=user,
        action="webhook_create",
        object_type="webhook",
        object_id=webhook.id,
        details={"url": webhook.url, "events": webhook.events},
    )
    return webhook


def webhook_delete(*, user: Any, webhook: Webhook) -> None:
    organization = require_manager(user)
    if webhook.organization_id != organization.id:  # selectors already answer 404
        raise PermissionDenied.saying("This webhook belongs to another organization.")
    audit_record(
        organization_id=organization.id,
        actor=user,
        action="webhook_delete",
        object_type="webhook",
        object_id=webhook.id,
        details={"url": webhook.url},
    )
    webhook.delete()


def webhooks_for_event(*, organization_id: Any, event: str) -> list[Webhook]:
    """The organization's active webhooks that subscribed to ``event``."""
    return [
        w
        for w in Webhook.objects.filter(organization_id=organization_id, active=True)
        if event in (w.events or [])
    ]


def delivery_record(
    *,
    webhook: Webhook,
    event_id: str,
    event: str,
    status_code: int | None,
    error: str,
    excerpt: str = "",
    duration_ms: int | None = None,
) -> WebhookDelivery:
    attempt = WebhookDelivery.objects.filter(webhook=webhook, event_id=event_id).count() + 1
    return WebhookDelivery.objects.create(
        webhook=webhook,
        event_id=event_id,
        event=event,
        attempt=attempt,
        status_code=status_code,
        error=error[:2000],
        response_excerpt=excerpt[:2048],
        duration_ms=duration_ms,
    )
