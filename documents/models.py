"""Document sets, source files with their versions, and generated documents.

``GeneratedDocument`` is both the generated document and its job's status row: the database row is
the source of truth, never Redis. Its state machine::

    Pending ──claim──▶ Generating ──▶ Complete
       │                   │    └───▶ Failed      (error + error_code)
       │                   └────────▶ Cancelled   (at the next step boundary)
       └──▶ Failed (queue_unavailable) | Cancelled

A job claims its row with a conditional update (Pending → Generating). A row found already
Generating when a job starts means an earlier attempt died; it is failed (``worker_crashed``).
``progress`` never decreases.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from documents.pipeline.types import Step


class DocumentSet(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        "portal.Organization", on_delete=models.CASCADE, related_name="document_sets"
    )
    key = models.CharField(max_length=200)
    name = models.CharField(max_length=300)
    details = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="unique_set_key")
        ]

    def __str__(self) -> str:
        return self.name


class SourceFile(models.Model):
    """A logical file: ``<organization_id>/<container>/<name>``; its bytes live in versions."""

    class FileType(models.TextChoices):
        PDF = "pdf", "PDF"
        DOCX = "docx", "Word"
        XLSX = "xlsx", "Excel"
        RTF = "rtf", "RTF"
        TXT = "txt", "Text"
        OUT = "out", "Text output"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        "portal.Organization", on_delete=models.CASCADE, related_name="files"
    )
    container = models.CharField(max_length=40, default="documents")
    name = models.CharField(max_length=255)
    file_path = models.CharField(max_length=400, unique=True)
    file_type = models.CharField(max_length=8, choices=FileType.choices)
    document_set = models.ForeignKey(
        DocumentSet, on_delete=models.SET_NULL, null=True, blank=True, related_name="files"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["container", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "container", "name"], name="unique_file_name"
            )
        ]

    def __str__(self) -> str:
        return self.file_path

    @property
    def latest(self) -> SourceFileVersion | None:
        return self.versions.order_by("-version").first()


class SourceFileVersion(models.Model):
    """One upload's bytes. Stored at ``<org>/<container>/v<N>/<name>``; never overwritten."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    source_file = models.ForeignKey(SourceFile, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    storage_key = models.CharField(max_length=500)
    sha256 = models.CharField(max_length=64, db_index=True)
    size = models.BigIntegerField()
    file_type = models.CharField(max_length=8, choices=SourceFile.FileType.choices)
    page_count = models.PositiveIntegerField(null=True, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["source_file", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["source_file", "version"], name="unique_file_version")
        ]

    def __str__(self) -> str:
        return f"{self.source_file.file_path} v{self.version}"


class Extraction(models.Model):
    """Extracted text of one file version, kept per page (PDF) or per block (DOCX, XLSX).

    ``blocks`` is the list of the pipeline's ``Block`` records (text, page or block index,
    heading path, table rows). Cached by content (sha256) and extractor version so a second
    generation over an unchanged file skips extraction and ingestion.
    """

    id = models.BigAutoField(primary_key=True)
    sha256 = models.CharField(max_length=64)
    file_type = models.CharField(max_length=8)
    extractor_version = models.CharField(max_length=40)
    page_count = models.PositiveIntegerField(null=True, blank=True)
    data = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["sha256", "file_type", "extractor_version"], name="unique_extraction"
            )
        ]

    def __str__(self) -> str:
        return f"{self.file_type} {self.sha256[:12]} ({self.extractor_version})"


class OutlineSnapshot(models.Model):
    """The full outline a document was made from (sections with synopsis, instructions, hints and
    rules), stored once per distinct content (sha256) and shared by every document made from it.
    The document row keeps a light copy (ids, numbers, titles, levels) for the API and portal."""

    id = models.BigAutoField(primary_key=True)
    sha256 = models.CharField(max_length=64, unique=True)
    sections = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"outline {self.sha256[:12]}"


class GeneratedDocument(models.Model):
    class Status(models.TextChoices):
        PENDING = "Pending"
        GENERATING = "Generating"
        COMPLETE = "Complete"
        FAILED = "Failed"
        CANCELLED = "Cancelled"

    TERMINAL = (Status.COMPLETE, Status.FAILED, Status.CANCELLED)

    # The pipeline's steps (documents/pipeline/types.py): the one definition of their names.
    Step = Step

    class Writer(models.TextChoices):
        BUILTIN = "builtin"
        LLM = "llm"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        "portal.Organization", on_delete=models.CASCADE, related_name="documents"
    )
    document_set = models.ForeignKey(
        DocumentSet, on_delete=models.PROTECT, related_name="documents"
    )
    template = models.ForeignKey(
        "templates_app.Template",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="documents",
    )
    style_guide = models.ForeignKey(
        "templates_app.StyleGuide",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="documents",
    )

    class Origin(models.TextChoices):
        GENERATE = "generate", "first draft"
        REGENERATE = "regenerate", "sections regenerated"
        REVIEW = "review", "reviewed copy"
        STALE = "stale", "stale sections regenerated"

    previous_version = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="next_versions"
    )
    # 1 for a first draft, +1 per regeneration (the .docx's folio_version).
    version = models.PositiveIntegerField(default=1)
    origin = models.CharField(max_length=12, choices=Origin.choices, default=Origin.GENERATE)
    # The reviewed copy this version was made from (origin "review").
    review = models.ForeignKey(
        "DocumentReview",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="versions_made",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    output_name = models.CharField(max_length=255)
    document_type = models.CharField(max_length=80)
    writer = models.CharField(max_length=10, choices=Writer.choices, default=Writer.BUILTIN)
    instructions = models.TextField(blank=True)
    selected_section_ids = models.JSONField(default=list, blank=True)
    # Sections to rewrite in a regeneration; all others are copied from previous_version.
    regenerate_section_ids = models.JSONField(default=list, blank=True)
    # Instructions for single sections of a regeneration (section_id → text): a regeneration's
    # instructions, or a reviewer's comments on that section.
    section_instructions = models.JSONField(default=dict, blank=True)
    # Sections whose citations point to source text that changed or vanished in a newer version
    # of a source file (documents/services/staleness.py).
    stale_sections = models.JSONField(default=list, blank=True)

    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    step = models.CharField(
        max_length=12, choices=[(s.value, s.value) for s in Step], null=True, blank=True
    )
    progress = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(null=True, blank=True)
    error_code = models.CharField(max_length=40, null=True, blank=True)
    sections_total = models.PositiveIntegerField(default=0)
    sections_done = models.PositiveIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    attempts = models.PositiveSmallIntegerField(default=0)
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)
    request_hash = models.CharField(max_length=64, blank=True)

    outline = models.JSONField(default=dict, blank=True)
    outline_snapshot = models.ForeignKey(
        OutlineSnapshot, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    twin = models.JSONField(null=True, blank=True)
    qc = models.JSONField(null=True, blank=True)
    output_key = models.CharField(max_length=500, blank=True)
    # The .docx whose differences from the previous version are tracked changes (redline).
    redline_key = models.CharField(max_length=500, blank=True)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # The RQ worker whose work horse claimed the current attempt ("" when run outside a worker).
    # RQ keeps one record per job id, shared by every attempt, so after a retry it can describe
    # an older attempt; the row knows whose attempt it is: only that worker heartbeats it, and a
    # worker whose horse died gives up only its own attempt (documents/jobs.py).
    worker_name = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="unique_idempotency_key",
            )
        ]
        indexes = [
            models.Index(fields=["organization", "status"]),
            # The documents list and the dashboard: one page of an organization's newest
            # documents is an index range, however many it has (without it PostgreSQL joined
            # and sorted every row of the organization: 44 ms for a page of one at 5,000).
            models.Index(fields=["organization", "-created_at"], name="document_org_newest"),
        ]

    def __str__(self) -> str:
        return f"{self.output_name} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in self.TERMINAL

    @property
    def file_name(self) -> str:
        return f"{self.output_name}.docx"


class GeneratedDocumentSource(models.Model):
    """The exact file versions (sha256) a generated document was made from, in request order."""

    document = models.ForeignKey(
        GeneratedDocument, on_delete=models.CASCADE, related_name="source_links"
    )
    version = models.ForeignKey(SourceFileVersion, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["document", "position"]
        constraints = [
            models.UniqueConstraint(fields=["document", "position"], name="unique_source_position")
        ]

    def __str__(self) -> str:
        return f"{self.document_id} ← {self.version_id}"


class DocumentReview(models.Model):
    """A reviewed copy of a generated .docx, uploaded back (docs/api.md, "The review cycle").

    ``document`` is the version the file names (its custom properties); ``sections`` is the
    answer (per section: comments, edited, regenerate); ``edited_sections`` holds, per edited
    section, its twin form as the reviewers sent it back (tracked changes accepted), and
    ``carried_xml`` its WordprocessingML as they left it (their pending tracked changes kept),
    which the next version carries unchanged. The file itself is kept at ``storage_key``.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        "portal.Organization", on_delete=models.CASCADE, related_name="document_reviews"
    )
    document = models.ForeignKey(
        GeneratedDocument, on_delete=models.CASCADE, related_name="reviews"
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    file_name = models.CharField(max_length=255)
    storage_key = models.CharField(max_length=500, blank=True)
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField(default=0)
    instructions = models.TextField(blank=True)
    regenerate = models.BooleanField(default=True)
    overwrite_edited = models.BooleanField(default=False)
    sections = models.JSONField(default=list, blank=True)
    comments_outside_sections = models.JSONField(default=list, blank=True)
    edited_sections = models.JSONField(default=dict, blank=True)
    carried_xml = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"review of {self.document_id} ({self.file_name})"
