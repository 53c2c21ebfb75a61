"""Frozen dataclasses passed between the pipeline's steps.

The pipeline (extract → classify → ingest → outline → orchestrate → render) is plain functions
over these records: no request, no RQ, no ORM, no Django settings. Everything a run depends on
arrives in ``PipelineInput``, its resource ``Limits`` and ``LLMConfig`` included; the job's input
assembly (``documents/pipeline_input.py``) builds it from database rows and settings, and stores
what comes out.

Locations follow docs/api.md ("The traceability twin: locations"): a PDF location is ``page``
(1-based, ``block`` None); a DOCX/XLSX location is ``block`` (1-based index of the paragraph,
table row or sheet row in document order, ``page`` None).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

SourceKind = Literal["protocol", "sap", "results", "other"]
BlockKind = Literal["heading", "paragraph", "list_item", "table", "caption"]
SectionState = Literal["generated", "no_source", "skipped", "not_applicable"]


class Step(StrEnum):
    """The pipeline's steps in order: the names progress reports and the status row carry."""

    EXTRACT = "Extract"
    CLASSIFY = "Classify"
    INGEST = "Ingest"
    OUTLINE = "Outline"
    ORCHESTRATE = "Orchestrate"
    GENERATE = "Generate"


@dataclass(frozen=True)
class Limits:
    """Resource limits for one source file; defaults match portal/settings.py."""

    max_zip_entries: int = 2000
    max_zip_member_mb: int = 100
    max_zip_total_mb: int = 300
    max_zip_ratio: int = 200
    max_pdf_pages: int = 2000
    max_extracted_chars: int = 20_000_000
    extract_timeout: float = 120.0
    extract_memory_mb: int = 1536
    # Sources a job extracts at once, each in its own limited child (1: one after the other).
    extract_parallel: int = 2
    # Paragraphs and table rows of a DOCX (not a setting): a 2,000-page protocol has ~40,000;
    # 400,000 tiny paragraphs compress well under every zip limit yet take minutes to read.
    max_blocks: int = 100_000


@dataclass(frozen=True)
class LLMConfig:
    """Where and how the optional LLM writer (``llm.py``) asks an OpenAI-compatible server."""

    base_url: str
    model: str
    api_key: str = field(default="", repr=False)
    timeout: float = 60.0
    attempts: int = 3
    backoff: float = 1.0  # seconds before the 2nd attempt; doubled each time
    temperature: float = 0.0

    @property
    def endpoint(self) -> str:
        base = self.base_url.rstrip("/")
        if base.endswith("/chat/completions"):
            return base
        if base.endswith("/v1"):
            return base + "/chat/completions"
        return base + "/v1/chat/completions"


@dataclass(frozen=True)
class SourceDescriptor:
    """One source file version handed to the pipeline."""

    file_path: str
    file_name: str
    sha256: str
    file_type: str  # "pdf" | "docx" | "xlsx" | "rtf" | "txt" | "out"
    local_path: str  # a readable local copy of the bytes


@dataclass(frozen=True)
class Block:
    """One unit of extracted text with its location and place in the heading tree."""

    index: int  # 1-based position among this source's blocks
    kind: BlockKind
    text: str  # prose; for a table, rows joined by newlines and cells by " | "
    page: int | None = None
    block: int | None = None
    level: int = 0  # heading level (1 = top) or list nesting level
    number: str = ""  # heading number or list label as printed in the source ("5.1", "a.")
    heading_path: tuple[str, ...] = ()  # enclosing headings, outermost first
    rows: tuple[tuple[str, ...], ...] = ()  # table cells, for kind == "table"
    bold: bool = False
    font_size: float = 0.0
    # Results tables (TLFs) recognised by their number and title; "" / 0 / () elsewhere.
    caption: str = ""  # the full title as printed: "Table 14.2.1.1 Progression-Free Survival ..."
    table_number: str = ""  # "14.2.1.1", "14-3.01" (a listing's or figure's number likewise)
    population: str = ""  # the analysis-set line: "Full Analysis Set", "Population: Efficacy"
    header_rows: int = 0  # how many leading ``rows`` are column headers
    footnotes: tuple[str, ...] = ()  # footnote lines printed under the table, in order
    # PDF tables only: the page of each row (a table joined over "Page 1 of 2" outputs spans
    # pages; cite row i on ``row_pages[i]``). Empty for one-page tables and other formats.
    row_pages: tuple[int, ...] = ()


@dataclass(frozen=True)
class ExtractedSource:
    file_path: str
    file_name: str
    sha256: str
    file_type: str
    page_count: int | None
    blocks: tuple[Block, ...]
    # Per page (PDF) text exactly as extracted, for citation verification; empty for DOCX/XLSX.
    pages: tuple[str, ...] = ()
    title: str = ""
    kind: SourceKind = "other"
    key_facts: tuple[KeyFact, ...] = ()
    # Text the reader could not place or did not read (an unreadable page, footnotes, a text box
    # it skipped), one sentence each: shown to the user, never a silent loss.
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class KeyFact:
    # protocol_number, title, sponsor, phase, product, indication, sample_size, arms,
    # primary_endpoint
    name: str
    value: str
    quote: str
    file_path: str
    file_name: str
    page: int | None
    block: int | None


@dataclass(frozen=True)
class Chunk:
    """A retrievable passage: consecutive blocks under one heading of one source."""

    id: int
    source_index: int
    source_kind: SourceKind
    file_path: str
    file_name: str
    heading_path: tuple[str, ...]
    blocks: tuple[Block, ...]
    text: str

    @property
    def page(self) -> int | None:
        return self.blocks[0].page if self.blocks else None

    @property
    def block(self) -> int | None:
        return self.blocks[0].block if self.blocks else None


@dataclass(frozen=True)
class OutlineSection:
    section_id: str
    number: str
    title: str
    level: int
    order_index: int = 0
    synopsis: str = ""
    instructions: str = ""
    template_text: str = ""
    hints: dict[str, Any] = field(default_factory=dict)
    rules: tuple[dict[str, Any], ...] = ()
    selected: bool = True


@dataclass(frozen=True)
class StyleGuideSpec:
    tense: str = "past"
    preferred_terms: dict[str, list[str]] = field(default_factory=dict)
    abbreviations: dict[str, str] = field(default_factory=dict)
    banned_phrases: tuple[str, ...] = ()
    instructions: str = ""


@dataclass(frozen=True)
class Citation:
    file_path: str
    file_name: str
    page: int | None
    block: int | None
    quote: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "file_path": self.file_path,
            "file_name": self.file_name,
            "page": self.page,
            "block": self.block,
            "quote": self.quote,
        }


@dataclass(frozen=True)
class Paragraph:
    text: str
    citations: tuple[Citation, ...] = ()
    style: Literal["body", "list", "note"] = "body"
    list_label: str = ""  # the source's own list number ("1.", "a)") for list items
    # Set when the writer changed the source sentence (tense, terms): the original, for review.
    source_text: str | None = None
    flags: tuple[str, ...] = ()  # e.g. ("banned_phrase: ...",)


def default_header_rows(rows: tuple[tuple[str, ...], ...]) -> int:
    """How many leading rows head a table whose writer did not say: the first row, when there is
    a body under it and its cells are short labels (under 40 characters, no number of two or
    more digits); otherwise none."""
    if len(rows) < 2:
        return 0
    first = rows[0]
    return int(all(len(c) < 40 for c in first) and not any(re.search(r"\d{2,}", c) for c in first))


@dataclass(frozen=True)
class Table:
    title: str
    rows: tuple[tuple[str, ...], ...]
    citations: tuple[Citation, ...] = ()
    # Leading rows that are the header (the twin's "header_rows"): the .docx renderer and the
    # portal preview both follow it. None means "decide from the rows" (default_header_rows).
    header_rows: int | None = None
    # Where the table stands among the section's paragraphs: after this many of them (None: after
    # all of them). The .docx and the preview interleave paragraphs and tables by it.
    after_paragraphs: int | None = None

    def __post_init__(self) -> None:
        if self.header_rows is None:
            object.__setattr__(self, "header_rows", default_header_rows(self.rows))


@dataclass(frozen=True)
class ReviewComment:
    """A reviewer's Word comment on a section (docs/api.md, "The review cycle"); Folio's own are
    never read back."""

    author: str
    text: str


@dataclass(frozen=True)
class SectionDraft:
    section_id: str
    number: str
    title: str
    level: int
    state: SectionState
    paragraphs: tuple[Paragraph, ...] = ()
    tables: tuple[Table, ...] = ()
    # The review cycle: people changed this section's text in a reviewed copy (it is carried
    # from version to version and never rewritten unless asked), and the reviewers' comments
    # that the version was made from.
    edited: bool = False
    review_comments: tuple[ReviewComment, ...] = ()
    # ``not_applicable`` (a person marked it, CONTRACT §9): why; the section keeps no text.
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class PipelineInput:
    sources: tuple[SourceDescriptor, ...]
    template_name: str
    document_type: str
    output_name: str
    # The outline as plain data (a template's snapshot or a request's own outline) and the
    # sections chosen from it; the Outline step turns them into ``outline`` (outline.py). A
    # caller that already holds ``OutlineSection`` records may give ``outline`` instead.
    outline_snapshot: tuple[dict[str, Any], ...] = ()
    selected_section_ids: tuple[str, ...] = ()
    regenerate_section_ids: tuple[str, ...] = ()
    outline: tuple[OutlineSection, ...] = ()
    tense: str = "past"
    style_guide: StyleGuideSpec | None = None
    instructions: str = ""
    writer: str = "builtin"
    # For a regeneration: section_id → the previous version's twin section, reused as is.
    reuse_sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    base_document_path: str | None = None  # a template .docx whose styles and page setup to use
    # The review cycle: instructions for single sections (reviewers' comments), and the previous
    # version's sections that a regeneration with instructions may revise rather than write
    # again from the sources (revise.py).
    section_instructions: dict[str, str] = field(default_factory=dict)
    revise_sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Written into the .docx's custom properties (docx_identity: folio_document_id,
    # folio_version, folio_template_id), so a reviewed copy can be matched back.
    document_properties: dict[str, Any] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    llm: LLMConfig | None = None  # the LLM writer's server; required when writer == "llm"


@dataclass(frozen=True)
class PipelineResult:
    sections: tuple[SectionDraft, ...]
    sources: tuple[ExtractedSource, ...]
    qc: dict[str, Any]
    docx_path: str


# report(step, percent, sections_done=None, sections_total=None)
ProgressCallback = Callable[..., None]
# Returns True when the user asked to cancel; checked at step boundaries.
CancelCheck = Callable[[], bool]
