"""Request and response shapes of the webhooks API (docs/api.md, "Webhooks")."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from portal.webhooks.models import EVENTS, Webhook, WebhookDelivery


def iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


class WebhookCreateSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=2000, allow_blank=True)
    events = serializers.JSONField(required=False, help_text="Default: all of " + ", ".join(EVENTS))


class WebhookSerializer(serializers.Serializer):
    webhook_id = serializers.UUIDField()
    url = serializers.CharField()
    events = serializers.ListField(child=serializers.ChoiceField(choices=EVENTS))
    created_at = serializers.DateTimeField()


class WebhookCreatedSerializer(WebhookSerializer):
    secret = serializers.CharField(help_text="Shown once: keep it to check X-Folio-Signature.")


class WebhookListSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    webhooks = WebhookSerializer(many=True)


class DeliverySerializer(serializers.Serializer):
    event = serializers.ChoiceField(choices=EVENTS)
    status_code = serializers.IntegerField(allow_null=True)
    attempt = serializers.IntegerField()
    delivered_at = serializers.DateTimeField()
    error = serializers.CharField(allow_blank=True)


class DeliveryListSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    deliveries = DeliverySerializer(many=True)


def webhook_item(webhook: Webhook, *, with_secret: bool = False) -> dict[str, Any]:
    item = {
        "webhook_id": str(webhook.id),
        "url": webhook.url,
        "events": list(webhook.events or []),
        "created_at": iso(webhook.created_at),
    }
    if with_secret:
        item["secret"] = webhook.secret
    return item


def delivery_item(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "event": delivery.event,
        "status_code": delivery.status_code,
        "attempt": delivery.attempt,
        "delivered_at": iso(delivery.delivered_at),
        "error": delivery.error or None,
    }
