"""``manage.py ensure_demo``: the demo login exists in debug mode only."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def run() -> str:
    out = io.StringIO()
    call_command("ensure_demo", stdout=out)
    return out.getvalue()


def test_outside_debug_mode_it_does_nothing_and_says_why(settings):
    settings.DEBUG = False
    output = run()
    assert "Debug mode is off" in output
    assert not get_user_model().objects.filter(username=settings.FOLIO_DEMO_USER).exists()


def test_in_debug_mode_it_creates_the_demo_template_manager(settings):
    settings.DEBUG = True
    settings.FOLIO_DEMO_USER = "demo"
    settings.FOLIO_DEMO_PASSWORD = "demo-password"
    run()
    user = get_user_model().objects.get(username="demo")
    assert user.check_password("demo-password")
    assert user.membership.organization.name == "Demo"
    assert user.membership.role == "manager"
    assert user.is_staff


def test_it_is_idempotent_and_restores_the_configured_password(settings):
    settings.DEBUG = True
    settings.FOLIO_DEMO_USER = "showcase"
    settings.FOLIO_DEMO_PASSWORD = "first-password"
    run()
    user = get_user_model().objects.get(username="showcase")
    user.set_password("changed-by-someone")
    user.save()
    settings.FOLIO_DEMO_PASSWORD = "second-password"
    run()
    user.refresh_from_db()
    assert user.check_password("second-password")
    assert get_user_model().objects.filter(username="showcase").count() == 1
