"""Step 1 of the pipeline: turn one source file (PDF, DOCX, XLSX) into located, structured blocks.

Every block keeps the location a citation needs (CONTRACT §5): a PDF block has its ``page``
(1-based, one page per block: a paragraph that runs over a page break becomes two blocks, so no
quote ever crosses a page); a DOCX/XLSX block has its ``block`` number. Parsers run in a forked
child under ``safety.run_limited`` (deadline and memory limit); set ``FOLIO_EXTRACT_IN_PROCESS=1``
(or pass ``in_process=True``) to run them in-process when debugging.

PDF (pypdf). ``ExtractedSource.pages`` holds each page's text exactly as ``page.extract_text()``
returns it (after ``sanitize_text``). Blocks are built from those same lines, in order, so the
letters and digits of every block are a substring of its page's letters and digits. One
``extract_text`` call per page, with a ``visitor_text`` callback recording each run's font size,
boldness and position; from these:

- headings: numbered lines (``9.4.1 Blinding``, ``5.1. Inclusion Criteria``) in bold or a larger
  font, ``APPENDIX 2``-style lines, and short bold / large / all-caps lines; level = depth of the
  number, else from the font size; a heading wrapped over two or three lines is joined;
- running headers and footers (a line repeated at the top or bottom of most pages, digits
  ignored) and page numbers (``Page 3 of 97``, ``- 3 -``) are dropped;
- table-of-contents entries (lines ending in dot leaders and a page number, their wrapped first
  lines, and the "Table of Contents" title on such pages) are **dropped**: they would otherwise
  be retrieved as content and they duplicate every heading;
- wrapped lines are joined into paragraphs (a new paragraph starts at a blank line, a vertical
  gap larger than the usual line spacing, or a change of font); a hyphen at a line end is removed
  when the joined word occurs elsewhere in the document or ends in a common suffix, else kept;
- list items (``1.``, ``a)``, ``[3]``, ``•``, ``-``) become ``list_item`` blocks whose ``number``
  is the label as printed and whose ``text`` is the rest; ``Table 2``/``Figure 1`` lines start
  ``caption`` blocks. Heading and list-item ``text`` never includes the number.

DOCX (python-docx, after ``safety.check_ooxml_zip``). Block numbers must agree with an
independent reader using python-docx (``document.iter_inner_content()``, ``Paragraph.text``,
``table.rows``/``row.cells``), so the body is read exactly as python-docx reads it: its own
paragraphs and tables in order (body-level content controls such as a TOC are skipped); every
paragraph counts 1 (empty ones too) and every table row counts 1; a table block carries the
number of its first row, so row ``i`` (0-based) of a table is ``block + i``; a row's cells are
python-docx's (a horizontally merged cell repeated per grid column, a vertically merged one
repeating the text above).
Headings come from the outline level: the paragraph's own ``w:outlineLvl``, else the nearest
style in its ``basedOn`` chain named "Heading N" / "Title" or carrying ``w:outlineLvl`` (so custom
styles such as ``01Heading1`` count). TOC paragraphs (``TOC n`` styles, "TOC Heading") are
counted but not emitted. Hidden text (``w:vanish``, resolved through run, character and
paragraph styles) is left out. Numbering labels are computed from ``numbering.xml``.
Footnotes are not read: they have no block number a reader of the body could check.

XLSX (openpyxl, read-only, cached values). Each worksheet is one ``table`` block (its
``heading_path`` is the sheet name) whose rows are the rows openpyxl's read-only ``iter_rows()``
yields: the sheet's used range as its ``<dimension>`` declares it (normally from row 1; empty
rows included). ``block`` numbers count those rows across sheets in order, so row ``i`` of a
sheet's table is ``block + i`` as for DOCX tables. A sheet whose declared range is absent or
absurdly large is read row by row as stored instead (from row 1).

``heading_path`` of a heading includes the heading itself, so a heading and the paragraphs under
it share one path; entries read ``"5.1 Inclusion Criteria"`` (number without trailing dot).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import math
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from documents.pipeline.errors import SourceError
from documents.pipeline.safety import (
    Limits,
    check_ooxml_zip,
    detect_file_type,
    run_limited,
    sanitize_text,
)
from documents.pipeline.types import Block, BlockKind, ExtractedSource, KeyFact, SourceDescriptor

# Part of the extraction cache key: change it whenever blocks or their numbering change.
EXTRACTOR_VERSION = "2026.11.2"

logger = logging.getLogger(__name__)

_ALNUM = re.compile(r"[\W_]+")


def alnum(text: str) -> str:
    """Letters and digits (of any script) only, lower-cased: the form citations are compared in.

    Checkers that keep ASCII letters and digits only agree: when ``alnum(a)`` lies in
    ``alnum(b)``, their narrower form of ``a`` lies in theirs of ``b``.
    """
    return _ALNUM.sub("", text.lower())


def table_row_block(block: Block, row_index: int) -> int | None:
    """The DOCX/XLSX block number of row ``row_index`` (0-based) of a table block."""
    if block.block is None or not 0 <= row_index < len(block.rows):
        return None
    return block.block + row_index


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
    limits = limits or Limits()
    if in_process is None:
        in_process = _in_process_default()
    if in_process:
        return _extract_guarded(desc, limits)
    return run_limited(
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
        return _extract_pdf(desc, limits)
    if file_type == "docx":
        check_ooxml_zip(path, file_name=desc.file_name, kind="docx", limits=limits)
        return _extract_docx(desc, limits)
    if file_type == "xlsx":
        check_ooxml_zip(path, file_name=desc.file_name, kind="xlsx", limits=limits)
        return _extract_xlsx(desc, limits)
    raise SourceError(desc.file_name, "invalid_file_type")


# ============================================================================================
# JSON round trip (the extraction cache)


def _block_to_json(b: Block) -> dict[str, Any]:
    out: dict[str, Any] = {"i": b.index, "k": b.kind, "t": b.text}
    if b.page is not None:
        out["p"] = b.page
    if b.block is not None:
        out["b"] = b.block
    if b.level:
        out["l"] = b.level
    if b.number:
        out["n"] = b.number
    if b.heading_path:
        out["h"] = list(b.heading_path)
    if b.rows:
        out["r"] = [list(r) for r in b.rows]
    if b.bold:
        out["bo"] = True
    if b.font_size:
        out["fs"] = b.font_size
    return out


def _block_from_json(d: dict[str, Any]) -> Block:
    return Block(
        index=int(d["i"]),
        kind=d["k"],
        text=str(d["t"]),
        page=d.get("p"),
        block=d.get("b"),
        level=int(d.get("l", 0)),
        number=str(d.get("n", "")),
        heading_path=tuple(str(h) for h in d.get("h", ())),
        rows=tuple(tuple(str(c) for c in r) for r in d.get("r", ())),
        bold=bool(d.get("bo", False)),
        font_size=float(d.get("fs", 0.0)),
    )


def source_to_json(src: ExtractedSource) -> dict[str, Any]:
    """A JSON-safe dict of the whole record (compact keys for blocks)."""
    return {
        "extractor_version": EXTRACTOR_VERSION,
        "file_path": src.file_path,
        "file_name": src.file_name,
        "sha256": src.sha256,
        "file_type": src.file_type,
        "page_count": src.page_count,
        "title": src.title,
        "kind": src.kind,
        "pages": list(src.pages),
        "blocks": [_block_to_json(b) for b in src.blocks],
        "key_facts": [
            {
                "name": f.name,
                "value": f.value,
                "quote": f.quote,
                "file_path": f.file_path,
                "file_name": f.file_name,
                "page": f.page,
                "block": f.block,
            }
            for f in src.key_facts
        ],
    }


def source_from_json(data: dict[str, Any]) -> ExtractedSource:
    """The inverse of ``source_to_json``."""
    return ExtractedSource(
        file_path=data["file_path"],
        file_name=data["file_name"],
        sha256=data["sha256"],
        file_type=data["file_type"],
        page_count=data.get("page_count"),
        blocks=tuple(_block_from_json(b) for b in data.get("blocks", ())),
        pages=tuple(data.get("pages", ())),
        title=data.get("title", ""),
        kind=data.get("kind", "other"),
        key_facts=tuple(KeyFact(**f) for f in data.get("key_facts", ())),
    )


# ============================================================================================
# Shared helpers

# A numbered heading: "5", "5.1", "5.1.", "9.4.1" then the title.
_NUM_HEADING = re.compile(r"^(\d{1,2}(?:\.\d{1,3}){0,7})\.?\s+(\S.*)$")
_APPENDIX = re.compile(
    r"^((?:APPENDIX|Appendix|ANNEX|Annex|ATTACHMENT|Attachment)\s+[A-Z0-9][A-Z0-9.]{0,5})"
    r"(?:\s*[.:–—-]\s*|\s+|$)(.*)$"
)
_LIST_MARKER = re.compile(
    r"^(\[\d{1,3}[a-z]?\]|\(\d{1,3}\)|\d{1,3}[.)]|\(?[a-zA-Z][.)]|\((?:[ivx]{1,5})\)|"
    r"(?:[ivx]{1,5})[.)]|[•●▪■◦○∙·‣⁃□➢►✓\uf0b7\uf0a7\uf0d8\uf076]|[-–*])\s+(\S.*)$"
)
_BULLETS = frozenset("•●▪■◦○∙·‣⁃□➢►✓\uf0b7\uf0a7\uf0d8\uf076-–*")
_CAPTION = re.compile(r"^(?:Table|Figure|Listing|TABLE|FIGURE|LISTING)\s+[A-Z0-9][\w.\-]*")
_TOC_TITLE = re.compile(
    r"^(?:table\s+of\s+contents?|contents|list\s+of\s+(?:tables|figures|listings|appendices))"
    r"(?:\s*\((?:continued|concluded|cont'?d)\))?\s*$",
    re.I,
)
_TOC_PAGE_HEADER = re.compile(r"^(?:section\s+)?page\s*$", re.I)
_LEADER = re.compile(
    r"(?:\.\s?){4,}\s*[\dixvIXV]+\s*$|(?:…\s*){2,}[\dixvIXV]+\s*$|\.{2,}\s*\d+\s*$"
)

# Endings that mark a line-end hyphen as a soft break inside one word ("treat-/ment").
# fmt: off
_COMMON_SUFFIXES = frozenset({
    "ment", "ments", "tion", "tions", "sion", "sions", "ing", "ings", "ed", "ly", "ity",
    "ities", "ness", "ance", "ances", "ence", "ences", "able", "ible", "al", "ally", "ial",
    "ive", "ous", "er", "ers", "ist", "ists", "ism", "ize", "ized", "ise", "ised", "ical",
    "ogy", "ia", "ic", "ics", "ate", "ated", "ation", "ations",
})
# fmt: on


def _heading_label(number: str, title: str) -> str:
    return f"{number} {title}".strip() if number else title


class _HeadingStack:
    """The enclosing headings; a heading of level L closes every open heading of level >= L."""

    def __init__(self) -> None:
        self._items: list[tuple[int, str, bool]] = []  # (level, label, numbered)
        self.path: tuple[str, ...] = ()

    def push(self, level: int, label: str, numbered: bool) -> tuple[str, ...]:
        while self._items and self._items[-1][0] >= level:
            self._items.pop()
        self._items.append((level, label, numbered))
        self.path = tuple(label for _, label, _ in self._items)
        return self.path

    def anchor_level(self) -> int:
        """Level of the innermost numbered (or level-1) heading.

        Unnumbered sub-headings (a bold "Safety Endpoints" line) nest one level below it.
        """
        for level, _, numbered in reversed(self._items):
            if numbered or level == 1:
                return level
        return 0


@dataclass
class _Builder:
    """Collects blocks with running 1-based indexes."""

    blocks: list[Block] = field(default_factory=list)

    def add(self, **kwargs: Any) -> Block:
        b = Block(index=len(self.blocks) + 1, **kwargs)
        self.blocks.append(b)
        return b


# ============================================================================================
# PDF


@dataclass
class _Line:
    text: str
    size: float = 0.0
    bold: bool = False
    x: float = 0.0
    pos: float = 0.0  # baseline position across lines (y for upright text)
    styled: bool = False


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


def _page_lines(page: Any, bold_cache: dict[int, tuple[Any, bool]]) -> tuple[str, list[_Line]]:
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
    lines: list[_Line] = []
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
        j = r
        while j < n_runs and runs[j][0] < end:
            s0, e0, size, bold, x, pos = runs[j]
            overlap = min(e0, end) - max(s0, start)
            if overlap > 0:
                total += overlap
                size_chars[size] = size_chars.get(size, 0) + overlap
                if bold:
                    bold_chars += overlap
                if first is None:
                    first = (x, pos)
            j += 1
        line = _Line(line_text)
        if total:
            line.size = max(size_chars, key=size_chars.__getitem__)
            line.bold = bold_chars >= 0.8 * total
            line.x, line.pos = first or (0.0, 0.0)
            line.styled = True
        lines.append(line)
        start = end + 1
    return text, lines


def _extract_pdf(desc: SourceDescriptor, limits: Limits) -> ExtractedSource:
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
        page_lines: list[list[_Line]] = []
        bold_cache: dict[int, tuple[Any, bool]] = {}
        total_chars = 0
        failures = 0
        for i in range(n_pages):
            try:
                text, lines = _page_lines(reader.pages[i], bold_cache)
            except LimitReachedError as exc:
                raise SourceError(name, "document_too_complex") from exc
            except FileNotDecryptedError as exc:
                raise SourceError(name, "encrypted_document") from exc
            except (MemoryError, RecursionError):
                raise
            except Exception as exc:
                # One damaged page should not sink a 300-page protocol; it simply has no text.
                logger.info("%s: page %d unreadable: %r", name, i + 1, exc)
                failures += 1
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

    if not any(alnum(t) for t in texts):
        if failures:
            raise SourceError(name, "unreadable_document")
        _raise_if_content_bomb(reader, name, config)
        raise SourceError(name, "no_text_found")
    blocks, title = _pdf_structure(page_lines, texts)
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
                raise SourceError(name, "document_too_complex") from exc
            except (MemoryError, RecursionError):
                raise
            except Exception:  # a damaged stream is not a bomb; "no text" stays the answer
                continue


# --- PDF layout analysis ------------------------------------------------------------------


def _norm_repeat(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"\d+", "#", text.lower())).strip()


def _letters_key(key: str) -> str:
    """Letters only: "FINAL SAP - 43 -" and a page's "FINAL SAP" (number missing) are one line."""
    return re.sub(r"[^a-z]+", " ", key).strip()


_PAGE_NUMBER = re.compile(
    r"^(?:page\s*)?[#ivxlc]+(?:\s*(?:of|/)\s*#+)?$|^-\s*#+\s*-$|^#+\s*/\s*#+$|^\[?#+\]?$", re.I
)


def _running_lines(pages: list[list[_Line]]) -> list[set[int]]:
    """Indexes of running headers, footers and page numbers on each page."""
    n = len(pages)
    edge_keys: list[dict[int, str]] = []
    counts: Counter[str] = Counter()
    for lines in pages:
        nonblank = [i for i, ln in enumerate(lines) if ln.text.strip()]
        edges = set(nonblank[:4] + nonblank[-4:])
        styled = [i for i in nonblank if lines[i].styled]
        if styled:
            # In text order a footer may come first; by position it is still at an edge.
            by_pos = sorted(styled, key=lambda i: lines[i].pos)
            edges.update(by_pos[:2] + by_pos[-2:])
        keys = {i: _norm_repeat(lines[i].text) for i in edges}
        edge_keys.append(keys)
        counts.update({_letters_key(k) for k in keys.values()})
    threshold = max(3, math.ceil(0.4 * n))
    out: list[set[int]] = []
    for lines, keys in zip(pages, edge_keys, strict=True):
        numbers = {i for i, key in keys.items() if _PAGE_NUMBER.match(key)}
        repeated = {
            i
            for i, key in keys.items()
            if n >= 3 and len(_letters_key(key)) > 1 and counts[_letters_key(key)] >= threshold
        }
        content = {i for i, ln in enumerate(lines) if ln.text.strip()}
        drop = numbers | repeated
        if content and drop >= content:
            # Every line "repeats" (a document of "Potato 1", "Potato 2", ... pages): that is
            # the content itself, not a running header.
            drop = numbers if not numbers >= content else set()
        out.append(drop)
    return out


def _toc_lines(lines: list[_Line], dropped: set[int]) -> set[int]:
    leaders = [i for i, ln in enumerate(lines) if i not in dropped and _LEADER.search(ln.text)]
    if len(leaders) < 3:
        return set()
    toc = set(leaders)
    for j in leaders:
        # A wrapped entry: its first line(s) have no leader; take them back to the numbered one.
        for k in range(1, 4):
            i = j - k
            if i < 0 or i in toc or i in dropped:
                break
            s = lines[i].text.strip()
            if not s:
                break
            if _NUM_HEADING.match(s) or _APPENDIX.match(s):
                toc.update(range(i, j))
                break
            if s.endswith("."):
                break
    for i, ln in enumerate(lines):
        s = ln.text.strip()
        if _TOC_TITLE.match(s) or _TOC_PAGE_HEADER.match(s):
            toc.add(i)
    return toc


@dataclass
class _Para:
    """The paragraph being assembled from consecutive lines of one page."""

    page: int
    lines: list[_Line] = field(default_factory=list)
    kind: BlockKind = "paragraph"
    label: str = ""
    level: int = 0

    def start(self, first: _Line, kind: BlockKind, label: str = "", level: int = 0) -> None:
        self.lines = [first]
        self.kind, self.label, self.level = kind, label, level

    def flush(
        self, out: _Builder, path: tuple[str, ...], vocab: set[str], hyphenated: set[str]
    ) -> None:
        if not self.lines:
            return
        text = ""
        for ln in self.lines:
            text = _dehyphenate_join(text, ln.text, vocab, hyphenated) if text else ln.text
        text = text.strip()
        if alnum(text):
            first = self.lines[0]
            out.add(
                kind=self.kind,
                text=text,
                page=self.page,
                level=self.level,
                number=self.label,
                heading_path=path,
                bold=first.bold,
                font_size=first.size,
            )
        self.lines = []


@dataclass
class _Heading:
    number: str
    title: str
    level: int  # 0: unnumbered, decided later from the font size


def _heading_candidate(line: _Line, body: float, styled_doc: bool) -> _Heading | None:
    s = line.text.strip()
    if len(s) < 2 or len(s) > 160:
        return None
    emphasised = line.bold or line.size >= body + 1.0
    if styled_doc and line.styled and not emphasised and not s.isupper():
        return None
    m = _NUM_HEADING.match(s)
    if m:
        number, title = m.group(1), m.group(2).strip()
        letters = sum(ch.isalpha() for ch in title)
        digits = sum(ch.isdigit() for ch in title)
        if letters < 2 or digits > letters or title[-1] in ",;":
            return None  # a table row ("12 Week 24 >140 168") or a wrapped sentence
        if not (title[0].isalpha() or title[0] in "('\"‘“"):
            return None
        if int(number.split(".")[0]) > 60:
            return None
        if not (styled_doc and line.styled) and (len(s) > 90 or s.endswith(".")):
            return None
        return _Heading(number, title, number.count(".") + 1)
    m = _APPENDIX.match(s)
    if m and (emphasised or s.isupper()):
        return _Heading(m.group(1).strip(), m.group(2).strip(), 1)
    if not (styled_doc and line.styled):
        return None
    words = s.split()
    large = line.size >= body + 1.5
    # A large line ending in a comma can be the first line of a wrapped title; _merge_heading
    # judges the joined text.
    if len(words) > 14 or s[-1] in (".;" if large else ".,;") or _LIST_MARKER.match(s):
        return None
    letters = sum(ch.isalpha() for ch in s)
    if letters < 3 or letters < 0.5 * len(s.replace(" ", "")):
        return None
    if not (s[0].isupper() or s[0].isdigit() or s[0] in "('\"‘“"):
        return None
    if line.bold and line.size >= body - 0.5:
        return _Heading("", s, 0)
    if line.size >= body + 1.5:
        return _Heading("", s, 0)
    if s.isupper() and len(words) >= 2 and line.size >= body - 0.5:
        return _Heading("", s, 0)
    return None


def _dehyphenate_join(left: str, right: str, vocab: set[str], hyphenated: set[str]) -> str:
    """Join two wrapped lines of one paragraph."""
    left = left.rstrip()
    right = right.lstrip()
    if not left:
        return right
    if not right:
        return left
    if left.endswith("\u00ad"):
        return left[:-1] + right
    if left.endswith("-") and len(left) >= 2 and left[-2].isalpha() and right[:1].islower():
        m1 = re.search(r"([A-Za-z]+)-$", left)
        m2 = re.match(r"([a-z]+)", right)
        if m1 and m2:
            before, after = m1.group(1), m2.group(1)
            joined = (before + after).lower()
            if f"{before}-{after}".lower() in hyphenated:
                return left + right
            if joined in vocab or after in _COMMON_SUFFIXES:
                return left[:-1] + right
        return left + right
    if left.endswith(("-", "/")):
        return left + right
    return left + " " + right


def _line_gaps(pages: list[list[_Line]]) -> dict[float, float]:
    """Usual distance between consecutive lines of one paragraph, per font size."""
    gaps: dict[float, list[float]] = {}
    for lines in pages:
        prev: _Line | None = None
        for ln in lines:
            if not ln.styled or not ln.text.strip():
                prev = None
                continue
            if prev is not None and abs(prev.size - ln.size) < 0.6 and ln.size > 0:
                g = prev.pos - ln.pos
                if 0.8 * ln.size < g < 2.5 * ln.size:
                    gaps.setdefault(round(ln.size), []).append(g)
            prev = ln
    usual: dict[float, float] = {}
    for size, values in gaps.items():
        values.sort()
        # The lower quartile: within-paragraph spacing is the most common and the smallest.
        usual[size] = values[len(values) // 4]
    return usual


def _breaks_paragraph(prev: _Line, cur: _Line, usual: dict[float, float]) -> bool:
    if not (prev.styled and cur.styled):
        return False
    if abs(prev.size - cur.size) >= 1.0 or prev.bold != cur.bold:
        return True
    gap = prev.pos - cur.pos
    if gap < -0.5 * max(cur.size, 1.0):
        return True  # moved up: another column or a box placed out of order
    normal = usual.get(round(cur.size), 1.2 * cur.size)
    return gap > max(normal * 1.3, normal + 0.25 * cur.size)


_FUNCTION_WORDS = frozenset(
    {
        *("a", "an", "and", "as", "at", "by", "for", "from", "in", "into", "of", "on", "or"),
        *("per", "than", "that", "the", "to", "vs", "with", "without"),
    }
)
_SENTENCE_INSIDE = re.compile(r"[.;]\s+[A-Z(]")


def _merge_heading(
    lines: list[_Line],
    i: int,
    h: _Heading,
    found: dict[int, _Heading],
    drop: set[int],
    vocab: set[str],
    hyphenated: set[str],
    last_number: tuple[int, ...] | None,
) -> tuple[str, int] | None:
    """The heading's full title (joined over wrapped lines) and the next line index.

    None when the joined text reads as a sentence (a bold or large line of body text).
    """
    ln = lines[i]
    title = h.title
    j = i + 1
    n = len(lines)
    extra = 0
    while (
        j < n
        and extra < 3
        and j not in drop
        # A numbered line may continue the heading only when it cannot be the next heading.
        and (
            j not in found
            or not found[j].number
            or not _plausible_number(found[j].number, last_number)
        )
        and lines[j].text.strip()
        and ln.styled
        and lines[j].styled
        and lines[j].bold == ln.bold
        and abs(lines[j].size - ln.size) < 0.6
        and not _LIST_MARKER.match(lines[j].text.strip())
        and not title.endswith((".", ":"))
        and 0 < lines[j - 1].pos - lines[j].pos < 1.8 * max(ln.size, 1.0)
        and len(title) + len(lines[j].text) < 400
    ):
        title = _dehyphenate_join(title, lines[j].text.strip(), vocab, hyphenated)
        j += 1
        extra += 1
    words = title.split()
    if len(title) > 200 or len(words) > 24 or _SENTENCE_INSIDE.search(title):
        return None
    if words and (words[-1].lower() in _FUNCTION_WORDS or title.endswith((",", ";"))):
        return None
    if not h.number and title.endswith("."):
        return None
    return title, j


def _plausible_number(number: str, last: tuple[int, ...] | None) -> bool:
    """Whether a numbered heading can follow the previous one (5.1 → 5.2, 5.2 → 6, 5 → 5.1).

    Stops a wrapped sentence that starts with a number ("2 to 4 weeks ...") from becoming a
    heading. Small gaps are allowed: a heading the extraction missed must not hide the next.
    """
    if not number or not number[0].isdigit():
        return True
    parts = tuple(int(x) for x in number.split("."))
    if last is None:
        return parts[0] <= 3
    if parts[: len(last)] == last and len(parts) > len(last):
        return all(p <= 2 for p in parts[len(last) :])  # first child
    for k in range(min(len(parts), len(last))):
        if parts[:k] != last[:k]:
            return False
        if last[k] < parts[k] <= last[k] + 3:
            return all(p <= 2 for p in parts[k + 1 :])
        if parts[k] != last[k]:
            return False
    return False


def _pdf_structure(pages: list[list[_Line]], texts: list[str]) -> tuple[list[Block], str]:
    styled_doc = any(ln.styled for lines in pages for ln in lines)
    # Body size per page: a document mixing 12-pt prose with 10-pt table pages has two bodies,
    # and a 12-pt line is a heading on neither. Sparse pages (title pages) use the global one.
    sizes: Counter[float] = Counter()
    page_sizes: list[Counter[float]] = []
    for lines in pages:
        counter: Counter[float] = Counter()
        for ln in lines:
            if ln.styled and not ln.bold:
                counter[round(ln.size * 2) / 2] += len(ln.text.strip())
        page_sizes.append(counter)
        sizes.update(counter)
    body = sizes.most_common(1)[0][0] if sizes else 0.0
    page_body = [c.most_common(1)[0][0] if sum(c.values()) >= 300 else body for c in page_sizes]

    vocab: set[str] = set()
    hyphenated: set[str] = set()
    for t in texts:
        vocab.update(w.lower() for w in re.findall(r"[A-Za-z]{3,}", t))
        hyphenated.update(w.lower() for w in re.findall(r"[A-Za-z]+-[A-Za-z]+", t))

    running = _running_lines(pages)
    skip: list[set[int]] = []
    for lines, drop in zip(pages, running, strict=True):
        skip.append(drop | _toc_lines(lines, drop))

    # Pass 1: heading candidates, and the size of numbered top-level headings.
    candidates: list[dict[int, _Heading]] = []
    top_sizes: list[float] = []
    for lines, drop, pbody in zip(pages, skip, page_body, strict=True):
        found: dict[int, _Heading] = {}
        for i, ln in enumerate(lines):
            if i in drop or not ln.text.strip():
                continue
            h = _heading_candidate(ln, pbody, styled_doc)
            if h is not None:
                found[i] = h
                if h.level == 1 and h.number and ln.styled:
                    top_sizes.append(ln.size)
        candidates.append(found)
    top_sizes.sort()
    top_size = top_sizes[len(top_sizes) // 2] if top_sizes else body + 2.0
    usual = _line_gaps(pages)

    out = _Builder()
    stack = _HeadingStack()
    title_candidates: list[tuple[float, str]] = []
    # None until the first numbered heading (which may be anything), and again after an
    # unnumbered top-level heading, after which numbering must restart near 1.
    last_number: tuple[int, ...] | None = None
    seen_numbered = False
    for page_no, (lines, drop, found) in enumerate(zip(pages, skip, candidates, strict=True), 1):
        para = _Para(page_no)
        list_x: list[float] = []

        def flush(para: _Para = para) -> None:
            para.flush(out, stack.path, vocab, hyphenated)

        prev: _Line | None = None
        i = 0
        n = len(lines)
        while i < n:
            ln = lines[i]
            s = ln.text.strip()
            if i in drop or not s:
                flush()
                prev = None
                i += 1
                continue
            h = found.get(i)
            merged = (
                _merge_heading(lines, i, h, found, drop, vocab, hyphenated, last_number)
                if h
                else None
            )
            if (
                h is not None
                and merged is not None
                and (not seen_numbered or _plausible_number(h.number, last_number))
            ):
                title, j = merged
                flush()
                level = h.level
                if level == 0:
                    if ln.styled and ln.size >= max(page_body[page_no - 1] + 1.5, top_size - 0.5):
                        level = 1
                    else:
                        level = min(stack.anchor_level() + 1, 9)
                if h.number and h.number[0].isdigit():
                    last_number = tuple(int(x) for x in h.number.split("."))
                    seen_numbered = True
                elif level == 1:
                    last_number = None  # an appendix or attachment may restart its numbering
                path = stack.push(level, _heading_label(h.number, title), bool(h.number))
                out.add(
                    kind="heading",
                    text=title,
                    page=page_no,
                    level=level,
                    number=h.number,
                    heading_path=path,
                    bold=ln.bold,
                    font_size=ln.size,
                )
                if page_no <= 2:
                    title_candidates.append((ln.size, title))
                prev = None
                list_x = []
                i = j
                continue

            marker = _LIST_MARKER.match(s)
            cur = para.lines
            new_para = not cur or prev is None or _breaks_paragraph(prev, ln, usual)
            if marker and (
                new_para
                or para.kind == "list_item"
                or cur[-1].text.rstrip().endswith((".", ":", ";"))
            ):
                flush()
                while list_x and ln.x < list_x[-1] - 3:
                    list_x.pop()
                if not list_x or ln.x > list_x[-1] + 3:
                    list_x.append(ln.x)
                first = _Line(marker.group(2), ln.size, ln.bold, ln.x, ln.pos, ln.styled)
                para.start(first, "list_item", marker.group(1), len(list_x))
            elif s in _BULLETS:
                # A bullet alone on its line: the item's text follows on the next line.
                flush()
                first = _Line("", ln.size, ln.bold, ln.x, ln.pos, ln.styled)
                para.start(first, "list_item", s, max(1, len(list_x)))
            elif new_para and not (cur and para.kind == "list_item" and not alnum(cur[-1].text)):
                flush()
                para.start(ln, "caption" if _CAPTION.match(s) else "paragraph")
                if list_x and ln.x <= list_x[0] + 3:
                    list_x = []
            else:
                cur.append(ln)
            prev = ln
            i += 1
        flush()

    title = ""
    if title_candidates:
        top = max(size for size, _ in title_candidates)
        if top >= body + 1.0:
            title = max((t for size, t in title_candidates if size >= top - 0.5), key=len)
    return out.blocks, title


# ============================================================================================
# DOCX

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W = f"{{{W_NS}}}"


def _w(tag: str) -> str:
    return W + tag


_FALSE_VALUES = {"0", "false", "off", "none"}


def _on(el: Any) -> bool | None:
    """The value of a toggle property element (``<w:b/>``, ``<w:vanish w:val="0"/>``)."""
    if el is None:
        return None
    val = el.get(_w("val"))
    return val is None or val.lower() not in _FALSE_VALUES


@dataclass
class _Style:
    style_id: str
    name: str
    based_on: str | None
    outline: int | None  # 0-based outline level from pPr
    num_id: str | None
    ilvl: int | None
    vanish: bool | None
    bold: bool | None
    size: float | None


class _Styles:
    def __init__(self, styles_el: Any) -> None:
        self.by_id: dict[str, _Style] = {}
        self.default_paragraph: str | None = None
        if styles_el is None:
            return
        for st in styles_el.iterchildren(_w("style")):
            sid = st.get(_w("styleId")) or ""
            name_el = st.find(_w("name"))
            name = (name_el.get(_w("val")) if name_el is not None else "") or sid
            based = st.find(_w("basedOn"))
            ppr = st.find(_w("pPr"))
            rpr = st.find(_w("rPr"))
            outline = num_id = ilvl = None
            if ppr is not None:
                ol = ppr.find(_w("outlineLvl"))
                if ol is not None:
                    outline = _int(ol.get(_w("val")))
                num_pr = ppr.find(_w("numPr"))
                if num_pr is not None:
                    nid = num_pr.find(_w("numId"))
                    lvl = num_pr.find(_w("ilvl"))
                    num_id = nid.get(_w("val")) if nid is not None else None
                    ilvl = _int(lvl.get(_w("val"))) if lvl is not None else None
            vanish = bold = None
            size = None
            if rpr is not None:
                vanish = _on(rpr.find(_w("vanish")))
                bold = _on(rpr.find(_w("b")))
                sz = rpr.find(_w("sz"))
                if sz is not None and _int(sz.get(_w("val"))) is not None:
                    size = (_int(sz.get(_w("val"))) or 0) / 2
            self.by_id[sid] = _Style(
                sid,
                name,
                based.get(_w("val")) if based is not None else None,
                outline,
                num_id,
                ilvl,
                vanish,
                bold,
                size,
            )
            if st.get(_w("type")) == "paragraph" and st.get(_w("default")) in ("1", "true", "on"):
                self.default_paragraph = sid
        self._chain_cache: dict[str | None, list[_Style]] = {}

    def chain(self, style_id: str | None) -> list[_Style]:
        """The style and its basedOn ancestors, nearest first (cycle-safe)."""
        if style_id in self._chain_cache:
            return self._chain_cache[style_id]
        out: list[_Style] = []
        seen: set[str] = set()
        sid = style_id if style_id is not None else self.default_paragraph
        while sid is not None and sid not in seen and sid in self.by_id and len(out) < 30:
            seen.add(sid)
            st = self.by_id[sid]
            out.append(st)
            sid = st.based_on
        self._chain_cache[style_id] = out
        return out

    def first(self, style_id: str | None, attr: str) -> Any:
        for st in self.chain(style_id):
            value = getattr(st, attr)
            if value is not None:
                return value
        return None


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


_HEADING_NAME = re.compile(r"^heading\s*(\d)$", re.I)


def _is_toc_style(chain: list[_Style]) -> bool:
    return (
        bool(chain) and re.match(r"^toc\b|^toc\s*\d|^toc heading", chain[0].name, re.I) is not None
    )


def _style_heading_level(chain: list[_Style]) -> int | None:
    for st in chain:
        m = _HEADING_NAME.match(st.name.strip())
        if m:
            return max(1, int(m.group(1)))
        if st.name.strip().lower() == "title":
            return 1
        if st.outline is not None:
            return st.outline + 1 if 0 <= st.outline < 9 else None
    return None


# --- numbering ----------------------------------------------------------------------------


@dataclass
class _Level:
    start: int = 1
    fmt: str = "decimal"
    text: str = "%1."
    style: str | None = None
    legal: bool = False


class _Numbering:
    """Computes list and heading labels as Word shows them, from numbering.xml."""

    def __init__(self, numbering_el: Any, styles: _Styles) -> None:
        self.abstract: dict[str, dict[int, _Level]] = {}
        self.abstract_style_link: dict[str, str] = {}
        self.nums: dict[str, tuple[str, dict[int, int]]] = {}
        self.counters: dict[str, list[int | None]] = {}
        self.started: set[str] = set()
        self.styles = styles
        if numbering_el is None:
            return
        for an in numbering_el.iterchildren(_w("abstractNum")):
            aid = an.get(_w("abstractNumId")) or ""
            levels: dict[int, _Level] = {}
            for lvl in an.iterchildren(_w("lvl")):
                ilvl = _int(lvl.get(_w("ilvl"))) or 0
                lv = _Level()
                el = lvl.find(_w("start"))
                if el is not None:
                    lv.start = _int(el.get(_w("val"))) or 0
                el = lvl.find(_w("numFmt"))
                if el is not None:
                    lv.fmt = el.get(_w("val")) or "decimal"
                el = lvl.find(_w("lvlText"))
                if el is not None:
                    lv.text = el.get(_w("val")) or ""
                el = lvl.find(_w("pStyle"))
                if el is not None:
                    lv.style = el.get(_w("val"))
                lv.legal = _on(lvl.find(_w("isLgl"))) or False
                levels[ilvl] = lv
            self.abstract[aid] = levels
            link = an.find(_w("numStyleLink"))
            if link is not None and link.get(_w("val")):
                self.abstract_style_link[aid] = link.get(_w("val")) or ""
        for num in numbering_el.iterchildren(_w("num")):
            nid = num.get(_w("numId")) or ""
            aid_el = num.find(_w("abstractNumId"))
            aid = aid_el.get(_w("val")) if aid_el is not None else ""
            overrides: dict[int, int] = {}
            for ov in num.iterchildren(_w("lvlOverride")):
                so = ov.find(_w("startOverride"))
                if so is not None:
                    overrides[_int(ov.get(_w("ilvl"))) or 0] = _int(so.get(_w("val"))) or 1
            self.nums[nid] = (aid or "", overrides)

    def _abstract_for(self, num_id: str, depth: int = 0) -> str | None:
        entry = self.nums.get(num_id)
        if entry is None:
            return None
        aid = entry[0]
        link = self.abstract_style_link.get(aid)
        if link and depth < 5:
            # numStyleLink: the numbering style's own numId names the real definition.
            st = self.styles.by_id.get(link)
            if st is not None and st.num_id and st.num_id != num_id:
                return self._abstract_for(st.num_id, depth + 1) or aid
        return aid

    def label(self, num_id: str, ilvl: int | None, style_id: str | None) -> tuple[str, str] | None:
        """Advance the counter of (num_id, ilvl) and return (label, numFmt)."""
        if num_id in ("", "0") or num_id not in self.nums:
            return None
        aid = self._abstract_for(num_id)
        if aid is None or aid not in self.abstract:
            return None
        levels = self.abstract[aid]
        if ilvl is None:
            ilvl = next((k for k, lv in levels.items() if style_id and lv.style == style_id), 0)
        ilvl = max(0, min(8, ilvl))
        level = levels.get(ilvl)
        if level is None:
            return None
        counters = self.counters.setdefault(aid, [None] * 9)
        overrides = self.nums[num_id][1]
        if num_id not in self.started:
            self.started.add(num_id)
            for k, start in overrides.items():
                if 0 <= k < 9:
                    counters[k] = start - 1
        current = counters[ilvl]
        counters[ilvl] = (current + 1) if current is not None else level.start
        for k in range(ilvl + 1, 9):
            counters[k] = None
        if level.fmt == "none":
            return "", "none"
        if level.fmt == "bullet":
            return _bullet(level.text), "bullet"

        def repl(m: re.Match[str]) -> str:
            k = int(m.group(1)) - 1
            lv = levels.get(k, _Level())
            value = counters[k] if 0 <= k < 9 and counters[k] is not None else lv.start
            fmt = "decimal" if level.legal else lv.fmt
            return _format_number(value or 0, fmt)

        return re.sub(r"%([1-9])", repl, level.text).strip(), level.fmt


def _bullet(text: str) -> str:
    if not text or any(0xF000 <= ord(ch) <= 0xF0FF for ch in text) or text in {"o", "§", "Ø"}:
        return "•"
    return text.strip() or "•"


def _roman(n: int) -> str:
    if n <= 0 or n >= 4000:
        return str(n)
    out = []
    for value, sym in (
        (1000, "m"),
        (900, "cm"),
        (500, "d"),
        (400, "cd"),
        (100, "c"),
        (90, "xc"),
        (50, "l"),
        (40, "xl"),
        (10, "x"),
        (9, "ix"),
        (5, "v"),
        (4, "iv"),
        (1, "i"),
    ):
        while n >= value:
            out.append(sym)
            n -= value
    return "".join(out)


def _letters(n: int) -> str:
    if n <= 0:
        return str(n)
    # Word repeats the letter past z: aa, bb, ...
    return chr(ord("a") + (n - 1) % 26) * ((n - 1) // 26 + 1)


def _format_number(n: int, fmt: str) -> str:
    if fmt == "lowerLetter":
        return _letters(n)
    if fmt == "upperLetter":
        return _letters(n).upper()
    if fmt == "lowerRoman":
        return _roman(n)
    if fmt == "upperRoman":
        return _roman(n).upper()
    if fmt == "decimalZero":
        return f"{n:02d}"
    return str(n)


# --- body walking -------------------------------------------------------------------------


class _DocxText:
    """Paragraph text exactly as python-docx's ``Paragraph.text`` reads it.

    Citation checkers re-read a DOCX with python-docx (``iter_inner_content``, ``Paragraph.text``,
    ``_Row.cells``), so the text must be theirs: only the paragraph's direct ``w:r`` and
    ``w:hyperlink`` runs count (not tracked insertions, inline content controls or fields), and
    hidden runs are kept (leaving one out could split a quote the checker reads whole). What we
    can do without breaking that: a paragraph whose every run is hidden (``w:vanish`` on the
    run, its character style or the paragraph style: how templates hide their instructions) is
    not emitted at all.
    """

    def __init__(self, styles: _Styles) -> None:
        self.styles = styles
        self._run_style_hidden: dict[str | None, bool | None] = {}

    def _run_hidden(self, r: Any, para_hidden: bool) -> bool:
        rpr = r.find(_w("rPr"))
        if rpr is not None:
            own = _on(rpr.find(_w("vanish")))
            if own is not None:
                return own
            rstyle = rpr.find(_w("rStyle"))
            if rstyle is not None:
                sid = rstyle.get(_w("val"))
                if sid not in self._run_style_hidden:
                    self._run_style_hidden[sid] = self.styles.first(sid, "vanish")
                hidden = self._run_style_hidden[sid]
                if hidden is not None:
                    return hidden
        return para_hidden

    def paragraph(self, p: Any, para_hidden: bool = False) -> tuple[str, bool]:
        """(python-docx's text, whether any text is visible)."""
        parts: list[str] = []
        visible = False
        for child in p:
            if child.tag == _R:
                visible = self._run(child, parts, para_hidden) or visible
            elif child.tag == _HYPERLINK:
                for r in child.iterchildren(_R):
                    visible = self._run(r, parts, para_hidden) or visible
        return "".join(parts), visible

    def text(self, p: Any) -> str:
        return self.paragraph(p)[0]

    def _run(self, r: Any, parts: list[str], para_hidden: bool) -> bool:
        start = len(parts)
        for item in r:
            t = item.tag
            if t == _T:
                parts.append(item.text or "")
            elif t in (_TAB, _PTAB):
                parts.append("\t")
            elif t == _CR or (t == _BR and item.get(_w("type"), "textWrapping") == "textWrapping"):
                parts.append("\n")
            elif t == _NB_HYPHEN:
                parts.append("-")
        has_text = any(x.strip() for x in parts[start:])
        return has_text and not self._run_hidden(r, para_hidden)


_R, _T, _HYPERLINK = (_w(t) for t in ("r", "t", "hyperlink"))
_TAB, _PTAB, _BR, _CR, _NB_HYPHEN = (_w(t) for t in ("tab", "ptab", "br", "cr", "noBreakHyphen"))


def _iter_body(body: Any) -> Iterator[Any]:
    """The body's own paragraphs and tables, in order, as python-docx's iter_inner_content.

    Body-level content controls (``w:sdt``: a TOC, cover-page widgets) are neither counted nor
    read, so that block numbers agree with python-docx.
    """
    for child in body:
        if child.tag in (_P, _TBL):
            yield child


_P, _TBL, _TR, _TC = (_w(t) for t in ("p", "tbl", "tr", "tc"))


def _table_rows(tbl: Any, reader: _DocxText, styles: _Styles) -> list[tuple[str, ...]]:
    """Rows as python-docx's ``table.rows`` / ``row.cells`` / ``cell.text`` read them.

    A cell is its direct paragraphs joined by newlines; a cell continuing a vertical merge
    repeats the text of the cell above (python-docx returns that cell), and a horizontally
    merged cell appears once per grid column it spans.
    """
    rows: list[tuple[str, ...]] = []
    above: dict[int, str] = {}  # grid column → text of the cell there in the previous row
    for tr in tbl.iterchildren(_TR):
        cells: list[str] = []
        current: dict[int, str] = {}
        grid = 0
        trpr = tr.find(_w("trPr"))
        if trpr is not None:
            before = trpr.find(_w("gridBefore"))
            grid += (_int(before.get(_w("val"))) or 0) if before is not None else 0
        for tc in tr.iterchildren(_TC):
            tcpr = tc.find(_w("tcPr"))
            span = 1
            continued = False
            if tcpr is not None:
                span_el = tcpr.find(_w("gridSpan"))
                if span_el is not None:
                    span = max(1, _int(span_el.get(_w("val"))) or 1)
                vmerge = tcpr.find(_w("vMerge"))
                if vmerge is not None and vmerge.get(_w("val"), "continue") == "continue":
                    continued = True
            if continued:
                text = above.get(grid, "")
            else:
                text = sanitize_text("\n".join(reader.text(p) for p in tc.iterchildren(_P)))
            text = text.strip()
            # python-docx yields a spanned cell once per grid column it covers.
            cells.extend([text] * span)
            current[grid] = text
            grid += span
        above = current
        rows.append(tuple(cells))
    return rows


def _para_props(p: Any) -> tuple[str | None, Any]:
    ppr = p.find(_w("pPr"))
    if ppr is None:
        return None, None
    ps = ppr.find(_w("pStyle"))
    return (ps.get(_w("val")) if ps is not None else None), ppr


_TYPED_LABEL = re.compile(r"^([•●▪■◦○∙·‣⁃□➢►✓\uf0b7\uf0a7\uf0d8-])\s+")
_TOC_TEXT = re.compile(r"^(?:table\s+of\s+contents|contents)$", re.I)


class _CharBudget:
    def __init__(self, limit: int, file_name: str) -> None:
        self.left = limit
        self.file_name = file_name

    def take(self, text: str) -> None:
        self.left -= len(text)
        if self.left < 0:
            raise SourceError(self.file_name, "document_too_complex")


def _extract_docx(desc: SourceDescriptor, limits: Limits) -> ExtractedSource:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    name = desc.file_name
    try:
        document = docx.Document(desc.local_path)
    except PackageNotFoundError as exc:
        raise SourceError(name, "unreadable_document") from exc
    except ValueError as exc:
        # python-docx says "file ... is not a Word file, content type is ..." (.docm, .dotx)
        raise SourceError(name, "invalid_file_type") from exc
    part = document.part
    styles_el = None
    with contextlib.suppress(Exception):
        styles_el = part.styles.element  # type: ignore[attr-defined]
    styles = _Styles(styles_el)
    numbering_el = None
    with contextlib.suppress(Exception):
        numbering_el = part.numbering_part.element
    numbering = _Numbering(numbering_el, styles)
    reader = _DocxText(styles)
    budget = _CharBudget(limits.max_extracted_chars, name)

    out = _Builder()
    stack = _HeadingStack()
    counter = 0
    title = ""
    first_heading = ""
    body = document.element.body
    if len(body) > limits.max_blocks:
        raise SourceError(name, "document_too_complex")
    for el in _iter_body(body):
        if counter > limits.max_blocks:
            raise SourceError(name, "document_too_complex")
        if el.tag == _TBL:
            rows = _table_rows(el, reader, styles)
            if not rows:
                continue
            first_row = counter + 1
            counter += len(rows)
            text = "\n".join(" | ".join(c.replace("\n", " ") for c in r) for r in rows)
            budget.take(text)
            if alnum(text):
                out.add(
                    kind="table",
                    text=text,
                    block=first_row,
                    heading_path=stack.path,
                    rows=tuple(rows),
                )
            continue

        counter += 1
        style_id, ppr = _para_props(el)
        chain = styles.chain(style_id)
        if _is_toc_style(chain):
            continue
        raw, visible = reader.paragraph(el, _para_hidden(el, styles))
        text = sanitize_text(raw)
        budget.take(text)
        # Entirely hidden paragraphs (template instructions) are counted, not emitted.
        stripped = text.strip() if visible else ""

        # Numbering: the paragraph's own numPr, else its style's (walking basedOn).
        num_id = ilvl = None
        outline = None
        if ppr is not None:
            num_pr = ppr.find(_w("numPr"))
            if num_pr is not None:
                nid = num_pr.find(_w("numId"))
                lvl = num_pr.find(_w("ilvl"))
                num_id = nid.get(_w("val")) if nid is not None else None
                ilvl = _int(lvl.get(_w("val"))) if lvl is not None else None
            ol = ppr.find(_w("outlineLvl"))
            if ol is not None:
                outline = _int(ol.get(_w("val")))
        if num_id is None:
            num_id = styles.first(style_id, "num_id")
            if ilvl is None:
                ilvl = styles.first(style_id, "ilvl")
        label_fmt = numbering.label(num_id, ilvl, style_id) if num_id is not None else None

        if not stripped:
            continue
        level: int | None
        if outline is not None:
            level = outline + 1 if 0 <= outline < 9 else None
        else:
            level = _style_heading_level(chain)

        if level is not None and _TOC_TEXT.match(stripped) is None:
            number = ""
            heading_title = stripped
            if label_fmt is not None and label_fmt[1] not in ("bullet", "none") and label_fmt[0]:
                number = label_fmt[0].rstrip(".").strip()
            else:
                m = _NUM_HEADING.match(stripped)
                if m:
                    number, heading_title = m.group(1), m.group(2).strip()
            heading_title = re.sub(r"\s+", " ", heading_title)
            path = stack.push(level, _heading_label(number, heading_title), bool(number))
            out.add(
                kind="heading",
                text=heading_title,
                block=counter,
                level=level,
                number=number,
                heading_path=path,
                bold=bool(styles.first(style_id, "bold")),
                font_size=float(styles.first(style_id, "size") or 0.0),
            )
            style_name = chain[0].name.lower() if chain else ""
            if style_name == "title" and not title:
                title = heading_title
            if not first_heading:
                first_heading = heading_title
            continue
        if _TOC_TEXT.match(stripped):
            continue  # the TOC's own title, counted but not content

        if label_fmt is not None and label_fmt[1] != "none":
            out.add(
                kind="list_item",
                text=stripped,
                block=counter,
                level=(ilvl or 0) + 1,
                number=label_fmt[0],
                heading_path=stack.path,
            )
            continue
        typed = _TYPED_LABEL.match(stripped)
        if typed:
            out.add(
                kind="list_item",
                text=stripped[typed.end() :],
                block=counter,
                level=1,
                number=typed.group(1),
                heading_path=stack.path,
            )
            continue
        out.add(
            kind="caption" if _CAPTION.match(stripped) and len(stripped) < 200 else "paragraph",
            text=stripped,
            block=counter,
            heading_path=stack.path,
        )

    title = _labelled_title(out.blocks) or title
    if not title:
        with contextlib.suppress(Exception):
            title = sanitize_text(document.core_properties.title or "").strip()
    if not title:
        title = first_heading
    if not any(alnum(b.text) for b in out.blocks):
        raise SourceError(name, "no_text_found")
    return ExtractedSource(
        file_path=desc.file_path,
        file_name=desc.file_name,
        sha256=desc.sha256,
        file_type="docx",
        page_count=None,
        blocks=tuple(out.blocks),
        title=title[:500],
    )


_TITLE_LABEL = re.compile(
    r"^(?:full\s+|protocol\s+|study\s+|trial\s+|official\s+|scientific\s+)?title"
    r"(?:\s+of\s+(?:the\s+)?(?:study|trial|protocol))?\s*:?\s*",
    re.I,
)


def _labelled_title(blocks: list[Block]) -> str:
    """A "Full Title: ..." / "Protocol Title" row or paragraph near the start of the document."""
    for b in blocks[:100]:
        if b.kind == "table":
            for row in b.rows:
                cells = [c.strip() for c in row]
                for k, cell in enumerate(cells[:-1]):
                    m = _TITLE_LABEL.match(cell)
                    if m and m.end() == len(cell):
                        value = next((c for c in cells[k + 1 :] if c), "")
                        if alnum(value):
                            return re.sub(r"\s+", " ", value)
        elif b.kind == "paragraph":
            m = _TITLE_LABEL.match(b.text)
            if m and ":" in b.text[: m.end()] and len(b.text) > m.end() + 10:
                return b.text[m.end() :].strip()
    return ""


def _para_hidden(p: Any, styles: _Styles) -> bool:
    """Whether the paragraph style hides its runs (a run's own ``w:vanish`` can override).

    The paragraph mark's ``w:rPr`` only hides the mark itself, not the runs, so it is ignored.
    """
    style_id, _ = _para_props(p)
    return bool(styles.first(style_id, "vanish"))


# ============================================================================================
# XLSX


def _format_cell(value: Any) -> str:
    """A cell as text. Numbers are not re-formatted with the cell's number format ("0.0%",
    "0.00"): a reader comparing with the stored value (``str(value)``) must find our digits in
    its own, so 0.256 stays "0.256" and 12.5 stays "12.5"; only float noise is dropped."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds" if value.second else "minutes")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return ""
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        # 15 significant digits is what Excel shows; it drops binary noise (0.30000000000000004).
        return f"{value:.15g}"
    return sanitize_text(str(value))


def _extract_xlsx(desc: SourceDescriptor, limits: Limits) -> ExtractedSource:
    import openpyxl

    name = desc.file_name
    try:
        wb = openpyxl.load_workbook(desc.local_path, read_only=True, data_only=True)
    except Exception as exc:
        raise SourceError(name, "unreadable_document") from exc
    budget = _CharBudget(limits.max_extracted_chars, name)
    cell_budget = max(100_000, limits.max_extracted_chars // 4)
    out = _Builder()
    offset = 0
    try:
        for ws in wb.worksheets:
            max_row, max_col = ws.max_row, ws.max_column
            if not (
                isinstance(max_row, int)
                and isinstance(max_col, int)
                and max_row * max_col <= cell_budget
            ):
                # No dimension, or one declaring far more cells than we would read (a hostile
                # A1:XFD1048576 would make openpyxl pad every row): read the rows as stored.
                ws.reset_dimensions()
            rows: list[tuple[str, ...]] = []
            for row in ws.iter_rows():
                cells = [_format_cell(c.value) for c in row]
                cell_budget -= len(cells) + 1
                if cell_budget < 0:
                    raise SourceError(name, "document_too_complex")
                while cells and not cells[-1]:
                    cells.pop()
                for c in cells:
                    budget.take(c)
                rows.append(tuple(cells))
            n_rows = len(rows)
            first_block = offset + 1
            offset += n_rows
            while rows and not rows[-1]:
                rows.pop()
            if not any(any(alnum(c) for c in r) for r in rows):
                continue
            text = "\n".join(" | ".join(r) for r in rows)
            sheet = sanitize_text(ws.title)
            out.add(
                kind="table",
                text=text,
                block=first_block,
                heading_path=(sheet,),
                rows=tuple(rows),
            )
    finally:
        with contextlib.suppress(Exception):
            wb.close()
    if not out.blocks:
        raise SourceError(name, "no_text_found")
    title = ""
    with contextlib.suppress(Exception):
        title = sanitize_text(wb.properties.title or "").strip()
    return ExtractedSource(
        file_path=desc.file_path,
        file_name=desc.file_name,
        sha256=desc.sha256,
        file_type="xlsx",
        page_count=None,
        blocks=tuple(out.blocks),
        title=title or (out.blocks[0].heading_path[0] if out.blocks else ""),
    )


def iter_text_units(src: ExtractedSource) -> Iterable[tuple[int | None, int | None, str]]:
    """(page, block, text) of every citable unit: PDF pages, DOCX/XLSX blocks and table rows."""
    if src.file_type == "pdf":
        for i, text in enumerate(src.pages, 1):
            yield i, None, text
        return
    for b in src.blocks:
        if b.kind == "table" and b.rows and b.block is not None:
            for k, row in enumerate(b.rows):
                yield None, b.block + k, " | ".join(row)
        else:
            yield None, b.block, b.text
