"""Page helpers of the portal's site shell, shared by every app's portal views.

- ``member_required``: logged in and in an organization (a user without one gets a friendly 403
  page, ``portal/no_organization.html``);
- ``render_page``: the full page, or one partial of it for an HTMX request
  (django-template-partials, ``Vary: HX-Request``);
- ``paginate`` and ``query_without_page``: the list pages' pagination that keeps the filters
  (rendered by ``portal/_pagination.html``);
- ``section_tree``: ordered, levelled sections nested for the outline trees.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers

from portal.selectors import membership_of

PAGE_SIZE = 20

View = Callable[..., HttpResponse]


def member_required(view: View) -> View:
    """Log-in required, and a membership: a user without an organization gets a friendly page."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if membership_of(request.user) is None:
            return render(request, "portal/no_organization.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper


def render_page(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    *,
    partial: str | None = None,
    status: int = 200,
) -> HttpResponse:
    """The full page, or only ``template#partial`` for an HTMX request (Vary: HX-Request)."""
    name = f"{template}#{partial}" if partial and request.htmx else template
    response = render(request, name, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


def paginate(request: HttpRequest, items: Any, size: int = PAGE_SIZE) -> Page:
    return Paginator(items, size).get_page(request.GET.get("page"))


def query_without_page(request: HttpRequest) -> str:
    """The current query string minus ``page``, for pagination links that keep the filters."""
    params = [(k, v) for k, values in request.GET.lists() for v in values if k != "page" and v]
    return urlencode(params)


def section_tree(sections: Iterable[Any]) -> list[dict[str, Any]]:
    """Nest ordered, levelled sections (``.level``) into ``[{"section", "children"}]``."""
    roots: list[dict[str, Any]] = []
    stack: list[tuple[int, dict[str, Any]]] = []
    for section in sections:
        node = {"section": section, "children": [], "heading": f"h{min(section.level + 2, 6)}"}
        while stack and stack[-1][0] >= section.level:
            stack.pop()
        (stack[-1][1]["children"] if stack else roots).append(node)
        stack.append((section.level, node))
    return roots
