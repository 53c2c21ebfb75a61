"""Brute-force protection of every login: the portal's, the admin's and the API's token routes.

Two kinds of limit, both counted in the database (``portal.models.RateCounter``), which every web
process and every gunicorn worker shares:

- **Failures** (``FOLIO_LOGIN_MAX_FAILURES`` per client address and account,
  ``FOLIO_LOGIN_MAX_ACCOUNT_FAILURES`` per account from every address, within
  ``FOLIO_LOGIN_LOCKOUT_SECONDS``): past either, further attempts for that account are refused
  with 429 and ``Retry-After`` (the login form shows why; the API answers
  ``{"detail", "code": "too_many_login_failures"}``) until the window ends. A successful login
  clears its address-and-account count. The per-address count alone would let a botnet spread
  its guesses; the per-account count alone would let anyone lock anyone out, hence a higher limit.
- **Rate** (``FOLIO_LOGIN_RATE``, e.g. ``20/min``) of token and refresh requests per client
  address, right or wrong (``LoginRateThrottle``, DRF's throttle hook).

The account is the username after NFKC + casefold (``portal.backends.normalize_username``), the
same comparison the login itself uses, so ``ｅｖｅ`` or ``EVE`` count as ``eve``. The client
address is ``REMOTE_ADDR``; ``X-Forwarded-For`` is read only when ``FOLIO_TRUSTED_PROXIES`` says
how many proxies in front append to it, and then only the address the outermost trusted proxy
saw. Counter keys are hashed, so no username or address is stored in clear.

Why not django-axes: see docs/security.md (finding 3).
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.db import IntegrityError, transaction
from django.db.models import F
from django.forms.utils import ErrorDict
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from rest_framework.throttling import BaseThrottle

from portal.backends import normalize_username

logger = logging.getLogger("folio.security")

LOGIN_PATHS = frozenset({"/accounts/login/", "/admin/login/"})
RATE_PERIODS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400}


def max_failures() -> int:
    return int(getattr(settings, "FOLIO_LOGIN_MAX_FAILURES", 10))


def max_account_failures() -> int:
    return int(getattr(settings, "FOLIO_LOGIN_MAX_ACCOUNT_FAILURES", 50))


def lockout_seconds() -> int:
    return int(getattr(settings, "FOLIO_LOGIN_LOCKOUT_SECONDS", 900))


def client_address(request: Any) -> str:
    """The client's address: ``REMOTE_ADDR``, or with ``FOLIO_TRUSTED_PROXIES`` = N > 0 the
    address N hops from the right of ``X-Forwarded-For`` (what the outermost trusted proxy saw)."""
    meta = request.META
    remote = str(meta.get("REMOTE_ADDR") or "unknown")
    trusted = int(getattr(settings, "FOLIO_TRUSTED_PROXIES", 0))
    if trusted <= 0:
        return remote
    hops = [h.strip() for h in str(meta.get("HTTP_X_FORWARDED_FOR") or "").split(",") if h.strip()]
    if not hops:
        return remote
    return hops[-min(trusted, len(hops))][:100]


# --- the shared counters ------------------------------------------------------------------------


def _key(kind: str, *parts: str) -> str:
    digest = hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:48]
    return f"{kind}:{digest}"


def counter_get(key: str) -> tuple[int, float]:
    """(count, seconds left in its window); (0, 0) when nothing is counted."""
    from portal.models import RateCounter

    now = timezone.now()
    row = RateCounter.objects.filter(key=key, expires_at__gt=now).values_list("count", "expires_at")
    found = row.first()
    if found is None:
        return 0, 0.0
    return int(found[0]), (found[1] - now).total_seconds()


def counter_hit(key: str, window_seconds: int) -> tuple[int, float]:
    """Add one to ``key`` (a new window starts when the last one ended); (count, seconds left)."""
    from portal.models import RateCounter

    for _attempt in range(3):
        now = timezone.now()
        with transaction.atomic():
            updated = RateCounter.objects.filter(key=key, expires_at__gt=now).update(
                count=F("count") + 1
            )
            if updated:
                count, expires = (
                    RateCounter.objects.filter(key=key).values_list("count", "expires_at").get()
                )
                return int(count), (expires - now).total_seconds()
        try:
            with transaction.atomic():
                # Expired windows, this one's included, are cleared as new ones start.
                RateCounter.objects.filter(expires_at__lte=now).delete()
                expires = now + timedelta(seconds=window_seconds)
                RateCounter.objects.create(key=key, count=1, expires_at=expires)
                return 1, float(window_seconds)
        except IntegrityError:  # another process started this window first: count in it
            continue
    return counter_get(key)


def counter_clear(key: str) -> None:
    from portal.models import RateCounter

    RateCounter.objects.filter(key=key).delete()


# --- login failures -----------------------------------------------------------------------------


def _failure_keys(address: str, username: str) -> tuple[str, str]:
    account = normalize_username(username)
    return _key("fail-pair", address, account), _key("fail-account", account)


def lockout_remaining(address: str, username: str) -> float:
    """Seconds this address must wait before trying this account again (0: it may try now)."""
    pair, account = _failure_keys(address, username)
    pair_count, pair_left = counter_get(pair)
    account_count, account_left = counter_get(account)
    waits = [0.0]
    if pair_count >= max_failures():
        waits.append(pair_left)
    if account_count >= max_account_failures():
        waits.append(account_left)
    return max(waits)


def record_failure(address: str, username: str) -> int:
    """Count a failed login; returns the address-and-account count."""
    pair, account = _failure_keys(address, username)
    counter_hit(account, lockout_seconds())
    count, _ = counter_hit(pair, lockout_seconds())
    return count


def clear_failures(address: str, username: str) -> None:
    """A successful login clears its address-and-account count (not the account-wide one)."""
    counter_clear(_failure_keys(address, username)[0])


def retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))


# --- the API's rate limit -----------------------------------------------------------------------


def parse_rate(rate: str) -> tuple[int, int]:
    """``"20/min"`` → (20, 60)."""
    number, _, period = (rate or "").partition("/")
    return int(number), RATE_PERIODS.get(period.strip().lower(), 60)


class LoginRateThrottle(BaseThrottle):
    """``FOLIO_LOGIN_RATE`` requests per client address to the token routes, in fixed windows
    counted in the database (DRF's own throttles count in the per-process cache)."""

    scope = "login"

    def __init__(self) -> None:
        self.wait_seconds = 0.0

    def allow_request(self, request: Any, view: Any) -> bool:
        from rest_framework.settings import api_settings

        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        if not rate:
            return True
        limit, period = parse_rate(rate)
        count, left = counter_hit(_key("rate", self.scope, client_address(request)), period)
        if count > limit:
            self.wait_seconds = left
            return False
        return True

    def wait(self) -> float | None:
        return max(1.0, math.ceil(self.wait_seconds))


# --- the session logins -------------------------------------------------------------------------


class LoginRateLimitMiddleware:
    """Counts failed session logins; answers 429 while the address or account is locked."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST" or request.path not in LOGIN_PATHS:
            return self.get_response(request)
        address = client_address(request)
        username = str(request.POST.get("username", ""))[:150]
        wait = lockout_remaining(address, username)
        if wait > 0:
            logger.warning("Login refused: too many failures for an account from %s", address)
            return _too_many(request, username, wait)
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if response.status_code in (301, 302, 303) and getattr(user, "is_authenticated", False):
            clear_failures(address, username)
        elif response.status_code == 200:
            count = record_failure(address, username)
            logger.info("Failed login %s of %s from %s", count, max_failures(), address)
        return response


def _too_many(request: HttpRequest, username: str, wait: float) -> HttpResponse:
    """The login page with the reason as a form error, status 429 (rendered: no view runs)."""
    minutes = max(1, math.ceil(wait / 60))
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
    response["Retry-After"] = retry_after(wait)
    return response.render()
