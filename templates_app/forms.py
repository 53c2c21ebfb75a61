"""Upload forms for the admin's "Import from JSON" and "Import from Word" pages."""

from __future__ import annotations

from django import forms


class TemplateJsonImportForm(forms.Form):
    file = forms.FileField(
        label="JSON file",
        help_text="A template exported from this admin (or a built-in template's JSON file); "
        'an object with "templates": [...] imports several.',
    )


class TemplateDocxImportForm(forms.Form):
    file = forms.FileField(
        label="Word file (.docx)",
        help_text="Its headings become the sections (custom heading styles based on Heading 1, "
        "2, ... count); instructional text becomes each section's instructions.",
    )
    template_name = forms.CharField(
        label="Template name", max_length=300, required=False, help_text="Default: the file name."
    )
    document_type = forms.CharField(label="Document type", max_length=80, initial="Protocol")
