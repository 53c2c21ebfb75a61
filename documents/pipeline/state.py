"""The working state of one draft, shared by ``orchestrate`` and ``derive``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from documents.pipeline import llm
from documents.pipeline.assign import Assignment
from documents.pipeline.ingest import SourceIndex
from documents.pipeline.profiles import SectionProfile
from documents.pipeline.results import ResultTable
from documents.pipeline.types import (
    ExtractedSource,
    OutlineSection,
    Paragraph,
    PipelineInput,
    SectionDraft,
    Table,
)
from documents.pipeline.writer import Directives, WriterContext


@dataclass
class DraftState:
    inp: PipelineInput
    sources: tuple[ExtractedSource, ...]
    index: SourceIndex
    profiles: list[SectionProfile]
    has_children: list[bool]
    parent: list[int | None]
    ctx: WriterContext
    directives: Directives
    drafts: dict[int, SectionDraft] = field(default_factory=dict)
    outputs: list[ResultTable] = field(default_factory=list)
    placed: dict[int, list[ResultTable]] = field(default_factory=dict)
    assignment: Assignment = field(default_factory=Assignment)
    llm_config: llm.LLMConfig | None = None
    source_words: dict[int, int] = field(default_factory=dict)  # source index → its words

    @property
    def outline(self) -> Sequence[OutlineSection]:
        return self.inp.outline

    def descendants(self, i: int) -> list[int]:
        out = []
        level = self.outline[i].level
        for j in range(i + 1, len(self.outline)):
            if self.outline[j].level <= level:
                break
            out.append(j)
        return out

    def generated(self, derived: bool = False) -> list[tuple[int, SectionDraft]]:
        """Written sections in document order (body only unless ``derived``)."""
        return [
            (j, self.drafts[j])
            for j in range(len(self.outline))
            if j in self.drafts
            and self.drafts[j].state == "generated"
            and (derived or self.profiles[j].derived is None)
        ]


def section_draft(
    sec: OutlineSection,
    paragraphs: Sequence[Paragraph] = (),
    tables: Sequence[Table] = (),
    *,
    state: str | None = None,
) -> SectionDraft:
    """A section's draft; ``generated`` when it has text, else ``no_source`` (unless given)."""
    if state is None:
        state = "generated" if paragraphs or tables else "no_source"
    return SectionDraft(
        section_id=sec.section_id,
        number=sec.number,
        title=sec.title,
        level=sec.level,
        state=state,  # type: ignore[arg-type]
        paragraphs=tuple(paragraphs),
        tables=tuple(tables),
    )
