"""One error shape for the API (docs/api.md, "Errors"): ``{"detail": "...", "code": "..."}``.

Every ``portal.errors.ServiceError`` a service raises is mapped here, once: its status, its
``detail`` sentence, its ``code``, its field-by-field ``errors`` and any extra body fields and
headers (``task_id``, ``Retry-After``). Serializer validation errors are flattened into one
sentence that names every offending field, with ``"code": "invalid"`` and the field-by-field
form under ``"errors"``.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import (
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.db import InterfaceError, OperationalError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from portal.errors import ServiceError
from portal.parsers import JSONTooDeep
from portal.uploadspool import RETRY_AFTER as SPOOL_RETRY_AFTER
from portal.uploadspool import SPOOL_FAILED, UploadSpoolError

logger = logging.getLogger(__name__)

DATABASE_UNAVAILABLE = {
    "detail": "The database is not reachable right now. Try again in a minute.",
    "code": "database_unavailable",
}
DATABASE_RETRY_AFTER = "30"


def _flatten(detail: Any, prefix: str = "") -> list[str]:
    if isinstance(detail, dict):
        out: list[str] = []
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if key == "non_field_errors":
                name = prefix
            out.extend(_flatten(value, name))
        return out
    if isinstance(detail, list):
        out = []
        for i, value in enumerate(detail):
            if isinstance(value, dict | list):
                out.extend(_flatten(value, f"{prefix}[{i}]"))
            else:
                out.extend(_flatten(value, prefix))
        return out
    text = str(detail)
    return [f"{prefix}: {text}" if prefix else text]


def service_error_body(exc: ServiceError) -> dict[str, Any]:
    body: dict[str, Any] = {"detail": exc.message, "code": exc.code}
    if exc.errors:
        body["errors"] = exc.errors
    body.update(exc.extra)
    return body


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ServiceError):
        return Response(service_error_body(exc), status=exc.status, headers=exc.headers)
    if isinstance(exc, OperationalError | InterfaceError):
        # The database went away (restart, failover, network): a 503 the client may retry,
        # never a 500; the broken connection is dropped when the request ends.
        logger.warning("Database unavailable: %s", exc)
        return Response(
            dict(DATABASE_UNAVAILABLE),
            status=503,
            headers={"Retry-After": DATABASE_RETRY_AFTER},
        )
    if isinstance(exc, UploadSpoolError):
        return Response(dict(SPOOL_FAILED), status=503, headers={"Retry-After": SPOOL_RETRY_AFTER})
    if isinstance(exc, RequestDataTooBig):
        return Response({"detail": "The request body is too large."}, status=413)
    if isinstance(exc, TooManyFilesSent):
        return Response(
            {"detail": "Too many files in one request: send them in separate uploads."}, status=400
        )
    if isinstance(exc, TooManyFieldsSent):
        return Response({"detail": "Too many form fields in one request."}, status=400)
    if isinstance(exc, SuspiciousOperation):
        return Response({"detail": "The request was refused as malformed."}, status=400)
    if isinstance(exc, RecursionError):
        # A structure nested too deep for Python (portal/parsers.py refuses deep JSON before
        # parsing; this is the net for any other path): a 400, and no traceback in the log.
        logger.warning("Refused a request nested too deeply (RecursionError)")
        return Response(
            {"detail": "The request is nested too deeply.", "code": "json_too_deep"}, status=400
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("Unhandled API error", exc_info=exc)
        return Response(
            {"detail": "An unexpected error occurred.", "code": "internal_error"},
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if isinstance(exc, JSONTooDeep):
        response.data = {"detail": str(exc.detail), "code": "json_too_deep"}
    elif isinstance(exc, exceptions.ValidationError):
        messages = _flatten(exc.detail)
        response.data = {
            "detail": "; ".join(messages) or "Invalid input.",
            "code": "invalid",
            "errors": exc.detail,
        }
    elif isinstance(exc, exceptions.NotAuthenticated):
        response.data = {"detail": "Not authenticated"}
    elif isinstance(exc, exceptions.AuthenticationFailed):
        response.data = {"detail": "Invalid authentication credentials"}
    elif isinstance(response.data, dict) and "detail" in response.data:
        response.data = {"detail": str(response.data["detail"])}
    return response
