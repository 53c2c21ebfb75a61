"""The pipeline as one function: Extract → Classify → Ingest → Outline → Orchestrate → Generate.

``run_pipeline`` is called by the RQ job and by ``manage.py generate``. It reports progress through
``report(step, percent, sections_done=None, sections_total=None)`` (never decreasing) and checks
``is_cancelled()`` at every step boundary. It knows nothing of the database or of Django: its
limits and LLM configuration come in ``PipelineInput``, and extraction results are cached through
the ``cache`` object the caller passes (keyed by sha256 and extractor version).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from typing import Protocol

from documents.pipeline import classify, extract, ingest, orchestrate, qc, render
from documents.pipeline.errors import Cancelled
from documents.pipeline.limited import LimitedChild, collect_limited
from documents.pipeline.outline import build_outline
from documents.pipeline.types import (
    CancelCheck,
    ExtractedSource,
    PipelineInput,
    PipelineResult,
    ProgressCallback,
    SourceDescriptor,
    Step,
)

# Share of the progress bar each step ends at.
STEP_END = {
    Step.EXTRACT: 35,
    Step.CLASSIFY: 40,
    Step.INGEST: 50,
    Step.OUTLINE: 55,
    Step.ORCHESTRATE: 90,
    Step.GENERATE: 100,
}


class ExtractionCache(Protocol):
    def get(self, source: SourceDescriptor) -> ExtractedSource | None: ...

    def put(self, source: ExtractedSource) -> None: ...


class NoCache:
    def get(self, source: SourceDescriptor) -> ExtractedSource | None:
        return None

    def put(self, source: ExtractedSource) -> None:
        return None


def run_pipeline(
    inp: PipelineInput,
    *,
    report: ProgressCallback,
    is_cancelled: CancelCheck = lambda: False,
    cache: ExtractionCache | None = None,
    output_path: str | None = None,
) -> PipelineResult:
    cache = cache or NoCache()

    def boundary(step: Step) -> None:
        if is_cancelled():
            raise Cancelled()
        report(step, STEP_END[step] if step != Step.EXTRACT else 0)

    # 1. Extract: each source once; unchanged files (same sha256) come from the cache.
    boundary(Step.EXTRACT)
    extracted = _extract_all(inp, cache, report, is_cancelled)

    # 2. Classify: protocol / sap / results / other, and the key facts of the study.
    boundary(Step.CLASSIFY)
    classified = tuple(classify.classify_source(src) for src in extracted)
    classified = classify.attach_key_facts(classified)
    report(Step.CLASSIFY, STEP_END[Step.CLASSIFY])

    # 3. Ingest: chunks that know their file, page or block, and heading path; a BM25 index.
    boundary(Step.INGEST)
    chunks = ingest.chunk_text(classified)
    index = ingest.build_index(chunks)
    report(Step.INGEST, STEP_END[Step.INGEST])

    # 4. Outline: the sections to write (or reuse), from the snapshot and the chosen sections.
    boundary(Step.OUTLINE)
    if inp.outline_snapshot:
        inp = replace(
            inp,
            outline=build_outline(
                inp.outline_snapshot,
                selected=inp.selected_section_ids,
                regenerate=inp.regenerate_section_ids,
            ),
        )
    outline = inp.outline
    selected_total = sum(1 for s in outline if s.selected)
    report(Step.OUTLINE, STEP_END[Step.OUTLINE], sections_done=0, sections_total=selected_total)

    # 5. Orchestrate: write each selected section from its sources.
    boundary(Step.ORCHESTRATE)
    start, end = STEP_END[Step.OUTLINE], STEP_END[Step.ORCHESTRATE]

    def section_done(done: int) -> None:
        pct = start + int((end - start) * done / max(1, selected_total))
        report(Step.ORCHESTRATE, pct, sections_done=done, sections_total=selected_total)

    drafts = orchestrate.write_sections(
        inp,
        sources=classified,
        chunks=chunks,
        index=index,
        on_section_done=section_done,
        is_cancelled=is_cancelled,
    )

    # 6. Generate: the QC report, then the .docx.
    boundary(Step.GENERATE)
    report_qc = qc.quality_report(drafts, classified)
    if output_path is None:
        fd, output_path = tempfile.mkstemp(suffix=".docx", prefix="folio-")
        os.close(fd)
    render.render_docx(
        drafts,
        sources=classified,
        qc=report_qc,
        inp=inp,
        path=output_path,
    )
    report(Step.GENERATE, STEP_END[Step.GENERATE])
    return PipelineResult(sections=drafts, sources=classified, qc=report_qc, docx_path=output_path)


def _extract_all(
    inp: PipelineInput,
    cache: ExtractionCache,
    report: ProgressCallback,
    is_cancelled: CancelCheck,
) -> list[ExtractedSource]:
    """Every source, from the cache or read anew: the files to read are read
    ``inp.limits.extract_parallel`` at a time, each in its own limited child, and cached as
    they come; the first failure in source order is raised once its batch is done (the files
    read beside it are cached all the same)."""
    found: dict[int, ExtractedSource] = {}
    todo: list[int] = []
    for i, desc in enumerate(inp.sources):
        cached = cache.get(desc)
        if cached is None:
            todo.append(i)
        else:
            found[i] = cached
    total = max(1, len(inp.sources))
    width = max(1, inp.limits.extract_parallel)
    for start in range(0, len(todo), width):
        if is_cancelled():
            raise Cancelled()
        batch = todo[start : start + width]
        started = [extract.start_extract(inp.sources[i], limits=inp.limits) for i in batch]
        collect_limited([c for c in started if isinstance(c, LimitedChild)])
        failure: Exception | None = None
        for i, child in zip(batch, started, strict=True):
            try:
                found[i] = child.result()
            except Exception as exc:  # a SourceError (or a GenerationError) of this file
                failure = failure or exc
                continue
            cache.put(found[i])
        if failure is not None:
            raise failure
        report(Step.EXTRACT, int(STEP_END[Step.EXTRACT] * len(found) / total))
    # A cached record may carry another upload's path and name: re-label it.
    return [
        replace(found[i], file_path=desc.file_path, file_name=desc.file_name)
        for i, desc in enumerate(inp.sources)
    ]
