"""Django admin for templates (sections inline), sections (rules inline), rules and style guides.

Who sees what (docs/api.md, "Portal and admin"): superusers see and edit everything. A template
manager (a staff user whose membership role is ``manager``) sees their organization's rows, plus
the global templates (the built-ins) read-only so that they can be duplicated; rows of other
organizations never appear, and an object of another organization is a 404 like any unknown id.
Access follows the membership role, not Django's per-model permissions, so the role alone decides.

Actions and extra pages call ``templates_app.services``: duplicate, export to JSON (a download),
import from JSON, import from Word (.docx).
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.text import slugify

from portal.parsers import MAX_JSON_DEPTH, json_depth_exceeds
from portal.selectors import membership_of
from templates_app import selectors, services
from templates_app.forms import TemplateDocxImportForm, TemplateJsonImportForm
from templates_app.models import Rule, StyleGuide, Template, TemplateSection

MAX_JSON_BYTES = 20 * 1024 * 1024
SMALL_TEXT = {models.TextField: {"widget": forms.Textarea(attrs={"rows": 2, "cols": 40})}}


def _is_manager(request: HttpRequest) -> bool:
    user = request.user
    if not (user.is_active and user.is_staff):
        return False
    membership = membership_of(request.user)
    return membership is not None and membership.is_manager


def _org_id(request: HttpRequest) -> Any | None:
    membership = membership_of(request.user)
    return membership.organization_id if membership is not None else None


def _template_editable(request: HttpRequest, template: Template | None) -> bool:
    if template is None:
        return True
    if request.user.is_superuser:
        return True
    return (
        _is_manager(request)
        and not template.built_in
        and template.organization_id is not None
        and template.organization_id == _org_id(request)
    )


class ManagerAccessMixin:
    """Module/add access for superusers and managers; per-object rules in subclasses."""

    def _has_access(self, request: HttpRequest) -> bool:
        return request.user.is_active and (request.user.is_superuser or _is_manager(request))

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._has_access(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._has_access(request)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self._has_access(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._has_access(request) and self._editable(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._has_access(request) and self._editable(request, obj)

    def _editable(self, request: HttpRequest, obj: Any) -> bool:
        raise NotImplementedError


# --- templates ------------------------------------------------------------------------------------


# A section's editable content, in the order the admin shows it.
SECTION_FIELDS = (
    "order_index",
    "level",
    "number",
    "title",
    "synopsis",
    "instructions",
    "template_text",
)


class TemplateSectionInline(admin.TabularInline):
    model = TemplateSection
    fields = SECTION_FIELDS
    ordering = ("order_index",)
    extra = 0
    show_change_link = True
    formfield_overrides = SMALL_TEXT

    # ``obj`` is the parent template: its sections are editable exactly when it is.
    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser or _is_manager(request)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_view_permission(request) and _template_editable(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_add_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_add_permission(request, obj)


@admin.register(Template)
class TemplateAdmin(ManagerAccessMixin, admin.ModelAdmin):
    list_display = ("name", "document_type", "owner", "section_count", "updated_at")
    list_filter = ("built_in", "document_type")
    search_fields = ("name", "key", "description")
    inlines = [TemplateSectionInline]
    actions = ["duplicate_templates", "export_templates_json"]
    change_list_template = "admin/templates_app/template/change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Template]:
        queryset = super().get_queryset(request).annotate(_section_count=Count("sections"))
        if request.user.is_superuser:
            return queryset
        if not _is_manager(request):
            return queryset.none()
        return queryset.filter(Q(organization__isnull=True) | Q(organization_id=_org_id(request)))

    def _editable(self, request: HttpRequest, obj: Any) -> bool:
        return _template_editable(request, obj)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = ["name", "document_type", "tense", "description", "base_document"]
        if request.user.is_superuser:
            fields += ["organization", "built_in", "key"]
        elif obj is not None:
            fields += ["key"]
        return fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if request.user.is_superuser:
            return []
        return ["base_document", "key"]

    def save_model(self, request: HttpRequest, obj: Template, form: Any, change: bool) -> None:
        if not request.user.is_superuser:
            # A manager's templates always belong to their organization and are never built in.
            obj.organization_id = _org_id(request)
            obj.built_in = False
            obj.key = None
        super().save_model(request, obj, form, change)

    @admin.display(description="Owner")
    def owner(self, obj: Template) -> str:
        if obj.built_in:
            return "Built-in"
        return obj.organization.name if obj.organization_id else "Global"

    @admin.display(description="Sections", ordering="_section_count")
    def section_count(self, obj: Template) -> int:
        return getattr(obj, "_section_count", None) or obj.sections.count()

    # --- actions -------------------------------------------------------------------------------

    @admin.action(description="Duplicate the selected templates (an editable copy)")
    def duplicate_templates(self, request: HttpRequest, queryset: QuerySet[Template]) -> None:
        copies = []
        for template in queryset:
            try:
                copies.append(services.template_duplicate(user=request.user, template=template))
            except services.TemplateError as exc:
                self.message_user(request, exc.message, messages.ERROR)
                return
        names = ", ".join(copy.name for copy in copies)
        self.message_user(request, f"Duplicated: {names}.", messages.SUCCESS)

    @admin.action(description="Export the selected templates to JSON")
    def export_templates_json(
        self, request: HttpRequest, queryset: QuerySet[Template]
    ) -> HttpResponse:
        items = [selectors.template_export_data(t) for t in queryset.order_by("name")]
        if len(items) == 1:
            payload: Any = items[0]
            filename = f"{slugify(items[0]['template_name']) or 'template'}.json"
        else:
            payload = {"format": "folio-templates", "version": 1, "templates": items}
            filename = "templates.json"
        response = HttpResponse(
            json.dumps(payload, indent=2, ensure_ascii=False),
            content_type="application/json; charset=utf-8",
        )
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    # --- import pages --------------------------------------------------------------------------

    def get_urls(self) -> list[Any]:
        info = (self.opts.app_label, self.opts.model_name)
        extra = [
            path(
                "import-json/",
                self.admin_site.admin_view(self.import_json_view),
                name="{}_{}_import_json".format(*info),
            ),
            path(
                "import-docx/",
                self.admin_site.admin_view(self.import_docx_view),
                name="{}_{}_import_docx".format(*info),
            ),
        ]
        return extra + super().get_urls()

    def _import_page(self, request: HttpRequest, form: Any, title: str) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "form": form,
            "title": title,
        }
        return TemplateResponse(request, "admin/templates_app/template/import_form.html", context)

    def _after_import(self, request: HttpRequest, created: list[Template]) -> HttpResponse:
        names = ", ".join(t.name for t in created)
        self.message_user(request, f"Imported: {names}.", messages.SUCCESS)
        if len(created) == 1:
            url = reverse("admin:templates_app_template_change", args=[created[0].pk])
        else:
            url = reverse("admin:templates_app_template_changelist")
        return HttpResponseRedirect(url)

    def import_json_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = TemplateJsonImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            raw = upload.read(MAX_JSON_BYTES + 1)
            try:
                if len(raw) > MAX_JSON_BYTES:
                    raise ValueError("the file is larger than 20 MB")
                if json_depth_exceeds(raw):
                    raise ValueError(f"it is nested more than {MAX_JSON_DEPTH} levels deep")
                data = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as exc:
                form.add_error("file", f"{upload.name} is not valid JSON: {exc}.")
            else:
                items = (
                    data["templates"]
                    if isinstance(data, dict) and isinstance(data.get("templates"), list)
                    else [data]
                )
                try:
                    with transaction.atomic():
                        created = [
                            services.template_import_json(user=request.user, data=item)
                            for item in items
                        ]
                except services.TemplateError as exc:
                    form.add_error("file", exc.message)
                else:
                    return self._after_import(request, created)
        return self._import_page(request, form, "Import templates from JSON")

    def import_docx_view(self, request: HttpRequest) -> HttpResponse:
        """Two steps: the upload is read and its outline shown with a checkbox per heading
        (what each keeps and how much study text it drops); the second POST saves the checked
        ones (``services.template_docx_stage``, ``template_import_docx(staged=, keep=)``)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method == "POST" and request.POST.get("staged"):
            return self._import_docx_save(request)
        form = TemplateDocxImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                token, outline = services.template_docx_stage(
                    user=request.user, file=upload, filename=upload.name
                )
            except services.TemplateError as exc:
                form.add_error("file", exc.message)
            else:
                return self._import_docx_preview(
                    request,
                    token=token,
                    outline=outline,
                    file_name=upload.name,
                    template_name=form.cleaned_data.get("template_name") or "",
                    document_type=form.cleaned_data.get("document_type") or "Protocol",
                )
        return self._import_page(request, form, "Import a template from Word")

    def _import_docx_preview(
        self,
        request: HttpRequest,
        *,
        token: str,
        outline: Any,
        file_name: str,
        template_name: str,
        document_type: str,
        error: str = "",
        checked: set[int] | None = None,
    ) -> TemplateResponse:
        entries = [
            {
                "index": k,
                "title": e.title,
                "level": e.level,
                "indent": (e.level - 1) * 1.5,
                "instructions": len(e.instructions),
                "text": len(e.text),
                "dropped": e.dropped,
                "checked": checked is None or k in checked,
            }
            for k, e in enumerate(outline.sections)
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Import a template from Word: {file_name}",
            "entries": entries,
            "dropped": sum(e.dropped for e in outline.sections),
            "staged": token,
            "file_name": file_name,
            "template_name": template_name or outline.title,
            "document_type": document_type,
            "error": error,
        }
        return TemplateResponse(
            request, "admin/templates_app/template/import_docx_preview.html", context
        )

    def _import_docx_save(self, request: HttpRequest) -> HttpResponse:
        token = request.POST.get("staged", "")
        file_name = request.POST.get("file_name", "") or "template.docx"
        keep = {int(k) for k in request.POST.getlist("keep") if str(k).isdigit()}
        try:
            template = services.template_import_docx(
                user=request.user,
                staged=token,
                keep=keep,
                filename=file_name,
                template_name=request.POST.get("template_name") or None,
                document_type=request.POST.get("document_type") or "Protocol",
            )
        except services.TemplateError as exc:
            if exc.code == "no_sections":
                outline = services.template_docx_outline(user=request.user, staged=token)
                if outline is not None:
                    return self._import_docx_preview(
                        request,
                        token=token,
                        outline=outline,
                        file_name=file_name,
                        template_name=request.POST.get("template_name", ""),
                        document_type=request.POST.get("document_type", "Protocol"),
                        error=exc.message,
                        checked=keep,
                    )
            self.message_user(request, f"The import failed: {exc.message}", messages.ERROR)
            return self._import_page(
                request, TemplateDocxImportForm(), "Import a template from Word"
            )
        return self._after_import(request, [template])


# --- sections and rules ---------------------------------------------------------------------------


class RuleInline(admin.TabularInline):
    model = Rule
    fields = ("rule_type", "description", "parameters", "styles")
    extra = 0
    formfield_overrides = SMALL_TEXT

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser or _is_manager(request)

    def _parent_editable(self, request: HttpRequest, obj: Any) -> bool:
        return self.has_view_permission(request) and (
            obj is None or _template_editable(request, obj.template)
        )

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._parent_editable(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._parent_editable(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._parent_editable(request, obj)


def _editable_templates(request: HttpRequest) -> QuerySet[Template]:
    if request.user.is_superuser:
        return Template.objects.all()
    return Template.objects.filter(organization_id=_org_id(request), built_in=False)


class TemplatePartAdminMixin(ManagerAccessMixin):
    """A part of a template (a section, a rule): visible and editable as its template is."""

    template_path = "template"  # the lookup from the part to its template

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)  # type: ignore[misc]
        if request.user.is_superuser:
            return queryset
        if not _is_manager(request):
            return queryset.none()
        return queryset.filter(
            Q(**{f"{self.template_path}__organization__isnull": True})
            | Q(**{f"{self.template_path}__organization_id": _org_id(request)})
        )

    def _editable(self, request: HttpRequest, obj: Any) -> bool:
        if obj is None:
            return True
        template = obj
        for name in self.template_path.split("__"):
            template = getattr(template, name)
        return _template_editable(request, template)


@admin.register(TemplateSection)
class TemplateSectionAdmin(TemplatePartAdminMixin, admin.ModelAdmin):
    list_display = ("section_label", "template", "level", "order_index")
    list_select_related = ("template",)
    search_fields = ("title", "number", "template__name")
    fields = ("template", *SECTION_FIELDS, "hints")
    inlines = [RuleInline]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "template":
            kwargs["queryset"] = _editable_templates(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="Section", ordering="order_index")
    def section_label(self, obj: TemplateSection) -> str:
        return obj.section_name


@admin.register(Rule)
class RuleAdmin(TemplatePartAdminMixin, admin.ModelAdmin):
    template_path = "section__template"
    list_display = ("rule_type", "short_description", "section")
    list_filter = ("rule_type",)
    list_select_related = ("section", "section__template")
    search_fields = ("description", "section__title", "section__template__name")
    fields = ("section", "rule_type", "description", "parameters", "styles")

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "section":
            kwargs["queryset"] = TemplateSection.objects.filter(
                template__in=_editable_templates(request)
            ).select_related("template")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="Description")
    def short_description(self, obj: Rule) -> str:
        return obj.description[:80]


# --- style guides ---------------------------------------------------------------------------------


@admin.register(StyleGuide)
class StyleGuideAdmin(ManagerAccessMixin, admin.ModelAdmin):
    list_display = ("name", "tense", "organization", "updated_at")
    search_fields = ("name",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[StyleGuide]:
        queryset = super().get_queryset(request).select_related("organization")
        if request.user.is_superuser:
            return queryset
        if not _is_manager(request):
            return queryset.none()
        return queryset.filter(organization_id=_org_id(request))

    def _editable(self, request: HttpRequest, obj: Any) -> bool:
        if obj is None or request.user.is_superuser:
            return True
        return obj.organization_id == _org_id(request)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = [
            "name",
            "tense",
            "preferred_terms",
            "abbreviations",
            "banned_phrases",
            "instructions",
        ]
        return ["organization", *fields] if request.user.is_superuser else fields

    def save_model(self, request: HttpRequest, obj: StyleGuide, form: Any, change: bool) -> None:
        if not request.user.is_superuser:
            obj.organization_id = _org_id(request)
        super().save_model(request, obj, form, change)
