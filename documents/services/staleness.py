"""Stale sections: queue the check after a new source version, and record what it finds.

``file_upload`` calls ``staleness_check_queue`` once a real new version is committed; the check
itself runs in a worker (``documents/staleness.py``: it may have to extract the new version),
and writes each affected document's ``stale_sections`` through ``document_stale_sections_set``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from documents import queue
from documents.models import GeneratedDocument

logger = logging.getLogger(__name__)


def staleness_check_queue(*, version_id: str) -> bool:
    """Queue the check; False (logged) when the queue is down: the upload still stands."""
    try:
        queue.enqueue_staleness_check(version_id)
    except queue.QueueError:
        logger.warning("Queue unavailable: stale sections of version %s not checked", version_id)
        return False
    return True


def document_stale_sections_set(*, document_id: Any, section_ids: Iterable[str]) -> bool:
    """Record the document's stale sections (in outline order); True when they changed."""
    ids = list(dict.fromkeys(section_ids))
    return bool(
        GeneratedDocument.objects.filter(pk=document_id)
        .exclude(stale_sections=ids)
        .update(stale_sections=ids)
    )
