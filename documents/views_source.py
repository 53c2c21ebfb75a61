"""The cited source behind a citation marker (the document page's side panel).

``GET /documents/<id>/citations/<n>/`` shows citation ``n`` of the document's preview in its
source: with htmx the panel's content (swapped into ``#source-panel``), without it a page of its
own with a link back. ``GET /documents/<id>/citations/<n>/page.png`` is the cited PDF page as an
image. Both go through the organization-scoped document selector: another organization's document
(or a citation number it does not have) is a 404.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.views.decorators.http import require_GET

from documents import selectors
from documents.presenters import draft_preview
from documents.presenters_page import citation_by_number
from documents.source_view import PageNotDrawn, cited_source, pdf_page_png, source_version
from portal.pages import member_required


def _citation(request: HttpRequest, pk: Any, n: int) -> tuple[Any, dict[str, Any]]:
    document = selectors.document_get_for_user(request.user, pk)
    citation = citation_by_number(
        draft_preview(document.twin, stale=document.stale_sections), int(n)
    )
    if citation is None:
        raise Http404("No such citation.")
    return document, citation


@require_GET
@member_required
def citation_source(request: HttpRequest, pk: Any, n: int) -> HttpResponse:
    document, citation = _citation(request, pk, n)
    context = {"document": document, "n": n, **cited_source(document, citation)}
    template = "documents/_source_panel.html" if request.htmx else "documents/source_page.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_GET
@member_required
def citation_page_image(request: HttpRequest, pk: Any, n: int) -> HttpResponse:
    document, citation = _citation(request, pk, n)
    version = source_version(document, citation)
    page = citation.get("page")
    if version is None or version.file_type != "pdf" or not page:
        raise Http404("This citation names no PDF page.")
    try:
        png = pdf_page_png(version, int(page))
    except PageNotDrawn as exc:
        # Too slow or too large to draw here: the panel still shows the page's text.
        return HttpResponse(
            f"The page could not be drawn ({exc.code}).",
            status=503,
            content_type="text/plain; charset=utf-8",
        )
    if png is None:
        raise Http404("The file has no such page.")
    response = HttpResponse(png, content_type="image/png")
    patch_cache_control(response, private=True, max_age=3600)
    return response
