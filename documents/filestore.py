"""Writing a file into storage and reading one back, with bounded retries.

A full or read-only folder (local storage) or an object store answering 5xx (S3) is a
``StorageUnavailableError`` after ``STORE_ATTEMPTS`` tries; a partial file written under the key
by a failed try is deleted. The callers turn it into their stable code ``storage_unavailable``:
the job ends ``Failed`` with it (``documents/jobs.py``), an upload answers 503 with
``Retry-After`` (``documents/services/uploads.py``).

Reading tells a file that is gone (``StoredFileMissingError``: the caller's
``source_unavailable``, upload it again) from a storage that does not answer for now
(``StorageUnavailableError`` after the same bounded retries: ``storage_unavailable``, try again
later; the file is still there).
"""

from __future__ import annotations

import logging
import shutil
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
    """Storage refused a write or a read after the bounded retries."""


class StoredFileMissingError(Exception):
    """The storage answers, and the file is not there."""


def _is_missing(exc: BaseException) -> bool:
    if isinstance(exc, FileNotFoundError):
        return True
    response = getattr(exc, "response", None)  # botocore's ClientError
    if isinstance(response, dict):
        error = response.get("Error") or {}
        status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        return str(error.get("Code")) in {"404", "NoSuchKey", "NotFound"} or status == 404
    return False


def _backoff(attempt: int) -> None:
    if attempt < STORE_ATTEMPTS - 1:
        time.sleep(STORE_BACKOFF_SECONDS[min(attempt, len(STORE_BACKOFF_SECONDS) - 1)])


def read_file(key: str, target: str | Path, storage: Any = None) -> None:
    """Copy the stored file ``key`` to the local path ``target``.

    Raises ``StoredFileMissingError`` when the storage says the file is not there, and
    ``StorageUnavailableError`` when every try failed for another reason (a partial copy at
    ``target`` is overwritten by the next try and left to the caller's folder otherwise).
    """
    storage = storage if storage is not None else default_storage
    last: BaseException | None = None
    for attempt in range(STORE_ATTEMPTS):
        try:
            with storage.open(key, "rb") as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, length=1024 * 1024)
            return
        except STORAGE_ERRORS as exc:
            if _is_missing(exc):
                raise StoredFileMissingError(key) from exc
            last = exc
            logger.warning(
                "Reading %s failed (try %s of %s): %s", key, attempt + 1, STORE_ATTEMPTS, exc
            )
            _backoff(attempt)
    raise StorageUnavailableError(str(last)) from last


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
            _backoff(attempt)
    raise StorageUnavailableError(str(last)) from last
