"""Attacks with old tokens (issue 12, finding 6): tokens that outlive a password change, a
deactivation or a logout, refresh chains that never end, signed links that cannot be revoked.
"""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.reliability.conftest import outcome

pytestmark = [
    pytest.mark.reliability(category="attack"),
    pytest.mark.django_db,
    pytest.mark.timeout(120),
]


def _login(username: str = "member", password: str = "pw-member") -> dict[str, str]:
    response = APIClient().post(
        "/api/v1/auth/token", {"username": username, "password": password}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()


def _bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def _refresh(refresh: str) -> Any:
    return APIClient().post("/api/v1/auth/token/refresh", {"refresh": refresh}, format="json")


def test_an_old_token_is_refused_after_a_password_change(request, member):
    """Finding 6: the access token and the whole refresh chain die with the old password."""
    tokens = _login()
    refreshed = _refresh(tokens["refresh"]).json()  # a chain of two
    assert _bearer(refreshed["access"]).get("/api/v1/documents/").status_code == 200
    member.set_password("a-new-long-password-1")
    member.save()
    for access in (tokens["access"], refreshed["access"]):
        answer = _bearer(access).get("/api/v1/documents/")
        assert answer.status_code == 401
        assert answer.json() == {"detail": "Invalid authentication credentials"}
    assert _refresh(refreshed["refresh"]).status_code == 401
    fresh = _login(password="a-new-long-password-1")
    assert _bearer(fresh["access"]).get("/api/v1/documents/").status_code == 200
    outcome(request, "old access and refresh 401 after set_password; a new login works")


def test_a_password_changed_in_the_portal_or_the_admin_revokes_tokens_too(member, manager):
    tokens = _login()
    client = Client()
    client.force_login(member)
    changed = client.post(
        "/admin/password_change/",
        {
            "old_password": "pw-member",
            "new_password1": "another-long-password-2",
            "new_password2": "another-long-password-2",
        },
    )
    # A member is no staff: the admin refuses; the password stays, and so does the token.
    assert changed.status_code == 302 and "/admin/login/" in changed["Location"]
    assert _bearer(tokens["access"]).get("/api/v1/documents/").status_code == 200
    boss_tokens = _login("manager", "pw-manager")
    boss = Client()
    boss.force_login(manager)
    changed = boss.post(
        "/admin/password_change/",
        {
            "old_password": "pw-manager",
            "new_password1": "another-long-password-3",
            "new_password2": "another-long-password-3",
        },
    )
    assert changed.status_code == 302, changed.content[:500]
    assert _bearer(boss_tokens["access"]).get("/api/v1/documents/").status_code == 401


def test_deactivation_revokes_and_reactivation_does_not_revive_old_tokens(member):
    tokens = _login()
    member.is_active = False
    member.save()
    member.is_active = True
    member.save()
    assert _bearer(tokens["access"]).get("/api/v1/documents/").status_code == 401
    assert _refresh(tokens["refresh"]).status_code == 401


def test_logout_blacklists_the_refresh_token_and_revokes_every_token(request, member):
    """POST /api/v1/auth/logout: the refresh is blacklisted, every token of the user dies."""
    phone = _login()
    laptop = _login()
    answer = _bearer(phone["access"]).post(
        "/api/v1/auth/logout", {"refresh": phone["refresh"]}, format="json"
    )
    assert answer.status_code == 200, answer.content
    for tokens in (phone, laptop):
        assert _bearer(tokens["access"]).get("/api/v1/documents/").status_code == 401
        assert _refresh(tokens["refresh"]).status_code == 401
    from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken

    jti = jwt.decode(phone["refresh"], options={"verify_signature": False})["jti"]
    assert BlacklistedToken.objects.filter(token__jti=jti).exists()
    assert APIClient().post("/api/v1/auth/logout", {}, format="json").status_code == 401
    outcome(request, "logout: refresh blacklisted; both sessions' tokens 401")


def test_logout_refuses_another_users_refresh_token(member, outsider):
    mine = _login()
    theirs = _login("outsider", "pw-outsider")
    answer = _bearer(mine["access"]).post(
        "/api/v1/auth/logout", {"refresh": theirs["refresh"]}, format="json"
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid_token"
    assert _bearer(theirs["access"]).get("/api/v1/documents/").status_code == 200


def test_a_refresh_chain_ends_after_its_maximum_age(request, member, settings):
    """Each refresh used to give a new day: a chain could live for ever. Now it ends
    FOLIO_REFRESH_CHAIN_HOURS after the login, and a rotated token never outlives it."""
    settings.FOLIO_REFRESH_CHAIN_HOURS = 2
    tokens = _login()
    claims = jwt.decode(tokens["refresh"], options={"verify_signature": False})
    assert abs(claims["auth_time"] - time.time()) < 60
    rotated = _refresh(tokens["refresh"]).json()
    rotated_claims = jwt.decode(rotated["refresh"], options={"verify_signature": False})
    assert rotated_claims["auth_time"] == claims["auth_time"]
    assert rotated_claims["exp"] <= claims["auth_time"] + 2 * 3600 + 5
    # The same chain, three hours after its login.
    from rest_framework_simplejwt.tokens import RefreshToken

    old = RefreshToken(rotated["refresh"])
    old["auth_time"] = int(time.time()) - 3 * 3600
    answer = _refresh(str(old))
    assert answer.status_code == 401
    outcome(request, "a refresh 3 h after a 2 h chain's login: 401")


def test_a_signed_download_link_dies_with_its_creators_tokens(request, member, tiny_source):
    """Signed file URLs (local storage) are tied to the token version of who made them."""
    path = tiny_source(member)
    client = _bearer(_login()["access"])
    url = client.post("/generate-presigned-url", {"key": path}, format="json").json()["url"]
    assert Client().get(url).status_code == 200
    member.set_password("a-new-long-password-4")
    member.save()
    assert Client().get(url).status_code == 404
    outcome(request, "200 before the password change, 404 after")
