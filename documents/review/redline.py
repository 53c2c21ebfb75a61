"""The redline: the new version's .docx in which every difference in the section bodies from the
previous version is a Word tracked change (``w:ins``/``w:del``, author ``Folio``, a date).

It starts from the new version's own file, so the cover, the citation markers, the list of
sources and the QC report are the new version's, unmarked (docs/api.md, "The review cycle"). Then,
section by section (found by their heading bookmarks), the items of the previous text — the previous
version's twin, or, when the version came from a review, the text as the reviewers sent it back, so
their own edits show no marks — are aligned with the new section's paragraphs and tables:

- an item only in the new text is marked inserted (its runs and its paragraph mark; a table's
  rows);
- an item only in the previous text comes back as a deleted paragraph (or table) at its place;
- a changed paragraph is rewritten word by word with its deletions and insertions (its citation
  marker stays as the new version's, unmarked); a changed table row likewise, cell by cell.

Unchanged sections carry no marks. Comments whose anchors went with a rewritten paragraph are
removed (Word would show them detached).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import nsdecls, qn
from lxml import etree

from documents.pipeline.wordml import W_P, W_TBL
from documents.review.carry import drop_orphan_comments
from documents.review.match import (
    interleaved_items,
    key,
    sections_by_hex,
    table_key,
    twin_keys,
    without_markers,
)
from documents.review.reader import (
    paragraph_text,
    table_rows,
    walk_sections,
)

AUTHOR = "Folio"
REDLINE_ID_BASE = 500_000
SIMILAR = 0.4  # below this share of common words, a paragraph is deleted and another inserted
# Words (hyphenated and apostrophe words whole), runs of spaces, single punctuation marks.
_TOKEN_RE = re.compile(r"\s+|\w+(?:[-'’]\w+)*|[^\w\s]")
_MARKER_ONLY = re.compile(r"^\s*\[[\d,\s–-]+\]\s*$")
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _x(text: str) -> str:
    return escape(_INVALID_XML.sub("", text))


@dataclass(frozen=True)
class _Old:
    kind: str  # "paragraph" | "table"
    key: str
    text: str = ""
    rows: tuple[tuple[str, ...], ...] = ()


def _old_items(section: dict[str, Any]) -> list[_Old]:
    items: list[_Old] = []
    for kind, item in interleaved_items(section):
        if kind == "paragraph":
            label = item.get("list_label", "")
            text = f"{label}\t{item.get('text', '')}" if label else item.get("text", "")
            items.append(_Old("paragraph", key(text), text=text))
        else:
            if item.get("title"):
                items.append(_Old("paragraph", key(item["title"]), text=item["title"]))
            rows = tuple(tuple(str(c) for c in r) for r in item.get("rows", []))
            items.append(_Old("table", "table:" + table_key(rows), rows=rows))
    return [i for i in items if i.key and i.key != "table:"]


class _Marks:
    def __init__(self, date: str, start: int = REDLINE_ID_BASE) -> None:
        self.date = date
        self.next_id = start
        self.changes = 0

    def attrs(self) -> str:
        self.next_id += 1
        self.changes += 1
        return f'w:id="{self.next_id}" w:author="{AUTHOR}" w:date="{self.date}"'

    def ins_runs(self, text: str) -> str:
        return f"<w:ins {self.attrs()}>{_runs(text)}</w:ins>" if text else ""

    def del_runs(self, text: str) -> str:
        return f"<w:del {self.attrs()}>{_runs(text, deleted=True)}</w:del>" if text else ""


def _runs(text: str, *, deleted: bool = False) -> str:
    tag = "w:delText" if deleted else "w:t"
    out = []
    for k, chunk in enumerate(text.split("\t")):
        if k:
            out.append("<w:r><w:tab/></w:r>")
        if chunk:
            out.append(f'<w:r><{tag} xml:space="preserve">{_x(chunk)}</{tag}></w:r>')
    return "".join(out)


def word_diff(old: str, new: str, marks: _Marks) -> str:
    """Runs for ``new`` with its differences from ``old`` as tracked changes, word by word."""
    a, b = _TOKEN_RE.findall(old), _TOKEN_RE.findall(new)
    out = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(_runs("".join(a[i1:i2])))
        if op in ("delete", "replace"):
            out.append(marks.del_runs("".join(a[i1:i2])))
        if op in ("insert", "replace"):
            out.append(marks.ins_runs("".join(b[j1:j2])))
    return "".join(out)


def _similarity(old: str, new: str) -> float:
    a, b = re.findall(r"\w+", old.lower()), re.findall(r"\w+", new.lower())
    if not a or not b:
        return 0.0
    return difflib.SequenceMatcher(a=a, b=b, autojunk=False).ratio()


def _element(xml: str) -> Any:
    return parse_xml(f"<w:body {nsdecls('w')}>{xml}</w:body>")[0]


# ---------------------------------------------------------------- marking blocks


def _change(tag: str, marks: _Marks) -> Any:
    """An empty ``w:ins``/``w:del`` element with its id, author and date."""
    el = OxmlElement(tag)
    marks.next_id += 1
    marks.changes += 1
    el.set(qn("w:id"), str(marks.next_id))
    el.set(qn("w:author"), AUTHOR)
    el.set(qn("w:date"), marks.date)
    return el


def _child(parent: Any, tag: str, *, first: bool = False) -> Any:
    found = parent.find(qn(tag))
    if found is None:
        found = OxmlElement(tag)
        if first:
            parent.insert(0, found)
        else:
            parent.append(found)
    return found


def _mark_paragraph_inserted(p: Any, marks: _Marks) -> None:
    for run in list(p.findall(qn("w:r"))):
        wrapper = _change("w:ins", marks)
        run.addprevious(wrapper)
        wrapper.append(run)
    rpr = _child(_child(p, "w:pPr", first=True), "w:rPr")
    rpr.insert(0, _change("w:ins", marks))


def _mark_table(tbl: Any, tag: str, marks: _Marks) -> None:
    for tr in tbl.findall(qn("w:tr")):
        _mark_row(tr, tag, marks)


def _mark_row(tr: Any, tag: str, marks: _Marks) -> None:
    _child(tr, "w:trPr", first=True).append(_change(tag, marks))
    for p in tr.iter(W_P):
        if tag == "w:ins":
            _mark_paragraph_inserted(p, marks)
        else:
            _delete_paragraph_runs(p, marks)


def _delete_paragraph_runs(p: Any, marks: _Marks) -> None:
    for run in list(p.findall(qn("w:r"))):
        for t in run.findall(qn("w:t")):
            t.tag = qn("w:delText")
        wrapper = _change("w:del", marks)
        run.addprevious(wrapper)
        wrapper.append(run)


def _deleted_paragraph(text: str, style: str | None, marks: _Marks) -> Any:
    ppr = f'<w:pStyle w:val="{_x(style)}"/>' if style else ""
    return _element(
        f"<w:p><w:pPr>{ppr}<w:rPr><w:del {marks.attrs()}/></w:rPr></w:pPr>"
        f"{marks.del_runs(text)}</w:p>"
    )


def _deleted_table(rows: Sequence[Sequence[str]], marks: _Marks) -> Any:
    width = max((len(r) for r in rows), default=1)
    body = []
    for row in rows:
        cells = "".join(
            f"<w:tc><w:p>{marks.del_runs(row[c] if c < len(row) else '')}</w:p></w:tc>"
            for c in range(width)
        )
        body.append(f"<w:tr><w:trPr><w:del {marks.attrs()}/></w:trPr>{cells}</w:tr>")
    borders = "".join(
        f'<w:{side} w:val="single" w:sz="4" w:space="0" w:color="auto"/>'
        for side in ("top", "left", "bottom", "right", "insideH", "insideV")
    )
    grid = "".join('<w:gridCol w:w="1000"/>' for _ in range(width))
    return _element(
        f'<w:tbl><w:tblPr><w:tblW w:w="0" w:type="auto"/><w:tblBorders>{borders}'
        f"</w:tblBorders></w:tblPr><w:tblGrid>{grid}</w:tblGrid>{''.join(body)}</w:tbl>"
    )


def _rewrite_paragraph(p: Any, old: str, marks: _Marks) -> None:
    """The paragraph's text as a word diff from ``old``; its citation marker kept unmarked."""
    markers = [
        r
        for r in p.findall(qn("w:r"))
        if _MARKER_ONLY.match("".join(t.text or "" for t in r.findall(qn("w:t"))) or "x")
    ]
    new = without_markers(paragraph_text(p)).rstrip()
    for child in list(p):
        if child.tag != qn("w:pPr"):
            p.remove(child)
    for el in _element(f"<w:p>{word_diff(without_markers(old).rstrip(), new, marks)}</w:p>"):
        p.append(el)
    for run in markers:
        p.append(run)


def _rewrite_table(tbl: Any, old_rows: Sequence[Sequence[str]], marks: _Marks) -> None:
    new_rows = table_rows(tbl)
    trs = [tr for tr in tbl.findall(qn("w:tr")) if tr.find(f"{qn('w:trPr')}/{qn('w:del')}") is None]
    a = [table_key([r]) for r in old_rows]
    b = [table_key([r]) for r in new_rows]
    ops = difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes()
    for op, i1, i2, j1, j2 in reversed(ops):
        if op == "equal":
            continue
        pairs = min(i2 - i1, j2 - j1) if op == "replace" else 0
        for k in range(pairs):
            _rewrite_row(trs[j1 + k], old_rows[i1 + k], marks)
        for j in range(j1 + pairs, j2):
            _mark_row(trs[j], "w:ins", marks)
        extra = [old_rows[i] for i in range(i1 + pairs, i2)]
        if extra:
            deleted = _deleted_table(extra, marks).findall(qn("w:tr"))
            if j2 < len(trs):
                for tr in deleted:
                    trs[j2].addprevious(tr)
            else:
                last = trs[-1] if trs else None
                for tr in deleted:
                    if last is not None:
                        last.addnext(tr)
                        last = tr
                    else:
                        tbl.append(tr)


def _rewrite_row(tr: Any, old: Sequence[str], marks: _Marks) -> None:
    for c, tc in enumerate(tr.findall(qn("w:tc"))):
        old_text = old[c] if c < len(old) else ""
        paragraphs = tc.findall(W_P)
        new_text = "\n".join(paragraph_text(p) for p in paragraphs)
        if key(old_text) == key(new_text) or not paragraphs:
            continue
        first = paragraphs[0]
        for extra in paragraphs[1:]:
            tc.remove(extra)
        rpr = first.find(f"{qn('w:r')}/{qn('w:rPr')}")
        for child in list(first):
            if child.tag != qn("w:pPr"):
                first.remove(child)
        rpr_xml = etree.tostring(rpr, encoding="unicode") if rpr is not None else ""
        for el in _element(f"<w:p>{word_diff(old_text, new_text, marks)}</w:p>"):
            if rpr_xml:  # a header cell stays bold
                for run in el.iter(qn("w:r")):
                    run.insert(0, parse_xml(rpr_xml))
            first.append(el)


# ---------------------------------------------------------------- one section, the document


def redline_section(heading: Any, blocks: list[Any], old: dict[str, Any], marks: _Marks) -> None:
    """Mark, in ``blocks`` (the new section's body), the differences from ``old``."""
    old_items = _old_items(old)
    new_blocks = []
    for block in blocks:
        k = (
            key(paragraph_text(block))
            if block.tag == W_P
            else "table:" + table_key(table_rows(block))
        )
        if k and k != "table:":
            new_blocks.append((k, block))
    a = [o.key for o in old_items]
    b = [k for k, _block in new_blocks]
    last = blocks[-1] if blocks else heading

    def insert_before(j: int, element: Any) -> None:
        nonlocal last
        if j < len(new_blocks):
            new_blocks[j][1].addprevious(element)
        else:
            last.addnext(element)
            last = element

    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        olds = old_items[i1:i2]
        news = new_blocks[j1:j2]
        paired: list[tuple[_Old, Any]] = []
        if op == "replace":
            for o, (_k, block) in zip(olds, news, strict=False):
                same_kind = (o.kind == "table") == (block.tag == W_TBL)
                if same_kind and (
                    o.kind == "table"
                    or _similarity(o.text, without_markers(paragraph_text(block))) >= SIMILAR
                ):
                    paired.append((o, block))
        paired_olds = {id(o) for o, _b in paired}
        paired_news = {id(b) for _o, b in paired}
        for o, block in paired:
            if o.kind == "table":
                _rewrite_table(block, o.rows, marks)
            else:
                _rewrite_paragraph(block, o.text, marks)
        for _k, block in news:
            if id(block) in paired_news:
                continue
            if block.tag == W_TBL:
                _mark_table(block, "w:ins", marks)
            else:
                _mark_paragraph_inserted(block, marks)
        for o in olds:
            if id(o) in paired_olds:
                continue
            element = (
                _deleted_table(o.rows, marks)
                if o.kind == "table"
                else _deleted_paragraph(o.text, None, marks)
            )
            insert_before(j1, element)


def redline_document(
    document: Any,
    *,
    previous: Sequence[dict[str, Any]],
    current: Sequence[dict[str, Any]],
    date: str,
) -> list[str]:
    """Mark in ``document`` (the new version's .docx, changed in place) every section whose
    items differ from ``previous``. Returns the section ids that carry marks."""
    old_by_hex = sections_by_hex(previous)
    new_by_hex = sections_by_hex(current)
    marks = _Marks(date)
    _before, sections, _after = walk_sections(document.element.body)
    marked = []
    for section in sections:
        new = new_by_hex.get(section.hex)
        if new is None:
            continue
        old = old_by_hex.get(section.hex) or {**new, "paragraphs": [], "tables": []}
        if twin_keys(old) == twin_keys(new):
            continue
        before = marks.changes
        redline_section(section.heading, section.blocks, old, marks)
        if marks.changes > before:
            marked.append(new["section_id"])
    drop_orphan_comments(document)
    return marked


def marked_sections(document: Any) -> dict[str, int]:
    """Section hex → number of ``w:ins``/``w:del`` in its body (for checks and tests)."""
    _before, found, _after = walk_sections(document.element.body)
    out: dict[str, int] = {}
    for section in found:
        n = sum(1 for block in section.blocks for _el in block.iter(qn("w:ins"), qn("w:del")))
        if n:
            out[section.hex] = n
    return out
