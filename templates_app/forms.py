"""Forms of templates_app: the portal's style guide form (with the textarea formats of its term
lists) and the admin's "Import from JSON" and "Import from Word" upload forms.

Forms check shapes only; ``templates_app.services`` decides what is valid.
"""

from __future__ import annotations

from typing import Any

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


# --- style guides ---------------------------------------------------------------------------------


def parse_terms(text: str) -> dict[str, list[str]]:
    """``preferred term: variant, variant`` per line → ``{"preferred term": ["variant", ...]}``."""
    result: dict[str, list[str]] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        term, sep, rest = line.partition(":")
        term = term.strip()
        variants = [v.strip() for v in rest.split(",") if v.strip()]
        if not sep or not term or not variants:
            raise forms.ValidationError(
                f"Line {number}: write “preferred term: variant, variant”, got “{line[:80]}”."
            )
        result[term] = variants
    return result


def parse_abbreviations(text: str) -> dict[str, str]:
    """``AE: adverse event`` per line → ``{"AE": "adverse event"}``."""
    result: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        short, sep, long = line.partition(":")
        if not sep or not short.strip() or not long.strip():
            raise forms.ValidationError(
                f"Line {number}: write “ABBREVIATION: meaning”, got “{line[:80]}”."
            )
        result[short.strip()] = long.strip()
    return result


def parse_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def format_terms(terms: dict[str, list[str]] | None) -> str:
    return "\n".join(f"{term}: {', '.join(variants)}" for term, variants in (terms or {}).items())


def format_abbreviations(abbreviations: dict[str, str] | None) -> str:
    return "\n".join(f"{short}: {long}" for short, long in (abbreviations or {}).items())


class StyleGuideForm(forms.Form):
    name = forms.CharField(label="Name", max_length=200)
    tense = forms.ChoiceField(
        label="Tense",
        choices=[("past", "Past (a finished study)"), ("source", "As in the source")],
    )
    preferred_terms = forms.CharField(
        label="Preferred terms",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One per line: “preferred term: variant, variant”, "
        "e.g. “adverse event: side effect, adverse experience”.",
    )
    abbreviations = forms.CharField(
        label="Abbreviations",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One per line: “AE: adverse event”.",
    )
    banned_phrases = forms.CharField(
        label="Banned phrases",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One phrase per line.",
    )
    instructions = forms.CharField(
        label="Instructions",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Free text for the writer, e.g. “Use ‘participants’, not ‘subjects’.”",
    )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Name the style guide.")
        return name

    def clean_preferred_terms(self) -> dict[str, list[str]]:
        return parse_terms(self.cleaned_data.get("preferred_terms") or "")

    def clean_abbreviations(self) -> dict[str, str]:
        return parse_abbreviations(self.cleaned_data.get("abbreviations") or "")

    def clean_banned_phrases(self) -> list[str]:
        return parse_lines(self.cleaned_data.get("banned_phrases") or "")

    @classmethod
    def initial_from(cls, style_guide: Any) -> dict[str, Any]:
        return {
            "name": style_guide.name,
            "tense": style_guide.tense,
            "preferred_terms": format_terms(style_guide.preferred_terms),
            "abbreviations": format_abbreviations(style_guide.abbreviations),
            "banned_phrases": "\n".join(style_guide.banned_phrases or []),
            "instructions": style_guide.instructions,
        }
