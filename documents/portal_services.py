"""Portal-only reads that the shared selectors do not offer (yet), built on top of them.

Kept apart from ``selectors.py`` (owned by the API work) so the portal can add list shapes it needs
for its pages — counts per document set, a set's files with their newest version — without
touching the shared module. Everything starts from an organization-scoped selector.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Prefetch, QuerySet

from documents import selectors
from documents.models import DocumentSet, SourceFile, SourceFileVersion


def document_sets_with_counts(*, user: Any) -> QuerySet[DocumentSet]:
    """The caller's document sets, newest first, with ``document_count`` and ``file_count``."""
    return selectors.document_sets_list_for_user(user).annotate(
        document_count=Count("documents", distinct=True),
        file_count=Count("files", distinct=True),
    )


def document_set_files(*, user: Any, document_set: DocumentSet) -> QuerySet[SourceFile]:
    """The files of one of the caller's sets, with their versions (newest first) prefetched."""
    newest_first = SourceFileVersion.objects.order_by("-version")
    return (
        SourceFile.objects.filter(
            organization=selectors.organization_for(user), document_set=document_set
        )
        .prefetch_related(Prefetch("versions", queryset=newest_first))
        .order_by("name")
    )
