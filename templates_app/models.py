"""Templates (ordered, levelled sections with rules) and style guides.

A template with ``organization=None`` is global; built-in templates also carry a stable ``key``
(``ich-e3-csr``, ``ich-m11-protocol``) and are read-only: "duplicate" makes an organization's own
editable copy. Section ids are UUIDs that survive reordering and renaming.
"""

from __future__ import annotations

import uuid

from django.db import models


class Template(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        "portal.Organization",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="templates",
        help_text="Empty for global (built-in) templates.",
    )
    key = models.SlugField(max_length=80, null=True, blank=True, unique=True)
    name = models.CharField(max_length=300)
    document_type = models.CharField(max_length=80, default="CSR")
    description = models.TextField(blank=True)
    built_in = models.BooleanField(default=False)
    # Tense the writer reports in: a CSR reports a finished study ("past"); a protocol plans one.
    tense = models.CharField(
        max_length=10,
        choices=[("past", "Past"), ("source", "As in the source")],
        default="past",
    )
    base_document = models.CharField(
        max_length=500, blank=True, help_text="Storage key of the .docx the template came from."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-built_in", "name"]

    def __str__(self) -> str:
        return self.name


class TemplateSection(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    template = models.ForeignKey(Template, on_delete=models.CASCADE, related_name="sections")
    order_index = models.PositiveIntegerField()
    level = models.PositiveSmallIntegerField(default=1)
    number = models.CharField(max_length=40, blank=True)
    title = models.CharField(max_length=400)
    synopsis = models.TextField(blank=True)
    instructions = models.TextField(blank=True)
    template_text = models.TextField(blank=True)
    # Where content comes from, as data: source kinds, source headings and synonyms
    # (see templates_app/builtin/*.json); read by the pipeline's mapping step.
    hints = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["template", "order_index"]
        constraints = [
            models.UniqueConstraint(fields=["template", "order_index"], name="unique_section_order")
        ]

    def __str__(self) -> str:
        return self.section_name

    @property
    def section_name(self) -> str:
        return f"{self.number} {self.title}".strip()


class Rule(models.Model):
    class RuleType(models.TextChoices):
        EXTRACTION = "extraction", "Extraction"
        SUMMARY = "summary", "Summary"
        SYNTHESIS = "synthesis", "Synthesis"
        VALIDATION = "validation", "Validation"
        CUSTOM = "custom", "Custom"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    section = models.ForeignKey(TemplateSection, on_delete=models.CASCADE, related_name="rules")
    rule_type = models.CharField(
        max_length=20, choices=RuleType.choices, default=RuleType.EXTRACTION
    )
    description = models.TextField(blank=True)
    # e.g. {"source_kind": "protocol", "source_heading": "Inclusion Criteria"}
    parameters = models.JSONField(default=dict, blank=True)
    styles = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"{self.rule_type}: {self.description[:40]}"


class StyleGuide(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        "portal.Organization", on_delete=models.CASCADE, related_name="style_guides"
    )
    name = models.CharField(max_length=200)
    tense = models.CharField(
        max_length=10,
        choices=[("past", "Past"), ("source", "As in the source")],
        default="past",
    )
    # {"preferred term": ["variant", ...]}
    preferred_terms = models.JSONField(default=dict, blank=True)
    # {"AE": "adverse event"}
    abbreviations = models.JSONField(default=dict, blank=True)
    banned_phrases = models.JSONField(default=list, blank=True)
    instructions = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
