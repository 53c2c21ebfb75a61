"""Attacks (reliability plan §C): each is refused, and a refusal reveals nothing.

Cross-organization access on every API route with an id, foreign references in request bodies,
storage-key traversal, JWT forgery and replay, brute force on both logins, CSRF, security headers
and ``check --deploy``, the RQ dashboard, secrets in logs, mass assignment, the audit log.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import logging
import os
import secrets
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import FileSystemStorage
from django.db import transaction
from django.test import Client
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from documents import jobs
from documents.models import GeneratedDocument
from portal.models import AuditEvent
from tests.conftest import _persona
from tests.reliability.conftest import PROJECT_ROOT, outcome

pytestmark = [
    pytest.mark.reliability(category="attack"),
    pytest.mark.django_db,
    pytest.mark.timeout(120),
]


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture
def other_manager(other_org: Any) -> Any:
    return _persona(other_org, "other-manager", "manager")


@pytest.fixture
def victim(
    member,
    manager,
    api_client,
    submit,
    tiny_source,
    django_capture_on_commit_callbacks,
    clean_queue,
) -> dict[str, str]:
    """Objects of the first organization: a complete document, its set, a template, a guide."""
    path = tiny_source(member)
    with django_capture_on_commit_callbacks(execute=True):
        task = submit(member, [path]).json()["task_id"]
    assert jobs.run_generation(task) == "complete"
    doc = GeneratedDocument.objects.get(pk=task)
    boss = api_client(manager)
    template = boss.post("/api/v1/templates/ich-e3-csr/duplicate", {}, format="json")
    assert template.status_code == 201, template.content
    template_id = template.json()["template_id"]
    sections = boss.get(f"/api/v1/templates/{template_id}").json()["sections"]
    guide = boss.post(
        "/api/v1/style-guides/", {"name": "House style", "tense": "past"}, format="json"
    )
    assert guide.status_code == 201, guide.content
    return {
        "document": str(doc.id),
        "set": str(doc.document_set_id),
        "template": template_id,
        "section": sections[0]["section_id"],
        "guide": guide.json().get("style_guide_id") or guide.json().get("id"),
        "path": path,
    }


# --- C1-C3, C17: another organization's objects --------------------------------------------------

ROUTES = [
    ("get", "/api/v1/documents/status/{document}", None),
    ("get", "/api/v1/documents/{document}/download", None),
    ("get", "/api/v1/documents/{document}/sections", None),
    ("post", "/api/v1/documents/{document}/cancel", {}),
    ("post", "/api/v1/documents/{document}/regenerate", {"section_ids": ["s-title"]}),
    ("post", "/api/v1/documents/{document}/regenerate", {"stale": True}),
    ("post", "/api/v1/documents/{document}/review", {}),
    ("get", "/api/v1/documents/{document}/download?redline=true", None),
    ("get", "/api/v1/document-sets/{set}", None),
    ("get", "/api/v1/templates/{template}", None),
    ("patch", "/api/v1/templates/{template}", {"template_name": "Mine now"}),
    ("delete", "/api/v1/templates/{template}", None),
    ("post", "/api/v1/templates/{template}/duplicate", {}),
    ("post", "/api/v1/templates/{template}/sections", {"section_name": "99 New", "level": 1}),
    ("put", "/api/v1/templates/{template}/sections/reorder", {"sections": []}),
    ("get", "/api/v1/templates/{template}/sections/{section}", None),
    ("patch", "/api/v1/templates/{template}/sections/{section}", {"synopsis": "x"}),
    ("delete", "/api/v1/templates/{template}/sections/{section}", None),
    ("put", "/api/v1/templates/{template}/sections/{section}/rename", {"section_name": "1 X"}),
    ("get", "/api/v1/style-guides/{guide}", None),
    ("put", "/api/v1/style-guides/{guide}", {"name": "Mine now", "tense": "past"}),
    ("delete", "/api/v1/style-guides/{guide}", None),
]


def _call(client: APIClient, method: str, url: str, body: Any) -> Any:
    if body is None:
        return getattr(client, method)(url)
    return getattr(client, method)(url, body, format="json")


@pytest.mark.parametrize("persona", ["outsider", "other_manager"])
def test_every_route_answers_another_organizations_id_exactly_like_a_random_one(
    request, persona, victim, api_client
):
    """C1/C2/C17: status, download, sections, cancel, regenerate, sets, templates, guides."""
    attacker = api_client(request.getfixturevalue(persona))
    random_ids = {k: str(uuid.uuid4()) for k in ("document", "set", "template", "section", "guide")}
    checked = 0
    for method, pattern, body in ROUTES:
        foreign = _call(attacker, method, pattern.format(**victim), body)
        unknown = _call(attacker, method, pattern.format(**random_ids), body)
        assert foreign.status_code == unknown.status_code, (method, pattern)
        assert foreign.status_code in (403, 404), (method, pattern, foreign.status_code)
        text = foreign.content.decode()
        for value in victim.values():
            text = text.replace(value, "<id>")
        other = unknown.content.decode()
        for value in random_ids.values():
            other = other.replace(value, "<id>")
        assert text == other, (method, pattern, text, other)
        assert foreign.get("Content-Type") == unknown.get("Content-Type")
        checked += 1
    # Nothing of theirs changed.
    assert GeneratedDocument.objects.get(pk=victim["document"]).status == "Complete"
    outcome(request, f"{checked} routes: same status and body as a random id")


def _submit_with(submit: Any, user: Any, own: str, body: dict[str, Any]) -> Any:
    if "file_paths" in body:
        return submit(user, body["file_paths"])
    return submit(user, [own], **body)


def _masked(detail: str, body: dict[str, Any]) -> str:
    for value in body.values():
        for item in value if isinstance(value, list) else [value]:
            detail = detail.replace(str(item), "<ref>")
    return detail


def test_a_foreign_reference_in_a_body_is_a_400_that_reveals_nothing(
    request, victim, outsider, api_client, submit, tiny_source
):
    """C3: another organization's file path, template or style guide reads like a missing one."""
    own = tiny_source(outsider)
    random_path = victim["path"].replace(victim["path"].split("/")[0], str(uuid.uuid4()))
    cases = [
        ({"file_paths": [victim["path"]]}, {"file_paths": [random_path]}),
        ({"template_id": victim["template"]}, {"template_id": str(uuid.uuid4())}),
        ({"style_guide_id": victim["guide"]}, {"style_guide_id": str(uuid.uuid4())}),
    ]
    before = GeneratedDocument.objects.count()
    for foreign_body, random_body in cases:
        foreign = _submit_with(submit, outsider, own, foreign_body)
        unknown = _submit_with(submit, outsider, own, random_body)
        assert foreign.status_code == unknown.status_code == 400
        assert _masked(foreign.json()["detail"], foreign_body) == _masked(
            unknown.json()["detail"], random_body
        )
    presign_foreign = api_client(outsider).post(
        "/generate-presigned-url", {"key": victim["path"]}, format="json"
    )
    presign_random = api_client(outsider).post(
        "/generate-presigned-url", {"key": random_path}, format="json"
    )
    assert presign_foreign.status_code == presign_random.status_code == 400
    assert presign_foreign.json() == presign_random.json()
    assert GeneratedDocument.objects.count() == before
    outcome(request, "400, identical wording for foreign and unknown references")


TRAVERSALS = [
    "../{other}/documents/x.pdf",
    "{own}/../{other}/documents/x.pdf",
    "/etc/passwd",
    "%2e%2e/x.pdf",
    "{own}/documents/%2e%2e/x.pdf",
    "..\\x.pdf",
    "{own}\\..\\x.pdf",
    "a\x00b.pdf",
    "s3://other-bucket/k.pdf",
    "file:///etc/passwd",
    "http://169.254.169.254/latest/meta-data/",
    "http://127.0.0.1:6379/",
    "\\\\server\\share\\x.pdf",
    "C:/Windows/win.ini",
    "~/x.pdf",
    "{own}/./documents/x.pdf",
]


@pytest.mark.parametrize("pattern", TRAVERSALS)
def test_a_traversal_or_url_file_path_is_refused(request, pattern, member, org, other_org, submit):
    """C7: storage-key injection in generate: 400 naming the value, no row, no outbound call."""
    path = pattern.format(own=org.id, other=other_org.id)
    response = submit(member, [path])
    assert response.status_code == 400, response.content
    assert "file_paths" in response.json()["detail"]
    assert not GeneratedDocument.objects.exists()
    outcome(request, "400")


def test_the_storage_layer_is_not_what_keeps_organizations_apart(tmp_path):
    """C7: measured storage behaviour nobody may rely on: safe_join normalises traversal away."""
    from storages.utils import safe_join

    assert safe_join("", "org1/../org2/a.pdf") == "org2/a.pdf"
    storage = FileSystemStorage(location=str(tmp_path))
    for bad in ("../x", "/etc/passwd", "org1/../../x"):
        with pytest.raises(SuspiciousFileOperation):
            storage.path(bad)


# --- C4-C6: tokens -------------------------------------------------------------------------------


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_forged_expired_and_misused_tokens_are_refused(request, member, settings):
    """C5: alg none, wrong key, HS512, tampered org, expired, nbf, refresh-as-access: 401."""
    refresh = RefreshToken.for_user(member)
    refresh["org"] = str(member.membership.organization_id)
    access = refresh.access_token
    good = str(access)
    assert _bearer(good).get("/api/v1/documents/").status_code == 200
    claims = jwt.decode(good, options={"verify_signature": False})
    key = settings.SIMPLE_JWT["SIGNING_KEY"]
    forged = {
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.",
        "wrong key": jwt.encode(claims, "not-the-key-" * 4, algorithm="HS256"),
        "HS512 with the right key": jwt.encode(claims, key, algorithm="HS512"),
        "tampered org": good.split(".")[0]
        + "."
        + _b64({**claims, "org": str(uuid.uuid4())})
        + "."
        + good.split(".")[2],
        "expired": jwt.encode({**claims, "exp": int(time.time()) - 3600}, key, algorithm="HS256"),
        "not yet valid": jwt.encode(
            {**claims, "nbf": int(time.time()) + 3600}, key, algorithm="HS256"
        ),
        "refresh as access": str(refresh),
        "no user": jwt.encode({**claims, "user_id": 10**9}, key, algorithm="HS256"),
    }
    for label, token in forged.items():
        response = _bearer(token).get("/api/v1/documents/")
        assert response.status_code == 401, label
        assert response.json() == {"detail": "Invalid authentication credentials"}, label
    assert APIClient().get(f"/api/v1/documents/?token={good}").status_code == 401
    assert APIClient().get(f"/api/v1/documents/?access={good}").status_code == 401
    outcome(request, f"{len(forged) + 2} forged or misplaced tokens: 401")


def test_a_rotated_refresh_token_cannot_be_replayed_and_access_lives_30_minutes(request, member):
    """C5: rotation with blacklist; inactive users refused; default access lifetime."""
    client = APIClient()
    tokens = client.post(
        "/api/v1/auth/token", {"username": "member", "password": "pw-member"}, format="json"
    ).json()
    claims = jwt.decode(tokens["access"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 30 * 60
    first = client.post("/api/v1/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert first.status_code == 200 and "refresh" in first.json(), "rotation gives a new refresh"
    replay = client.post(
        "/api/v1/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json"
    )
    assert replay.status_code == 401
    member.is_active = False
    member.save()
    assert _bearer(first.json()["access"]).get("/api/v1/documents/").status_code == 401
    again = client.post(
        "/api/v1/auth/token/refresh", {"refresh": first.json()["refresh"]}, format="json"
    )
    assert again.status_code == 401
    outcome(request, "replayed refresh 401; inactive user's access and refresh 401")


def test_a_removed_member_is_refused_at_once(request, member, api_client):
    """C4b/C4c: membership is read on every request; refresh refused for a removed user."""
    client = APIClient()
    tokens = client.post(
        "/api/v1/auth/token", {"username": "member", "password": "pw-member"}, format="json"
    ).json()
    member.membership.delete()
    assert _bearer(tokens["access"]).get("/api/v1/documents/").status_code == 401
    refused = client.post(
        "/api/v1/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json"
    )
    assert refused.status_code == 401
    outcome(request, "401 on the next request and on refresh")


@pytest.mark.parametrize("minutes,expected", [("1", 5), ("4", 5), ("15", 15)])
def test_the_access_token_lifetime_is_never_below_five_minutes(minutes, expected, tmp_path):
    code = (
        "from portal import settings as s;"
        "print(int(s.SIMPLE_JWT['ACCESS_TOKEN_LIFETIME'].total_seconds() // 60))"
    )
    env = {**os.environ, "FOLIO_ACCESS_TOKEN_MINUTES": minutes, "FOLIO_DATA_DIR": str(tmp_path)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.strip()) == expected


# --- C13: brute force ----------------------------------------------------------------------------


def test_the_token_endpoint_is_throttled(request, member, settings):
    """C13: the API login answers 429 with Retry-After past FOLIO_LOGIN_RATE."""
    from django.core.cache import cache

    cache.clear()
    client = APIClient()
    # A different name each time: the per-account lockout (test_attacks_login.py) stays out of it.
    codes = [
        client.post(
            "/api/v1/auth/token", {"username": f"guess-{i}", "password": "wrong"}, format="json"
        ).status_code
        for i in range(21)
    ]
    assert codes[:20] == [401] * 20
    assert codes[20] == 429
    last = client.post(
        "/api/v1/auth/token", {"username": "member", "password": "pw-member"}, format="json"
    )
    assert last.status_code == 429 and int(last["Retry-After"]) > 0
    cache.clear()
    outcome(request, "20 x 401 then 429 (even with the right password)")


def test_the_portal_login_locks_one_username_from_one_address_after_repeated_failures(
    request, member, manager, settings
):
    """C13: session login: 429 with a form error past FOLIO_LOGIN_MAX_FAILURES; success resets."""
    from django.core.cache import cache

    cache.clear()
    settings.FOLIO_LOGIN_MAX_FAILURES = 5
    client = Client()
    for _ in range(5):
        response = client.post("/accounts/login/", {"username": "member", "password": "wrong"})
        assert response.status_code == 200
    locked = client.post("/accounts/login/", {"username": "member", "password": "pw-member"})
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) > 0
    assert "Too many failed login attempts" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    admin_locked = client.post("/admin/login/", {"username": "member", "password": "pw-member"})
    assert admin_locked.status_code == 429, "the admin login shares the count"
    # Another user from the same address, and the same user from elsewhere, are not locked.
    assert (
        client.post(
            "/accounts/login/", {"username": "manager", "password": "pw-manager"}
        ).status_code
        == 302
    )
    elsewhere = Client(REMOTE_ADDR="10.9.8.7")
    assert (
        elsewhere.post(
            "/accounts/login/", {"username": "member", "password": "pw-member"}
        ).status_code
        == 302
    )
    cache.clear()
    outcome(request, "5 failures then 429 with a form error; other users unaffected")


# --- C9-C11, C19: the browser side ---------------------------------------------------------------


def test_portal_forms_and_htmx_requests_need_the_csrf_token(request, member):
    """C9: a POST without the token, or from another origin, is 403; with the token it works."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    page = client.get("/documents/new/")
    token = page.cookies["csrftoken"].value if "csrftoken" in page.cookies else None
    assert token, "the form page sets the CSRF cookie"
    assert client.post("/accounts/logout/").status_code == 403
    assert (
        client.post(
            "/documents/new/sections/",
            {"template": "ich-e3-csr"},
            HTTP_HX_REQUEST="true",
        ).status_code
        == 403
    )
    cross = client.post(
        "/accounts/logout/",
        {"csrfmiddlewaretoken": token},
        HTTP_ORIGIN="https://evil.example",
        HTTP_X_CSRFTOKEN=token,
        secure=True,
        HTTP_REFERER="https://evil.example/",
    )
    assert cross.status_code == 403
    ok = client.post("/accounts/logout/", HTTP_X_CSRFTOKEN=token, HTTP_HX_REQUEST="true")
    assert ok.status_code in (200, 302)
    # The API never authenticates by cookie: a cross-site cookie-only POST is simply anonymous.
    client.force_login(member)
    api = client.post("/api/v1/documents/generate", {}, content_type="application/json")
    assert api.status_code == 401
    outcome(request, "403 without token or cross-origin; API ignores the session cookie")


def test_every_response_carries_the_security_headers(request, member, api_client):
    """C11: CSP with frame-ancestors 'none', nosniff, Referrer-Policy, COOP, X-Frame-Options."""
    client = Client()
    pages = {
        "login": client.get("/accounts/login/"),
        "api": api_client(member).get("/api/v1/documents/"),
        "healthz": client.get("/healthz"),
        "404": client.get("/no-such-page/"),
    }
    for name, response in pages.items():
        csp = response["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp, name
        assert "script-src 'self'" in csp and "'unsafe-eval'" not in csp, name
        assert response["X-Content-Type-Options"] == "nosniff", name
        assert response["Referrer-Policy"] == "same-origin", name
        assert response["Cross-Origin-Opener-Policy"] == "same-origin", name
    assert pages["login"]["X-Frame-Options"] == "DENY"
    assert pages["api"]["Content-Type"].startswith("application/json")
    assert pages["api"]["Cache-Control"] == "no-store"
    token = APIClient().post(
        "/api/v1/auth/token", {"username": "member", "password": "pw-member"}, format="json"
    )
    assert token["Cache-Control"] == "no-store"
    docs = client.get("/api/docs/")
    assert "frame-ancestors 'none'" in docs["Content-Security-Policy"]
    outcome(request, "CSP, nosniff, Referrer-Policy, COOP on pages, API and errors")


def test_the_host_header_and_cors_are_not_trusted(member, api_client):
    """C10/C19: an unknown Host is a 400; no CORS header for a foreign origin."""
    assert Client().get("/healthz", HTTP_HOST="evil.example").status_code == 400
    response = api_client(member).get("/api/v1/documents/", HTTP_ORIGIN="https://evil.example")
    assert "Access-Control-Allow-Origin" not in response


def _deploy_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "FOLIO_", "DATABASE_URL", "REDIS_URL"))
    }
    env.update(
        {
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "folio.example",
            "FOLIO_DATA_DIR": str(tmp_path),
        }
    )
    env.update(extra)
    return env


def test_check_deploy_is_clean_with_production_settings(request, tmp_path):
    """C11: `manage.py check --deploy --fail-level WARNING` exits 0 in production mode."""
    out = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=PROJECT_ROOT,
        env=_deploy_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    code = (
        "from django.conf import settings as s;"
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_NAME,"
        " s.SECURE_HSTS_SECONDS, s.SECURE_SSL_REDIRECT)"
    )
    shown = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=PROJECT_ROOT,
        env=_deploy_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.stdout.strip().splitlines()[-1].split() == [
        "True",
        "True",
        "__Host-sessionid",
        "31536000",
        "True",
    ], shown.stdout + shown.stderr
    outcome(request, "check --deploy: 0 issues")


def test_check_deploy_flags_a_debug_configuration(tmp_path):
    out = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=PROJECT_ROOT,
        env=_deploy_env(tmp_path, DJANGO_DEBUG="1"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode != 0
    assert "security.W018" in out.stdout + out.stderr


def test_the_rq_dashboard_is_for_superusers_only(request, manager, member, django_user_model):
    """C18: a manager is sent to the admin login; a superuser sees the dashboard."""
    for user in (member, manager):
        client = Client()
        client.force_login(user)
        for url in ("/admin/rq/", "/admin/rq/queues/0/", "/admin/rq/stats.json"):
            response = client.get(url)
            assert response.status_code in (302, 403), (user, url)
            if response.status_code == 302:
                assert "/admin/login/" in response["Location"]
    boss = django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-123")
    client = Client()
    client.force_login(boss)
    assert client.get("/admin/rq/").status_code == 200
    outcome(request, "member and manager redirected to login; superuser 200")


def test_the_dashboard_and_worker_clients_use_bounded_redis_timeouts(settings):
    """B7/B8: django-rq's dashboard queue and the worker's connection carry socket timeouts."""
    from django_rq.queues import get_queue_by_index
    from django_rq.workers import get_worker

    dashboard = get_queue_by_index(0).connection.connection_pool.connection_kwargs
    assert dashboard["socket_timeout"] and dashboard["socket_connect_timeout"]
    worker = get_worker("default", worker_class="documents.worker.FolioWorker")
    kwargs = worker.connection.connection_pool.connection_kwargs
    assert kwargs["socket_connect_timeout"] == 1
    assert kwargs["socket_timeout"] is not None  # RQ raises it above its blocking dequeue
    assert worker.maintenance_interval == settings.FOLIO_RECONCILE_SECONDS
    assert worker.dequeue_timeout <= settings.FOLIO_RECONCILE_SECONDS


# --- C6: secrets in logs -------------------------------------------------------------------------


def test_no_token_or_signature_reaches_the_logs(request, caplog, member, api_client):
    """C6 / ASVS 16.2.5: Authorization headers, access/refresh values, presigned signatures."""
    caplog.set_level(logging.DEBUG)
    access = str(RefreshToken.for_user(member).access_token)
    log = logging.getLogger("folio.test")
    log.warning("Request headers: {'Authorization': 'Bearer %s'}", access)
    log.warning("body %s", json.dumps({"refresh": access, "access": access}))
    log.info(
        "GET https://bucket.s3.amazonaws.com/k.pdf?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKIAEXAMPLE%2F20261129&X-Amz-Signature=deadbeefcafe1234&x=1"
    )
    log.info("legacy https://b.s3.amazonaws.com/k?AWSAccessKeyId=A&Signature=c2VjcmV0&Expires=1")
    try:
        raise ValueError(f"bad token {access}")
    except ValueError:
        log.exception("failed")
    signed = api_client(member).post("/generate-presigned-url", {"key": "missing"}, format="json")
    assert signed.status_code == 400
    response = Client().get(
        "/api/v1/files/signed/eyJrIjoic2VjcmV0In0:1t2u3v:c2lnbmF0dXJlLXNlY3JldA"
    )
    assert response.status_code == 404
    text = caplog.text
    for secret in (access, "deadbeefcafe1234", "c2VjcmV0", "c2lnbmF0dXJlLXNlY3JldA", "AKIAEXAMPLE"):
        assert secret not in text, secret
    assert "[redacted]" in text
    outcome(request, "no token, refresh value or signature in any log record")


# --- C15: mass assignment ------------------------------------------------------------------------


def test_extra_fields_in_generate_cannot_choose_the_organization_or_the_state(
    request,
    member,
    org,
    other_org,
    submit,
    tiny_source,
    django_capture_on_commit_callbacks,
    clean_queue,
):
    path = tiny_source(member)
    with django_capture_on_commit_callbacks(execute=True):
        response = submit(
            member,
            [path],
            org_id=str(other_org.id),
            organization=str(other_org.id),
            user_id=999,
            status="Complete",
            output_key=f"{other_org.id}/output/x.docx",
            attempts=99,
        )
    assert response.status_code == 202
    doc = GeneratedDocument.objects.get(pk=response.json()["task_id"])
    assert doc.organization_id == org.id and doc.created_by_id == member.id
    assert (doc.status, doc.output_key, doc.attempts) == ("Pending", "", 0)
    assert uuid.UUID(str(doc.id)).version == 4
    outcome(request, "extra fields ignored")


# --- the audit log -------------------------------------------------------------------------------


def test_managers_read_and_export_their_organizations_audit_log_only(
    request, victim, manager, member, other_manager, api_client
):
    """Audit events of uploads, generations, downloads: managers only, own organization, CSV."""
    boss = api_client(manager)
    assert boss.get(f"/api/v1/documents/{victim['document']}/download").status_code == 200
    listing = boss.get("/api/v1/audit-events/")
    assert listing.status_code == 200
    actions = {e["action"] for e in listing.json()["audit_events"]}
    assert {"upload", "generate", "download"} <= actions
    assert (
        listing.json()["count"]
        == AuditEvent.objects.filter(organization__memberships__user=manager).count()
    )
    assert api_client(member).get("/api/v1/audit-events/").status_code == 403
    theirs = api_client(other_manager).get("/api/v1/audit-events/").json()
    assert theirs["count"] == 0
    filtered = boss.get("/api/v1/audit-events/?action=download").json()
    assert {e["action"] for e in filtered["audit_events"]} == {"download"}

    for url in ("/api/v1/audit-events/?format=csv", "/api/v1/audit-events/export"):
        exported = boss.get(url)
        assert exported.status_code == 200
        assert exported["Content-Type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(b"".join(exported.streaming_content).decode())))
        assert rows[0] == [
            "id",
            "created_at",
            "actor",
            "action",
            "object_type",
            "object_id",
            "details",
        ]
        assert len(rows) - 1 == listing.json()["count"]
    assert api_client(member).get("/api/v1/audit-events/export").status_code == 403
    outcome(request, "manager: own events, JSON and CSV; member 403; other org sees none")


def test_the_audit_log_is_append_only(request, victim):
    event = AuditEvent.objects.filter(action="generate").first()
    event.action = "tampered"
    with pytest.raises(ValueError):
        event.save()
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        AuditEvent.objects.get(pk=event.pk).delete()
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "generate"
    outcome(request, "update and delete refused")


def test_the_audit_csv_cannot_inject_spreadsheet_formulas(member, manager, org, api_client):
    AuditEvent.objects.create(
        organization=org,
        actor=member,
        action="upload",
        object_type="file",
        object_id='=HYPERLINK("http://evil.example")',
    )
    exported = api_client(manager).get("/api/v1/audit-events/export")
    rows = list(csv.reader(io.StringIO(b"".join(exported.streaming_content).decode())))
    assert rows[1][5].startswith("'=")


def test_the_admin_shows_managers_their_organizations_audit_events_read_only(
    victim, manager, other_manager, django_user_model
):
    own = AuditEvent.objects.filter(organization__memberships__user=manager).first()
    client = Client()
    client.force_login(manager)
    listing = client.get("/admin/portal/auditevent/")
    assert listing.status_code == 200
    assert client.get(f"/admin/portal/auditevent/{own.pk}/change/").status_code == 200
    assert client.get("/admin/portal/auditevent/add/").status_code == 403
    assert (
        client.post(f"/admin/portal/auditevent/{own.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    outsider = Client()
    outsider.force_login(other_manager)
    assert outsider.get(f"/admin/portal/auditevent/{own.pk}/change/").status_code in (302, 404)
    exported = client.post(
        "/admin/portal/auditevent/",
        {"action": "export_csv", "_selected_action": [own.pk]},
    )
    assert exported.status_code == 200
    assert exported["Content-Type"].startswith("text/csv")


def test_template_and_style_guide_changes_are_audited(victim, manager, api_client):
    actions = set(AuditEvent.objects.values_list("object_type", flat=True))
    assert {"template", "style_guide"} <= actions


def test_status_reads_the_row_alone_and_never_redis(
    request,
    member,
    api_client,
    submit,
    tiny_source,
    django_capture_on_commit_callbacks,
    clean_queue,
    monkeypatch,
):
    """B9/D4: one query on the status row (plus authentication) and no Redis command."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from redis.client import Redis

    path = tiny_source(member)
    with django_capture_on_commit_callbacks(execute=True):
        task = submit(member, [path]).json()["task_id"]
    client = api_client(member)
    calls: list[Any] = []
    original = Redis.execute_command

    def counting(self, *args, **kwargs):
        calls.append(args[:1])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Redis, "execute_command", counting)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/api/v1/documents/status/{task}")
    assert response.status_code == 200
    assert calls == []
    on_row = [q for q in queries.captured_queries if "documents_generateddocument" in q["sql"]]
    assert len(on_row) == 1
    assert len(queries.captured_queries) <= 3
    outcome(request, f"{len(queries.captured_queries)} SQL queries (1 on the row), 0 Redis calls")


def test_status_costs_at_most_two_queries(member, api_client, submit, tiny_source):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    task = submit(member, [tiny_source(member)]).json()["task_id"]
    client = api_client(member)
    with CaptureQueriesContext(connection) as queries:
        client.get(f"/api/v1/documents/status/{task}")
    assert len(queries.captured_queries) <= 2
