"""Writing a file into storage, with bounded retries and nothing half-written left behind.

A full or read-only folder (local storage) or an object store answering 5xx (S3) is a
``StorageUnavailableError`` after ``STORE_ATTEMPTS`` tries; a partial file written under the key
by a failed try is deleted. The callers turn it into their stable code ``storage_unavailable``:
the job ends ``Failed`` with it (``documents/jobs.py``), an upload answers 503 with
``Retry-After`` (``documents/services/uploads.py``).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from django.core.files import File
from django.core.files.storage import default_storage

logger = logging.getLogger(__name__)

STORE_ATTEMPTS = 3
STORE_BACKOFF_SECONDS = (0.2, 0.5)


def _storage_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [OSError]
    try:  # S3 (django-storages): network errors and 5xx answers
        from botocore.exceptions import BotoCoreError, ClientError

        errors += [BotoCoreError, ClientError]
    except ImportError:  # pragma: no cover - botocore is installed with django-storages[s3]
        pass
    return tuple(errors)


STORAGE_ERRORS = _storage_errors()


class StorageUnavailableError(Exception):
    """Storage refused a write after the bounded retries."""


def _delete_partial(key: str, storage: Any) -> None:
    try:
        if storage.exists(key):
            storage.delete(key)
    except Exception:  # the storage is failing: the next cleanup pass may do better
        logger.warning("Could not delete the partial file %s", key, exc_info=True)


def save_file(key: str, path: str | Path, name: str, storage: Any = None) -> str:
    """Store the file at ``path`` under ``key``; return the stored key.

    Raises ``StorageUnavailableError`` when every try failed. A key that already held a file
    before the call is never deleted (the storage then picks another name for a new file).
    """
    storage = storage if storage is not None else default_storage
    try:
        existed = bool(storage.exists(key))
    except STORAGE_ERRORS as exc:
        raise StorageUnavailableError(str(exc)) from exc
    last: BaseException | None = None
    for attempt in range(STORE_ATTEMPTS):
        try:
            with open(path, "rb") as fh:
                return str(storage.save(key, File(fh, name=name)))
        except STORAGE_ERRORS as exc:
            last = exc
            if not existed:
                _delete_partial(key, storage)
            logger.warning(
                "Storing %s failed (try %s of %s): %s", key, attempt + 1, STORE_ATTEMPTS, exc
            )
            if attempt < STORE_ATTEMPTS - 1:
                time.sleep(STORE_BACKOFF_SECONDS[min(attempt, len(STORE_BACKOFF_SECONDS) - 1)])
    raise StorageUnavailableError(str(last)) from last
