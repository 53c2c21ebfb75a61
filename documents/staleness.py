"""The RQ job that finds the documents a new source version makes stale:
``run_staleness_check(version_id)`` (docs/api.md, "The review cycle"; the rule is
``pipeline/staleness.py``).

1. Find every complete document of the organization made from any version of that file.
2. For each, take the newest version of every one of its source files (extracted once, through
   the same sha256-keyed cache as generation) and check each section's citations against it.
3. Record the document's ``stale_sections`` (``services/staleness.py``).

A document's list is recomputed whole each time, so the job is safe to run twice and a later
upload that restores the old text clears the list.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

from django.core.files.storage import default_storage
from django.db import close_old_connections

from documents.models import GeneratedDocument, SourceFile, SourceFileVersion
from documents.pipeline import extract
from documents.pipeline.errors import GenerationError
from documents.pipeline.staleness import stale_sections
from documents.pipeline.types import ExtractedSource, SourceDescriptor
from documents.pipeline_input import limits_from_settings
from documents.services.job_state import DatabaseExtractionCache
from documents.services.staleness import document_stale_sections_set

logger = logging.getLogger(__name__)


def _extracted(version: SourceFileVersion, workdir: Path) -> ExtractedSource | None:
    source_file = version.source_file
    cache = DatabaseExtractionCache({version.sha256: version})
    target = workdir / f"{version.pk}-{source_file.name}"
    desc = SourceDescriptor(
        file_path=source_file.file_path,
        file_name=source_file.name,
        sha256=version.sha256,
        file_type=version.file_type,
        local_path=str(target),
    )
    found = cache.get(desc)
    if found is not None:
        return found
    try:
        with default_storage.open(version.storage_key, "rb") as src, target.open("wb") as dst:
            shutil.copyfileobj(src, dst, length=1024 * 1024)
        found = extract.extract_text(desc, limits=limits_from_settings())
    except (GenerationError, OSError) as exc:
        logger.warning("Version %s could not be read for stale sections: %s", version.pk, exc)
        return None
    cache.put(found)
    return found


def run_staleness_check(version_id: str) -> str:
    close_old_connections()
    version = SourceFileVersion.objects.select_related("source_file").filter(pk=version_id).first()
    if version is None:
        return "missing"
    documents = (
        GeneratedDocument.objects.filter(
            organization_id=version.source_file.organization_id,
            status=GeneratedDocument.Status.COMPLETE,
            source_links__version__source_file_id=version.source_file_id,
        )
        .exclude(twin=None)
        .distinct()
    )
    workdir = Path(tempfile.mkdtemp(prefix="folio-stale-"))
    newest: dict[str, ExtractedSource | None] = {}
    changed = 0
    try:
        for document in documents:
            version_ids = list(document.source_links.values_list("version_id", flat=True))
            files = SourceFile.objects.filter(versions__pk__in=version_ids).distinct()
            current: dict[str, ExtractedSource] = {}
            for source_file in files:
                if source_file.file_path not in newest:
                    latest = source_file.versions.order_by("-version").first()
                    newest[source_file.file_path] = (
                        _extracted(latest, workdir) if latest is not None else None
                    )
                found = newest[source_file.file_path]
                if found is not None:
                    current[source_file.file_path] = found
            stale = stale_sections((document.twin or {}).get("sections", []), current)
            changed += document_stale_sections_set(document_id=document.pk, section_ids=stale)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return f"checked {len(documents)}, changed {changed}"
