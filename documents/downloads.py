"""The generated .docx as an HTTP download, written once for the API and the portal.

``document_download_response`` answers a complete document's file (and records the download in
the audit log); a document that is not complete is a ``Conflict`` (409; the portal shows its
"not ready" page instead), and a file missing from storage is a 404.
"""

from __future__ import annotations

from typing import Any

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404

from documents import services
from documents.models import GeneratedDocument
from portal.errors import Conflict, NotFound

DOCX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def document_download_response(
    *, user: Any, document: GeneratedDocument, redline: bool = False
) -> FileResponse:
    """The .docx, or with ``redline`` its differences from the previous version as tracked
    changes (``<output_name>-redline-v<N>.docx``; 404 ``no_previous_version`` for a first
    draft)."""
    if document.status != GeneratedDocument.Status.COMPLETE or not document.output_key:
        raise Conflict.saying(f"The document is not complete (status {document.status}).")
    key, filename = document.output_key, document.file_name
    if redline:
        if document.previous_version_id is None or not document.redline_key:
            raise NotFound.saying(
                "This is a first draft: there is no previous version to compare it with.",
                code="no_previous_version",
            )
        key = document.redline_key
        filename = f"{document.output_name}-redline-v{document.version}.docx"
    try:
        handle = default_storage.open(key, "rb")
    except Exception as exc:  # any storage backend's "not there"
        raise Http404("The generated file is missing from storage.") from exc
    services.document_download_record(user=user, document=document, redline=redline)
    return FileResponse(
        handle, as_attachment=True, filename=filename, content_type=DOCX_CONTENT_TYPE
    )
