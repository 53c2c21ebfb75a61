"""RQ entry points: ``run_generation(document_id)``, the failure hooks and the reconciler.

The job only moves rows through their state machine (documents/models.py) and hands the work to
the pipeline; it is safe to run twice for one document (at-least-once delivery never produces two
outputs, because the claim is a conditional UPDATE and the output key is the document's id).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, close_old_connections, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from documents.models import Extraction, GeneratedDocument, SourceFileVersion
from documents.pipeline.errors import ERROR_MESSAGES, Cancelled, GenerationError
from documents.pipeline.types import (
    ExtractedSource,
    OutlineSection,
    PipelineInput,
    SourceDescriptor,
    StyleGuideSpec,
)

logger = logging.getLogger(__name__)
Status = GeneratedDocument.Status


# --- helpers ----------------------------------------------------------------------------------------


def _fail(document_id: Any, code: str, message: str | None = None, *, only_if: tuple = ()) -> int:
    """Mark a row Failed unless it already ended. Returns the number of rows changed."""
    qs = GeneratedDocument.objects.filter(pk=document_id).exclude(status__in=GeneratedDocument.TERMINAL)
    if only_if:
        qs = qs.filter(status__in=only_if)
    return qs.update(
        status=Status.FAILED,
        error=message or ERROR_MESSAGES.get(code, ERROR_MESSAGES["internal_error"]),
        error_code=code,
        finished_at=timezone.now(),
    )


class DatabaseExtractionCache:
    """Extraction results kept per file content (sha256) and extractor version."""

    def __init__(self, versions: dict[str, SourceFileVersion]):
        self.versions = versions

    def get(self, source: SourceDescriptor) -> ExtractedSource | None:
        from documents.pipeline import extract

        row = Extraction.objects.filter(
            sha256=source.sha256,
            file_type=source.file_type,
            extractor_version=extract.EXTRACTOR_VERSION,
        ).first()
        if row is None:
            return None
        try:
            return extract.source_from_json(row.data)
        except Exception:  # a cache entry we cannot read is simply rebuilt
            logger.warning("Ignoring unreadable extraction cache entry %s", row.pk)
            return None

    def put(self, source: ExtractedSource) -> None:
        from documents.pipeline import extract

        try:
            with transaction.atomic():
                Extraction.objects.create(
                    sha256=source.sha256,
                    file_type=source.file_type,
                    extractor_version=extract.EXTRACTOR_VERSION,
                    page_count=source.page_count,
                    data=extract.source_to_json(source),
                )
        except IntegrityError:
            pass  # another job cached the same content first
        version = self.versions.get(source.sha256)
        if version is not None and source.page_count and version.page_count is None:
            SourceFileVersion.objects.filter(sha256=source.sha256, page_count__isnull=True).update(
                page_count=source.page_count
            )


def _outline_sections(document: GeneratedDocument) -> tuple[OutlineSection, ...]:
    selected = set(document.selected_section_ids or [])
    regenerate = set(document.regenerate_section_ids or [])
    sections = []
    for i, s in enumerate((document.outline or {}).get("sections", [])):
        is_selected = not selected or s["section_id"] in selected
        if regenerate:
            # A regeneration writes only these; every other section is reused as it was.
            is_selected = s["section_id"] in regenerate
        sections.append(
            OutlineSection(
                section_id=s["section_id"],
                number=s.get("number", ""),
                title=s.get("title", ""),
                level=int(s.get("level", 1)),
                order_index=int(s.get("order_index", i)),
                synopsis=s.get("synopsis", ""),
                instructions=s.get("instructions", ""),
                template_text=s.get("template_text", ""),
                hints=s.get("hints") or {},
                rules=tuple(s.get("rules") or ()),
                selected=is_selected,
            )
        )
    return tuple(sections)


def _reuse_sections(document: GeneratedDocument) -> dict[str, dict[str, Any]]:
    """For a regeneration: every section not being rewritten, from the previous version."""
    regenerate = set(document.regenerate_section_ids or [])
    previous = document.previous_version
    if not regenerate or previous is None or not previous.twin:
        return {}
    return {
        s["section_id"]: s
        for s in previous.twin.get("sections", [])
        if s["section_id"] not in regenerate
    }


def _style_guide_spec(document: GeneratedDocument) -> StyleGuideSpec | None:
    guide = document.style_guide
    if guide is None:
        return None
    return StyleGuideSpec(
        tense=guide.tense,
        preferred_terms=dict(guide.preferred_terms or {}),
        abbreviations=dict(guide.abbreviations or {}),
        banned_phrases=tuple(guide.banned_phrases or ()),
        instructions=guide.instructions or "",
    )


def _download_sources(
    document: GeneratedDocument, workdir: Path
) -> tuple[tuple[SourceDescriptor, ...], dict[str, SourceFileVersion]]:
    descriptors = []
    versions: dict[str, SourceFileVersion] = {}
    links = document.source_links.select_related("version__source_file").order_by("position")
    for i, link in enumerate(links):
        version = link.version
        source_file = version.source_file
        target = workdir / f"{i}-{source_file.name}"
        try:
            with default_storage.open(version.storage_key, "rb") as src, target.open("wb") as dst:
                shutil.copyfileobj(src, dst, length=1024 * 1024)
        except Exception as exc:
            raise GenerationError(
                f"{source_file.name}: the stored file could not be read. Upload it again and retry.",
                code="source_unavailable",
            ) from exc
        descriptors.append(
            SourceDescriptor(
                file_path=source_file.file_path,
                file_name=source_file.name,
                sha256=version.sha256,
                file_type=version.file_type,
                local_path=str(target),
            )
        )
        versions[version.sha256] = version
    return tuple(descriptors), versions


def build_manifest(document: GeneratedDocument, versions: list[SourceFileVersion]) -> dict[str, Any]:
    template_meta = (document.outline or {}).get("template", {})
    return {
        "sources": [
            {
                "file_path": v.source_file.file_path,
                "file_name": v.source_file.name,
                "sha256": v.sha256,
                "version": v.version,
            }
            for v in versions
        ],
        "template": {
            "template_id": template_meta.get("template_id"),
            "name": template_meta.get("name"),
            "snapshot_sha256": template_meta.get("snapshot_sha256"),
        },
        "style_guide_id": str(document.style_guide_id) if document.style_guide_id else None,
        "writer": document.writer,
        "model": settings.FOLIO_LLM_MODEL if document.writer == "llm" else None,
        "instructions": document.instructions,
        "selected_section_ids": document.selected_section_ids,
        "regenerated_section_ids": document.regenerate_section_ids,
        "previous_version": str(document.previous_version_id) if document.previous_version_id else None,
        "app_version": settings.APP_VERSION,
        "created_at": document.created_at.isoformat().replace("+00:00", "Z"),
        "finished_at": None,
    }


def _base_document_path(document: GeneratedDocument, workdir: Path) -> str | None:
    template = document.template
    key = getattr(template, "base_document", "") if template else ""
    if not key:
        return None
    target = workdir / "base-template.docx"
    try:
        with default_storage.open(key, "rb") as src, target.open("wb") as dst:
            shutil.copyfileobj(src, dst)
    except Exception:
        logger.warning("Template base document %s is not readable; using the default styles", key)
        return None
    return str(target)


# --- the job ------------------------------------------------------------------------------------------


def run_generation(document_id: str) -> str:
    """Generate one document.

    1. Claim the row (Pending → Generating) with a conditional UPDATE; a row already Generating
       means an earlier attempt died: it is failed (worker_crashed) rather than run twice.
    2. Copy the exact source versions to a private temp folder.
    3. Run the pipeline, reporting progress to the row and checking for cancellation.
    4. Store the .docx at ``<org>/output/<id>.docx`` and the twin, then mark Complete in one
       conditional UPDATE (so a late duplicate cannot overwrite a finished row).
    """
    from documents.pipeline.run import run_pipeline
    from documents.pipeline.twin import section_to_dict

    close_old_connections()
    now = timezone.now()
    claimed = GeneratedDocument.objects.filter(pk=document_id, status=Status.PENDING).update(
        status=Status.GENERATING,
        started_at=now,
        heartbeat_at=now,
        attempts=F("attempts") + 1,
        step="Extract",
    )
    if not claimed:
        row = GeneratedDocument.objects.filter(pk=document_id).only("status").first()
        if row is None:
            logger.warning("Document %s no longer exists; nothing to do", document_id)
            return "missing"
        if row.status == Status.GENERATING:
            _fail(document_id, "worker_crashed", only_if=(Status.GENERATING,))
            return "crashed-before"
        return f"already-{row.status}"

    document = GeneratedDocument.objects.select_related(
        "template", "style_guide", "previous_version", "organization"
    ).get(pk=document_id)
    workdir = Path(tempfile.mkdtemp(prefix=f"folio-job-{document_id}-"))

    def report(step: str, percent: int, sections_done: int | None = None, sections_total: int | None = None) -> None:
        fields: dict[str, Any] = {
            "step": step,
            "progress": Greatest(F("progress"), min(100, max(0, int(percent)))),
            "heartbeat_at": timezone.now(),
        }
        if sections_done is not None:
            fields["sections_done"] = sections_done
        if sections_total is not None:
            fields["sections_total"] = sections_total
        GeneratedDocument.objects.filter(pk=document_id, status=Status.GENERATING).update(**fields)

    def is_cancelled() -> bool:
        return GeneratedDocument.objects.filter(pk=document_id, cancel_requested=True).exists()

    try:
        sources, versions = _download_sources(document, workdir)
        template_meta = (document.outline or {}).get("template", {})
        style_guide = _style_guide_spec(document)
        tense = style_guide.tense if style_guide else template_meta.get("tense", "past")
        inp = PipelineInput(
            sources=sources,
            outline=_outline_sections(document),
            template_name=template_meta.get("name") or "Document",
            document_type=document.document_type,
            output_name=document.output_name,
            tense=tense,
            style_guide=style_guide,
            instructions=document.instructions,
            writer=document.writer,
            reuse_sections=_reuse_sections(document),
            base_document_path=_base_document_path(document, workdir),
        )
        result = run_pipeline(
            inp,
            report=report,
            is_cancelled=is_cancelled,
            cache=DatabaseExtractionCache(versions),
            output_path=str(workdir / "output.docx"),
        )
        output_key = f"{document.organization_id}/output/{document.id}.docx"
        if default_storage.exists(output_key):
            default_storage.delete(output_key)
        with open(result.docx_path, "rb") as fh:
            stored_key = default_storage.save(output_key, File(fh, name=f"{document.id}.docx"))
        ordered_versions = [
            link.version
            for link in document.source_links.select_related("version__source_file").order_by("position")
        ]
        manifest = build_manifest(document, ordered_versions)
        finished = timezone.now()
        manifest["finished_at"] = finished.isoformat().replace("+00:00", "Z")
        twin = {
            "document_id": str(document.id),
            "template_id": template_meta.get("template_id"),
            "manifest": manifest,
            "qc": result.qc,
            "sections": [section_to_dict(s) for s in result.sections],
        }
        done = GeneratedDocument.objects.filter(pk=document_id, status=Status.GENERATING).update(
            status=Status.COMPLETE,
            step="Generate",
            progress=100,
            output_key=stored_key,
            twin=twin,
            qc=result.qc,
            sections_done=F("sections_total"),
            finished_at=finished,
            error=None,
            error_code=None,
        )
        if not done:
            # The row ended meanwhile (cancelled or reconciled): do not leave a stray output.
            default_storage.delete(stored_key)
            return "superseded"
        return "complete"
    except Cancelled:
        GeneratedDocument.objects.filter(pk=document_id).exclude(
            status__in=GeneratedDocument.TERMINAL
        ).update(
            status=Status.CANCELLED,
            error=ERROR_MESSAGES["cancelled"],
            error_code="cancelled",
            finished_at=timezone.now(),
        )
        return "cancelled"
    except GenerationError as exc:
        _fail(document_id, exc.code, exc.message)
        return f"failed-{exc.code}"
    except MemoryError:
        _fail(document_id, "resource_limit_exceeded")
        return "failed-resource_limit_exceeded"
    except Exception:
        logger.exception("Generation %s failed unexpectedly", document_id)
        _fail(document_id, "internal_error")
        return "failed-internal_error"
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        close_old_connections()


# --- RQ failure hooks --------------------------------------------------------------------------------


def on_job_failure(job: Any, connection: Any, exc_type: Any, exc_value: Any, traceback: Any) -> None:
    """RQ calls this for exceptions, timeouts and abandoned jobs (not for SIGKILLed horses)."""
    name = getattr(exc_type, "__name__", "")
    if name == "JobTimeoutException":
        code = "processing_timeout"
    elif name in {"AbandonedJobError", "WorkHorseKilledError"}:
        code = "worker_crashed"
    else:
        code = "internal_error"
    close_old_connections()
    _fail(job.id, code)


def on_work_horse_killed(job: Any, retpid: int, ret_val: int, rusage: Any) -> None:
    """The horse died (OOM killer, SIGKILL, hard timeout): the row must not stay Generating."""
    close_old_connections()
    _fail(job.id, "worker_crashed")


# --- reconciler ----------------------------------------------------------------------------------------


def reconcile(*, stale_after: int | None = None, now: Any = None) -> dict[str, int]:
    """Make every accepted job reach a terminal state.

    - Generating rows whose heartbeat is older than ``stale_after`` seconds and whose RQ job is no
      longer running are failed (``worker_crashed``).
    - Pending rows whose RQ job vanished (Redis restarted without persistence) are re-enqueued with
      the same id, at most ``FOLIO_MAX_ATTEMPTS`` times.
    Rows are locked with ``select_for_update(skip_locked=True)`` so two reconcilers never act twice.
    """
    from documents import queue

    stale_after = stale_after if stale_after is not None else settings.FOLIO_STALE_JOB_SECONDS
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=stale_after)
    counts = {"failed": 0, "requeued": 0}
    with transaction.atomic():
        stale = list(
            GeneratedDocument.objects.select_for_update(skip_locked=True)
            .filter(status=Status.GENERATING, heartbeat_at__lt=cutoff)
            .only("id")
        )
        for row in stale:
            if queue.job_is_running(str(row.id)) is not False:
                continue  # still running somewhere (or Redis cannot tell): leave it alone
            counts["failed"] += _fail(row.id, "worker_crashed", only_if=(Status.GENERATING,))
    with transaction.atomic():
        pending = list(
            GeneratedDocument.objects.select_for_update(skip_locked=True)
            .filter(status=Status.PENDING, created_at__lt=cutoff)
            .only("id", "attempts")
        )
        for row in pending:
            exists = queue.job_exists(str(row.id))
            if exists is None or exists:
                continue
            if row.attempts >= settings.FOLIO_MAX_ATTEMPTS:
                counts["failed"] += _fail(row.id, "worker_crashed", only_if=(Status.PENDING,))
                continue
            try:
                queue.enqueue_generation(str(row.id))
                counts["requeued"] += 1
            except queue.QueueError:
                break
    return counts
