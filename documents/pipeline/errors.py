"""Expected failures of the pipeline, each with a stable code and a sentence a user can act on.

Anything else that escapes the pipeline is an ``internal_error`` and its details go to the log,
never to the user.
"""

from __future__ import annotations

ERROR_MESSAGES: dict[str, str] = {
    "empty_file": "The file is empty. Upload the complete document again.",
    "invalid_file_type": "The file is not a PDF, Word (.docx), Excel (.xlsx), RTF (.rtf) or plain-text (.txt, .out) document.",
    "unreadable_document": "The file is damaged or not a valid document. Re-export it and upload it again.",
    "encrypted_document": "The file is password-protected. Remove the password and upload it again.",
    "no_text_found": "No text could be read from the file; it may be a scanned image. Upload a text PDF or run OCR first.",
    "document_too_complex": "The file is too large or too complex to process within Folio's limits. Split it into smaller files.",
    "file_too_large": "The file is larger than the upload limit.",
    "processing_timeout": "Reading the file took longer than the time limit. Split it into smaller files or try again.",
    "resource_limit_exceeded": "Processing the file needed more memory than allowed. Split it into smaller files.",
    "worker_crashed": "The worker processing this document stopped unexpectedly. Submit the request again.",
    "source_unavailable": "A source file could not be read from storage. Upload it again and retry.",
    "queue_unavailable": "The job queue is not reachable right now. Try again in a minute.",
    "storage_unavailable": "The file storage is not available right now (full, refusing writes or unreachable); your sources are kept. Try again later.",
    "llm_unavailable": "The language-model service did not answer. Try again later or use the built-in writer.",
    "internal_error": "An unexpected error stopped the generation. Try again; if it happens again, contact support.",
    "cancelled": "The generation was cancelled.",
}


class GenerationError(Exception):
    """An expected failure with a stable code; ``message`` is shown to the user as is."""

    code = "internal_error"

    def __init__(self, message: str | None = None, *, code: str | None = None) -> None:
        if code is not None:
            self.code = code
        self.message = message or ERROR_MESSAGES.get(self.code, ERROR_MESSAGES["internal_error"])
        super().__init__(self.message)


class SourceError(GenerationError):
    """A problem with one source file; the message names the file."""

    def __init__(self, file_name: str, code: str, detail: str | None = None) -> None:
        base = ERROR_MESSAGES.get(code, ERROR_MESSAGES["unreadable_document"])
        message = f"{file_name}: {detail or base}"
        super().__init__(message, code=code)
        self.file_name = file_name


class Cancelled(GenerationError):
    code = "cancelled"


class LLMUnavailable(GenerationError):
    code = "llm_unavailable"
