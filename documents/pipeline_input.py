"""The pipeline's input, assembled once for every caller: the job and ``manage.py generate``.

The pipeline reads nothing but its ``PipelineInput`` (documents/pipeline/types.py): no database and
no Django settings. This module is where settings become ``Limits`` and ``LLMConfig``, a style
guide row becomes a ``StyleGuideSpec``, and a ``GeneratedDocument`` row (its exact source versions,
outline snapshot, chosen sections, previous version) becomes the input of one run, together with
the manifest that the twin records.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.conf import settings

from documents import filestore
from documents.models import GeneratedDocument, SourceFileVersion
from documents.pipeline.errors import GenerationError
from documents.pipeline.types import (
    Limits,
    LLMConfig,
    PipelineInput,
    SourceDescriptor,
    StyleGuideSpec,
)

logger = logging.getLogger(__name__)


# --- from settings -------------------------------------------------------------------------------


def limits_from_settings() -> Limits:
    """The extraction and zip limits of ``portal/settings.py`` (FOLIO_MAX_*, FOLIO_EXTRACT_*)."""
    defaults = Limits()

    def value(name: str, default: Any) -> Any:
        got = getattr(settings, name, None)
        return type(default)(got) if got is not None else default

    return Limits(
        max_zip_entries=value("FOLIO_MAX_ZIP_ENTRIES", defaults.max_zip_entries),
        max_zip_member_mb=value("FOLIO_MAX_ZIP_MEMBER_MB", defaults.max_zip_member_mb),
        max_zip_total_mb=value("FOLIO_MAX_ZIP_TOTAL_MB", defaults.max_zip_total_mb),
        max_zip_ratio=value("FOLIO_MAX_ZIP_RATIO", defaults.max_zip_ratio),
        max_pdf_pages=value("FOLIO_MAX_PDF_PAGES", defaults.max_pdf_pages),
        max_extracted_chars=value("FOLIO_MAX_EXTRACTED_CHARS", defaults.max_extracted_chars),
        extract_timeout=value("FOLIO_EXTRACT_TIMEOUT", defaults.extract_timeout),
        extract_memory_mb=value("FOLIO_EXTRACT_MEMORY_MB", defaults.extract_memory_mb),
        extract_parallel=value("FOLIO_EXTRACT_PARALLEL", defaults.extract_parallel),
    )


def llm_config_from_settings() -> LLMConfig | None:
    """The LLM writer's server (FOLIO_LLM_*), or None when ``FOLIO_LLM_BASE_URL`` is unset."""
    base = (getattr(settings, "FOLIO_LLM_BASE_URL", None) or "").strip()
    if not base:
        return None
    timeout = getattr(settings, "FOLIO_LLM_TIMEOUT", None)
    return LLMConfig(
        base_url=base,
        model=(getattr(settings, "FOLIO_LLM_MODEL", None) or "default").strip(),
        api_key=(getattr(settings, "FOLIO_LLM_API_KEY", None) or "").strip(),
        timeout=float(timeout) if timeout else 60.0,
    )


def style_guide_spec(guide: Any) -> StyleGuideSpec | None:
    """A ``templates_app.StyleGuide`` row as the pipeline's record (None for no guide)."""
    if guide is None:
        return None
    return StyleGuideSpec(
        tense=guide.tense,
        preferred_terms=dict(guide.preferred_terms or {}),
        abbreviations=dict(guide.abbreviations or {}),
        banned_phrases=tuple(guide.banned_phrases or ()),
        instructions=guide.instructions or "",
    )


def pipeline_input(
    *,
    sources: Iterable[SourceDescriptor],
    outline_snapshot: Iterable[dict[str, Any]],
    template_name: str,
    template_tense: str,
    document_type: str,
    output_name: str,
    style_guide: StyleGuideSpec | None = None,
    instructions: str = "",
    writer: str = "builtin",
    selected_section_ids: Iterable[str] = (),
    regenerate_section_ids: Iterable[str] = (),
    reuse_sections: dict[str, dict[str, Any]] | None = None,
    base_document_path: str | None = None,
    section_instructions: dict[str, str] | None = None,
    revise_sections: dict[str, dict[str, Any]] | None = None,
    document_properties: dict[str, Any] | None = None,
) -> PipelineInput:
    """One run's input; a style guide's tense wins over the template's."""
    return PipelineInput(
        sources=tuple(sources),
        outline_snapshot=tuple(outline_snapshot),
        selected_section_ids=tuple(selected_section_ids),
        regenerate_section_ids=tuple(regenerate_section_ids),
        template_name=template_name,
        document_type=document_type,
        output_name=output_name,
        tense=style_guide.tense if style_guide else template_tense,
        style_guide=style_guide,
        instructions=instructions,
        writer=writer,
        reuse_sections=reuse_sections or {},
        base_document_path=base_document_path,
        section_instructions=dict(section_instructions or {}),
        revise_sections=revise_sections or {},
        document_properties=dict(document_properties or {}),
        limits=limits_from_settings(),
        llm=llm_config_from_settings() if writer == "llm" else None,
    )


# --- from a document row (the job) ---------------------------------------------------------------


def document_pipeline_input(
    document: GeneratedDocument, workdir: Path
) -> tuple[PipelineInput, dict[str, SourceFileVersion]]:
    """The input of one attempt at ``document``, its sources copied into ``workdir``.

    Returns the input and the source versions by sha256 (the extraction cache records page
    counts on them). Raises ``GenerationError`` (``source_unavailable``) for an unreadable source.
    """
    sources, versions = _download_sources(document, workdir)
    template_meta = (document.outline or {}).get("template", {})
    full = document.outline_snapshot.sections if document.outline_snapshot_id else None
    inp = pipeline_input(
        sources=sources,
        outline_snapshot=full or (document.outline or {}).get("sections", []),
        selected_section_ids=document.selected_section_ids or (),
        regenerate_section_ids=document.regenerate_section_ids or (),
        template_name=template_meta.get("name") or "Document",
        template_tense=template_meta.get("tense", "past"),
        document_type=document.document_type,
        output_name=document.output_name,
        style_guide=style_guide_spec(document.style_guide),
        instructions=document.instructions,
        writer=document.writer,
        reuse_sections=reuse_sections(document),
        base_document_path=_base_document_path(document, workdir),
        section_instructions=document.section_instructions or {},
        revise_sections=_revise_sections(document),
        document_properties=document_properties(document),
    )
    return inp, versions


def document_properties(document: GeneratedDocument) -> dict[str, Any]:
    """What the .docx says it is (docs/api.md, "The review cycle"; pipeline/docx_identity.py)."""
    template_id = (document.outline or {}).get("template", {}).get("template_id")
    return {
        "folio_document_id": str(document.id),
        "folio_version": int(document.version),
        "folio_template_id": str(template_id or document.template_id or ""),
    }


def previous_sections(document: GeneratedDocument) -> dict[str, dict[str, Any]]:
    """The previous version's sections as this version starts from them: its twin, with the
    sections people edited in a reviewed copy as they sent them back (tracked changes
    accepted)."""
    previous = document.previous_version
    if previous is None or not previous.twin:
        return {}
    sections = {s["section_id"]: s for s in previous.twin.get("sections", [])}
    review = document.review
    if review is not None:
        for section_id, edited in (review.edited_sections or {}).items():
            if section_id in sections:
                sections[section_id] = edited
    return sections


def reuse_sections(document: GeneratedDocument) -> dict[str, dict[str, Any]]:
    """For a regeneration: every section not being rewritten, from the previous version."""
    regenerate = set(document.regenerate_section_ids or [])
    if not regenerate:
        return {}
    return {sid: s for sid, s in previous_sections(document).items() if sid not in regenerate}


def _revise_sections(document: GeneratedDocument) -> dict[str, dict[str, Any]]:
    """Sections regenerated with instructions from the very sources they were written from:
    the previous version's text, which the built-in writer revises (pipeline/revise.py) rather
    than writing it again. A section people edited is written again (overwrite), not revised."""
    previous = document.previous_version
    wanted = set(document.section_instructions or {}) & set(document.regenerate_section_ids or [])
    if not wanted or previous is None or not previous.twin:
        return {}
    same = set(document.source_links.values_list("version_id", flat=True)) == set(
        previous.source_links.values_list("version_id", flat=True)
    )
    if not same:
        return {}
    return {
        s["section_id"]: s
        for s in previous.twin.get("sections", [])
        if s["section_id"] in wanted and not s.get("edited")
    }


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
            filestore.read_file(version.storage_key, target)
        except filestore.StorageUnavailableError as exc:
            # The file is there, the storage does not answer for now: not the user's to fix.
            raise GenerationError(code="storage_unavailable") from exc
        except Exception as exc:  # gone, or unreadable: only a new upload helps
            raise GenerationError(
                f"{source_file.name}: the stored file could not be read. "
                "Upload it again and retry.",
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


def _base_document_path(document: GeneratedDocument, workdir: Path) -> str | None:
    template = document.template
    key = getattr(template, "base_document", "") if template else ""
    if not key:
        return None
    target = workdir / "base-template.docx"
    try:
        filestore.read_file(key, target)
    except filestore.StorageUnavailableError as exc:
        # Not a reason to draft in other styles than the template's: try again later.
        raise GenerationError(code="storage_unavailable") from exc
    except Exception:
        logger.warning("Template base document %s is not readable; using the default styles", key)
        return None
    return str(target)


def build_manifest(
    document: GeneratedDocument, versions: list[SourceFileVersion]
) -> dict[str, Any]:
    """The twin's ``manifest``: what the document was made from (``finished_at`` set by the job)."""
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
        "section_instructions": document.section_instructions or {},
        "version": document.version,
        "origin": document.origin,
        "review_id": str(document.review_id) if document.review_id else None,
        "previous_version": str(document.previous_version_id)
        if document.previous_version_id
        else None,
        "app_version": settings.APP_VERSION,
        "created_at": document.created_at.isoformat().replace("+00:00", "Z"),
        "finished_at": None,
    }
