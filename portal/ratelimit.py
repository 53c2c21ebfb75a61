"""Brute-force protection for the session logins (the portal's and the admin's).

The API's token endpoints are throttled by DRF (``FOLIO_LOGIN_RATE``, portal/views.py). The HTML
login forms are covered here: after ``FOLIO_LOGIN_MAX_FAILURES`` failed attempts for one
username from one client address, further attempts are refused for
``FOLIO_LOGIN_LOCKOUT_SECONDS`` with HTTP 429, a ``Retry-After`` header and the login form showing
the reason. A successful login clears the count. The key is the client address *and* the
username, so an attacker cannot lock a user out from elsewhere.

Counts live in Django's default cache. With the default per-process memory cache each web worker
counts on its own (so the effective limit is multiplied by the number of workers); configure a
shared cache (``CACHES``) in a multi-process deployment. ``REMOTE_ADDR`` is the client address:
behind a reverse proxy, have the proxy limit logins too (docs/security.md).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.forms.utils import ErrorDict
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

logger = logging.getLogger("folio.security")

LOGIN_PATHS = frozenset({"/accounts/login/", "/admin/login/"})
KEY_PREFIX = "folio:login-failures:"


def max_failures() -> int:
    return int(getattr(settings, "FOLIO_LOGIN_MAX_FAILURES", 10))


def lockout_seconds() -> int:
    return int(getattr(settings, "FOLIO_LOGIN_LOCKOUT_SECONDS", 900))


def client_address(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def failure_key(address: str, username: str) -> str:
    digest = hashlib.sha256(f"{address}\x00{username.strip().lower()}".encode()).hexdigest()
    return KEY_PREFIX + digest


def failures(address: str, username: str) -> int:
    return int(cache.get(failure_key(address, username), 0))


def record_failure(address: str, username: str) -> int:
    key = failure_key(address, username)
    cache.add(key, 0, timeout=lockout_seconds())
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=lockout_seconds())
        return 1


def clear_failures(address: str, username: str) -> None:
    cache.delete(failure_key(address, username))


class LoginRateLimitMiddleware:
    """Counts failed session logins per address and username; answers 429 past the limit."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST" or request.path not in LOGIN_PATHS:
            return self.get_response(request)
        address = client_address(request)
        username = str(request.POST.get("username", ""))[:150]
        if failures(address, username) >= max_failures():
            logger.warning("Login refused: too many failures for a username from %s", address)
            return _too_many(request, username)
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if response.status_code in (301, 302, 303) and getattr(user, "is_authenticated", False):
            clear_failures(address, username)
        elif response.status_code == 200:
            count = record_failure(address, username)
            logger.info("Failed login %s of %s from %s", count, max_failures(), address)
        return response


def _too_many(request: HttpRequest, username: str) -> HttpResponse:
    """The login page with the reason as a form error, status 429 (rendered: no view runs)."""
    minutes = max(1, round(lockout_seconds() / 60))
    message = (
        f"Too many failed login attempts. Try again in {minutes} minute"
        f"{'s' if minutes != 1 else ''}."
    )
    form = AuthenticationForm(request, initial={"username": username})
    form.data = {"username": username}
    form.is_bound = True
    form._errors = ErrorDict()
    form.cleaned_data = {}
    form.add_error(None, message)
    response = TemplateResponse(
        request,
        "registration/login.html",
        {"form": form, "next": request.POST.get("next", "")},
        status=429,
    )
    response["Retry-After"] = str(lockout_seconds())
    return response.render()
