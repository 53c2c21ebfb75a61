"""PDF reading with pypdf: one ``extract_text`` pass per page, with each run's font and position."""

from __future__ import annotations

import contextlib
import logging
import math
import re
from typing import Any

from documents.pipeline.errors import SourceError
from documents.pipeline.extract.common import alnum
from documents.pipeline.extract.pdf_layout import pdf_structure, running_lines
from documents.pipeline.extract.pdf_lines import Line, Run
from documents.pipeline.extract.pdf_tables import (
    insert_tables,
    read_tables,
    table_blocks,
    tlf_pages,
)
from documents.pipeline.extract.toc import TocEntry, make_entry
from documents.pipeline.safety import (
    Limits,
    sanitize_text,
)
from documents.pipeline.types import ExtractedSource, SourceDescriptor

logger = logging.getLogger(__name__)

# ============================================================================================
# PDF


def _font_is_bold(font_dict: Any, cache: dict[int, tuple[Any, bool]]) -> bool:
    if font_dict is None:
        return False
    key = id(font_dict)
    hit = cache.get(key)
    if hit is not None and hit[0] is font_dict:
        return hit[1]
    bold = False
    try:
        # Drop the subset prefix ("BDEMIM+"): its random letters can spell "DEMI".
        name = str(font_dict.get("/BaseFont", "")).split("+", 1)[-1]
        if re.search(r"bold|black|heavy|[-,_]demi|[-,_]semi", name, re.I):
            bold = True
        else:
            descriptor = font_dict.get("/FontDescriptor")
            if descriptor is None and "/DescendantFonts" in font_dict:
                descendants = font_dict["/DescendantFonts"].get_object()
                if descendants:
                    descriptor = descendants[0].get_object().get("/FontDescriptor")
            if descriptor is not None:
                descriptor = descriptor.get_object()
                weight = descriptor.get("/FontWeight")
                flags = descriptor.get("/Flags")
                # FontWeight 600+ is semibold and up; Flags bit 19 is ForceBold.
                bold = (weight is not None and float(weight) >= 600) or (
                    flags is not None and bool(int(flags) & (1 << 18))
                )
    except Exception:  # a damaged font dictionary only costs us the style
        bold = False
    # Keep the dictionary alive with its answer: pypdf may free it after the page, and a new
    # object could then reuse its id.
    cache[key] = (font_dict, bold)
    return bold


def _page_lines(page: Any, bold_cache: dict[int, tuple[Any, bool]]) -> tuple[str, list[Line]]:
    """One ``extract_text`` pass: the page text and its lines with font size, weight, position."""
    parts: list[str] = []
    runs: list[tuple[int, int, float, bool, float, float]] = []
    offset = 0

    def visitor(text: Any, cm: Any, tm: Any, font_dict: Any, font_size: Any) -> None:
        nonlocal offset
        if not text:
            return
        t = sanitize_text(text)
        parts.append(t)
        n = len(t)
        if n and not t.isspace():
            try:
                a = tm[0] * cm[0] + tm[1] * cm[2]
                b = tm[0] * cm[1] + tm[1] * cm[3]
                c = tm[2] * cm[0] + tm[3] * cm[2]
                d = tm[2] * cm[1] + tm[3] * cm[3]
                x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
                y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
                size = abs(float(font_size)) * math.sqrt(abs(a * d - b * c))
                upright = abs(b) <= abs(a)
                runs.append(
                    (
                        offset,
                        offset + n,
                        round(size, 1),
                        _font_is_bold(font_dict, bold_cache),
                        x if upright else y,
                        y if upright else x,
                    )
                )
            except Exception:  # odd matrices only cost us the style of this run
                pass
        offset += n

    raw = page.extract_text(visitor_text=visitor)
    text = sanitize_text(raw or "")
    if "".join(parts) != text:
        runs = []  # the visitor did not see the same text: keep the text, drop the styles
    lines: list[Line] = []
    start = 0
    r = 0
    n_runs = len(runs)
    for line_text in text.split("\n"):
        end = start + len(line_text)
        while r < n_runs and runs[r][1] <= start:
            r += 1
        # Characters per font size and in bold among the runs overlapping this line.
        size_chars: dict[float, int] = {}
        bold_chars = total = 0
        first: tuple[float, float] | None = None
        pieces: list[Run] = []
        j = r
        while j < n_runs and runs[j][0] < end:
            s0, e0, size, bold, x, pos = runs[j]
            overlap = min(e0, end) - max(s0, start)
            if overlap > 0:
                pieces.append(Run(x, pos, size, bold, text[max(s0, start) : min(e0, end)]))
                total += overlap
                size_chars[size] = size_chars.get(size, 0) + overlap
                if bold:
                    bold_chars += overlap
                if first is None:
                    first = (x, pos)
            j += 1
        line = Line(line_text)
        if total:
            line.size = max(size_chars, key=size_chars.__getitem__)
            line.bold = bold_chars >= 0.8 * total
            line.x, line.pos = first or (0.0, 0.0)
            line.styled = True
            line.runs = pieces
        lines.append(line)
        start = end + 1
    return text, lines


def extract_pdf(desc: SourceDescriptor, limits: Limits) -> ExtractedSource:
    import pypdf
    from pypdf import PasswordType
    from pypdf.errors import EmptyFileError, FileNotDecryptedError, LimitReachedError

    name = desc.file_name
    # Cap the page tree (a 100 000-page tree of empty pages is a CPU bomb) and never hand
    # JBIG2 streams to an external jbig2dec binary.
    config = {
        "page_tree_maximum_entries": max(1000, limits.max_pdf_pages * 4),
        "page_tree_maximum_page_entries": max(1000, limits.max_pdf_pages * 4),
        "jbig2dec_binary": None,
    }
    with pypdf.apply_configuration(**config):
        try:
            reader = pypdf.PdfReader(desc.local_path)
        except EmptyFileError as exc:
            raise SourceError(name, "empty_file") from exc
        except LimitReachedError as exc:
            raise SourceError(name, "document_too_complex") from exc
        except MemoryError:
            raise
        except Exception as exc:
            raise SourceError(name, "unreadable_document") from exc

        try:
            encrypted = reader.is_encrypted
        except Exception as exc:
            raise SourceError(name, "unreadable_document") from exc
        if encrypted:
            try:
                result = reader.decrypt("")
            except MemoryError:
                raise
            except Exception as exc:
                raise SourceError(name, "encrypted_document") from exc
            if result == PasswordType.NOT_DECRYPTED:
                raise SourceError(name, "encrypted_document")

        try:
            n_pages = len(reader.pages)
        except LimitReachedError as exc:
            raise SourceError(name, "document_too_complex") from exc
        except FileNotDecryptedError as exc:
            raise SourceError(name, "encrypted_document") from exc
        except MemoryError:
            raise
        except Exception as exc:
            raise SourceError(name, "unreadable_document") from exc
        if n_pages > limits.max_pdf_pages:
            raise SourceError(name, "document_too_complex")

        texts: list[str] = []
        page_lines: list[list[Line]] = []
        bold_cache: dict[int, tuple[Any, bool]] = {}
        total_chars = 0
        failures: list[int] = []
        for i in range(n_pages):
            try:
                text, lines = _page_lines(reader.pages[i], bold_cache)
            except LimitReachedError as exc:
                if limit_code(exc) == "document_too_complex":
                    raise SourceError(name, "document_too_complex") from exc
                logger.info("%s: page %d damaged: %r", name, i + 1, exc)
                failures.append(i + 1)
                text, lines = "", []
            except FileNotDecryptedError as exc:
                raise SourceError(name, "encrypted_document") from exc
            except (MemoryError, RecursionError):
                raise
            except Exception as exc:
                # One damaged page should not sink a 300-page protocol; it simply has no text.
                logger.info("%s: page %d unreadable: %r", name, i + 1, exc)
                failures.append(i + 1)
                text, lines = "", []
            total_chars += len(text)
            if total_chars > limits.max_extracted_chars:
                raise SourceError(name, "document_too_complex")
            texts.append(text)
            page_lines.append(lines)

        meta_title = ""
        with contextlib.suppress(Exception):
            meta = reader.metadata
            if meta is not None and meta.title:
                meta_title = sanitize_text(str(meta.title)).strip()
        outline = read_outline(reader)
        # Results tables: pages showing one TLF are read again with positions kept.
        tables = read_tables(reader, tlf_pages(page_lines, running_lines(page_lines)), texts)

    if not any(alnum(t) for t in texts):
        if failures:
            raise SourceError(name, "unreadable_document")
        _raise_if_content_bomb(reader, name, config)
        raise SourceError(name, "no_text_found")
    warnings: list[str] = []
    if failures:
        warnings.append(
            f"{_pages_phrase(failures)} could not be read (damaged content); "
            "their text is missing from this source."
        )
    empty = [k + 1 for k, t in enumerate(texts) if not alnum(t) and (k + 1) not in failures]
    if empty and len(empty) < n_pages:
        warnings.append(
            f"{_pages_phrase(empty)} {'has' if len(empty) == 1 else 'have'} no text layer "
            "(a scanned image or a figure); any text in them is not read."
        )
    blocks, title = pdf_structure(page_lines, texts, outline, skip_pages=set(tables))
    if tables:
        blocks = insert_tables(blocks, table_blocks(tables))
    if not title:
        title = meta_title if meta_title and len(meta_title) < 300 else ""
    return ExtractedSource(
        file_path=desc.file_path,
        file_name=desc.file_name,
        sha256=desc.sha256,
        file_type="pdf",
        page_count=n_pages,
        blocks=tuple(blocks),
        pages=tuple(texts),
        title=title,
        warnings=tuple(warnings),
    )


def _raise_if_content_bomb(reader: Any, name: str, config: dict[str, Any]) -> None:
    """Before saying "no text" (a scan?), make sure no content stream is a decompression bomb.

    pypdf skips the content of a page without font resources, so a page whose content inflates
    past pypdf's limits reads as empty; decoding it here (under the same limits) tells the user
    the truth: the file is too complex, not a scan.
    """
    import pypdf
    from pypdf.errors import LimitReachedError

    with pypdf.apply_configuration(**config):
        for page in reader.pages:
            try:
                contents = page.get_contents()
                if contents is not None:
                    contents.get_data()
            except LimitReachedError as exc:
                raise SourceError(name, limit_code(exc)) from exc
            except (MemoryError, RecursionError):
                raise
            except Exception:  # a damaged stream is not a bomb; "no text" stays the answer
                continue


# pypdf's limits that mean "too much work" (a decompression bomb, a page or token flood);
# every other LimitReachedError is a damaged parameter (an image or predictor size, a width
# table, a cycle), which splitting the file would not help: the file reads as damaged.
_TOO_COMPLEX = re.compile(
    r"limit reached while decompressing|page tree|maximum number of tokens|tokens per stream|"
    r"dictionary entries|array element count|outline depth",
    re.I,
)


def limit_code(exc: Exception) -> str:
    """``document_too_complex`` for a bomb, ``unreadable_document`` for a damaged parameter."""
    message = str(exc)
    if "recovery limit" in message.lower() or not _TOO_COMPLEX.search(message):
        return "unreadable_document"
    return "document_too_complex"


def _pages_phrase(pages: list[int]) -> str:
    shown = ", ".join(str(p) for p in pages[:10]) + (", ..." if len(pages) > 10 else "")
    return f"Page {shown}" if len(pages) == 1 else f"Pages {shown}"


MAX_OUTLINE_ENTRIES = 5000


def read_outline(reader: Any) -> list[TocEntry]:
    """The document outline (bookmarks) as entries, depth first; [] when absent or damaged.

    Bookmark destinations are not trusted for pages (generators often point them all at one
    page); the titles and their nesting are what the headings map needs.
    """
    out: list[TocEntry] = []

    def walk(items: Any, depth: int) -> None:
        for item in items:
            if len(out) >= MAX_OUTLINE_ENTRIES or depth > 12:
                return
            if isinstance(item, list):
                walk(item, depth + 1)
                continue
            title = sanitize_text(str(getattr(item, "title", "") or "")).strip()
            if not title or len(title) > 300:
                continue
            entry = make_entry(title, 0)
            if not entry.number:
                entry = TocEntry(entry.label, "", entry.title, 0, depth)
            out.append(entry)

    try:
        walk(reader.outline, 1)
    except (MemoryError, RecursionError):
        raise
    except Exception as exc:  # a damaged or cyclic outline only costs us the map
        logger.info("outline unreadable: %r", exc)
    return out
