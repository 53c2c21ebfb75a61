"""Helpers shared by the API views: list envelopes with ``?limit=&offset=``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from portal.errors import InvalidInput

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
# Past this an offset is no page of anything, and SQLite (64-bit) or PostgreSQL (bigint) would fail
# on it with a 500.
MAX_OFFSET = 10**9


def _int_param(request: Request, name: str, default: int, maximum: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    code = "invalid_parameter"
    if len(raw) > 12:
        raise InvalidInput.about(name, f"at most {MAX_OFFSET}.", code=code)
    try:
        value = int(raw)
    except ValueError as exc:
        raise InvalidInput.about(name, "must be a non-negative integer.", code=code) from exc
    if value < 0:
        raise InvalidInput.about(name, "must be a non-negative integer.", code=code)
    if value > MAX_OFFSET:
        raise InvalidInput.about(name, f"at most {MAX_OFFSET}.", code=code)
    return min(value, maximum) if maximum is not None else value


def list_response(
    request: Request,
    items: Any,
    *,
    name: str,
    serialize: Callable[[Any], dict[str, Any]],
) -> Response:
    """Answer ``{"count": N, name: [...]}`` for one page of ``items`` (a queryset or a list)."""
    limit = _int_param(request, "limit", DEFAULT_LIMIT, MAX_LIMIT)
    offset = _int_param(request, "offset", 0)
    count = items.count() if hasattr(items, "count") and not isinstance(items, list) else len(items)
    page: Iterable[Any] = items[offset : offset + limit]
    return Response({"count": count, name: [serialize(obj) for obj in page]})
