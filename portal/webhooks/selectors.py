"""Organization-scoped reads of webhooks (managers only); another organization's is a 404."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from portal.webhooks.models import Webhook, WebhookDelivery
from portal.webhooks.services import require_manager


def webhooks_list_for_user(user: Any) -> QuerySet[Webhook]:
    return Webhook.objects.filter(organization=require_manager(user)).order_by("-created_at")


def webhook_get_for_user(user: Any, webhook_id: Any) -> Webhook:
    organization = require_manager(user)
    try:
        pk = uuid.UUID(str(webhook_id))
        return Webhook.objects.get(pk=pk, organization=organization)
    except (ValueError, Webhook.DoesNotExist) as exc:
        raise Http404("Not found.") from exc


def deliveries_for_webhook(webhook: Webhook) -> QuerySet[WebhookDelivery]:
    return webhook.deliveries.order_by("-delivered_at", "-id")
