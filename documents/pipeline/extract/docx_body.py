"""DOCX body reading: blocks in document order, headings from styles, outline levels, and
bold or numbered Normal paragraphs, the document's typed table of contents used as a map.

Headings: a paragraph's own ``w:outlineLvl``, else the nearest style in its ``basedOn`` chain
named "Heading N" / "Title" or carrying ``w:outlineLvl`` (custom styles such as "SAP Heading 1"
based on Heading 1 count). A ``Normal`` paragraph acts as a heading when the document's table of
contents names it (letters and digits compared), or when it is short, bold throughout and either
numbered in its text ("5.2 Exclusion Criteria", "Section 7.1 ...", "APPENDIX A ...", the number
plausible after the previous heading's) or in capitals. A typed table of contents (Normal
paragraphs after a "Table of Contents" title, with or without page numbers) and Word's own
(``TOC n`` styles) are counted but not emitted. Hidden text is left out; numbering labels come
from ``numbering.xml``. Footnotes, comments, headers and footers are not read (a warning says so
when they hold text).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import Any

from documents.pipeline.errors import SourceError
from documents.pipeline.extract.common import (
    CAPTION,
    Builder,
    CharBudget,
    HeadingStack,
    alnum,
    heading_label,
    split_heading_label,
)
from documents.pipeline.extract.docx_styles import (
    Numbering,
    Styles,
    is_toc_style,
    numbering_props,
    style_heading_level,
    w,
)
from documents.pipeline.extract.docx_text import (
    DocxText,
    Item,
    para_hidden,
    para_props,
    table_rows,
    walk_body,
)
from documents.pipeline.extract.pdf_headings import plausible_number
from documents.pipeline.extract.tlf import annotate_table
from documents.pipeline.extract.toc import TOC_TITLE, TocEntry, make_entry
from documents.pipeline.safety import Limits, sanitize_text
from documents.pipeline.types import Block, ExtractedSource, SourceDescriptor

_TYPED_LABEL = re.compile(r"^([•●▪■◦○∙·‣⁃□➢►✓\uf0b7\uf0a7\uf0d8-])\s+")
_TOC_ENTRY_END = re.compile(r"(?:\t|\s*(?:\.\s?){3,}|\s*…+)\s*(\d{1,4}|[ivxlc]{1,6})\s*$", re.I)
_TOC_LEVEL = re.compile(r"^toc\s*(\d)", re.I)


@dataclass
class _Para:
    """What the emitting pass needs of one paragraph."""

    text: str  # visible text, stripped ("" when hidden or empty)
    style_id: str | None
    chain: list[Any]
    level: int | None  # heading level from outline level or style
    label_fmt: tuple[str, str] | None
    ilvl: int | None
    bold: bool  # every visible run bold


def _paragraph_info(
    p: Any, full: bool, reader: DocxText, styles: Styles, numbering: Numbering
) -> _Para:
    style_id, ppr = para_props(p)
    chain = styles.chain(style_id)
    hidden = para_hidden(p, styles)
    style_bold = bool(styles.first(style_id, "bold"))
    if full:
        raw, visible, bold = reader.full(p, hidden, style_bold)
    else:
        raw, visible = reader.paragraph(p, hidden)
        bold = reader.full(p, hidden, style_bold)[2] if visible else False
    text = sanitize_text(raw).strip() if visible else ""
    # Numbering: the paragraph's own numPr, else its style's (walking basedOn).
    num_id, ilvl, outline = numbering_props(ppr)
    if num_id is None:
        num_id = styles.first(style_id, "num_id")
        if ilvl is None:
            ilvl = styles.first(style_id, "ilvl")
    label_fmt = numbering.label(num_id, ilvl, style_id) if num_id is not None else None
    level: int | None
    if outline is not None:
        level = outline + 1 if 0 <= outline < 9 else None
    else:
        level = style_heading_level(chain)
    return _Para(text, style_id, chain, level, label_fmt, ilvl, bold)


def _find_toc(infos: list[_Para | list[tuple[str, ...]]]) -> tuple[set[int], list[TocEntry]]:
    """Items of the document's tables of contents and their entries (see the module docstring)."""
    skip: set[int] = set()
    entries: list[TocEntry] = []
    k = 0
    n = len(infos)
    while k < n:
        info = infos[k]
        if not isinstance(info, _Para):
            k += 1
            continue
        is_title = bool(info.text) and TOC_TITLE.match(info.text) is not None
        if is_toc_style(info.chain) and not is_title:
            skip.add(k)
            if info.text:
                label = _TOC_ENTRY_END.sub("", info.text).strip()
                m = _TOC_LEVEL.match(info.chain[0].name) if info.chain else None
                entry = make_entry(label, 0)
                if m and not entry.number:
                    entry = TocEntry(entry.label, "", entry.title, 0, int(m.group(1)))
                entries.append(entry)
            k += 1
            continue
        if not is_title:
            k += 1
            continue
        skip.add(k)
        seen: set[str] = set()
        j = k + 1
        while j < n:
            nxt = infos[j]
            if not isinstance(nxt, _Para) or (
                nxt.level is not None and not is_toc_style(nxt.chain)
            ):
                break
            if is_toc_style(nxt.chain):
                break  # Word's own TOC follows its title: handled above
            if not nxt.text:
                if len(seen) >= 3:
                    break
                skip.add(j)
                j += 1
                continue
            label = _TOC_ENTRY_END.sub("", nxt.text).strip()
            key = alnum(label)
            if (
                len(label) > 160
                or label.endswith(".")
                or sum(ch.isalpha() for ch in label) < 2
                or key in seen
                or not (label[0].isupper() or label[0].isdigit())
            ):
                break  # body text, or the first heading again: the TOC is over
            seen.add(key)
            entries.append(make_entry(label, 0))
            skip.add(j)
            j += 1
        k = j
    return skip, entries


_SENTENCE_END = (".", ";", ",", ":")


def _inferred_heading(
    info: _Para, mapped: TocEntry | None, last_number: tuple[int, ...] | None
) -> tuple[str, str, int] | None:
    """(number, title, level) of a Normal paragraph acting as a heading, or None (level 0:
    unnumbered, nested under the current heading)."""
    text = re.sub(r"\s+", " ", info.text)
    if mapped is not None:
        parts = split_heading_label(text)
        number, title = parts if parts else ("", text)
        return number, title, mapped.level or 1
    if not info.bold or len(text) > 160 or text.endswith(_SENTENCE_END) or "\n" in info.text:
        return None
    if info.label_fmt is not None and info.label_fmt[1] not in ("none",):
        return None  # a bold item of a Word list
    parts = split_heading_label(text)
    if parts is not None:
        number, title = parts
        if not title or not (title[0].isupper() or title[0].isdigit()):
            return None
        if number[:1].isdigit():
            if int(number.split(".")[0]) > 60 or not plausible_number(number, last_number):
                return None
            return number, title, number.count(".") + 1
        return number, title, 1
    words = text.split()
    letters = sum(ch.isalpha() for ch in text)
    if letters < 3 or not text[0].isupper() or _TYPED_LABEL.match(text) or CAPTION.match(text):
        return None
    if text.isupper() and len(words) <= 12:
        return "", text, 1
    if len(words) <= 10:
        return "", text, 0
    return None


def extract_docx(desc: SourceDescriptor, limits: Limits) -> ExtractedSource:
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
    styles = Styles(styles_el)
    numbering_el = None
    with contextlib.suppress(Exception):
        numbering_el = part.numbering_part.element
    numbering = Numbering(numbering_el, styles)
    reader = DocxText(styles)
    budget = CharBudget(limits.max_extracted_chars, name)

    body = document.element.body
    if len(body) > limits.max_blocks:
        raise SourceError(name, "document_too_complex")
    items = walk_body(body, reader, limits.max_blocks)
    if items is None:
        raise SourceError(name, "document_too_complex")

    # Pass 1, in document order (numbering labels advance per paragraph): texts and tables.
    infos: list[_Para | list[tuple[str, ...]]] = []
    for item in items:
        if item.is_table:
            rows = table_rows(item.el, reader, full=item.full)
            budget.take("".join("".join(r) for r in rows))
            infos.append(rows)
        else:
            info = _paragraph_info(item.el, item.full, reader, styles, numbering)
            budget.take(info.text)
            infos.append(info)
    toc_skip, toc_entries = _find_toc(infos)
    toc_map = {alnum(e.label): e for e in toc_entries if len(alnum(e.label)) >= 3}

    out = Builder()
    stack = HeadingStack()
    title = ""
    first_heading = ""
    last_number: tuple[int, ...] | None = None
    for k, (item, info) in enumerate(zip(items, infos, strict=True)):
        if k in toc_skip:
            continue
        if not isinstance(info, _Para):
            _add_table(out, item, info, stack.path)
            continue
        stripped = info.text
        if not stripped or is_toc_style(info.chain):
            continue
        heading: tuple[str, str, int] | None = None
        if info.level is not None:
            number, heading_title = "", re.sub(r"\s+", " ", stripped)
            fmt = info.label_fmt
            if fmt is not None and fmt[1] not in ("bullet", "none") and fmt[0]:
                number = fmt[0].rstrip(".").strip()
            else:
                parts = split_heading_label(heading_title)
                if parts:
                    number, heading_title = parts
            heading = (number, heading_title, info.level)
        elif not any(st.name.strip().lower() == "caption" for st in info.chain):
            heading = _inferred_heading(info, toc_map.get(alnum(stripped)), last_number)
        if heading is not None:
            number, heading_title, level = heading
            if level == 0:
                level = min(stack.anchor_level() + 1, 9)
            if number[:1].isdigit():
                last_number = tuple(int(x) for x in number.split(".") if x.isdigit())
            path = stack.push(level, heading_label(number, heading_title), bool(number))
            out.add(
                kind="heading",
                text=heading_title,
                block=item.block,
                level=level,
                number=number,
                heading_path=path,
                bold=info.bold or bool(styles.first(info.style_id, "bold")),
                font_size=float(styles.first(info.style_id, "size") or 0.0),
            )
            style_name = info.chain[0].name.lower() if info.chain else ""
            if style_name == "title" and not title:
                title = heading_title
            if not first_heading:
                first_heading = heading_title
            continue
        if info.label_fmt is not None and info.label_fmt[1] != "none":
            out.add(
                kind="list_item",
                text=stripped,
                block=item.block,
                level=(info.ilvl or 0) + 1,
                number=info.label_fmt[0],
                heading_path=stack.path,
            )
            continue
        typed = _TYPED_LABEL.match(stripped)
        if typed:
            out.add(
                kind="list_item",
                text=stripped[typed.end() :],
                block=item.block,
                level=1,
                number=typed.group(1),
                heading_path=stack.path,
            )
            continue
        is_caption = CAPTION.match(stripped) is not None or any(
            st.name.strip().lower() == "caption" for st in info.chain
        )
        out.add(
            kind="caption" if is_caption and len(stripped) < 200 else "paragraph",
            text=stripped,
            block=item.block,
            heading_path=stack.path,
        )

    title = _labelled_title(out.blocks) or title
    if not title:
        with contextlib.suppress(Exception):
            title = sanitize_text(document.core_properties.title or "").strip()
    if not title:
        title = first_heading
    warnings = _unread_parts(document)
    if not any(alnum(b.text) for b in out.blocks):
        raise SourceError(
            name,
            "no_text_found",
            "The Word document holds no text in its body (its paragraphs and tables are empty; "
            "text in images, charts or embedded objects is not read).",
        )
    return ExtractedSource(
        file_path=desc.file_path,
        file_name=desc.file_name,
        sha256=desc.sha256,
        file_type="docx",
        page_count=None,
        blocks=tuple(out.blocks),
        title=title[:500],
        warnings=warnings,
    )


def _add_table(
    out: Builder, item: Item, rows: list[tuple[str, ...]], path: tuple[str, ...]
) -> None:
    if not rows:
        return
    text = "\n".join(" | ".join(c.replace("\n", " ") for c in r) for r in rows)
    if not alnum(text):
        return
    out.add(
        kind="table",
        text=text,
        block=item.block,
        heading_path=path,
        rows=tuple(rows),
        **annotate_table(rows),
    )


def _unread_parts(document: Any) -> tuple[str, ...]:
    """Warnings for text the body reading leaves out: footnotes, endnotes and comments."""
    warnings: list[str] = []
    rels = {}
    with contextlib.suppress(Exception):
        rels = {rel.reltype.rsplit("/", 1)[-1]: rel for rel in document.part.rels.values()}
    for kind, what in (
        ("footnotes", "footnotes"),
        ("endnotes", "endnotes"),
        ("comments", "comments"),
    ):
        rel = rels.get(kind)
        if rel is None or rel.is_external:
            continue
        with contextlib.suppress(Exception):
            from lxml import etree

            root = etree.fromstring(rel.target_part.blob)
            texts = [t.text or "" for t in root.iter(w("t"))]
            count = sum(
                1 for note in root if any((t.text or "").strip() for t in note.iter(w("t")))
            )
            if count and "".join(texts).strip():
                warnings.append(
                    f"{count} {what if count > 1 else what[:-1]} not read: "
                    "only the document body is a source."
                )
    return tuple(warnings)


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
