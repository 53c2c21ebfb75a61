"""Webhooks and their deliveries. A delivery row is one attempt: its event, the answer's status
code (or the error), when it was made, and which attempt it was."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

EVENTS = ("document.complete", "document.failed", "document.cancelled")


class Webhook(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        "portal.Organization", on_delete=models.CASCADE, related_name="webhooks"
    )
    # Checked by webhooks/urlcheck.py (scheme, credentials, public addresses), not URLField.
    url = models.CharField(max_length=2000)
    events = models.JSONField(default=list)
    # Shown once when the webhook is made; the receiver checks X-Folio-Signature with it.
    secret = models.CharField(max_length=128, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    id = models.BigAutoField(primary_key=True)
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.UUIDField(db_index=True)
    event = models.CharField(max_length=40)
    attempt = models.PositiveSmallIntegerField(default=1)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    response_excerpt = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    delivered_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-delivered_at", "-id"]
        indexes = [models.Index(fields=["webhook", "-delivered_at"])]

    def __str__(self) -> str:
        return f"{self.event} → {self.webhook_id} (attempt {self.attempt}: {self.status_code})"

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
