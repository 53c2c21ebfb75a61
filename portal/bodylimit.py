"""Request bodies are refused by their size before anything reads them (docs/security.md, 4).

Django reads a multipart body into temporary files as soon as anything touches ``request.POST``
(the CSRF check does, before its 403), and DRF reads a JSON body whole: a 300 MB anonymous POST
to the login page used to be written to disk before it was refused. This middleware runs before
anything reads the body and answers **413** ``{"detail", "code": "request_too_large"}`` when:

- the declared ``Content-Length`` exceeds the route's limit: nothing of the body is read;
- a chunked body (no length; only when the server de-chunks it, as gunicorn does) passes the
  limit while it is read here, into a spooled temporary file that replaces the request's stream.
  A chunked body the server cannot de-chunk (Django's development server) is refused with 411.

Limits: anonymous requests ``FOLIO_MAX_ANONYMOUS_BODY_KB``; authenticated ones
``FOLIO_MAX_BODY_MB``, except the upload routes: one file (``FOLIO_MAX_UPLOAD_MB``) for the
upload, template-import and reviewed-copy routes and the admin's Word import,
``FOLIO_MAX_UPLOAD_FILES`` files for the portal's new-document form. Who is authenticated is
decided only for a body larger than the anonymous limit (a session, or a valid bearer token).
The reverse proxy in front should refuse oversized bodies too (docs/configuration.md).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve

from portal.uploadspool import spool_failed_response

logger = logging.getLogger("folio.security")

MB = 1024 * 1024
# Multipart framing and the other form fields around the file(s).
ENVELOPE = 1 * MB
ONE_FILE_ROUTES = frozenset(
    {
        "file_upload",
        "template_import",
        "admin:templates_app_template_import_docx",
        # A reviewed copy of a draft (docs/api.md, "The review cycle"): the API route and the
        # portal's form.
        "document_review",
        "documents:document_review",
    }
)
MANY_FILES_ROUTES = frozenset({"documents:document_new"})
JSON_IMPORT_ROUTES = frozenset({"admin:templates_app_template_import_json"})
JSON_IMPORT_MB = 20  # templates_app/admin.py MAX_JSON_BYTES


def anonymous_limit() -> int:
    return int(settings.FOLIO_MAX_ANONYMOUS_BODY_KB) * 1024


def route_limit(request: HttpRequest) -> int:
    """The largest body an authenticated caller may send to this route."""
    try:
        name = resolve(request.path_info).view_name
    except Resolver404:
        name = ""
    upload = int(settings.FOLIO_MAX_UPLOAD_MB) * MB
    if name in ONE_FILE_ROUTES:
        return upload + ENVELOPE
    if name in MANY_FILES_ROUTES:
        return upload * int(settings.DATA_UPLOAD_MAX_NUMBER_FILES) + ENVELOPE
    if name in JSON_IMPORT_ROUTES:
        return max(JSON_IMPORT_MB * MB + ENVELOPE, int(settings.FOLIO_MAX_BODY_MB) * MB)
    return int(settings.FOLIO_MAX_BODY_MB) * MB


def is_authenticated(request: HttpRequest) -> bool:
    """A logged-in session or a valid bearer token (checked only for larger bodies)."""
    user = getattr(request, "user", None)
    if getattr(user, "is_authenticated", False):
        return True
    if not request.META.get("HTTP_AUTHORIZATION"):
        return False
    from portal.auth import OrgJWTAuthentication

    try:
        return OrgJWTAuthentication().authenticate(request) is not None  # type: ignore[arg-type]
    except Exception:  # an invalid token: the caller is anonymous
        return False


def too_large(limit: int, authenticated: bool) -> JsonResponse:
    size = f"{limit // MB} MB" if limit >= MB else f"{limit // 1024} KB"
    who = "" if authenticated else " without logging in"
    return JsonResponse(
        {
            "detail": f"The request body is larger than the {size} this route accepts{who}.",
            "code": "request_too_large",
        },
        status=413,
    )


class BodyLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        meta = request.META
        chunked = "chunked" in str(meta.get("HTTP_TRANSFER_ENCODING", "")).lower()
        try:
            declared = int(meta.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if not chunked and declared <= anonymous_limit():
            return self.get_response(request)

        authenticated = is_authenticated(request)
        limit = route_limit(request) if authenticated else anonymous_limit()
        if chunked:
            refused = self._read_chunked(request, limit, authenticated)
            if refused is not None:
                return refused
            response = self.get_response(request)
            response._resource_closers.append(request._folio_spool.close)  # type: ignore[attr-defined]
            return response
        if declared > limit:
            logger.warning("Refused a %s-byte body to %s (limit %s)", declared, request.path, limit)
            return too_large(limit, authenticated)
        return self.get_response(request)

    def _read_chunked(
        self, request: HttpRequest, limit: int, authenticated: bool
    ) -> HttpResponse | None:
        """Read a de-chunked body up to ``limit``; None when it fits (the request then reads it
        from a spooled copy), else the answer to send."""
        environ: dict[str, Any] = request.environ
        if not environ.get("wsgi.input_terminated"):
            return JsonResponse(
                {
                    "detail": "A chunked request body is not accepted here: send Content-Length.",
                    "code": "length_required",
                },
                status=411,
            )
        source = environ["wsgi.input"]
        # Closed with the response (see __call__), or here when refused.
        spool = tempfile.SpooledTemporaryFile(  # noqa: SIM115
            max_size=int(settings.FILE_UPLOAD_MAX_MEMORY_SIZE)
        )
        size = 0
        while True:
            chunk = source.read(64 * 1024)
            if not chunk:
                break
            size += len(chunk)
            if size > limit:
                spool.close()
                logger.warning("Refused a chunked body to %s past %s bytes", request.path, limit)
                return too_large(limit, authenticated)
            try:
                spool.write(chunk)
            except OSError as exc:  # past 2.5 MB the copy is on disk: a full temporary folder
                spool.close()
                logger.warning("Could not spool a chunked body to %s: %s", request.path, exc)
                return spool_failed_response(request)
        spool.seek(0)
        request.META["CONTENT_LENGTH"] = str(size)
        request._stream = LimitedStream(spool, size)  # type: ignore[attr-defined]
        request._folio_spool = spool  # type: ignore[attr-defined]
        return None
