"""Uploads spooled to the temporary folder: a full or failing folder is a 503, never a 500.

Django writes an upload larger than ``FILE_UPLOAD_MAX_MEMORY_SIZE`` (2.5 MB) to a temporary
file (``FILE_UPLOAD_TEMP_DIR``, else the system's) while it parses the request, before any view
runs. A full or read-only folder there made ``OSError`` escape from the parser: a 500, and a
truncated temporary file. ``SpoolingUploadHandler`` (``FILE_UPLOAD_HANDLERS``) removes its
partial file and raises ``UploadSpoolError``, which is answered 503 ``storage_unavailable`` with
``Retry-After``, as a full upload folder is (``documents/filestore.py``):

- on the API, by the exception handler (``portal/api_errors.py``): DRF parses there;
- elsewhere (the portal's forms, the admin's template import), by ``UploadSpoolMiddleware``,
  which parses a multipart body before the CSRF check would, so the error has an answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.http import HttpRequest, HttpResponse

from portal.try_again import try_again_response

logger = logging.getLogger(__name__)

RETRY_AFTER = "60"
SPOOL_FAILED = {
    "detail": "The server could not store the upload for now (its temporary folder is full or "
    "refusing writes); nothing was kept. Try again later.",
    "code": "storage_unavailable",
}


class UploadSpoolError(Exception):
    """The temporary copy of an upload could not be written."""


class SpoolingUploadHandler(TemporaryFileUploadHandler):
    """Django's handler for large uploads, with write errors made ``UploadSpoolError``."""

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        try:
            super().new_file(*args, **kwargs)
        except OSError as exc:
            self._fail(exc)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        try:
            self.file.write(raw_data)
        except OSError as exc:
            self._fail(exc)
        return None

    def file_complete(self, file_size: int) -> Any:
        try:
            return super().file_complete(file_size)
        except OSError as exc:
            self._fail(exc)

    def _fail(self, exc: OSError) -> None:
        logger.warning("Could not spool an upload to the temporary folder: %s", exc)
        if hasattr(self, "file"):
            try:
                self.upload_interrupted()  # closes and removes the partial file
            except OSError:
                logger.warning("Could not remove a partial upload", exc_info=True)
        raise UploadSpoolError(str(exc)) from exc


def spool_failed_response(request: HttpRequest) -> HttpResponse:
    """503 ``storage_unavailable``: a page for browsers, ``{"detail", "code"}`` otherwise."""
    return try_again_response(request, SPOOL_FAILED, RETRY_AFTER)


def _is_multipart_post(request: HttpRequest) -> bool:
    return request.method == "POST" and str(request.META.get("CONTENT_TYPE", "")).startswith(
        "multipart/form-data"
    )


class UploadSpoolMiddleware:
    """Parse a multipart body outside the API here, where a spool failure can be answered.

    After ``BodyLimitMiddleware`` (an oversized body is refused before anything is spooled). The
    API's routes are left to DRF, which parses in the view (its errors reach the API's exception
    handler, and a route that takes no multipart body still answers 415).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _is_multipart_post(request) and not request.path.startswith("/api/"):
            try:
                request.POST  # noqa: B018  (parses the body, spooling its files)
            except UploadSpoolError:
                return spool_failed_response(request)
        return self.get_response(request)
