"""One error shape for the API: ``{"detail": "..."}`` (plus ``"code"`` where CONTRACT §4 names one).

Validation errors are flattened into one sentence that names every offending field; the
field-by-field form stays available under ``"errors"``.
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
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from portal.parsers import JSONTooDeep

logger = logging.getLogger(__name__)


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


class APIError(exceptions.APIException):
    """An API error with an explicit status, message and optional stable code and extras."""

    def __init__(
        self,
        detail: str,
        *,
        status_code: int = status.HTTP_400_BAD_REQUEST,
        code: str | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.error_code = code
        self.extra = extra or {}
        self.headers = headers or {}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, APIError):
        body: dict[str, Any] = {"detail": str(exc.detail)}
        if exc.error_code:
            body["code"] = exc.error_code
        body.update(exc.extra)
        return Response(body, status=exc.status_code, headers=exc.headers)
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
        response.data = {"detail": "; ".join(messages) or "Invalid input.", "errors": exc.detail}
    elif isinstance(exc, exceptions.NotAuthenticated):
        response.data = {"detail": "Not authenticated"}
    elif isinstance(exc, exceptions.AuthenticationFailed):
        response.data = {"detail": "Invalid authentication credentials"}
    elif isinstance(response.data, dict) and "detail" in response.data:
        response.data = {"detail": str(response.data["detail"])}
    return response
