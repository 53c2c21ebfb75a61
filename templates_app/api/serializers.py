"""Shapes of the templates and style-guides API (docs/api.md; Artos-compatible field names).

Output is built by small functions (``template_detail_data`` ...) so that every route answers the
same shape; the input serializers check types and required fields and document the bodies in the
OpenAPI schema. Deeper rules (levels that nest, numbers in names, who may write) live in
``templates_app.services`` so the portal and the admin get them too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rest_framework import serializers

from templates_app.models import Rule, StyleGuide, Template, TemplateSection


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z`` (docs/api.md, "Conventions")."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- output ---------------------------------------------------------------------------------------


def rule_data(rule: Rule) -> dict[str, Any]:
    return {
        "rule_id": str(rule.id),
        "rule_type": rule.rule_type,
        "description": rule.description,
        "parameters": rule.parameters or {},
        "styles": rule.styles or {},
    }


def section_summary_data(section: TemplateSection) -> dict[str, Any]:
    return {
        "section_id": str(section.id),
        "section_name": section.section_name,
        "number": section.number,
        "title": section.title,
        "order_index": section.order_index,
        "level": section.level,
    }


def section_data(section: TemplateSection) -> dict[str, Any]:
    data = section_summary_data(section)
    data.update(
        {
            "synopsis": section.synopsis,
            "template_instructions": section.instructions,
            "template_text": section.template_text,
            "hints": section.hints or {},
            "rules": [rule_data(rule) for rule in section.rules.all()],
        }
    )
    return data


def _template_base(template: Template) -> dict[str, Any]:
    return {
        "template_id": str(template.id),
        "id": str(template.id),
        "key": template.key if template.built_in else None,
        "template_name": template.name,
        "document_type": template.document_type,
        "detected_document_type": template.document_type,
        "description": template.description,
        "tense": template.tense,
        "built_in": template.built_in,
        "organization_id": str(template.organization_id) if template.organization_id else None,
        "source_document_name": template.base_document.rsplit("/", 1)[-1] or None,
        "status": "active",
        "created_at": iso(template.created_at),
        "updated_at": iso(template.updated_at),
    }


def template_list_item_data(template: Template) -> dict[str, Any]:
    data = _template_base(template)
    sections = list(template.sections.all())
    data["section_count"] = len(sections)
    data["sections"] = [section_summary_data(s) for s in sections]
    return data


def template_detail_data(template: Template) -> dict[str, Any]:
    data = _template_base(template)
    sections = list(template.sections.all())
    data["section_count"] = len(sections)
    data["rule_count"] = sum(len(s.rules.all()) for s in sections)
    data["sections"] = [section_data(s) for s in sections]
    return data


def style_guide_data(guide: StyleGuide) -> dict[str, Any]:
    return {
        "style_guide_id": str(guide.id),
        "id": str(guide.id),
        "name": guide.name,
        "tense": guide.tense,
        "preferred_terms": guide.preferred_terms or {},
        "abbreviations": guide.abbreviations or {},
        "banned_phrases": guide.banned_phrases or [],
        "instructions": guide.instructions,
        "organization_id": str(guide.organization_id),
        "created_at": iso(guide.created_at),
        "updated_at": iso(guide.updated_at),
    }


# --- output shapes (the OpenAPI schema; the functions above build the bodies) --------------------


class RuleOutSerializer(serializers.Serializer):
    rule_id = serializers.CharField()
    rule_type = serializers.ChoiceField(choices=Rule.RuleType.values)
    description = serializers.CharField()
    parameters = serializers.DictField()
    styles = serializers.DictField()


class SectionSummaryOutSerializer(serializers.Serializer):
    section_id = serializers.UUIDField()
    section_name = serializers.CharField(help_text='Number and title: "9.4.1 Blinding".')
    number = serializers.CharField()
    title = serializers.CharField()
    order_index = serializers.IntegerField()
    level = serializers.IntegerField()


class SectionOutSerializer(SectionSummaryOutSerializer):
    synopsis = serializers.CharField()
    template_instructions = serializers.CharField()
    template_text = serializers.CharField()
    hints = serializers.DictField()
    rules = RuleOutSerializer(many=True)


class SectionAddedSerializer(SectionOutSerializer):
    message = serializers.CharField()
    template_id = serializers.UUIDField()


class SectionRenamedSerializer(SectionSummaryOutSerializer):
    message = serializers.CharField()
    template_id = serializers.UUIDField()


class SectionsReorderedSerializer(serializers.Serializer):
    message = serializers.CharField()
    template_id = serializers.UUIDField()
    sections = SectionSummaryOutSerializer(many=True)


class SectionDeletedSerializer(serializers.Serializer):
    message = serializers.CharField()
    deleted_section_id = serializers.CharField()
    deleted_count = serializers.IntegerField()
    template_id = serializers.UUIDField()


class TemplateBaseOutSerializer(serializers.Serializer):
    template_id = serializers.UUIDField()
    id = serializers.UUIDField()
    key = serializers.CharField(allow_null=True, help_text="A built-in's stable key, else null.")
    template_name = serializers.CharField()
    document_type = serializers.CharField()
    detected_document_type = serializers.CharField()
    description = serializers.CharField()
    tense = serializers.ChoiceField(choices=["past", "source"])
    built_in = serializers.BooleanField()
    organization_id = serializers.UUIDField(allow_null=True)
    source_document_name = serializers.CharField(allow_null=True)
    status = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    section_count = serializers.IntegerField()


class TemplateListItemOutSerializer(TemplateBaseOutSerializer):
    sections = SectionSummaryOutSerializer(many=True)


class TemplateListOutSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    templates = TemplateListItemOutSerializer(many=True)


class TemplateDetailOutSerializer(TemplateBaseOutSerializer):
    rule_count = serializers.IntegerField()
    sections = SectionOutSerializer(many=True)


class TemplateSavedOutSerializer(TemplateDetailOutSerializer):
    message = serializers.CharField()


class TemplateDuplicatedOutSerializer(TemplateSavedOutSerializer):
    source_template_id = serializers.UUIDField()


class StyleGuideOutSerializer(serializers.Serializer):
    style_guide_id = serializers.UUIDField()
    id = serializers.UUIDField()
    name = serializers.CharField()
    tense = serializers.ChoiceField(choices=["past", "source"])
    preferred_terms = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField())
    )
    abbreviations = serializers.DictField(child=serializers.CharField())
    banned_phrases = serializers.ListField(child=serializers.CharField())
    instructions = serializers.CharField()
    organization_id = serializers.UUIDField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class StyleGuideListOutSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    style_guides = StyleGuideOutSerializer(many=True)


# --- input ----------------------------------------------------------------------------------------


class RuleInSerializer(serializers.Serializer):
    rule_type = serializers.ChoiceField(choices=Rule.RuleType.values, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    parameters = serializers.DictField(required=False)
    rule_parameters = serializers.DictField(required=False, help_text="Alias of parameters.")
    styles = serializers.DictField(required=False)


class SectionInSerializer(serializers.Serializer):
    section_name = serializers.CharField(
        required=False, max_length=450, help_text='Number and title together: "9.4.1 Blinding".'
    )
    number = serializers.CharField(required=False, allow_blank=True, max_length=40)
    title = serializers.CharField(required=False, max_length=400)
    level = serializers.IntegerField(required=False, min_value=1, max_value=9, default=1)
    order_index = serializers.IntegerField(required=False, min_value=0)
    synopsis = serializers.CharField(required=False, allow_blank=True)
    template_instructions = serializers.CharField(required=False, allow_blank=True)
    template_text = serializers.CharField(required=False, allow_blank=True)
    hints = serializers.DictField(required=False)
    rules = RuleInSerializer(many=True, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("section_name") and not attrs.get("title"):
            raise serializers.ValidationError({"section_name": ["This field is required."]})
        return attrs


def _loose_list(help_text: str) -> serializers.ListField:
    """A list of objects checked by the service, so that errors name ``sections[2].level``."""
    return serializers.ListField(
        child=serializers.JSONField(), allow_empty=False, help_text=help_text
    )


class TemplateCreateSerializer(serializers.Serializer):
    template_name = serializers.CharField(max_length=300)
    document_type = serializers.CharField(max_length=80)
    sections = _loose_list("The outline, in order (see TemplateCreateDoc for the fields).")
    description = serializers.CharField(required=False, allow_blank=True)
    document_description = serializers.CharField(
        required=False, allow_blank=True, help_text="Alias of description (Artos)."
    )
    tense = serializers.ChoiceField(choices=["past", "source"], required=False)


class TemplateCreateDocSerializer(TemplateCreateSerializer):
    """The create body as documented in the schema (sections with their fields)."""

    sections = SectionInSerializer(many=True, allow_empty=False)


class TemplateUpdateSerializer(serializers.Serializer):
    template_name = serializers.CharField(required=False, max_length=300)
    document_type = serializers.CharField(required=False, max_length=80)
    description = serializers.CharField(required=False, allow_blank=True)
    tense = serializers.ChoiceField(choices=["past", "source"], required=False)


class TemplateImportSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The Word template (.docx).")
    template_name = serializers.CharField(required=False, allow_blank=True, max_length=300)
    document_type = serializers.CharField(required=False, allow_blank=True, max_length=80)
    preview = serializers.BooleanField(
        required=False,
        default=False,
        help_text="true: answer the file's outline (200) and save nothing.",
    )
    keep = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text=(
            "The outline indexes to keep (as the preview numbers them), comma-separated or the "
            "field repeated; a heading left out takes the headings under it along."
        ),
    )


def template_outline_data(outline: Any, kept: set[int] | None = None) -> dict[str, Any]:
    """A Word file's outline as ``preview=true`` answers it: every heading with its index,
    level, number, and what it would keep; ``kept`` the indexes a ``keep`` leaves (all without)."""
    from templates_app.services import outline_numbers

    levels = [entry.level for entry in outline.sections]
    numbers = outline_numbers(levels)
    sections = [
        {
            "index": index,
            "level": entry.level,
            "number": number,
            "title": entry.title,
            "instructions": "\n".join(entry.instructions),
            "template_text": "\n".join(entry.text),
            "dropped": entry.dropped,
            "kept": kept is None or index in kept,
        }
        for index, (entry, number) in enumerate(zip(outline.sections, numbers, strict=True))
    ]
    return {
        "preview": True,
        "title": outline.title,
        "count": len(sections),
        "kept": sum(1 for row in sections if row["kept"]),
        "sections": sections,
    }


class TemplateOutlineEntryOutSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    level = serializers.IntegerField()
    number = serializers.CharField(allow_blank=True)
    title = serializers.CharField()
    instructions = serializers.CharField(allow_blank=True)
    template_text = serializers.CharField(allow_blank=True)
    dropped = serializers.IntegerField(help_text="Paragraphs and tables of study text left out.")
    kept = serializers.BooleanField()


class TemplateOutlineOutSerializer(serializers.Serializer):
    preview = serializers.BooleanField()
    title = serializers.CharField(allow_blank=True)
    count = serializers.IntegerField()
    kept = serializers.IntegerField()
    sections = TemplateOutlineEntryOutSerializer(many=True)


class TemplateDuplicateSerializer(serializers.Serializer):
    template_name = serializers.CharField(required=False, allow_blank=True, max_length=300)


class SectionAddSerializer(serializers.Serializer):
    section_name = serializers.CharField(max_length=450)
    level = serializers.IntegerField(required=False, min_value=1, max_value=9, default=1)
    order_index = serializers.IntegerField(required=False, min_value=0)
    synopsis = serializers.CharField(required=False, allow_blank=True, default="")
    template_instructions = serializers.CharField(required=False, allow_blank=True, default="")
    template_text = serializers.CharField(required=False, allow_blank=True, default="")
    hints = serializers.DictField(required=False)
    rules = serializers.ListField(child=serializers.JSONField(), required=False)


class SectionAddDocSerializer(SectionAddSerializer):
    rules = RuleInSerializer(many=True, required=False)


class SectionUpdateSerializer(serializers.Serializer):
    synopsis = serializers.CharField(required=False, allow_blank=True)
    template_instructions = serializers.CharField(required=False, allow_blank=True)
    template_text = serializers.CharField(required=False, allow_blank=True)
    hints = serializers.DictField(required=False)


class ReorderItemSerializer(serializers.Serializer):
    section_id = serializers.CharField()
    order_index = serializers.IntegerField(min_value=0)
    level = serializers.IntegerField(required=False, min_value=1, max_value=9)


class SectionsReorderSerializer(serializers.Serializer):
    sections = _loose_list("[{section_id, order_index, level}, ...] in the new order.")


class SectionsReorderDocSerializer(serializers.Serializer):
    sections = ReorderItemSerializer(many=True, allow_empty=False)


class SectionRenameSerializer(serializers.Serializer):
    section_name = serializers.CharField(max_length=450)


class StyleGuideSerializer(serializers.Serializer):
    """Create (``name`` required) and update (every field optional) a style guide."""

    name = serializers.CharField(max_length=200)
    tense = serializers.ChoiceField(choices=["past", "source"], required=False)
    preferred_terms = serializers.DictField(
        required=False, help_text='{"preferred term": ["variant", ...]}'
    )
    abbreviations = serializers.DictField(
        child=serializers.CharField(), required=False, help_text='{"AE": "adverse event"}'
    )
    banned_phrases = serializers.ListField(child=serializers.CharField(), required=False)
    instructions = serializers.CharField(required=False, allow_blank=True)
