"""Portal pages for templates (read-only tree, duplicate) and style guides (list, create, edit).

Session-authenticated function views over the organization-scoped selectors and the
``templates_app.services`` writes. Everyone in an organization reads; only its managers create,
edit or duplicate: a member gets the read-only pages, and a 403 on any write.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.errors import add_to_form
from portal.pages import member_required, paginate, render_page, section_tree
from templates_app import selectors, services
from templates_app.forms import StyleGuideForm


def _require_manager(request: HttpRequest) -> None:
    if not services.can_edit_templates(request.user):
        raise PermissionDenied("Only the organization's template managers may do this.")


# --- templates -----------------------------------------------------------------------------------


def _list_page(request: HttpRequest, items: Any, nav_active: str, template: str) -> HttpResponse:
    context = {
        "nav_active": nav_active,
        "page": paginate(request, items),
        "query": "",
        "can_edit": services.can_edit_templates(request.user),
    }
    return render_page(request, template, context, partial="results")


@require_GET
@member_required
def template_list(request: HttpRequest) -> HttpResponse:
    templates = selectors.templates_list_for_user(request.user)
    return _list_page(request, templates, "templates", "templates_app/template_list.html")


@require_GET
@member_required
def template_detail(request: HttpRequest, pk: Any) -> HttpResponse:
    template = selectors.template_get_for_user(request.user, pk)
    sections = list(template.sections.all())
    context = {
        "nav_active": "templates",
        "template": template,
        "tree": section_tree(sections),
        "section_count": len(sections),
        "can_edit": services.can_edit_templates(request.user),
    }
    return render_page(request, "templates_app/template_detail.html", context)


@require_POST
@member_required
def template_duplicate(request: HttpRequest, pk: Any) -> HttpResponse:
    _require_manager(request)
    template = selectors.template_get_for_user(request.user, pk)
    try:
        copy = services.template_duplicate(user=request.user, template=template)
    except services.TemplatePermissionDenied as exc:
        raise PermissionDenied(exc.message) from exc
    except services.TemplateError as exc:
        messages.error(request, exc.message)
        return redirect("documents:template_detail", pk=template.pk)
    messages.success(request, f"Created {copy.name!r}, an editable copy.")
    return redirect("documents:template_detail", pk=copy.pk)


# --- style guides --------------------------------------------------------------------------------


@require_GET
@member_required
def style_guide_list(request: HttpRequest) -> HttpResponse:
    guides = selectors.style_guides_list_for_user(request.user)
    return _list_page(request, guides, "style_guides", "templates_app/style_guide_list.html")


@require_GET
@member_required
def style_guide_detail(request: HttpRequest, pk: Any) -> HttpResponse:
    guide = selectors.style_guide_get_for_user(request.user, pk)
    context = {
        "nav_active": "style_guides",
        "guide": guide,
        "can_edit": services.can_edit_templates(request.user),
    }
    return render_page(request, "templates_app/style_guide_detail.html", context)


def _style_guide_form(request: HttpRequest, guide: Any, initial: dict[str, Any]) -> HttpResponse:
    """The style guide form: create (``guide`` None) or edit, with errors beside their fields."""
    _require_manager(request)
    form = StyleGuideForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            if guide is None:
                saved = services.style_guide_create(user=request.user, **form.cleaned_data)
            else:
                saved = services.style_guide_update(
                    user=request.user, style_guide=guide, **form.cleaned_data
                )
        except services.TemplatePermissionDenied as exc:
            raise PermissionDenied(exc.message) from exc
        except services.TemplateError as exc:
            add_to_form(form, exc)
        else:
            messages.success(request, f"Saved the style guide {saved.name!r}.")
            return redirect("documents:style_guide_detail", pk=saved.pk)
    context = {"nav_active": "style_guides", "form": form, "guide": guide}
    status = 400 if request.method == "POST" else 200
    return render_page(request, "templates_app/style_guide_form.html", context, status=status)


@require_http_methods(["GET", "POST"])
@member_required
def style_guide_create(request: HttpRequest) -> HttpResponse:
    return _style_guide_form(request, None, {"tense": "past"})


@require_http_methods(["GET", "POST"])
@member_required
def style_guide_edit(request: HttpRequest, pk: Any) -> HttpResponse:
    _require_manager(request)
    guide = selectors.style_guide_get_for_user(request.user, pk)
    return _style_guide_form(request, guide, StyleGuideForm.initial_from(guide))
