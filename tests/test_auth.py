"""Token login and refresh (docs/api.md): organization-scoped, membership checked every time."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from portal.models import Membership

pytestmark = pytest.mark.django_db


def login(username: str, password: str):
    return APIClient().post(
        "/api/v1/auth/token", {"username": username, "password": password}, format="json"
    )


def test_login_gives_access_and_refresh_tokens(member):
    response = login(member.username, "pw-" + member.username)
    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh"}


def test_a_wrong_password_is_a_401(member):
    response = login(member.username, "wrong")
    assert response.status_code == 401
    assert response.json()["detail"]


def test_a_user_without_organization_cannot_get_a_token(django_user_model):
    django_user_model.objects.create_user("loner", password="pw-loner")
    assert login("loner", "pw-loner").status_code == 401


def test_refresh_gives_a_new_access_token(member):
    refresh = login(member.username, "pw-" + member.username).json()["refresh"]
    response = APIClient().post("/api/v1/auth/token/refresh", {"refresh": refresh}, format="json")
    assert response.status_code == 200
    assert "access" in response.json()


def test_a_removed_member_loses_access_at_once_and_cannot_refresh(member):
    tokens = login(member.username, "pw-" + member.username).json()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert client.get("/api/v1/documents/").status_code == 200
    Membership.objects.filter(user=member).delete()
    assert client.get("/api/v1/documents/").status_code == 401
    response = APIClient().post(
        "/api/v1/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json"
    )
    assert response.status_code == 401


def test_a_user_moved_to_another_organization_loses_the_old_token(member, other_org):
    access = login(member.username, "pw-" + member.username).json()["access"]
    Membership.objects.filter(user=member).update(organization=other_org)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    assert client.get("/api/v1/documents/").status_code == 401


def test_a_garbage_token_is_a_401(client):
    response = client.get("/api/v1/documents/", HTTP_AUTHORIZATION="Bearer not.a.token")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid authentication credentials"}


def test_an_inactive_user_is_refused(member):
    access = login(member.username, "pw-" + member.username).json()["access"]
    member.is_active = False
    member.save()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    assert client.get("/api/v1/documents/").status_code == 401
