"""Organization-scoped reads. Every view reads through these; none runs an unscoped query.

An object of another organization is reported exactly like a missing one (``Http404``).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace
from typing import Any

from django.db.models import Count, Prefetch, QuerySet
from django.http import Http404

from documents.models import (
    DocumentSet,
    GeneratedDocument,
    GeneratedDocumentSource,
    SourceFile,
    SourceFileVersion,
)
from portal.models import Organization
from portal.selectors import membership_of

logger = logging.getLogger(__name__)


def organization_for(user: Any) -> Organization:
    """The caller's organization; a user without one gets a 404 like any unknown object."""
    membership = membership_of(user)
    if membership is None:
        raise Http404("No organization.")
    return membership.organization


def _uuid_or_404(value: Any) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError) as exc:
        raise Http404("Not found.") from exc


def documents_list_for_user(
    user: Any,
    *,
    status: str | None = None,
    document_set_id: str | None = None,
    newest_versions_only: bool = False,
) -> QuerySet[GeneratedDocument]:
    """The organization's documents, newest first; ``newest_versions_only`` leaves out every
    version that a later one was made from (the dashboard's one row per document)."""
    qs = GeneratedDocument.objects.filter(organization=organization_for(user)).select_related(
        "template", "document_set", "created_by"
    )
    if newest_versions_only:
        qs = qs.filter(next_versions__isnull=True)
    if status:
        qs = qs.filter(status=status)
    if document_set_id:
        try:
            qs = qs.filter(document_set_id=uuid.UUID(str(document_set_id)))
        except ValueError:
            qs = qs.none()
    return qs.order_by("-created_at")


def document_get_for_user(user: Any, document_id: Any) -> GeneratedDocument:
    pk = _uuid_or_404(document_id)
    try:
        return GeneratedDocument.objects.select_related(
            "template", "document_set", "style_guide", "created_by", "previous_version"
        ).get(pk=pk, organization=organization_for(user))
    except GeneratedDocument.DoesNotExist as exc:
        raise Http404("Not found.") from exc


def document_status_for_user(user: Any, document_id: Any) -> GeneratedDocument:
    """The status row alone: one query, no joins, no Redis."""
    pk = _uuid_or_404(document_id)
    try:
        return GeneratedDocument.objects.only(
            "id",
            "organization_id",
            "status",
            "progress",
            "step",
            "error",
            "error_code",
            "sections_total",
            "sections_done",
            "qc",
            "created_at",
            "started_at",
            "finished_at",
            "version",
            "previous_version_id",
            "stale_sections",
        ).get(pk=pk, organization=organization_for(user))
    except GeneratedDocument.DoesNotExist as exc:
        raise Http404("Not found.") from exc


def document_sources(document: GeneratedDocument) -> list[SourceFileVersion]:
    links = GeneratedDocumentSource.objects.filter(document=document).select_related(
        "version__source_file"
    )
    return [link.version for link in links.order_by("position")]


def document_versions(document: GeneratedDocument) -> list[GeneratedDocument]:
    """Every version of a document (regenerations), oldest first."""
    root = document
    seen = {root.pk}
    while root.previous_version_id and root.previous_version_id not in seen:
        root = GeneratedDocument.objects.get(pk=root.previous_version_id)
        seen.add(root.pk)
    chain = [root]
    frontier = [root]
    while frontier:
        nxt = list(
            GeneratedDocument.objects.filter(
                previous_version__in=frontier, organization_id=document.organization_id
            ).order_by("created_at")
        )
        chain.extend(nxt)
        frontier = nxt
    return sorted(chain, key=lambda d: d.created_at)


def files_list_for_user(user: Any, container: str) -> QuerySet[SourceFile]:
    latest = SourceFileVersion.objects.order_by("-version")
    return (
        SourceFile.objects.filter(organization=organization_for(user), container=container)
        .prefetch_related(Prefetch("versions", queryset=latest))
        .order_by("name")
    )


def file_get_by_path(user: Any, file_path: str) -> SourceFile | None:
    """The caller's file at ``file_path`` (exact match of a stored path), or None."""
    return (
        SourceFile.objects.filter(organization=organization_for(user), file_path=file_path)
        .prefetch_related("versions")
        .first()
    )


def file_versions_for_ids(user: Any, ids: list[str]) -> list[SourceFileVersion]:
    org = organization_for(user)
    valid = []
    for value in ids:
        try:
            valid.append(uuid.UUID(str(value)))
        except ValueError:
            continue
    return list(
        SourceFileVersion.objects.filter(
            pk__in=valid, source_file__organization=org
        ).select_related("source_file")
    )


def document_sets_list_for_user(user: Any) -> QuerySet[DocumentSet]:
    return DocumentSet.objects.filter(organization=organization_for(user)).order_by("-created_at")


def document_set_get_for_user(user: Any, set_id: Any) -> DocumentSet:
    pk = _uuid_or_404(set_id)
    try:
        return DocumentSet.objects.get(pk=pk, organization=organization_for(user))
    except DocumentSet.DoesNotExist as exc:
        raise Http404("Not found.") from exc


def document_sets_with_counts(user: Any) -> QuerySet[DocumentSet]:
    """The caller's document sets, newest first, with ``document_count`` and ``file_count``."""
    return document_sets_list_for_user(user).annotate(
        document_count=Count("documents", distinct=True),
        file_count=Count("files", distinct=True),
    )


def document_set_files(user: Any, document_set: DocumentSet) -> QuerySet[SourceFile]:
    """The files of one of the caller's sets, with their versions (newest first) prefetched."""
    newest_first = SourceFileVersion.objects.order_by("-version")
    return (
        SourceFile.objects.filter(organization=organization_for(user), document_set=document_set)
        .prefetch_related(Prefetch("versions", queryset=newest_first))
        .order_by("name")
    )


def study_mismatch(document_set: DocumentSet) -> list[str]:
    """A warning when the set's files name different studies (their protocol numbers disagree),
    for the page to show before generation; ``[]`` when they agree or when too few files have
    been read. Only files Folio has already read (an earlier generation or the extraction cache,
    keyed by content) are compared: reading a file is the worker's job, never a page's, and the
    upload does not extract (it checks type and zip structure only), so before a set's first
    generation files never read are not compared (docs/pipeline.md, QC). The caller passes a
    set it got through ``document_set_get_for_user`` (organization-scoped)."""
    from documents.pipeline import facts

    sources = []
    files = SourceFile.objects.filter(
        organization_id=document_set.organization_id, document_set=document_set
    ).order_by("name")
    for source_file in files:
        version = source_file.latest
        if version is None:
            continue
        src = cached_source(version)
        if src is None:
            continue
        sources.append(replace(src, file_name=source_file.name, file_path=source_file.file_path))
    if len(sources) < 2:
        return []
    return facts.study_mismatch(facts.protocol_numbers(sources))


def cached_source(version: SourceFileVersion) -> Any:
    """The extraction of a file version from the cache (``cached_extraction``)."""
    return cached_extraction(version.sha256, version.file_type)


def cached_extraction(sha256: str, file_type: str) -> Any:
    """The extraction of this content by this extractor version from the cache, or None when
    it was never read or its cache entry is unreadable (then it is read again)."""
    from documents.models import Extraction
    from documents.pipeline import extract

    row = Extraction.objects.filter(
        sha256=sha256, file_type=file_type, extractor_version=extract.EXTRACTOR_VERSION
    ).first()
    if row is None:
        return None
    try:
        return extract.source_from_json(row.data)
    except Exception:  # an unreadable cache entry: callers do without it
        logger.warning("Unreadable extraction %s in the cache", row.pk)
        return None


def organization_storage_usage(organization: Any) -> dict[str, int | None]:
    """``{"usage_bytes", "quota_bytes"}``: the bytes of every stored source file version of the
    organization, and its quota (``FOLIO_ORG_STORAGE_QUOTA_MB``; None when there is none)."""
    from django.conf import settings
    from django.db.models import Sum

    from documents.models import SourceFileVersion

    used = SourceFileVersion.objects.filter(source_file__organization=organization).aggregate(
        total=Sum("size")
    )["total"]
    quota_mb = int(getattr(settings, "FOLIO_ORG_STORAGE_QUOTA_MB", 0) or 0)
    return {
        "usage_bytes": int(used or 0),
        "quota_bytes": quota_mb * 1024 * 1024 if quota_mb > 0 else None,
    }
