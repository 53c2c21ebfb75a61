"""Marking a section not applicable (or restoring it) from the document page (CONTRACT §9).

``POST /documents/<id>/sections/<section_id>/state/`` with ``state`` (``not_applicable`` or
``restore``) and ``reason``: the same service as the API (``services.set_section_state``). On
success the page again, at the section, with a message; a refused request (no reason, too long)
shows the page again (400) with the reason's error beside the field of that section's form.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from documents import selectors, services
from documents.views import document_page
from portal.errors import InvalidInput, ServiceError
from portal.pages import member_required


@require_POST
@member_required
def section_state(request: HttpRequest, pk: Any, section_id: str) -> HttpResponse:
    document = selectors.document_get_for_user(request.user, pk)
    state = request.POST.get("state", "")
    anchor = reverse("documents:document_detail", args=[document.pk]) + f"#section-{section_id}"
    try:
        section = services.set_section_state(
            document, section_id, state, request.POST.get("reason"), user=request.user
        )
    except InvalidInput as exc:
        error = next(iter(exc.errors.get("reason") or exc.errors.get("state") or []), "")
        error = error[:1].upper() + error[1:] if error else exc.message
        return document_page(
            request,
            document,
            section_state_error={"section_id": section_id, "message": error},
            status=400,
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect(anchor)
    name = f"{section.get('number', '')} {section.get('title', '')}".strip()
    if state == "restore":
        messages.success(request, f"{name} is back as it was.")
    else:
        messages.success(
            request, f"{name} is marked not applicable; it no longer counts as missing."
        )
    return redirect(anchor)
