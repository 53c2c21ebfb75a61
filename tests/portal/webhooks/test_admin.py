"""Webhooks in the Django admin: a manager registers their organization's webhooks (the URL
checked as in the API, the secret shown once) and reads each one's deliveries; another
organization's webhook is not reachable; members see no webhooks module."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client

from portal.webhooks.models import Webhook, WebhookDelivery

pytestmark = pytest.mark.django_db
ADMIN = "/admin/webhooks/webhook/"


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_manager_registers_a_webhook_and_sees_its_secret_once(manager, settings) -> None:
    settings.FOLIO_WEBHOOK_ALLOW_PRIVATE = True
    response = _client(manager).post(
        f"{ADMIN}add/",
        {"url": "http://127.0.0.1:9/hook", "events": ["document.complete"], "active": "on"},
        follow=True,
    )
    assert response.status_code == 200
    hook = Webhook.objects.get()
    assert hook.organization.name == "Acme Pharma"
    assert hook.events == ["document.complete"] and len(hook.secret) == 64
    assert hook.secret in response.content.decode()
    page = _client(manager).get(f"{ADMIN}{hook.pk}/change/").content.decode()
    assert hook.secret not in page


def test_the_admin_refuses_a_private_url_beside_the_field(manager, settings) -> None:
    settings.FOLIO_WEBHOOK_ALLOW_PRIVATE = False
    response = _client(manager).post(
        f"{ADMIN}add/", {"url": "http://169.254.169.254/latest", "events": ["document.complete"]}
    )
    assert response.status_code == 200  # the form again, with the error
    assert "link-local" in response.content.decode()
    assert Webhook.objects.count() == 0


def test_deliveries_are_shown_and_other_organizations_hooks_are_not(
    manager, outsider, other_org, org
) -> None:
    mine = Webhook.objects.create(
        organization=org, url="https://example.org/a", secret="s" * 64, events=["document.complete"]
    )
    theirs = Webhook.objects.create(
        organization=other_org,
        url="https://example.org/b",
        secret="t" * 64,
        events=["document.failed"],
    )
    WebhookDelivery.objects.create(
        webhook=mine,
        event_id=uuid.uuid4(),
        event="document.complete",
        status_code=503,
        error="the receiver answered 503",
    )
    client = _client(manager)
    listing = client.get(ADMIN).content.decode()
    assert "https://example.org/a" in listing and "https://example.org/b" not in listing
    detail = client.get(f"{ADMIN}{mine.pk}/change/").content.decode()
    assert "the receiver answered 503" in detail
    assert client.get(f"{ADMIN}{theirs.pk}/change/").status_code == 302


def test_members_have_no_webhooks_in_the_admin(member) -> None:
    member.is_staff = True
    member.save()
    assert _client(member).get(ADMIN).status_code == 403
