"""The cited place of a source, for the document page's side panel (no request, no writes).

A reader opens a citation marker and asks for the source behind it: ``cited_source`` finds the
file version the document was made from, and its extracted text (the extraction cache), and
gives the panel what to show: for a PDF the cited page (rendered as an image by
``pdf_page_png``, and its text with the quote marked); for DOCX and XLSX the cited block with the
two blocks before and after it. Everything is reached from an organization-scoped document, so
another organization's file is never shown.
"""

from __future__ import annotations

import logging
import struct
import zlib
from typing import Any

from django.core.files.storage import default_storage

from documents import selectors
from documents.models import GeneratedDocument, SourceFileVersion
from documents.selectors import document_sources

logger = logging.getLogger(__name__)

CONTEXT_BLOCKS = 2
PAGE_SCALE = 1.4  # 72 dpi × 1.4 ≈ 100 dpi: an A4 page about 830 px wide


def source_version(
    document: GeneratedDocument, citation: dict[str, Any]
) -> SourceFileVersion | None:
    """The file version of ``document`` that ``citation`` names (by path, else by file name)."""
    versions = document_sources(document)
    path = citation.get("file_path")
    for version in versions:
        if path and version.source_file.file_path == path:
            return version
    name = citation.get("file_name")
    return next((v for v in versions if v.source_file.name == name), None)


def _blocks(version: SourceFileVersion) -> list[Any]:
    src = selectors.cached_source(version)
    return list(src.blocks) if src is not None else []  # else the panel shows the quote only


def marked(text: str, quote: str) -> list[dict[str, Any]]:
    """``text`` split around the first occurrence of ``quote`` (whitespace-insensitive, case-
    insensitive): parts with ``mark`` True are the quoted words."""
    quote = " ".join(quote.split())
    flat = " ".join(text.split())
    if not quote:
        return [{"text": flat, "mark": False}]
    at = flat.lower().find(quote.lower())
    if at < 0:
        # The quote may be cut ("…"): try its longest leading run of words.
        words = quote.split()
        while len(words) > 3 and at < 0:
            words = words[:-1]
            probe = " ".join(words)
            at = flat.lower().find(probe.lower())
            quote = probe
    if at < 0:
        return [{"text": flat, "mark": False}]
    end = at + len(quote)
    parts = [
        {"text": flat[:at], "mark": False},
        {"text": flat[at:end], "mark": True},
        {"text": flat[end:], "mark": False},
    ]
    return [p for p in parts if p["text"]]


def cited_source(document: GeneratedDocument, citation: dict[str, Any]) -> dict[str, Any]:
    """What the side panel shows for ``citation`` of ``document``."""
    version = source_version(document, citation)
    quote = str(citation.get("quote", ""))
    page = citation.get("page")
    block = citation.get("block")
    out: dict[str, Any] = {
        "citation": citation,
        "version": version,
        "file_name": citation.get("file_name") or (version and version.source_file.name) or "",
        "page": page,
        "block": block,
        "is_pdf": bool(version and version.file_type == "pdf" and page),
        "blocks": [],
    }
    if version is None:
        return out
    blocks = _blocks(version)
    if out["is_pdf"]:
        on_page = [b for b in blocks if b.page == page]
        text = "\n".join(b.text for b in on_page)
        out["page_text"] = marked(text, quote) if text else []
    elif block:
        index = {(b.block or b.index): b for b in blocks}
        for number in range(int(block) - CONTEXT_BLOCKS, int(block) + CONTEXT_BLOCKS + 1):
            found = index.get(number)
            if found is None:
                continue
            cited = number == int(block)
            out["blocks"].append(
                {
                    "number": number,
                    "cited": cited,
                    "parts": marked(found.text, quote) if cited else marked(found.text, ""),
                }
            )
    return out


RENDER_TIMEOUT_S = 20
RENDER_MEMORY_MB = 768


class PageNotDrawn(Exception):
    """The page could not be drawn within the limits (``code``: the pipeline's error code)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def pdf_page_png(version: SourceFileVersion, page: int) -> bytes | None:
    """The 1-based ``page`` of a PDF version as a PNG, or None when the file has no such page.

    An uploaded PDF is untrusted input: like extraction, it is rendered in a forked child with a
    deadline and a memory limit (``documents.pipeline.limited.run_limited``; ``PageNotDrawn`` on
    timeout, exhaustion or an unreadable file), in-process only when ``FOLIO_EXTRACT_IN_PROCESS``
    says so (debugging)."""
    from documents.pipeline.errors import GenerationError
    from documents.pipeline.extract.dispatch import _in_process_default
    from documents.pipeline.limited import run_limited

    with default_storage.open(version.storage_key, "rb") as fh:
        data = fh.read()
    if _in_process_default():
        return render_pdf_page(data, page)
    try:
        return run_limited(
            render_pdf_page,
            data,
            page,
            timeout=RENDER_TIMEOUT_S,
            memory_mb=RENDER_MEMORY_MB,
            file_name=version.source_file.name,
        )
    except GenerationError as exc:
        raise PageNotDrawn(getattr(exc, "code", "unreadable_document")) from exc


def render_pdf_page(data: bytes, page: int) -> bytes | None:
    """``page`` (1-based) of the PDF ``data`` as a PNG; None when there is no such page."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        if page < 1 or page > len(pdf):
            return None
        bitmap = pdf[page - 1].render(scale=PAGE_SCALE, rev_byteorder=True)
        return _png(
            bytes(bitmap.buffer), bitmap.width, bitmap.height, bitmap.stride, bitmap.n_channels
        )
    finally:
        pdf.close()


def _png(raw: bytes, width: int, height: int, stride: int, channels: int) -> bytes:
    """A PNG of an RGB(A) bitmap (no imaging library needed)."""
    rows = bytearray()
    line = width * channels
    for y in range(height):
        rows.append(0)  # filter type: none
        rows.extend(raw[y * stride : y * stride + line])
    color_type = {3: 2, 4: 6}[channels]

    def chunk(kind: bytes, payload: bytes) -> bytes:
        body = kind + payload
        return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return b"".join(
        [
            b"\x89PNG\r\n\x1a\n",
            chunk(b"IHDR", header),
            chunk(b"IDAT", zlib.compress(bytes(rows), 6)),
            chunk(b"IEND", b""),
        ]
    )
