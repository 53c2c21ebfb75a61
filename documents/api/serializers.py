"""Request and response shapes of the documents API (docs/api.md).

Input serializers check shapes and types (lists, choices, required fields); the service decides
what only it can know (whose files, which template, what the server allows), so the portal gets
the same rules. Response helpers turn rows into the API's JSON.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework import serializers

from documents.models import DocumentSet, GeneratedDocument, SourceFile


def iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z")


class MessageSerializer(serializers.Serializer):
    message = serializers.CharField()


class UploadSerializer(serializers.Serializer):
    file_content = serializers.FileField(allow_empty_file=True)
    file_name = serializers.CharField(required=False, allow_blank=True, max_length=255)
    container = serializers.CharField(required=False, allow_blank=True, max_length=40)


class GenerateSerializer(serializers.Serializer):
    """Every field of the generation request with its alias (docs/api.md, "Generation")."""

    document_type = serializers.CharField(required=False, allow_blank=True)
    file_paths = serializers.ListField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False), required=False
    )
    connector_data_id = serializers.CharField(required=False, allow_blank=True)
    document_set_key = serializers.CharField(required=False, allow_blank=True)
    workspace_name = serializers.CharField(required=False, allow_blank=True)
    document_set_name = serializers.CharField(required=False, allow_blank=True)
    template_id = serializers.CharField(required=False, allow_blank=True)
    generic_mrt_id = serializers.CharField(required=False, allow_blank=True)
    output_name = serializers.CharField(required=False, allow_blank=True)
    selected_section_ids = serializers.JSONField(required=False)
    generic_mrt_outline_full = serializers.JSONField(required=False)
    document_instructions = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    style_guide_id = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    writer = serializers.ChoiceField(choices=["builtin", "llm"], required=False, allow_blank=True)

    REQUIRED = (
        ("document_type", None),
        ("file_paths", None),
        ("connector_data_id", "document_set_key"),
        ("workspace_name", "document_set_name"),
        ("template_id", "generic_mrt_id"),
        ("output_name", None),
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        errors = {}
        for name, alias in self.REQUIRED:
            value = attrs.get(name)
            if value in (None, "") and alias:
                value = attrs.get(alias)
            if value in (None, "", []):
                label = f"{name} (or {alias})" if alias else name
                errors[name] = [f"This field is required ({label})."]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def to_service_kwargs(self) -> dict[str, Any]:
        d = self.validated_data
        return {
            "document_type": d.get("document_type"),
            "file_paths": d.get("file_paths"),
            "document_set_key": d.get("connector_data_id") or d.get("document_set_key"),
            "document_set_name": d.get("workspace_name") or d.get("document_set_name"),
            "template_ref": d.get("template_id") or d.get("generic_mrt_id"),
            "output_name": d.get("output_name"),
            "selected_section_ids": d.get("selected_section_ids"),
            "outline_full": d.get("generic_mrt_outline_full"),
            "instructions": d.get("document_instructions") or "",
            "style_guide_ref": d.get("style_guide_id") or None,
            "writer": d.get("writer") or "builtin",
        }


class RegenerateSerializer(serializers.Serializer):
    section_ids = serializers.JSONField(required=False)
    instructions = serializers.CharField(required=False, allow_blank=True, default="")
    stale = serializers.BooleanField(
        required=False, default=False, help_text="Regenerate exactly the stale sections."
    )
    overwrite_edited = serializers.BooleanField(
        required=False, default=False, help_text="Also write again sections people edited."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("stale") and attrs.get("section_ids") in (None, "", []):
            raise serializers.ValidationError(
                {"section_ids": ["This field is required (or send stale: true)."]}
            )
        return attrs


class ReviewUploadSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True, help_text="The reviewed .docx.")
    regenerate = serializers.BooleanField(required=False, default=True)
    overwrite_edited = serializers.BooleanField(required=False, default=False)
    instructions = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=20000
    )


class ReviewCommentSerializer(serializers.Serializer):
    author = serializers.CharField()
    text = serializers.CharField()
    status = serializers.ChoiceField(
        choices=["acted_on", "passed_to_llm_writer", "left_for_person", "not_regenerated"],
        required=False,
    )
    understood = serializers.ListField(child=serializers.CharField(), required=False)
    note = serializers.CharField(required=False)


class ReviewSectionSerializer(serializers.Serializer):
    section_id = serializers.CharField()
    number = serializers.CharField()
    title = serializers.CharField()
    comments = ReviewCommentSerializer(many=True)
    edited = serializers.BooleanField()
    regenerate = serializers.BooleanField()


class ReviewSectionRefSerializer(serializers.Serializer):
    section_id = serializers.CharField()
    number = serializers.CharField()
    title = serializers.CharField()


class ReviewResponseSerializer(MessageSerializer):
    task_id = serializers.UUIDField(allow_null=True)
    review_id = serializers.UUIDField()
    sections = ReviewSectionSerializer(many=True)
    comments_outside_sections = ReviewCommentSerializer(many=True)
    sections_not_found = ReviewSectionRefSerializer(many=True)


class DocumentSetCreateSerializer(serializers.Serializer):
    document_set_name = serializers.CharField(max_length=300)
    document_set_key = serializers.CharField(required=False, allow_blank=True, max_length=200)
    details = serializers.CharField(required=False, allow_blank=True, default="")


class PresignedUrlSerializer(serializers.Serializer):
    key = serializers.CharField(max_length=600)


# --- responses (their shapes in the OpenAPI schema; the helpers below build the bodies) ----------


class UploadResponseSerializer(MessageSerializer):
    file_path = serializers.CharField(help_text="<organization_id>/<container>/<file_name>")
    size = serializers.IntegerField()
    sha256 = serializers.CharField()
    version = serializers.IntegerField()


class StorageUsageSerializer(serializers.Serializer):
    usage_bytes = serializers.IntegerField(help_text="Every stored source file version.")
    quota_bytes = serializers.IntegerField(
        allow_null=True, help_text="FOLIO_ORG_STORAGE_QUOTA_MB in bytes; null: no quota."
    )


class FileItemSerializer(serializers.Serializer):
    name = serializers.CharField()
    file_path = serializers.CharField()
    url = serializers.CharField(help_text="Downloads the newest version without a token (1 h).")
    size = serializers.IntegerField(allow_null=True)
    sha256 = serializers.CharField(allow_null=True)
    version = serializers.IntegerField(allow_null=True)
    uploaded_at = serializers.DateTimeField(allow_null=True)


class FileListSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    files = FileItemSerializer(many=True)


class PresignedUrlResponseSerializer(serializers.Serializer):
    url = serializers.CharField()


class AcceptedSerializer(MessageSerializer):
    task_id = serializers.UUIDField(help_text="The document's id; poll its status with it.")


class CancelResponseSerializer(AcceptedSerializer):
    status = serializers.ChoiceField(choices=GeneratedDocument.Status.values)


class StatusSerializer(serializers.Serializer):
    task_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=GeneratedDocument.Status.values)
    progress = serializers.IntegerField(min_value=0, max_value=100)
    step = serializers.ChoiceField(
        choices=[s.value for s in GeneratedDocument.Step], allow_null=True
    )
    error = serializers.CharField(allow_null=True)
    error_code = serializers.CharField(allow_null=True)
    sections_total = serializers.IntegerField()
    sections_done = serializers.IntegerField()
    qc = serializers.DictField(allow_null=True, help_text="The QC summary, once Complete.")
    download_url = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    version = serializers.IntegerField(help_text="1 for a first draft, +1 per regeneration.")
    previous_version = serializers.UUIDField(allow_null=True)
    stale_sections = serializers.ListField(
        child=serializers.CharField(),
        help_text="Sections citing source text that a newer source version changed.",
    )


class TemplateRefSerializer(serializers.Serializer):
    template_id = serializers.UUIDField()
    template_name = serializers.CharField()


class DocumentItemSerializer(serializers.Serializer):
    document_id = serializers.UUIDField()
    document_name = serializers.CharField()
    status = serializers.ChoiceField(choices=GeneratedDocument.Status.values)
    document_type = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    workspace_id = serializers.UUIDField(help_text="The document set's id.")
    template = TemplateRefSerializer(allow_null=True)
    previous_version = serializers.UUIDField(allow_null=True)
    version = serializers.IntegerField()


class DocumentListSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    documents = DocumentItemSerializer(many=True)


class CitationSerializer(serializers.Serializer):
    file_path = serializers.CharField()
    file_name = serializers.CharField()
    page = serializers.IntegerField(allow_null=True)
    block = serializers.IntegerField(allow_null=True)
    quote = serializers.CharField()


class TwinParagraphSerializer(serializers.Serializer):
    text = serializers.CharField()
    citations = CitationSerializer(many=True)
    style = serializers.ChoiceField(choices=["body", "list", "note"], required=False)
    list_label = serializers.CharField(required=False)
    source_text = serializers.CharField(required=False)
    flags = serializers.ListField(child=serializers.CharField(), required=False)


class TwinTableSerializer(serializers.Serializer):
    title = serializers.CharField()
    header_rows = serializers.IntegerField(min_value=0)
    rows = serializers.ListField(child=serializers.ListField(child=serializers.CharField()))
    citations = CitationSerializer(many=True)


class TwinSectionSerializer(serializers.Serializer):
    section_id = serializers.CharField()
    number = serializers.CharField()
    title = serializers.CharField()
    level = serializers.IntegerField()
    state = serializers.ChoiceField(choices=["generated", "no_source", "skipped", "not_applicable"])
    reason = serializers.CharField(
        required=False, help_text="Why a person marked the section not applicable."
    )
    paragraphs = TwinParagraphSerializer(many=True)
    tables = TwinTableSerializer(many=True)
    edited = serializers.BooleanField(help_text="People changed this section in a reviewed copy.")
    review_comments = ReviewCommentSerializer(many=True)
    stale = serializers.BooleanField(help_text="A newer source version changed text it cites.")


class SectionStateSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=["not_applicable", "restore"])
    reason = serializers.CharField(
        required=False,
        max_length=500,
        help_text="Required with not_applicable (400 reason_required without it).",
    )


class SectionStateResponseSerializer(serializers.Serializer):
    document_id = serializers.UUIDField()
    section = TwinSectionSerializer()


class TwinSerializer(serializers.Serializer):
    """The traceability twin (docs/api.md, "The traceability twin")."""

    document_id = serializers.UUIDField(allow_null=True)
    template_id = serializers.CharField(allow_null=True)
    version = serializers.IntegerField()
    previous_version = serializers.UUIDField(allow_null=True)
    manifest = serializers.DictField(help_text="Sources (sha256), template, writer, times.")
    qc = serializers.DictField()
    sections = TwinSectionSerializer(many=True)


class DocumentSetFileSerializer(serializers.Serializer):
    file_path = serializers.CharField()
    name = serializers.CharField()


class DocumentSetDocumentSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    document_name = serializers.CharField()
    document_type = serializers.CharField()
    status = serializers.ChoiceField(choices=GeneratedDocument.Status.values)
    created_at = serializers.DateTimeField()


class DocumentSetSerializer(serializers.Serializer):
    document_set_id = serializers.UUIDField()
    document_set_key = serializers.CharField()
    document_set_name = serializers.CharField()
    organization_id = serializers.UUIDField()
    details = serializers.CharField()
    created_at = serializers.DateTimeField()
    documents = serializers.ListField(child=serializers.UUIDField())


class DocumentSetDetailSerializer(DocumentSetSerializer):
    document_set = DocumentSetDocumentSerializer(many=True)
    files = DocumentSetFileSerializer(many=True)


class DocumentSetListSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    document_sets = DocumentSetSerializer(many=True)


def status_payload(document: GeneratedDocument) -> dict[str, Any]:
    complete = document.status == GeneratedDocument.Status.COMPLETE
    return {
        "task_id": str(document.id),
        "status": document.status,
        "progress": document.progress,
        "step": document.step,
        "error": document.error,
        "error_code": document.error_code,
        "sections_total": document.sections_total,
        "sections_done": document.sections_done,
        "qc": document.qc if complete else None,
        "download_url": reverse("document_download", args=[document.id]) if complete else None,
        "created_at": iso(document.created_at),
        "started_at": iso(document.started_at),
        "finished_at": iso(document.finished_at),
        "version": document.version,
        "previous_version": str(document.previous_version_id)
        if document.previous_version_id
        else None,
        "stale_sections": list(document.stale_sections or []),
    }


def twin_payload(document: GeneratedDocument) -> dict[str, Any]:
    """The stored twin with what the row knows now: its version and the stale sections."""
    twin = dict(document.twin or {})
    stale = set(document.stale_sections or [])
    twin["version"] = document.version
    twin["previous_version"] = (
        str(document.previous_version_id) if document.previous_version_id else None
    )
    twin["sections"] = [
        {
            **section,
            "edited": bool(section.get("edited", False)),
            "review_comments": section.get("review_comments", []),
            "stale": section.get("section_id") in stale,
        }
        for section in twin.get("sections", [])
    ]
    return twin


def review_payload(outcome: Any) -> dict[str, Any]:
    new = outcome.new_version
    regenerated = sum(1 for s in outcome.sections if s["regenerate"])
    if new is not None:
        message = (
            f"Review read: {regenerated} section{'s' if regenerated != 1 else ''} will be "
            f"written again in version {new.version}; every other section is carried over."
        )
    else:
        message = "Review read: nothing is to be regenerated."
    return {
        "message": message,
        "task_id": str(new.id) if new is not None else None,
        "review_id": str(outcome.review.id),
        "sections": outcome.sections,
        "comments_outside_sections": outcome.comments_outside_sections,
        "sections_not_found": outcome.sections_not_found,
    }


def document_item(document: GeneratedDocument) -> dict[str, Any]:
    template = document.template
    return {
        "document_id": str(document.id),
        "document_name": document.file_name,
        "status": document.status,
        "document_type": document.document_type,
        "created_at": iso(document.created_at),
        "updated_at": iso(document.updated_at),
        "workspace_id": str(document.document_set_id),
        "template": {"template_id": str(template.id), "template_name": template.name}
        if template
        else None,
        "previous_version": str(document.previous_version_id)
        if document.previous_version_id
        else None,
        "version": document.version,
    }


def file_item(source_file: SourceFile, url: str) -> dict[str, Any]:
    latest = source_file.versions.all()[0] if source_file.versions.all() else None
    return {
        "name": source_file.name,
        "file_path": source_file.file_path,
        "url": url,
        "size": latest.size if latest else None,
        "sha256": latest.sha256 if latest else None,
        "version": latest.version if latest else None,
        "uploaded_at": iso(latest.uploaded_at) if latest else None,
    }


def document_set_item(document_set: DocumentSet, *, detailed: bool = False) -> dict[str, Any]:
    item: dict[str, Any] = {
        "document_set_id": str(document_set.id),
        "document_set_key": document_set.key,
        "document_set_name": document_set.name,
        "organization_id": str(document_set.organization_id),
        "details": document_set.details,
        "created_at": iso(document_set.created_at),
        "documents": [str(d) for d in document_set.documents.values_list("id", flat=True)],
    }
    if detailed:
        item["document_set"] = [
            {
                "id": str(d.id),
                "document_name": d.file_name,
                "document_type": d.document_type,
                "status": d.status,
                "created_at": iso(d.created_at),
            }
            for d in document_set.documents.order_by("-created_at")
        ]
        item["files"] = [
            {"file_path": f.file_path, "name": f.name} for f in document_set.files.order_by("name")
        ]
    return item
