"""The 503 "try again later" answer of the site shell's own fault handlers (the database, the
upload spool): a short page for browsers and htmx, ``{"detail", "code"}`` otherwise, always with
``Retry-After``. Imports nothing of the project, so any of its modules can use it."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse


def try_again_response(
    request: HttpRequest, body: dict[str, str], retry_after: str
) -> HttpResponse:
    """503 with ``Retry-After``: a short page for browsers, ``{"detail", "code"}`` otherwise."""
    if request.headers.get("HX-Request") or "text/html" in request.headers.get("Accept", ""):
        response: HttpResponse = HttpResponse(
            f"<!doctype html><title>Folio: try again</title><p>{body['detail']}</p>", status=503
        )
    else:
        response = JsonResponse(body, status=503)
    response["Retry-After"] = retry_after
    return response
