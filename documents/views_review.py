"""Portal views of the review cycle (docs/api.md, "The review cycle"): upload a reviewed copy,
download the redline, regenerate the stale sections. Thin, like ``documents/views.py``: one service
or selector each.

A refused reviewed copy (not a Folio draft, another document's, not a .docx) shows the document
page again with the reason beside the **Reviewed copy** field (status 400); nothing changed.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from documents import selectors, services
from documents.downloads import document_download_response
from documents.exceptions import QueueUnavailable
from documents.forms import ReviewUploadForm
from documents.views import document_page, not_ready, regenerate_or_redirect
from portal.errors import Conflict, NotFound, ServiceError, TooManyRequests, add_to_form
from portal.pages import member_required

REVIEW_FIELDS = {"file": "file", "instructions": "instructions"}


@require_POST
@member_required
def document_review(request: HttpRequest, pk: Any) -> HttpResponse:
    document = selectors.document_get_for_user(request.user, pk)
    form = ReviewUploadForm(request.POST, request.FILES)
    if form.is_valid():
        data = form.cleaned_data
        try:
            outcome = services.review_upload(
                user=request.user,
                document=document,
                **services.review_options(data),
            )
        except QueueUnavailable as exc:
            messages.error(request, exc.message)
            return redirect("documents:document_detail", pk=exc.task_id)
        except (TooManyRequests, Conflict) as exc:
            form.add_error(None, exc.message)
        except ServiceError as exc:
            add_to_form(form, exc, fields=REVIEW_FIELDS, default="file")
        else:
            regenerated = [s for s in outcome.sections if s["regenerate"]]
            edited = [s for s in outcome.sections if s["edited"]]
            if outcome.new_version is not None:
                messages.success(
                    request,
                    f"Review read: writing {len(regenerated)} commented section"
                    f"{'s' if len(regenerated) != 1 else ''} again as version "
                    f"{outcome.new_version.version}"
                    + (
                        f"; {len(edited)} edited section{'s' if len(edited) != 1 else ''} kept "
                        "as people wrote them"
                        if edited
                        else ""
                    )
                    + ".",
                )
                return redirect("documents:document_detail", pk=outcome.new_version.pk)
            messages.info(
                request,
                "Review read: no section is to be written again"
                + (
                    f"; {len(edited)} edited section{'s' if len(edited) != 1 else ''} recorded"
                    if edited
                    else ""
                )
                + ".",
            )
            return redirect(reverse("documents:document_detail", args=[document.pk]) + "#review")
    return document_page(request, document, review_form=form, status=400)


@require_POST
@member_required
def document_regenerate_stale(request: HttpRequest, pk: Any) -> HttpResponse:
    document = selectors.document_get_for_user(request.user, pk)
    new = regenerate_or_redirect(
        request,
        document,
        "#stale",
        stale=True,
        overwrite_edited=bool(request.POST.get("overwrite_edited")),
    )
    if isinstance(new, HttpResponse):
        return new
    count = len(new.regenerate_section_ids)
    messages.success(
        request,
        f"Writing {count} stale section{'s' if count != 1 else ''} again from the newest "
        f"sources as version {new.version}.",
    )
    return redirect("documents:document_detail", pk=new.pk)


@require_GET
@member_required
def document_download_redline(request: HttpRequest, pk: Any) -> HttpResponse:
    document = selectors.document_get_for_user(request.user, pk)
    try:
        return document_download_response(user=request.user, document=document, redline=True)
    except Conflict:
        return not_ready(request, document)
    except NotFound as exc:
        messages.error(request, exc.message)
        response = redirect("documents:document_detail", pk=document.pk)
        response.status_code = 302
        return response
