"""The entry point: run the reader for a file's type under the safety limits."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from documents.pipeline.errors import SourceError
from documents.pipeline.extract.docx_body import extract_docx
from documents.pipeline.extract.pdf import extract_pdf
from documents.pipeline.extract.rtf import extract_rtf
from documents.pipeline.extract.text import extract_text_file
from documents.pipeline.extract.xlsx import extract_xlsx
from documents.pipeline.limited import LimitedChild, start_limited
from documents.pipeline.safety import Limits, check_ooxml_zip, detect_file_type
from documents.pipeline.types import ExtractedSource, SourceDescriptor

logger = logging.getLogger(__name__)

# ============================================================================================
# Entry point


def _in_process_default() -> bool:
    return os.environ.get("FOLIO_EXTRACT_IN_PROCESS", "").strip().lower() in {"1", "true", "yes"}


def extract_text(
    desc: SourceDescriptor, *, in_process: bool | None = None, limits: Limits | None = None
) -> ExtractedSource:
    """Extract one source file into blocks, under a deadline and a memory limit.

    Raises ``SourceError`` with a stable code (``empty_file``, ``invalid_file_type``,
    ``unreadable_document``, ``encrypted_document``, ``no_text_found``,
    ``document_too_complex``, ``processing_timeout``, ``resource_limit_exceeded``).
    """
    return start_extract(desc, in_process=in_process, limits=limits).result()


class _Read:
    """An extraction done in this process, with ``LimitedChild``'s ``result()``."""

    def __init__(self, desc: SourceDescriptor, limits: Limits) -> None:
        self.value: ExtractedSource | None = None
        self.error: BaseException | None = None
        try:
            self.value = _extract_guarded(desc, limits)
        except SourceError as exc:
            self.error = exc

    def result(self) -> ExtractedSource:
        if self.error is not None:
            raise self.error
        assert self.value is not None
        return self.value


def start_extract(
    desc: SourceDescriptor, *, in_process: bool | None = None, limits: Limits | None = None
) -> LimitedChild[ExtractedSource] | _Read:
    """``extract_text`` started: in a limited child that runs while the caller starts others
    (``limited.collect_limited`` waits for them together), or done at once in this process.
    ``.result()`` returns the source or raises its ``SourceError``."""
    limits = limits or Limits()
    if in_process is None:
        in_process = _in_process_default()
    if in_process:
        return _Read(desc, limits)
    return start_limited(
        _extract_in_child,
        desc,
        limits,
        timeout=limits.extract_timeout,
        memory_mb=limits.extract_memory_mb,
        file_name=desc.file_name,
    )


def _extract_in_child(desc: SourceDescriptor, limits: Limits) -> ExtractedSource:
    # Recovery from damaged PDFs can log hundreds of warnings per file; the child's log level
    # change dies with the child.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    return _extract_guarded(desc, limits)


def _extract_guarded(desc: SourceDescriptor, limits: Limits) -> ExtractedSource:
    try:
        return _extract(desc, limits)
    except SourceError:
        raise
    except MemoryError:
        raise
    except RecursionError as exc:
        raise SourceError(desc.file_name, "document_too_complex") from exc
    except Exception as exc:
        logger.warning("extraction of %s failed: %r", desc.file_name, exc)
        raise SourceError(desc.file_name, "unreadable_document") from exc


def _extract(desc: SourceDescriptor, limits: Limits) -> ExtractedSource:
    path = desc.local_path
    try:
        size = Path(path).stat().st_size
    except OSError as exc:
        raise SourceError(desc.file_name, "source_unavailable") from exc
    if size == 0:
        raise SourceError(desc.file_name, "empty_file")
    file_type = (desc.file_type or Path(desc.file_name).suffix.lstrip(".")).lower()
    try:
        detect_file_type(path, f"source.{file_type}")
    except SourceError as exc:
        raise SourceError(desc.file_name, exc.code) from exc
    if file_type == "pdf":
        return extract_pdf(desc, limits)
    if file_type == "docx":
        check_ooxml_zip(path, file_name=desc.file_name, kind="docx", limits=limits)
        return extract_docx(desc, limits)
    if file_type == "xlsx":
        check_ooxml_zip(path, file_name=desc.file_name, kind="xlsx", limits=limits)
        return extract_xlsx(desc, limits)
    if file_type == "rtf":
        return extract_rtf(desc, limits)
    if file_type in ("txt", "out"):
        return extract_text_file(desc, limits)
    raise SourceError(desc.file_name, "invalid_file_type")
