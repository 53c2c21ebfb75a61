"""The templates and style-guides API (docs/api.md): thin views over selectors and services.

Reads need an organization member; writes need a template manager (``IsOrganizationManager``:
a member gets 403). Another organization's template or style guide is a 404 exactly like a
random id. Service errors (``TemplateError``) become ``{"detail", "code"}`` with their status:
400 for invalid input naming the field, 403 for a built-in template ("duplicate it to
customise it"), 413 for an oversized upload.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api_utils import list_response
from portal.auth import IsOrganizationManager, IsOrganizationMember
from portal.errors import InvalidInput
from portal.parsers import JSONParser  # nesting depth checked before parsing
from templates_app import selectors, services
from templates_app.api import serializers as s

READ_METHODS = ("GET", "HEAD", "OPTIONS")


class TemplatesApiBase(APIView):
    """Members read, managers write (service errors are answered by portal/api_errors.py)."""

    def get_permissions(self) -> list[BasePermission]:
        if self.request.method in READ_METHODS:
            return [IsOrganizationMember()]
        return [IsOrganizationManager()]

    @staticmethod
    def validated(serializer_class: type, data: Any) -> dict[str, Any]:
        serializer = serializer_class(data=data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)


def _plain(value: Any) -> Any:
    """Validated data as plain dicts and lists (OrderedDicts from nested serializers)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _fresh(template_id: Any, user: Any):
    return selectors.template_get_for_user(user, template_id)


# --- templates ------------------------------------------------------------------------------------


class TemplateListApi(TemplatesApiBase):
    @extend_schema(
        parameters=[
            OpenApiParameter("limit", int, description="Page size (default 50, at most 500)."),
            OpenApiParameter("offset", int, description="Items to skip."),
        ],
        responses={200: s.TemplateListOutSerializer},
        summary="Templates visible to the organization (built-ins first)",
        operation_id="templates_list",
    )
    def get(self, request: Request) -> Response:
        return list_response(
            request,
            selectors.templates_list_for_user(request.user),
            name="templates",
            serialize=s.template_list_item_data,
        )

    @extend_schema(
        request=s.TemplateCreateDocSerializer,
        responses={201: s.TemplateSavedOutSerializer},
        summary="Create a template from an outline",
    )
    def post(self, request: Request) -> Response:
        data = _plain(self.validated(s.TemplateCreateSerializer, request.data))
        template = services.template_create(
            user=request.user,
            template_name=data["template_name"],
            document_type=data["document_type"],
            sections=data["sections"],
            description=data.get("description", data.get("document_description", "")),
            tense=data.get("tense"),
        )
        body = s.template_detail_data(_fresh(template.id, request.user))
        body["message"] = "Template created."
        return Response(body, status=status.HTTP_201_CREATED)


def _keep_indexes(data: Any) -> list[int] | None:
    """``keep`` as a list of outline indexes ("0,2,5" or the field repeated); None when absent;
    400 naming ``keep`` for anything but non-negative integers."""
    values = data.getlist("keep") if hasattr(data, "getlist") else [data.get("keep")]
    parts = [p.strip() for v in values if v is not None for p in str(v).split(",")]
    parts = [p for p in parts if p]
    if not parts:
        return None
    if not all(p.isdigit() and len(p) <= 6 for p in parts):
        raise InvalidInput.about("keep", "must be outline indexes (0, 1, 2, ...), comma-separated.")
    return [int(p) for p in parts]


class TemplateImportApi(TemplatesApiBase):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": s.TemplateImportSerializer},
        responses={201: s.TemplateSavedOutSerializer, 200: s.TemplateOutlineOutSerializer},
        summary="Create a template from a Word (.docx) file's headings",
    )
    def post(self, request: Request) -> Response:
        if "file" not in request.FILES:
            raise InvalidInput.about(
                "file", "this field is required (the .docx, as multipart form data)."
            )
        data = self.validated(s.TemplateImportSerializer, request.data)
        keep = _keep_indexes(request.data)
        if data.get("preview"):
            outline = services.template_docx_preview(
                user=request.user, file=data["file"], filename=data["file"].name
            )
            levels = [entry.level for entry in outline.sections]
            kept = None
            if keep is not None:
                before = list(outline.sections)
                pruned = services.prune_outline(outline, keep)
                kept_ids = {id(entry) for entry in pruned.sections}
                kept = {i for i, entry in enumerate(before) if id(entry) in kept_ids}
                for entry, level in zip(before, levels, strict=True):
                    entry.level = level  # the preview shows the file's own levels
            return Response(s.template_outline_data(outline, kept))
        template = services.template_import_docx(
            user=request.user,
            file=data["file"],
            template_name=data.get("template_name") or None,
            document_type=data.get("document_type") or "Protocol",
            filename=data["file"].name,
            keep=keep,
        )
        body = s.template_detail_data(_fresh(template.id, request.user))
        body["message"] = "Template imported."
        return Response(body, status=status.HTTP_201_CREATED)


class TemplateDetailApi(TemplatesApiBase):
    parser_classes = [JSONParser]

    @extend_schema(
        responses={200: s.TemplateDetailOutSerializer},
        summary="One template (by UUID, or a built-in's key such as ich-e3-csr)",
    )
    def get(self, request: Request, template_id: str) -> Response:
        template = selectors.template_get_for_user(request.user, template_id)
        return Response(s.template_detail_data(template))

    @extend_schema(
        request=s.TemplateUpdateSerializer,
        responses={200: s.TemplateDetailOutSerializer},
        summary="Change a template's name, type, description or tense",
    )
    def patch(self, request: Request, template_id: str) -> Response:
        template = selectors.template_get_for_user(request.user, template_id)
        data = self.validated(s.TemplateUpdateSerializer, request.data)
        services.template_update(user=request.user, template=template, **data)
        return Response(s.template_detail_data(_fresh(template.id, request.user)))

    put = patch

    @extend_schema(responses={204: None}, summary="Delete an organization's template")
    def delete(self, request: Request, template_id: str) -> Response:
        template = selectors.template_get_for_user(request.user, template_id)
        services.template_delete(user=request.user, template=template)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TemplateDuplicateApi(TemplatesApiBase):
    @extend_schema(
        request=s.TemplateDuplicateSerializer,
        responses={201: s.TemplateDuplicatedOutSerializer},
        summary="Copy a template (a built-in too) into the organization",
    )
    def post(self, request: Request, template_id: str) -> Response:
        template = selectors.template_get_for_user(request.user, template_id)
        data = self.validated(s.TemplateDuplicateSerializer, request.data or {})
        copy = services.template_duplicate(
            user=request.user, template=template, template_name=data.get("template_name") or ""
        )
        body = s.template_detail_data(_fresh(copy.id, request.user))
        body["message"] = "Template duplicated."
        body["source_template_id"] = str(template.id)
        return Response(body, status=status.HTTP_201_CREATED)


# --- sections -------------------------------------------------------------------------------------


class TemplateSectionAddApi(TemplatesApiBase):
    @extend_schema(
        request=s.SectionAddDocSerializer,
        responses={201: s.SectionAddedSerializer},
        summary="Insert a section at order_index (0-based; default at the end)",
    )
    def post(self, request: Request, template_id: str) -> Response:
        template = selectors.template_get_for_user(request.user, template_id)
        data = _plain(self.validated(s.SectionAddSerializer, request.data))
        section = services.template_section_add(user=request.user, template=template, **data)
        body = s.section_data(section)
        body.update({"message": "Section added.", "template_id": str(template.id)})
        return Response(body, status=status.HTTP_201_CREATED)


class TemplateSectionsReorderApi(TemplatesApiBase):
    @extend_schema(
        request=s.SectionsReorderDocSerializer,
        responses={200: s.SectionsReorderedSerializer},
        summary="Reorder sections and renumber them all from order and level",
    )
    def put(self, request: Request, template_id: str) -> Response:
        template = selectors.template_get_for_user(request.user, template_id)
        data = _plain(self.validated(s.SectionsReorderSerializer, request.data))
        ordered = services.template_sections_reorder(
            user=request.user, template=template, sections=data["sections"]
        )
        return Response(
            {
                "message": "Sections reordered and renumbered.",
                "template_id": str(template.id),
                "sections": [s.section_summary_data(section) for section in ordered],
            }
        )

    post = put


class TemplateSectionDetailApi(TemplatesApiBase):
    @extend_schema(responses={200: s.SectionOutSerializer})
    def get(self, request: Request, template_id: str, section_id: str) -> Response:
        template = selectors.template_get_for_user(request.user, template_id)
        section = selectors.template_section_get(template, section_id)
        return Response(s.section_data(section))

    @extend_schema(
        request=s.SectionUpdateSerializer,
        responses={200: s.SectionOutSerializer},
        summary="Change a section's synopsis, instructions, template text or hints",
    )
    def patch(self, request: Request, template_id: str, section_id: str) -> Response:
        template = selectors.template_get_for_user(request.user, template_id)
        section = selectors.template_section_get(template, section_id)
        data = _plain(self.validated(s.SectionUpdateSerializer, request.data))
        section = services.template_section_update(user=request.user, section=section, **data)
        return Response(s.section_data(section))

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "cascade_children",
                bool,
                description="Also delete the deeper-level sections that follow (default true).",
            )
        ],
        responses={200: s.SectionDeletedSerializer},
        summary="Delete a section (and its children)",
    )
    def delete(self, request: Request, template_id: str, section_id: str) -> Response:
        template = selectors.template_get_for_user(request.user, template_id)
        section = selectors.template_section_get(template, section_id)
        raw = request.query_params.get("cascade_children", "true").strip().lower()
        if raw not in {"true", "false", "1", "0", "yes", "no"}:
            raise InvalidInput.about("cascade_children", "must be true or false.")
        cascade = raw in {"true", "1", "yes"}
        deleted = services.template_section_delete(
            user=request.user, section=section, cascade_children=cascade
        )
        return Response(
            {
                "message": "Section deleted.",
                "deleted_section_id": str(section_id),
                "deleted_count": deleted,
                "template_id": str(template.id),
            }
        )


class TemplateSectionRenameApi(TemplatesApiBase):
    @extend_schema(
        request=s.SectionRenameSerializer,
        responses={200: s.SectionRenamedSerializer},
        summary='Rename a section: "2.1 Efficacy Results" sets number and title',
    )
    def put(self, request: Request, template_id: str, section_id: str) -> Response:
        template = selectors.template_get_for_user(request.user, template_id)
        section = selectors.template_section_get(template, section_id)
        data = self.validated(s.SectionRenameSerializer, request.data)
        section = services.template_section_rename(
            user=request.user, section=section, section_name=data["section_name"]
        )
        body = s.section_summary_data(section)
        body.update({"message": "Section renamed.", "template_id": str(template.id)})
        return Response(body)

    patch = put


# --- style guides ---------------------------------------------------------------------------------


class StyleGuideListApi(TemplatesApiBase):
    @extend_schema(
        parameters=[OpenApiParameter("limit", int), OpenApiParameter("offset", int)],
        responses={200: s.StyleGuideListOutSerializer},
        summary="The organization's style guides",
        operation_id="style_guides_list",
    )
    def get(self, request: Request) -> Response:
        return list_response(
            request,
            selectors.style_guides_list_for_user(request.user),
            name="style_guides",
            serialize=s.style_guide_data,
        )

    @extend_schema(
        request=s.StyleGuideSerializer,
        responses={201: s.StyleGuideOutSerializer},
        summary="Create a style guide",
    )
    def post(self, request: Request) -> Response:
        data = _plain(self.validated(s.StyleGuideSerializer, request.data))
        guide = services.style_guide_create(user=request.user, **data)
        return Response(s.style_guide_data(guide), status=status.HTTP_201_CREATED)


class StyleGuideDetailApi(TemplatesApiBase):
    parser_classes = [JSONParser]

    @extend_schema(responses={200: s.StyleGuideOutSerializer})
    def get(self, request: Request, style_guide_id: str) -> Response:
        guide = selectors.style_guide_get_for_user(request.user, style_guide_id)
        return Response(s.style_guide_data(guide))

    @extend_schema(
        request=s.StyleGuideSerializer,
        responses={200: s.StyleGuideOutSerializer},
        summary="Change a style guide (fields left out keep their value)",
    )
    def put(self, request: Request, style_guide_id: str) -> Response:
        guide = selectors.style_guide_get_for_user(request.user, style_guide_id)
        serializer = s.StyleGuideSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        guide = services.style_guide_update(
            user=request.user, style_guide=guide, **_plain(dict(serializer.validated_data))
        )
        return Response(s.style_guide_data(guide))

    patch = put

    @extend_schema(responses={204: None}, summary="Delete a style guide")
    def delete(self, request: Request, style_guide_id: str) -> Response:
        guide = selectors.style_guide_get_for_user(request.user, style_guide_id)
        services.style_guide_delete(user=request.user, style_guide=guide)
        return Response(status=status.HTTP_204_NO_CONTENT)
