"""Session login, logout, the site layout, and users without an organization."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

pytestmark = pytest.mark.django_db


def test_the_login_page_has_username_password_and_log_in():
    body = Client().get("/accounts/login/").content.decode()
    assert ">Username</label>" in body
    assert ">Password</label>" in body
    assert ">Log in</button>" in body
    assert 'name="csrfmiddlewaretoken"' in body


def test_logging_in_with_the_form_opens_the_dashboard(member):
    client = Client()
    response = client.post(
        "/accounts/login/", {"username": "member", "password": "pw-member"}, follow=True
    )
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == "/"
    assert b"Documents" in response.content


def test_a_wrong_password_shows_an_error_on_the_login_page(member):
    response = Client().post("/accounts/login/", {"username": "member", "password": "nope"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content


def test_pages_need_a_login():
    for url in ["/", "/documents/new/", "/sets/", "/templates/", "/style-guides/"]:
        response = Client().get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")


def test_the_header_names_the_user_and_organization_and_has_the_nav(login, member):
    body = login(member).get("/").content.decode()
    for label in ["Dashboard", "New document", "Document sets", "Templates", "Style guides"]:
        assert f">{label}</a>" in body
    assert "Acme Pharma" in body
    assert ">Log out</button>" in body
    assert ">Admin</a>" not in body  # not staff
    assert "django_htmx/htmx-2.min.js" in body  # served by us, no CDN
    assert "X-CSRFToken" in body  # every HTMX request carries the token


def test_staff_see_the_admin_link(login, manager):
    manager.is_staff = True
    manager.save()
    assert b">Admin</a>" in login(manager).get("/").content


def test_logout_is_a_post_with_csrf(login, member):
    client = login(member, enforce_csrf=True)
    assert client.post("/accounts/logout/").status_code == 403
    client = login(member)
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert client.get("/").status_code == 302


def test_a_user_without_an_organization_is_sent_to_the_admin(login):
    operator = get_user_model().objects.create_superuser("operator", "op@example.com", "pw-op")
    response = login(operator).get("/")
    assert response.status_code == 403
    body = response.content.decode()
    assert "not part of an organization" in body
    assert 'href="/admin/"' in body
