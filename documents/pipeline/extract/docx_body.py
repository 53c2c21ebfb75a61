"""DOCX body reading: paragraphs and tables as python-docx reads them, headings, lists."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

from documents.pipeline.errors import SourceError
from documents.pipeline.extract.common import (
    CAPTION,
    NUM_HEADING,
    Builder,
    CharBudget,
    HeadingStack,
    alnum,
    heading_label,
)
from documents.pipeline.extract.docx_styles import (
    Numbering,
    Styles,
    is_toc_style,
    on,
    style_heading_level,
    to_int,
    w,
)
from documents.pipeline.safety import (
    Limits,
    sanitize_text,
)
from documents.pipeline.types import Block, ExtractedSource, SourceDescriptor

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

    def __init__(self, styles: Styles) -> None:
        self.styles = styles
        self._run_style_hidden: dict[str | None, bool | None] = {}

    def _run_hidden(self, r: Any, para_hidden: bool) -> bool:
        rpr = r.find(w("rPr"))
        if rpr is not None:
            own = on(rpr.find(w("vanish")))
            if own is not None:
                return own
            rstyle = rpr.find(w("rStyle"))
            if rstyle is not None:
                sid = rstyle.get(w("val"))
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
            elif t == _CR or (t == _BR and item.get(w("type"), "textWrapping") == "textWrapping"):
                parts.append("\n")
            elif t == _NB_HYPHEN:
                parts.append("-")
        has_text = any(x.strip() for x in parts[start:])
        return has_text and not self._run_hidden(r, para_hidden)


_R, _T, _HYPERLINK = (w(t) for t in ("r", "t", "hyperlink"))
_TAB, _PTAB, _BR, _CR, _NB_HYPHEN = (w(t) for t in ("tab", "ptab", "br", "cr", "noBreakHyphen"))


def _iter_body(body: Any) -> Iterator[Any]:
    """The body's own paragraphs and tables, in order, as python-docx's iter_inner_content.

    Body-level content controls (``w:sdt``: a TOC, cover-page widgets) are neither counted nor
    read, so that block numbers agree with python-docx.
    """
    for child in body:
        if child.tag in (_P, _TBL):
            yield child


_P, _TBL, _TR, _TC = (w(t) for t in ("p", "tbl", "tr", "tc"))


def _table_rows(tbl: Any, reader: _DocxText, styles: Styles) -> list[tuple[str, ...]]:
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
        trpr = tr.find(w("trPr"))
        if trpr is not None:
            before = trpr.find(w("gridBefore"))
            grid += (to_int(before.get(w("val"))) or 0) if before is not None else 0
        for tc in tr.iterchildren(_TC):
            tcpr = tc.find(w("tcPr"))
            span = 1
            continued = False
            if tcpr is not None:
                span_el = tcpr.find(w("gridSpan"))
                if span_el is not None:
                    span = max(1, to_int(span_el.get(w("val"))) or 1)
                vmerge = tcpr.find(w("vMerge"))
                if vmerge is not None and vmerge.get(w("val"), "continue") == "continue":
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
    ppr = p.find(w("pPr"))
    if ppr is None:
        return None, None
    ps = ppr.find(w("pStyle"))
    return (ps.get(w("val")) if ps is not None else None), ppr


_TYPED_LABEL = re.compile(r"^([•●▪■◦○∙·‣⁃□➢►✓\uf0b7\uf0a7\uf0d8-])\s+")
_TOC_TEXT = re.compile(r"^(?:table\s+of\s+contents|contents)$", re.I)


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
    reader = _DocxText(styles)
    budget = CharBudget(limits.max_extracted_chars, name)

    out = Builder()
    stack = HeadingStack()
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
        if is_toc_style(chain):
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
            num_pr = ppr.find(w("numPr"))
            if num_pr is not None:
                nid = num_pr.find(w("numId"))
                lvl = num_pr.find(w("ilvl"))
                num_id = nid.get(w("val")) if nid is not None else None
                ilvl = to_int(lvl.get(w("val"))) if lvl is not None else None
            ol = ppr.find(w("outlineLvl"))
            if ol is not None:
                outline = to_int(ol.get(w("val")))
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
            level = style_heading_level(chain)

        if level is not None and _TOC_TEXT.match(stripped) is None:
            number = ""
            heading_title = stripped
            if label_fmt is not None and label_fmt[1] not in ("bullet", "none") and label_fmt[0]:
                number = label_fmt[0].rstrip(".").strip()
            else:
                m = NUM_HEADING.match(stripped)
                if m:
                    number, heading_title = m.group(1), m.group(2).strip()
            heading_title = re.sub(r"\s+", " ", heading_title)
            path = stack.push(level, heading_label(number, heading_title), bool(number))
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
            kind="caption" if CAPTION.match(stripped) and len(stripped) < 200 else "paragraph",
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


def _para_hidden(p: Any, styles: Styles) -> bool:
    """Whether the paragraph style hides its runs (a run's own ``w:vanish`` can override).

    The paragraph mark's ``w:rPr`` only hides the mark itself, not the runs, so it is ignored.
    """
    style_id, _ = _para_props(p)
    return bool(styles.first(style_id, "vanish"))
