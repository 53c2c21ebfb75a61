"""Document sets: a study's files and drafts kept together."""

from __future__ import annotations

import uuid
from typing import Any

from documents.models import (
    DocumentSet,
)
from documents.selectors import organization_for
from portal.errors import (
    Conflict,
    InvalidInput,
)


def document_set_create(
    *, user: Any, name: str, key: str | None = None, details: str = ""
) -> DocumentSet:
    organization = organization_for(user)
    name = (name or "").strip()
    if not name:
        raise InvalidInput.about("document_set_name", "this field is required.")
    key = (key or "").strip() or f"set-{uuid.uuid4().hex[:12]}"
    if DocumentSet.objects.filter(organization=organization, key=key).exists():
        raise Conflict.about(
            "document_set_key",
            f"a document set with key {key!r} already exists.",
        )
    document_set = DocumentSet.objects.create(
        organization=organization, key=key, name=name, details=details, created_by=user
    )
    return document_set


def document_set_get_or_create(*, organization: Any, user: Any, key: str, name: str) -> DocumentSet:
    document_set, _ = DocumentSet.objects.get_or_create(
        organization=organization, key=key, defaults={"name": name, "created_by": user}
    )
    return document_set
