"""Security plumbing shared by every response and every log line (docs/security.md).

- ``SecurityHeadersMiddleware`` adds a Content-Security-Policy (with ``frame-ancestors 'none'``),
  a Permissions-Policy, ``Cache-Control: no-store`` on the token endpoints and on authenticated
  API answers, and makes sure ``X-Content-Type-Options``, ``Referrer-Policy`` and
  ``Cross-Origin-Opener-Policy`` are present even where Django's ``SecurityMiddleware`` did not
  set them. The browsable API docs (``/api/docs/``) are served from our own static files
  (drf-spectacular-sidecar), so they get the same same-origin policy as every page.
- ``DatabaseUnavailableMiddleware`` answers 503 (``database_unavailable``, ``Retry-After``) when
  a portal view loses the database, instead of a 500 (the API's handler does the same for API
  views: ``portal/api_errors.py``).
- ``RedactSecretsFilter`` is a logging filter that removes bearer tokens, ``access`` /
  ``refresh`` values, S3 presigned-URL signatures and our signed download tokens from log
  records before any handler writes them. It rewrites the record in place, so every handler
  after the first one sees the redacted text too.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse

from portal.try_again import try_again_response

DEFAULT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"


class SecurityHeadersMiddleware:
    """Adds the headers Django does not set itself; never overrides a view's own choice."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        path = request.path
        response.headers.setdefault("Content-Security-Policy", _csp())
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault(
            "Referrer-Policy", getattr(settings, "SECURE_REFERRER_POLICY", None) or "same-origin"
        )
        response.headers.setdefault(
            "Cross-Origin-Opener-Policy",
            getattr(settings, "SECURE_CROSS_ORIGIN_OPENER_POLICY", None) or "same-origin",
        )
        if path.startswith("/api/v1/auth/") or (
            path.startswith("/api/") and request.headers.get("Authorization")
        ):
            response.headers.setdefault("Cache-Control", "no-store")
        return response


def _csp() -> str:
    return getattr(settings, "FOLIO_CSP", "") or DEFAULT_CSP


# --- log redaction -----------------------------------------------------------------------------

REDACTED = "[redacted]"
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # Authorization: Bearer <token> (header dumps, repr of request.headers, curl lines)
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + REDACTED),
    (
        re.compile(r"(?i)(['\"]?(?:http_)?authorization['\"]?\s*[:=]\s*['\"]?)[^'\",}\s][^'\",}]*"),
        r"\1" + REDACTED,
    ),
    # "access": "...", 'refresh': '...', access=..., refresh=... (JSON bodies, dict reprs, forms)
    (
        re.compile(
            r"(?i)(['\"]?\b(?:access|refresh|access_token|refresh_token|password|token)\b['\"]?"
            r"\s*[:=]\s*['\"]?)[^'\"&,}\s]+"
        ),
        r"\1" + REDACTED,
    ),
    # S3 presigned URLs (SigV2 and SigV4) and security tokens in query strings
    (
        re.compile(
            r"(?i)([?&](?:X-Amz-Signature|Signature|X-Amz-Security-Token|X-Amz-Credential)=)"
            r"[^&\s'\"]+"
        ),
        r"\1" + REDACTED,
    ),
    # Our signed download URLs: /api/v1/files/signed/<token>
    (re.compile(r"(/files/signed/)[^/?#\s'\"]+"), r"\1" + REDACTED),
    # A bare JWT anywhere (three base64url segments, the first one a JSON header)
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"), REDACTED),
]


def redact(text: str) -> str:
    """The text with every secret pattern replaced by ``[redacted]``."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class DatabaseUnavailableMiddleware:
    """A view that lost the database answers 503 with ``Retry-After``, not a 500."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        from portal.api_errors import DATABASE_RETRY_AFTER, DATABASE_UNAVAILABLE

        logging.getLogger(__name__).warning("Database unavailable: %s", exception)
        return try_again_response(request, DATABASE_UNAVAILABLE, DATABASE_RETRY_AFTER)


class RedactSecretsFilter(logging.Filter):
    """Redacts secrets in the message, its arguments and a formatted exception, in place."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler to report
            return True
        redacted = redact(message)
        if redacted != message or record.args:
            record.msg = redacted
            record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
