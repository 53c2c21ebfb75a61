"""Every write of the documents app, in typed, keyword-only functions that the API views, the
portal views and the job all call (the audit log's writes are ``portal.audit``'s).

- ``uploads``: ``file_upload``, ``uploads_for_files``, and the text cleaning of what users type;
- ``document_sets``: ``document_set_create``;
- ``generation``: ``generation_request``, ``generation_cancel``, ``document_download_record``;
- ``versions``: ``generation_regenerate`` (chosen or stale sections) and the new version a
  reviewed copy asks for;
- ``review``: ``review_upload`` (a reviewed .docx read back: comments, edits, a new version);
- ``staleness``: which documents a new source version makes stale;
- ``section_state``: ``set_section_state``, a section marked not applicable or restored;
- ``job_state``: the job's writes to its row and the extraction cache.

Input a user can get wrong raises a ``portal.errors.ServiceError`` that names the field.
"""

from documents.services.document_sets import document_set_create
from documents.services.generation import (
    document_download_record,
    generation_cancel,
    generation_request,
)
from documents.services.review import review_options, review_upload
from documents.services.section_state import set_section_state
from documents.services.uploads import clean_text, file_upload, safe_file_name, uploads_for_files
from documents.services.versions import generation_regenerate

__all__ = [
    "clean_text",
    "document_download_record",
    "document_set_create",
    "file_upload",
    "generation_cancel",
    "generation_regenerate",
    "generation_request",
    "review_options",
    "review_upload",
    "safe_file_name",
    "set_section_state",
    "uploads_for_files",
]
