"""Organization-scoped reads of templates and style guides.

A caller sees the global templates (the built-ins, and any global template a platform operator
added) plus its own organization's. Another organization's object is reported exactly like an id
that does not exist: ``Http404`` from the ``*_get_for_user`` selectors, ``None`` from the
``*_resolve_for_user`` ones (used for references inside request bodies, where the answer is a 400
that must not reveal whether the object exists elsewhere).
"""

from __future__ import annotations

import functools
import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Case, F, Prefetch, Q, QuerySet, Value, When
from django.http import Http404

from portal.selectors import organization_id_of
from templates_app.models import Rule, StyleGuide, Template, TemplateSection

TEMPLATE_NOT_FOUND = "Template not found."
SECTION_NOT_FOUND = "Section not found."
STYLE_GUIDE_NOT_FOUND = "Style guide not found."


def _as_uuid(value: Any) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value).strip())
    except (TypeError, ValueError, AttributeError):
        return None


def _visible_templates(user: Any) -> QuerySet[Template]:
    org_id = organization_id_of(user)
    scope = Q(organization__isnull=True)
    if org_id is not None:
        scope |= Q(organization_id=org_id)
    return Template.objects.filter(scope)


def _with_sections(queryset: QuerySet[Template]) -> QuerySet[Template]:
    return queryset.prefetch_related(
        Prefetch(
            "sections",
            queryset=TemplateSection.objects.order_by("order_index").prefetch_related(
                Prefetch("rules", queryset=Rule.objects.order_by("rule_type", "id"))
            ),
        )
    )


def templates_list_for_user(user: Any) -> QuerySet[Template]:
    """Built-ins first (by name), then the rest newest first; sections prefetched in order."""
    builtin_name = Case(When(built_in=True, then=F("name")), default=Value(""))
    return (
        _with_sections(_visible_templates(user))
        .annotate(_builtin_name=builtin_name)
        .order_by("-built_in", "_builtin_name", "-created_at", "name")
    )


def template_get_for_user(user: Any, template_id_or_key: Any) -> Template:
    """A template by UUID or by built-in key; ``Http404`` when the caller cannot see it."""
    template = template_resolve_for_user(user, template_id_or_key)
    if template is None:
        raise Http404(TEMPLATE_NOT_FOUND)
    return template


def template_resolve_for_user(user: Any, value: Any) -> Template | None:
    """Like ``template_get_for_user`` but None instead of 404 (for references in a body).

    No prefetch: callers that need the sections read them once themselves (the accept path).
    """
    if value is None:
        return None
    pk = _as_uuid(value)
    if pk is not None:
        org_id = organization_id_of(user)
        if org_id is None:
            return _template_where("id", pk, "{org} IS NULL")
        return _template_where("id", pk, "({org} IS NULL OR {org} = %s)", org_id)
    key = str(value).strip()
    if not key or len(key) > 80:
        return None
    return _template_where("key", key, "{org} IS NULL")


@functools.cache
def _template_select() -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in Template._meta.concrete_fields)
    return f"SELECT {columns} FROM {quote(Template._meta.db_table)}"


def _template_where(field: str, value: Any, scope: str, *scope_params: Any) -> Template | None:
    """The one template whose ``field`` is ``value`` within ``scope`` (global, or global and the
    caller's organization), as one written-out statement: the accept path resolves a template on
    every request, and the ORM's filter building cost it four times the query (bench/load.py).
    ``Model.objects.raw`` still converts every column as the ORM does."""
    quote = connection.ops.quote_name
    org_field = Template._meta.get_field("organization")
    target = Template._meta.get_field(field)
    params = [
        target.get_db_prep_value(value, connection, prepared=False),
        *(
            org_field.target_field.get_db_prep_value(p, connection, prepared=False)
            for p in scope_params
        ),
    ]
    sql = (
        f"{_template_select()} WHERE {quote(target.column)} = %s AND "
        + scope.format(org=quote(org_field.column))
        + " LIMIT 1"
    )
    return next(iter(Template.objects.raw(sql, params)), None)


def template_section_get(template: Template, section_id: Any) -> TemplateSection:
    """One section of an already-visible template; ``Http404`` for an unknown or foreign id."""
    pk = _as_uuid(section_id)
    section = template.sections.filter(pk=pk).first() if pk is not None else None
    if section is None:
        raise Http404(SECTION_NOT_FOUND)
    return section


def style_guides_list_for_user(user: Any) -> QuerySet[StyleGuide]:
    org_id = organization_id_of(user)
    if org_id is None:
        return StyleGuide.objects.none()
    return StyleGuide.objects.filter(organization_id=org_id).order_by("name", "created_at")


def style_guide_get_for_user(user: Any, style_guide_id: Any) -> StyleGuide:
    guide = style_guide_resolve_for_user(user, style_guide_id)
    if guide is None:
        raise Http404(STYLE_GUIDE_NOT_FOUND)
    return guide


def style_guide_resolve_for_user(user: Any, value: Any) -> StyleGuide | None:
    pk = _as_uuid(value)
    if pk is None:
        return None
    return style_guides_list_for_user(user).filter(pk=pk).first()


@dataclass(frozen=True)
class TemplateOutline:
    """A template's outline as plain data (what a document is made from) and its sha256."""

    sections: list[dict[str, Any]]  # shared between callers: never mutate
    sha256: str


def template_outline(template: Template) -> TemplateOutline:
    """The template's outline snapshot: sections with synopsis, instructions, hints and rules.

    On the generation accept path, so it is cached per process by (template id, ``updated_at``):
    every change to a template, a section or a rule moves ``updated_at`` (signals.py).
    """
    return _template_outline(template.pk, template.updated_at)


@functools.lru_cache(maxsize=64)
def _template_outline(template_id: Any, updated_at: Any) -> TemplateOutline:
    sections = _read_outline(template_id)
    return TemplateOutline(sections=sections, sha256=outline_sha256(sections))


def outline_sha256(sections: list[dict[str, Any]]) -> str:
    """The fingerprint of an outline snapshot (the twin's ``snapshot_sha256``)."""
    return hashlib.sha256(
        json.dumps(sections, sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()


def _read_outline(template_id: Any) -> list[dict[str, Any]]:
    rules: dict[Any, list[dict[str, Any]]] = {}
    for r in (
        Rule.objects.filter(section__template_id=template_id)
        .order_by("pk")
        .values("id", "section_id", "rule_type", "description", "parameters")
    ):
        rules.setdefault(r["section_id"], []).append(
            {
                "rule_id": str(r["id"]),
                "rule_type": r["rule_type"],
                "description": r["description"],
                "parameters": r["parameters"] or {},
            }
        )
    fields = ("order_index", "level", "number", "title", "synopsis", "instructions")
    sections = []
    for s in (
        TemplateSection.objects.filter(template_id=template_id)
        .order_by("order_index")
        .values("id", *fields, "template_text", "hints")
    ):
        sections.append(
            {
                "section_id": str(s["id"]),
                **{name: s[name] for name in fields},
                "template_text": s["template_text"],
                "hints": s["hints"] or {},
                "rules": rules.get(s["id"], []),
            }
        )
    return sections


def template_export_data(template: Template) -> dict[str, Any]:
    """A template as portable JSON (the admin's export; ``services.template_import_json`` reads
    it back). Section ids are left out: an import always makes new ones."""
    return {
        "format": "folio-template",
        "version": 1,
        "template_name": template.name,
        "document_type": template.document_type,
        "tense": template.tense,
        "description": template.description,
        "sections": [
            {
                "number": section.number,
                "title": section.title,
                "level": section.level,
                "synopsis": section.synopsis,
                "instructions": section.instructions,
                "template_text": section.template_text,
                "hints": section.hints or {},
                "rules": [
                    {
                        "rule_type": rule.rule_type,
                        "description": rule.description,
                        "parameters": rule.parameters or {},
                        "styles": rule.styles or {},
                    }
                    for rule in section.rules.all()
                ],
            }
            for section in template.sections.order_by("order_index").prefetch_related("rules")
        ],
    }
