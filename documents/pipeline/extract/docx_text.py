"""DOCX text: python-docx's reading of the body, and Word's reading of what python-docx skips.

Block numbers (docs/api.md, "locations") must agree with a reader using python-docx
(``iter_inner_content``, ``Paragraph.text``, ``table.rows`` / ``row.cells``): blocks 1..N are the
body's own paragraphs (1 each, empty ones too) and table rows (1 each), read as python-docx reads
them. python-docx skips text that Word shows: content controls (``w:sdt``) at body, row, cell and
run level, text boxes (``w:txbxContent``, in ``w:drawing`` or VML ``w:pict``; of
``mc:AlternateContent`` only the ``mc:Choice`` is read, never its ``mc:Fallback`` copy), and runs
inside ``w:smartTag``, ``w:customXml``, ``w:fldSimple``, ``w:ins`` or ``w:moveTo``. That text is not
lost: each paragraph or table python-docx reads incompletely, and each paragraph or table row inside
a body content control or a text box, is an *extra* unit numbered after the body, N+1, N+2, ... in
document order (a table's rows one number each). An incomplete paragraph or table is emitted only
once, whole, at its extra number (its body number holds nothing citable); text-box paragraphs follow
the paragraph or table that anchors them. ``tests/helpers/citations.py`` implements the same rule
independently."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from documents.pipeline.extract.docx_styles import Styles, on, to_int, w
from documents.pipeline.safety import sanitize_text

MC_NS = "http://schemas.openxmlformats.org/markup-compatibility/2006"
_R, _T, _HYPERLINK = (w(t) for t in ("r", "t", "hyperlink"))
_TAB, _PTAB, _BR, _CR, _NB_HYPHEN = (w(t) for t in ("tab", "ptab", "br", "cr", "noBreakHyphen"))
P, TBL, TR, TC = (w(t) for t in ("p", "tbl", "tr", "tc"))
SDT, SDT_CONTENT, TXBX = w("sdt"), w("sdtContent"), w("txbxContent")
_FALLBACK = f"{{{MC_NS}}}Fallback"
# Word keeps a character typed in the Symbol font at its code in the font, in the private-use
# area (U+F0A3 for "≤"), which no other program shows. The symbols are given their Unicode
# characters; letters (Symbol's Greek) stay as they are, so that a quote's letters and digits
# still equal python-docx's text of the block.
SYMBOL_FONT = str.maketrans(
    {
        0xF0A3: "≤",
        0xF0B3: "≥",
        0xF0B1: "±",
        0xF0B4: "×",
        0xF0B8: "÷",
        0xF0B9: "≠",
        0xF0BA: "≡",
        0xF0BB: "≈",
        0xF0B0: "°",
        0xF0A5: "∞",
        0xF0AE: "→",
        0xF0AC: "←",
        0xF0AD: "↑",
        0xF0AF: "↓",
        0xF0B7: "•",
        0xF0D7: "⋅",
        0xF0A2: "′",
        0xF0B2: "″",
        0xF0BC: "…",
        0xF0D6: "√",
        0xF0E5: "∑",
        0xF0B6: "∂",
        0xF02D: "−",
        0xF0A0: " ",
    }
)

# Run containers whose runs Word shows and python-docx's Paragraph.text leaves out.
_RUN_CONTAINERS = frozenset(
    w(t) for t in ("sdt", "sdtContent", "smartTag", "customXml", "fldSimple", "ins", "moveTo")
)
_MAX_DEPTH = 40


class DocxText:
    """Paragraph text as python-docx reads it (``paragraph``) and as Word shows it (``full``).

    Hidden runs are kept in both (leaving one out could split a quote a checker reads whole); a
    paragraph whose every run is hidden (``w:vanish`` on the run, its character style or the
    paragraph style: how templates hide their instructions) is reported as not visible.
    """

    def __init__(self, styles: Styles) -> None:
        self.styles = styles
        self._run_style: dict[str | None, tuple[bool | None, bool | None]] = {}

    def _run_flags(self, r: Any, para_hidden: bool, para_bold: bool) -> tuple[bool, bool]:
        """(hidden, bold) of a run: its own properties, else its character style's, else the
        paragraph style's."""
        hidden: bool | None = None
        bold: bool | None = None
        rpr = r.find(w("rPr"))
        if rpr is not None:
            hidden = on(rpr.find(w("vanish")))
            bold = on(rpr.find(w("b")))
            rstyle = rpr.find(w("rStyle"))
            if rstyle is not None and (hidden is None or bold is None):
                sid = rstyle.get(w("val"))
                if sid not in self._run_style:
                    self._run_style[sid] = (
                        self.styles.first(sid, "vanish"),
                        self.styles.first(sid, "bold"),
                    )
                style_hidden, style_bold = self._run_style[sid]
                hidden = style_hidden if hidden is None else hidden
                bold = style_bold if bold is None else bold
        return (para_hidden if hidden is None else hidden), (para_bold if bold is None else bold)

    def paragraph(self, p: Any, para_hidden: bool = False) -> tuple[str, bool]:
        """(python-docx's text, whether any text is visible)."""
        parts: list[str] = []
        visible = False
        for child in p:
            if child.tag == _R:
                visible = self._run(child, parts, para_hidden, False)[0] or visible
            elif child.tag == _HYPERLINK:
                for r in child.iterchildren(_R):
                    visible = self._run(r, parts, para_hidden, False)[0] or visible
        return "".join(parts), visible

    def full(
        self, p: Any, para_hidden: bool = False, para_bold: bool = False
    ) -> tuple[str, bool, bool]:
        """(Word's text of the paragraph, whether any is visible, whether all visible text is
        bold): runs inside content controls, smart tags, simple fields and insertions count."""
        parts: list[str] = []
        state = [False, True]  # any visible, all visible bold

        def walk(el: Any, depth: int) -> None:
            for child in el:
                tag = child.tag
                if tag == _R:
                    visible, bold = self._run(child, parts, para_hidden, para_bold)
                    if visible:
                        state[0] = True
                        state[1] = state[1] and bold
                elif (tag == _HYPERLINK or tag in _RUN_CONTAINERS) and depth < _MAX_DEPTH:
                    walk(child, depth + 1)

        walk(p, 0)
        return "".join(parts), state[0], state[0] and state[1]

    def text(self, p: Any) -> str:
        return self.paragraph(p)[0]

    def _run(
        self, r: Any, parts: list[str], para_hidden: bool, para_bold: bool
    ) -> tuple[bool, bool]:
        """Append the run's text; (whether it shows text, whether it is bold)."""
        start = len(parts)
        for item in r:
            t = item.tag
            if t == _T:
                parts.append((item.text or "").translate(SYMBOL_FONT))
            elif t in (_TAB, _PTAB):
                parts.append("\t")
            elif t == _CR or (t == _BR and item.get(w("type"), "textWrapping") == "textWrapping"):
                parts.append("\n")
            elif t == _NB_HYPHEN:
                parts.append("-")
        has_text = any(x.strip() for x in parts[start:])
        if not has_text:
            return False, True
        hidden, bold = self._run_flags(r, para_hidden, para_bold)
        return not hidden, bold


def table_rows(tbl: Any, reader: DocxText, *, full: bool = False) -> list[tuple[str, ...]]:
    """Rows as python-docx's ``table.rows`` / ``row.cells`` / ``cell.text`` read them, or (with
    ``full``) as Word shows them: rows and cells inside content controls too, cell paragraphs
    read whole, each cell once as stored.

    A cell is its paragraphs joined by newlines; a cell continuing a vertical merge repeats the
    text of the cell above (python-docx returns that cell), and a horizontally merged cell
    appears once per grid column it spans.
    """
    rows: list[tuple[str, ...]] = []
    above: dict[int, str] = {}  # grid column → text of the cell there in the previous row
    for tr in _children(tbl, TR, full):
        cells: list[str] = []
        current: dict[int, str] = {}
        grid = 0
        trpr = tr.find(w("trPr"))
        if trpr is not None:
            before = trpr.find(w("gridBefore"))
            grid += (to_int(before.get(w("val"))) or 0) if before is not None else 0
        for tc in _children(tr, TC, full):
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
            if full:
                # Word's reading: each cell once, as stored (a merged cell is not repeated).
                text = "\n".join(reader.full(p)[0] for p in _children(tc, P, True))
                span = 1
            elif continued:
                text = above.get(grid, "")
            else:
                text = "\n".join(reader.text(p) for p in tc.iterchildren(P))
            text = sanitize_text(text).strip()
            cells.extend([text] * span)
            current[grid] = text
            grid += span
        above = current
        rows.append(tuple(cells))
    return rows


def _children(el: Any, tag: str, through_sdt: bool, depth: int = 0) -> Iterator[Any]:
    """Children with ``tag``, also inside content controls when ``through_sdt``."""
    for child in el:
        if child.tag == tag:
            yield child
        elif through_sdt and child.tag == SDT and depth < _MAX_DEPTH:
            content = child.find(SDT_CONTENT)
            if content is not None:
                yield from _children(content, tag, True, depth + 1)


def para_props(p: Any) -> tuple[str | None, Any]:
    ppr = p.find(w("pPr"))
    if ppr is None:
        return None, None
    ps = ppr.find(w("pStyle"))
    return (ps.get(w("val")) if ps is not None else None), ppr


def para_hidden(p: Any, styles: Styles) -> bool:
    """Whether the paragraph style hides its runs (a run's own ``w:vanish`` can override).

    The paragraph mark's ``w:rPr`` only hides the mark itself, not the runs, so it is ignored.
    """
    style_id, _ = para_props(p)
    return bool(styles.first(style_id, "vanish"))


# --- the walk -------------------------------------------------------------------------------


@dataclass
class Item:
    """A paragraph or table in document order; ``full`` items are read as Word shows them."""

    el: Any
    is_table: bool
    full: bool
    block: int = 0  # first block number, assigned by ``walk_body``
    n_rows: int = 0  # a table's rows in the reading used (python-docx's or Word's)


def text_boxes(el: Any) -> list[Any]:
    """The outermost text boxes inside ``el``, skipping ``mc:Fallback`` copies."""
    out = []
    for box in el.iter(TXBX):
        ancestor = box.getparent()
        nested = False
        while ancestor is not None and ancestor is not el:
            if ancestor.tag in (_FALLBACK, TXBX):
                nested = True
                break
            ancestor = ancestor.getparent()
        if not nested:
            out.append(box)
    return out


def _holds_text(el: Any) -> bool:
    return any(t.text for t in el.iter(_T))


def _incomplete_paragraph(p: Any) -> bool:
    """Whether Word shows text in ``p`` that python-docx's ``Paragraph.text`` leaves out: a run
    container (content control, smart tag, custom XML, simple field, insertion) holding text."""
    return any(child.tag in _RUN_CONTAINERS and _holds_text(child) for child in p)


def _incomplete_table(tbl: Any) -> bool:
    """A table holding a content control, or a run container with text, anywhere inside."""
    return any(el.tag == SDT or _holds_text(el) for el in tbl.iter(*_RUN_CONTAINERS))


def walk_body(body: Any, reader: DocxText, max_blocks: int) -> list[Item] | None:
    """Every paragraph and table in document order with its block number (see the module
    docstring); None when there are more than ``max_blocks`` units."""
    items: list[Item] = []
    counter = 0
    extras: list[Item] = []

    def container(el: Any, depth: int) -> None:
        for child in el:
            if len(items) > max_blocks:
                return
            if child.tag == P:
                item = Item(child, False, True)
                items.append(item)
                extras.append(item)
                anchored(child, depth)
            elif child.tag == TBL:
                item = Item(child, True, True)
                items.append(item)
                extras.append(item)
                anchored(child, depth)
            elif child.tag == SDT and depth < _MAX_DEPTH:
                content = child.find(SDT_CONTENT)
                if content is not None:
                    container(content, depth + 1)
            elif child.tag in (w("customXml"),) and depth < _MAX_DEPTH:
                container(child, depth + 1)

    def anchored(el: Any, depth: int) -> None:
        if depth < _MAX_DEPTH:
            for box in text_boxes(el):
                container(box, depth + 1)

    for child in body:
        if len(items) > max_blocks or counter > max_blocks:
            return None
        if child.tag == P:
            counter += 1
            if _incomplete_paragraph(child):
                item = Item(child, False, True)
                extras.append(item)
            else:
                item = Item(child, False, False, block=counter)
            items.append(item)
            anchored(child, 0)
        elif child.tag == TBL:
            n = sum(1 for _ in child.iterchildren(TR))
            if _incomplete_table(child):
                item = Item(child, True, True)
                extras.append(item)
            else:
                item = Item(child, True, False, block=counter + 1, n_rows=n)
            counter += n
            items.append(item)
            anchored(child, 0)
        elif child.tag in (SDT, w("customXml")):
            content = child.find(SDT_CONTENT) if child.tag == SDT else child
            if content is not None:
                container(content, 1)
    if len(items) > max_blocks:
        return None
    next_block = counter + 1
    for item in extras:
        item.block = next_block
        if item.is_table:
            item.n_rows = sum(1 for _ in _children(item.el, TR, True))
            next_block += item.n_rows
        else:
            next_block += 1
    if next_block - 1 > max_blocks:
        return None
    return items
