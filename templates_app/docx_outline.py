"""Read a Word (.docx) template's outline: its headings become template sections.

A paragraph is a heading when it has an outline level: set on the paragraph itself
(``w:outlineLvl``), on its style, or on a style it inherits from (``style.base_style``), or when
it (or an ancestor style) is one of Word's built-in "Heading N" styles. That is how custom heading
styles such as ``01Heading 1`` (an M11 template) or a corporate ``01Heading1`` based on
``Heading 1`` are recognised.

**The outline, not the study** (issue 13): a filled protocol imported as a template must not
bring its trial text along. So under each heading only two kinds of text are kept:

- *instructions*: paragraphs in a style whose name says "instruction" or "guidance"
  (``Instructional Text``, ``CPT_Instructional``, ``xInstrux``, ``Guidance``), hidden text, text
  entirely in the red the ICH M11 template uses for instructions, or text entirely blue and
  italic (the other common convention for guidance);
- *template text*: paragraphs in a style whose name says "template text" or "boilerplate"
  (``Template Text``, ``CPT_Template Text``) — wording the template means every document to keep.

Every other paragraph and every table is the study's content and is **dropped**; each entry
counts what it dropped (``dropped``) so the import preview can say so. Table of contents entries
and the front matter before the first heading are left out. Numbers typed in a heading ("9.4.1
Blinding") are dropped: numbering is recomputed from the levels.

No database, no storage: ``read_docx_outline`` takes bytes and returns plain dataclasses, with
caps on the paragraphs read and the sections made. ``read_docx_outline_file`` is the entry point
that ``templates_app.services`` runs in a limited child process (``limited.run_limited``), after
the zip pre-check: a hostile file costs a child its time and memory, never the web process.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any

from docx import Document
from docx.oxml.ns import qn

MAX_LEVEL = 9
INSTRUCTION_STYLE = re.compile(r"instruct|instrux|guidance", re.IGNORECASE)
TEMPLATE_TEXT_STYLE = re.compile(r"template\s*text|boilerplate", re.IGNORECASE)
# Guidance in blue italics: the blues Word offers in its standard and theme palettes.
GUIDANCE_BLUES = {"0000FF", "0070C0", "2E74B5", "1F4E79", "4472C4", "0563C1"}
HEADING_NAME = re.compile(r"^heading\s*([1-9])$", re.IGNORECASE)
TOC_STYLE = re.compile(r"^(toc\b|table of contents|toc heading)", re.IGNORECASE)
TYPED_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)*)\.?(?:\s+|\t+)(?=\S)")
# Instructional text in the ICH M11 template is red; dark reds are common variants.
INSTRUCTION_COLOURS = {"FF0000", "C00000", "E00000", "CC0000", "D00000", "B00000"}


class DocxOutlineError(ValueError):
    """The file is not a readable .docx, or it has no headings."""


@dataclass
class OutlineEntry:
    title: str
    level: int
    typed_number: str = ""
    instructions: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    # Paragraphs and tables of study content left out (module docstring).
    dropped: int = 0


@dataclass
class DocxOutline:
    title: str
    sections: list[OutlineEntry]


def _style_chain(style: Any) -> list[Any]:
    chain: list[Any] = []
    seen: set[str] = set()
    while style is not None and style.style_id not in seen and len(chain) < 20:
        seen.add(style.style_id)
        chain.append(style)
        try:
            style = style.base_style
        except Exception:  # a base style id that points nowhere
            style = None
    return chain


def _outline_lvl(element: Any) -> int | None:
    """The ``w:outlineLvl`` in an element's ``w:pPr``: 0-8 heading, 9 body text, None unset."""
    ppr = element.find(qn("w:pPr"))
    if ppr is None:
        return None
    node = ppr.find(qn("w:outlineLvl"))
    if node is None:
        return None
    try:
        return int(node.get(qn("w:val")))
    except (TypeError, ValueError):
        return None


class _StyleInfo:
    """Per-style facts, cached: heading level, instructional, hidden, colour, table of contents."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[int | None, bool, bool, str | None, bool]] = {}

    def facts(self, style: Any) -> tuple[int | None, bool, bool, str | None, bool]:
        if style is None:
            return (None, False, False, None, False)
        # Keyed by style id: lxml proxies are recreated, so id() of an element is not stable.
        key = f"{style.style_id}\x00{style.name}"
        if key not in self._cache:
            self._cache[key] = self._compute(style)
        return self._cache[key]

    @staticmethod
    def _compute(style: Any) -> tuple[int | None, bool, bool, str | None, bool]:
        chain = _style_chain(style)
        names = [s.name or "" for s in chain]
        level: int | None = None
        for s in chain:
            lvl = _outline_lvl(s.element)
            if lvl is not None:
                level = lvl + 1 if lvl < MAX_LEVEL else None
                break
            match = HEADING_NAME.match((s.name or "").strip())
            if match:
                level = int(match.group(1))
                break
        toc = bool(names) and bool(TOC_STYLE.match(names[0].strip()))
        instructional = any(INSTRUCTION_STYLE.search(n) for n in names)
        hidden = False
        colour: str | None = None
        for s in chain:
            font = s.font
            if font.hidden is not None and not hidden:
                hidden = bool(font.hidden)
            if colour is None and font.color is not None and font.color.type is not None:
                colour = str(font.color.rgb) if font.color.rgb is not None else None
        return (level, instructional, hidden, colour, toc)


def _paragraph_text(p_el: Any) -> str:
    parts: list[str] = []
    for node in p_el.iter(qn("w:t"), qn("w:tab"), qn("w:br")):
        if node.tag == qn("w:t"):
            parts.append(node.text or "")
        else:
            parts.append(" ")
    return re.sub(r"\s+", " ", "".join(parts)).strip()


def _run_is_instructional(
    run: Any, style_hidden: bool, style_colour: str | None, style_italic: bool = False
) -> bool:
    font = run.font
    hidden = font.hidden if font.hidden is not None else style_hidden
    if hidden:
        return True
    colour = None
    if font.color is not None and font.color.type is not None and font.color.rgb is not None:
        colour = str(font.color.rgb)
    colour = (colour or style_colour or "").upper()
    if colour in INSTRUCTION_COLOURS:
        return True
    italic = run.italic if run.italic is not None else style_italic
    return bool(italic) and colour in GUIDANCE_BLUES


def _style_names(style: Any) -> list[str]:
    return [s.name or "" for s in _style_chain(style)] if style is not None else []


def _style_italic(style: Any) -> bool:
    for s in _style_chain(style) if style is not None else []:
        if s.font.italic is not None:
            return bool(s.font.italic)
    return False


def _classify_paragraph(paragraph: Any, info: _StyleInfo) -> tuple[str, int | None]:
    """('heading', level) | ('instruction', None) | ('text', None) | ('body', None) |
    ('skip', None): ``text`` is template text, ``body`` the study's content (dropped)."""
    try:
        style = paragraph.style
    except Exception:
        style = None
    level, instructional, hidden, colour, toc = info.facts(style)
    if toc:
        return ("skip", None)
    own = _outline_lvl(paragraph._p)
    if own is not None:
        level = own + 1 if own < MAX_LEVEL else None
    if level is not None:
        return ("heading", level)
    if instructional:
        return ("instruction", None)
    runs = [r for r in paragraph.runs if (r.text or "").strip()]
    italic = _style_italic(style)
    if runs and all(_run_is_instructional(r, hidden, colour, italic) for r in runs):
        return ("instruction", None)
    if any(TEMPLATE_TEXT_STYLE.search(n) for n in _style_names(style)):
        return ("text", None)
    return ("body", None)


def _iter_blocks(container: Any):
    """Paragraph and table elements in document order, descending into content controls
    (except a table-of-contents control)."""
    for child in container.iterchildren():
        if child.tag in (qn("w:p"), qn("w:tbl")):
            yield child
        elif child.tag == qn("w:sdt"):
            gallery = child.find(f"{qn('w:sdtPr')}/{qn('w:docPartObj')}/{qn('w:docPartGallery')}")
            if gallery is not None and "contents" in (gallery.get(qn("w:val")) or "").lower():
                continue
            content = child.find(qn("w:sdtContent"))
            if content is not None:
                yield from _iter_blocks(content)


def _table_lines(tbl_el: Any) -> list[str]:
    lines: list[str] = []
    for tr in tbl_el.iter(qn("w:tr")):
        cells: list[str] = []
        for tc in tr.iterchildren(qn("w:tc")):
            text = " ".join(
                t for t in (_paragraph_text(p) for p in tc.iter(qn("w:p"))) if t
            ).strip()
            if not cells or text != cells[-1]:  # merged cells repeat their text
                cells.append(text)
        line = " | ".join(cells).strip(" |")
        if line:
            lines.append(line)
    return lines


def _check_zip(data: bytes, *, max_entries: int, max_total_bytes: int) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            if len(infos) > max_entries:
                raise DocxOutlineError("the file has too many parts to be a Word document")
            if sum(i.file_size for i in infos) > max_total_bytes:
                raise DocxOutlineError("the file expands to more than the allowed size")
            if "word/document.xml" not in {i.filename for i in infos}:
                raise DocxOutlineError("it is not a Word (.docx) document")
    except zipfile.BadZipFile as exc:
        raise DocxOutlineError("it is not a Word (.docx) document") from exc


MAX_PARAGRAPHS = 50_000
MAX_SECTIONS = 2000


def read_docx_outline_file(
    path: str, max_paragraphs: int = MAX_PARAGRAPHS, max_sections: int = MAX_SECTIONS
) -> tuple[str, Any]:
    """``("ok", DocxOutline)`` or ``("error", reason)``: the child-process entry point (its
    result crosses a pipe, so an expected failure is a value, not an exception)."""
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        return (
            "ok",
            read_docx_outline(data, max_paragraphs=max_paragraphs, max_sections=max_sections),
        )
    except DocxOutlineError as exc:
        return ("error", str(exc))


def read_docx_outline(
    data: bytes,
    *,
    max_entries: int = 2000,
    max_total_bytes: int = 300 * 1024 * 1024,
    max_paragraphs: int = MAX_PARAGRAPHS,
    max_sections: int = MAX_SECTIONS,
) -> DocxOutline:
    """The headings of a .docx as levelled entries with their instructions and text."""
    _check_zip(data, max_entries=max_entries, max_total_bytes=max_total_bytes)
    try:
        document = Document(io.BytesIO(data))
    except Exception as exc:
        raise DocxOutlineError("it is not a readable Word (.docx) document") from exc

    from docx.text.paragraph import Paragraph

    info = _StyleInfo()
    entries: list[OutlineEntry] = []
    previous_level = 0
    body = document.element.body
    for count, block in enumerate(_iter_blocks(body), start=1):
        if count > max_paragraphs:
            raise DocxOutlineError(
                f"it has more than {max_paragraphs} paragraphs and tables (the limit)"
            )
        if block.tag == qn("w:tbl"):
            if entries and _table_lines(block):
                entries[-1].dropped += 1  # a table is the study's content
            continue
        paragraph = Paragraph(block, document._body)
        text = _paragraph_text(block)
        if not text:
            continue
        kind, level = _classify_paragraph(paragraph, info)
        if kind == "skip":
            continue
        if kind == "heading" and level is not None:
            typed = ""
            match = TYPED_NUMBER.match(text)
            if match:
                typed = match.group(1)
                text = text[match.end() :].strip()
            if not text:
                continue
            # A level may go down by any amount but up by one only (Heading 1 → Heading 3
            # becomes 1 → 2), so that every section has a parent and numbering stays sound.
            level = max(1, min(level, previous_level + 1, MAX_LEVEL))
            previous_level = level
            if len(entries) >= max_sections:
                raise DocxOutlineError(f"it has more than {max_sections} headings (the limit)")
            entries.append(OutlineEntry(title=text[:400], level=level, typed_number=typed))
            continue
        if not entries:
            continue  # front matter before the first heading (title page, TOC title)
        if kind == "instruction":
            entries[-1].instructions.append(text)
        elif kind == "text":
            entries[-1].text.append(text)
        else:
            entries[-1].dropped += 1

    if not entries:
        raise DocxOutlineError(
            "it has no headings (its sections come from paragraphs in Heading styles or with an "
            "outline level)"
        )
    title = (document.core_properties.title or "").strip()
    return DocxOutline(title=title[:300], sections=entries)
