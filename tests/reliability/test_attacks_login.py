"""Attacks on the logins (issue 12, findings 3 and 8): limits that rotate with X-Forwarded-For,
usernames that differ only in Unicode form or case, several web processes, the demo account.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.conftest import _persona
from tests.reliability.conftest import PROJECT_ROOT, outcome

pytestmark = [pytest.mark.reliability(category="attack"), pytest.mark.timeout(240)]

VARIANTS = ["member", "ｍｅｍｂｅｒ", "MEMBER", "Member", "ＭＥＭＢＥＲ", " member "]


def _addresses() -> Any:
    return (f"203.0.113.{i}" for i in itertools.count(1))


# --- finding 3: across processes, rotating X-Forwarded-For, Unicode variants ----------------------


def test_the_token_throttle_holds_across_processes_with_a_rotating_forwarded_for(
    request, member, live_web
):
    """24 wrong logins through 2 gunicorn workers, each with a new X-Forwarded-For: the address
    limit (FOLIO_LOGIN_RATE) still bites, because the header is not trusted by default."""
    web = live_web(workers=2, FOLIO_LOGIN_RATE="10/min", FOLIO_LOGIN_MAX_FAILURES="100")
    codes = []
    for address, _ in zip(_addresses(), range(24), strict=False):
        answer = web.post_json(
            "/api/v1/auth/token",
            {"username": f"nobody-{address}", "password": "wrong"},
            **{"X-Forwarded-For": address},
        )
        codes.append(answer.status)
    assert codes[:10] == [401] * 10, codes
    assert set(codes[10:]) == {429}, codes
    outcome(request, f"10 x 401, then {codes.count(429)} x 429 across 2 worker processes")


def test_the_api_lockout_counts_unicode_variants_of_a_name_as_one_account(
    request, member, live_web
):
    """Behind a trusted proxy, a botnet's real addresses differ: wrong passwords for `member`
    spelt six ways from six addresses lock the account (the per-account count, in the shared
    database); after that even the right password is refused, in every spelling."""
    web = live_web(
        workers=2,
        FOLIO_TRUSTED_PROXIES="1",
        FOLIO_LOGIN_RATE="1000/min",
        FOLIO_LOGIN_MAX_FAILURES="3",
        FOLIO_LOGIN_MAX_ACCOUNT_FAILURES="6",
    )
    addresses = _addresses()
    for name in VARIANTS:
        answer = web.post_json(
            "/api/v1/auth/token",
            {"username": name, "password": "wrong"},
            **{"X-Forwarded-For": next(addresses)},
        )
        assert answer.status == 401, (name, answer.body)
    for name in VARIANTS:
        locked = web.post_json(
            "/api/v1/auth/token",
            {"username": name, "password": "pw-member"},
            **{"X-Forwarded-For": next(addresses)},
        )
        assert locked.status == 429, (name, locked.body)
        assert locked.json()["code"] == "too_many_login_failures"
        assert int(locked.headers["retry-after"]) > 0
    outcome(request, "6 spellings x wrong → account locked; right password refused (429)")


def test_the_portal_lockout_counts_unicode_variants_and_ignores_forwarded_for(
    request, member, manager, live_web
):
    """Finding 3: `ｍｅｍｂｅｒ` used to log in as `member` once `member` was locked. Now the
    variants share one count (address + account), whatever X-Forwarded-For says, in every
    process; another account from the same address is not affected."""
    web = live_web(workers=2, FOLIO_LOGIN_MAX_FAILURES="3")
    addresses = _addresses()
    for name in ("member", "ｍｅｍｂｅｒ", "MEMBER"):
        answer = web.portal_login(name, "wrong", **{"X-Forwarded-For": next(addresses)})
        assert answer.status == 200, answer.status
    for name in ("ｍｅｍｂｅｒ", "member", "Member"):
        locked = web.portal_login(name, "pw-member", **{"X-Forwarded-For": next(addresses)})
        assert locked.status == 429, (name, locked.status)
        assert b"Too many failed login attempts" in locked.body
        assert "sessionid" not in locked.cookies
    other = web.portal_login("manager", "pw-manager")
    assert other.status == 302, "another account from the same address still logs in"
    outcome(request, "3 spellings x wrong → 429 for every spelling, in 2 processes")


@pytest.mark.django_db
def test_the_session_login_and_the_api_share_one_failure_count(member, settings):
    settings.FOLIO_LOGIN_MAX_FAILURES = 4
    client = Client()
    for _ in range(2):
        assert (
            client.post("/accounts/login/", {"username": "member", "password": "x"}).status_code
            == 200
        )
    api = APIClient()
    for _ in range(2):
        assert (
            api.post(
                "/api/v1/auth/token", {"username": "MEMBER", "password": "x"}, format="json"
            ).status_code
            == 401
        )
    assert (
        client.post("/admin/login/", {"username": "member", "password": "pw-member"}).status_code
        == 429
    )
    assert (
        api.post(
            "/api/v1/auth/token", {"username": "member", "password": "pw-member"}, format="json"
        ).status_code
        == 429
    )


@pytest.mark.django_db
def test_a_successful_login_clears_the_address_count_but_not_the_account_count(member, settings):
    settings.FOLIO_LOGIN_MAX_FAILURES = 3
    settings.FOLIO_LOGIN_MAX_ACCOUNT_FAILURES = 5
    api = APIClient()

    def login(password: str, address: str) -> int:
        return api.post(
            "/api/v1/auth/token",
            {"username": "member", "password": password},
            format="json",
            REMOTE_ADDR=address,
        ).status_code

    assert [login("x", "10.0.0.1") for _ in range(2)] == [401, 401]
    assert login("pw-member", "10.0.0.1") == 200
    assert [login("x", "10.0.0.1") for _ in range(2)] == [401, 401], "the pair count restarted"
    assert login("x", "10.0.0.2") == 401  # the account's fifth failure
    assert login("pw-member", "10.0.0.3") == 429, "the account is locked everywhere"


def test_forwarded_for_is_read_only_for_the_configured_number_of_proxies(settings, rf):
    from portal.ratelimit import client_address

    req = rf.get("/", REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.7")
    settings.FOLIO_TRUSTED_PROXIES = 0
    assert client_address(req) == "10.0.0.9"
    settings.FOLIO_TRUSTED_PROXIES = 1
    assert client_address(req) == "198.51.100.7", "what our proxy saw, not what the client wrote"
    settings.FOLIO_TRUSTED_PROXIES = 2
    assert client_address(req) == "6.6.6.6"
    settings.FOLIO_TRUSTED_PROXIES = 5
    assert client_address(req) == "6.6.6.6"
    settings.FOLIO_TRUSTED_PROXIES = 1
    assert client_address(rf.get("/", REMOTE_ADDR="10.0.0.9")) == "10.0.0.9"


@pytest.mark.django_db
def test_usernames_are_compared_nfkc_and_casefolded(member):
    from portal.backends import find_user, normalize_username

    assert normalize_username(" ＭＥＭＢＥＲ ") == "member"
    assert normalize_username("Straße") == normalize_username("STRASSE")
    for name in VARIANTS:
        assert find_user(name) == member, name
    client = Client()
    assert (
        client.post(
            "/accounts/login/", {"username": "ｍｅｍｂｅｒ", "password": "pw-member"}
        ).status_code
        == 302
    )
    token = APIClient().post(
        "/api/v1/auth/token", {"username": "ＭＥＭＢＥＲ", "password": "pw-member"}, format="json"
    )
    assert token.status_code == 200


@pytest.mark.django_db
def test_an_exact_username_wins_and_an_ambiguous_case_match_logs_nobody_in(org):
    from portal.backends import find_user

    eve = _persona(org, "eve", "member")
    big = _persona(org, "Eve", "member")
    assert find_user("eve") == eve and find_user("Eve") == big
    assert find_user("EVE") is None, "two accounts differ only by case: no guess"


# --- finding 8: the demo account outside debug mode -----------------------------------------------


@pytest.fixture
def demo(db: None, settings: Any) -> Any:
    from django.core.management import call_command

    settings.DEBUG = True
    call_command("ensure_demo", verbosity=0)
    settings.DEBUG = False
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username=settings.FOLIO_DEMO_USER)


@pytest.mark.django_db
def test_the_demo_login_is_refused_with_debug_off(request, demo, settings):
    """Finding 8: a data directory once used with `make run` keeps the demo account; with
    DEBUG off it cannot log in anywhere, and an existing session or token stops working."""
    password = settings.FOLIO_DEMO_PASSWORD
    assert settings.DEBUG is False
    portal = Client().post("/accounts/login/", {"username": "demo", "password": password})
    assert portal.status_code == 200 and "_auth_user_id" not in Client().session
    admin = Client().post("/admin/login/", {"username": "demo", "password": password})
    assert admin.status_code == 200
    api = APIClient().post(
        "/api/v1/auth/token", {"username": "demo", "password": password}, format="json"
    )
    assert api.status_code == 401
    # A session made while debug was on is dropped.
    session = Client()
    session.force_login(demo)
    assert session.get("/").status_code == 302
    # A token issued while debug was on is refused.
    from tests.conftest import _access_token_for

    bearer = APIClient()
    bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {_access_token_for(demo)}")
    assert bearer.get("/api/v1/documents/").status_code == 401
    settings.DEBUG = True
    assert (
        APIClient()
        .post("/api/v1/auth/token", {"username": "demo", "password": password}, format="json")
        .status_code
        == 200
    ), "in debug mode the demo login works, as `make run` prints"
    outcome(request, "portal, admin, API, session and token refused with DEBUG off")


def _manage(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "FOLIO_", "DATABASE_URL", "REDIS_URL"))
    }
    full.update(
        {
            "FOLIO_DATA_DIR": str(data_dir),
            "DJANGO_SECRET_KEY": "a-production-like-secret-key-" + "x" * 40,
            "DJANGO_ALLOWED_HOSTS": "folio.example",
            **env,
        }
    )
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_ROOT,
        env=full,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_check_deploy_warns_while_the_demo_account_exists(request, tmp_path):
    """Finding 8: `check --deploy` (folio.W001) until `ensure_demo --remove`."""
    assert _manage(tmp_path, "migrate", "--no-input", "-v", "0").returncode == 0
    made = _manage(tmp_path, "ensure_demo", DJANGO_DEBUG="1")
    assert made.returncode == 0, made.stderr
    warned = _manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING")
    assert warned.returncode != 0
    assert "folio.W001" in warned.stdout + warned.stderr
    removed = _manage(tmp_path, "ensure_demo", "--remove")
    assert removed.returncode == 0 and "Removed the demo login" in removed.stdout
    clean = _manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    outcome(request, "folio.W001 while the demo exists; clean after --remove")
