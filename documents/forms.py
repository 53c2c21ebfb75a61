"""Portal forms: the new-document form, regeneration and dashboard filters.

Forms only check shapes (types, required fields, the textarea formats of style guides); the
services decide what is valid, so the portal and the API share one set of rules. Choices come from
organization-scoped selectors, so a form can never offer or accept another organization's object.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from django import forms
from django.urls import reverse
from django.utils.text import slugify

from documents.models import DocumentSet, GeneratedDocument

ACCEPTED_EXTENSIONS = ".pdf,.docx,.xlsx,.rtf,.txt,.out"


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """A file input that accepts several files; cleans to a list (possibly empty)."""

    widget = MultipleFileInput

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        if not data:
            if self.required:
                raise forms.ValidationError(self.error_messages["required"], code="required")
            return []
        items = data if isinstance(data, list | tuple) else [data]
        single = super().clean
        return [single(item, initial) for item in items]


class GenerateForm(forms.Form):
    """One form: upload files and/or pick uploaded ones, choose a set, a template and options."""

    source_files = MultipleFileField(
        label="Source files",
        required=False,
        help_text=(
            "PDF, Word (.docx), Excel (.xlsx), or results tables as RTF (.rtf) or text "
            "(.txt, .out). Choose several at once."
        ),
        widget=MultipleFileInput(attrs={"accept": ACCEPTED_EXTENSIONS, "multiple": True}),
    )
    existing_files = forms.MultipleChoiceField(
        label="Files already uploaded",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        # Never echo the value: it must not tell whether such a path exists elsewhere.
        error_messages={"invalid_choice": "A ticked file is not one of your uploads."},
    )
    document_set = forms.CharField(
        label="Document set",
        max_length=300,
        help_text="Pick an existing set or type a new name; a study's files and drafts stay "
        "together.",
        widget=forms.TextInput(attrs={"list": "document-set-options", "autocomplete": "off"}),
    )
    template = forms.ModelChoiceField(label="Template", queryset=None, empty_label=None)
    style_guide = forms.ModelChoiceField(
        label="Style guide", queryset=None, required=False, empty_label="No style guide"
    )
    output_name = forms.CharField(
        label="Output name",
        max_length=255,
        help_text="The name of the Word file, e.g. CSR_Draft (.docx is added).",
    )
    instructions = forms.CharField(
        label="Instructions for the whole document",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Optional, e.g. “Report in the past tense; call the product Study Drug.”",
    )

    def __init__(
        self,
        *args: Any,
        templates: Any,
        style_guides: Any,
        files: Iterable[Any] = (),
        document_sets: Iterable[DocumentSet] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["template"].queryset = templates
        # Choosing another template loads its section tree (no-JS: "Show the sections").
        self.fields["template"].widget.attrs.update(
            {
                "hx-get": reverse("documents:section_picker"),
                "hx-trigger": "change",
                "hx-target": "#section-picker",
                "hx-swap": "outerHTML",
            }
        )
        self.fields["style_guide"].queryset = style_guides
        self.fields["existing_files"].choices = [(f.file_path, f.name) for f in files]
        self.document_sets = list(document_sets)

    def clean_document_set(self) -> str:
        name = " ".join(self.cleaned_data["document_set"].split())
        if not name:
            raise forms.ValidationError("Name the document set.")
        return name

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if not cleaned.get("source_files") and not cleaned.get("existing_files"):
            self.add_error(
                "source_files",
                "Choose at least one source file: upload it here or tick a file already uploaded.",
            )
        return cleaned

    def document_set_identity(self) -> tuple[str, str]:
        """(key, name) for the service: an existing set's own key, or a fresh key for a new name."""
        name = self.cleaned_data["document_set"]
        for existing in self.document_sets:
            if name.casefold() in (existing.name.casefold(), existing.key.casefold()):
                return existing.key, existing.name
        key = slugify(name)[:180] or "set"
        taken = {s.key for s in self.document_sets}
        if key in taken:
            # Same slug, different name: keep the new set apart from the existing one.
            key = f"{key}-{hashlib.sha256(name.encode()).hexdigest()[:6]}"
        return key, name


class RegenerateForm(forms.Form):
    section_ids = forms.MultipleChoiceField(
        label="Sections to write again",
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Tick at least one section to regenerate."},
    )
    instructions = forms.CharField(
        label="Instructions for these sections",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, section_choices: list[tuple[str, str]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["section_ids"].choices = section_choices


class DashboardFilterForm(forms.Form):
    status = forms.ChoiceField(
        label="Status",
        required=False,
        choices=[("", "Any status"), *GeneratedDocument.Status.choices],
    )
    document_set = forms.ChoiceField(label="Document set", required=False)

    def __init__(self, *args: Any, document_sets: Iterable[DocumentSet] = (), **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["document_set"].choices = [("", "All document sets")] + [
            (str(s.id), s.name) for s in document_sets
        ]


class ReviewUploadForm(forms.Form):
    """A reviewed copy of the draft, uploaded back (the service reads and checks it)."""

    file = forms.FileField(
        label="Reviewed copy",
        help_text="The .docx downloaded from this page, with reviewers' comments and edits.",
        widget=forms.ClearableFileInput(attrs={"accept": ".docx"}),
        error_messages={"required": "Choose the reviewed .docx to upload."},
    )
    regenerate = forms.BooleanField(
        label="Write the commented sections again now",
        required=False,
        initial=True,
    )
    overwrite_edited = forms.BooleanField(
        label="Also write again commented sections that people edited",
        required=False,
    )
    instructions = forms.CharField(
        label="Instructions for every commented section",
        required=False,
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
