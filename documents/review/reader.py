"""Read a generated .docx back: its custom properties, its sections (by their heading bookmarks),
each section's text with tracked changes accepted, and the reviewers' comments per section.

Sections are found by the ``folio_<32 hex>`` bookmark inside their heading
(``pipeline/docx_identity.py``), never by heading text or position, so inserted paragraphs,
renumbered headings and another editor's round trip (LibreOffice) do not matter. A section's
body is every block after its heading up to the next section heading or ``folio_end`` (the
sources list), or the end of the document.

Text is read as a reviewer would see it after "Accept all changes": inserted and moved-to runs
count, deleted and moved-from runs do not, deleted rows are gone, and a paragraph whose mark was
deleted joins the next one. Field results that Word computes (a table of contents, a document
property such as the title page's report date and version, a date or page number) are not text
anyone wrote and are left out.

Comments come from ``word/comments.xml``, each placed in the section where its anchor
(``w:commentRangeStart`` or ``w:commentReference``) stands; those of author ``Folio`` (the
renderer's notes on reworded sentences) are never instructions and are left out here.

``read_reviewed_copy(path)`` returns plain picklable records: it runs in the limited child
process (``pipeline/limited.run_limited``) when the file comes from a user.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import docx
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml.ns import qn
from lxml import etree

from documents.pipeline.docx_identity import (
    BOOKMARK_PREFIX,
    CUSTOM_PROPERTIES_RELTYPE,
    END_BOOKMARK,
    is_section_bookmark,
    parse_custom_properties,
)
from documents.pipeline.wordml import (
    W_BOOKMARK_START,
    W_ID,
    W_NAME,
    W_P,
    W_SDT,
    W_SDT_CONTENT,
    W_TBL,
)

FOLIO_AUTHOR = "Folio"
MAX_COMMENTS = 5000

TRACKED = {
    qn("w:ins"),
    qn("w:del"),
    qn("w:moveFrom"),
    qn("w:moveTo"),
    qn("w:rPrChange"),
    qn("w:pPrChange"),
    qn("w:cellIns"),
    qn("w:cellDel"),
}
_SKIP_CONTAINERS = {qn("w:del"), qn("w:moveFrom")}


@dataclass(frozen=True)
class ReadItem:
    """A paragraph (``rows`` empty) or a table of a section, as its text reads."""

    kind: str  # "paragraph" | "table"
    text: str = ""
    style: str = ""  # the paragraph style's id ("ListParagraph", "Caption", ...)
    rows: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class ReadComment:
    comment_id: str
    author: str
    text: str
    section_hex: str | None  # None: anchored outside every section


@dataclass(frozen=True)
class ReadSection:
    hex: str
    heading: str
    items: tuple[ReadItem, ...]
    tracked_changes: bool
    xml: tuple[str, ...]  # the body blocks as WordprocessingML, in order (for carrying)


@dataclass(frozen=True)
class ReviewedCopy:
    properties: dict[str, str]
    sections: tuple[ReadSection, ...]
    comments: tuple[ReadComment, ...]
    folio_comments: int = 0  # Folio's own comments seen (and ignored)


# ---------------------------------------------------------------- walking the body


@dataclass
class SectionBlocks:
    """One section of a body: its heading paragraph and its body blocks (w:p / w:tbl)."""

    hex: str
    heading: Any
    blocks: list[Any] = field(default_factory=list)


def _is_toc(sdt: Any) -> bool:
    gallery = sdt.find(f"{qn('w:sdtPr')}/{qn('w:docPartObj')}/{qn('w:docPartGallery')}")
    return gallery is not None and (gallery.get(qn("w:val")) or "").lower() == "table of contents"


def _blocks(parent: Any) -> Iterator[Any]:
    """Top-level paragraphs and tables in order; content controls are looked into, except a
    table of contents (computed entries, nobody's text)."""
    for child in parent:
        if child.tag in (W_P, W_TBL):
            yield child
        elif child.tag == W_SDT:
            content = child.find(W_SDT_CONTENT)
            if content is not None and not _is_toc(child):
                yield from _blocks(content)
        elif child.tag == W_BOOKMARK_START:
            yield child  # a bookmark between paragraphs (another editor may put it there)


def _bookmarks(element: Any) -> list[str]:
    if element.tag == W_BOOKMARK_START:
        return [element.get(W_NAME) or ""]
    return [b.get(W_NAME) or "" for b in element.iter(W_BOOKMARK_START)]


def walk_sections(body: Any) -> tuple[list[Any], list[SectionBlocks], list[Any]]:
    """(blocks before the first section, the sections, blocks from ``folio_end`` on)."""
    before: list[Any] = []
    after: list[Any] = []
    sections: list[SectionBlocks] = []
    pending: str | None = None  # a section bookmark standing between paragraphs
    ended = False
    for block in _blocks(body):
        names = _bookmarks(block)
        if block.tag == W_BOOKMARK_START:
            if END_BOOKMARK in names:
                ended = True
            hexes = [n[len(BOOKMARK_PREFIX) :] for n in names if is_section_bookmark(n)]
            if hexes and not ended:
                pending = hexes[0]
            continue
        if ended or END_BOOKMARK in names:
            ended = True
            after.append(block)
            continue
        hexes = [n[len(BOOKMARK_PREFIX) :] for n in names if is_section_bookmark(n)]
        if block.tag == W_P and (hexes or pending):
            sections.append(SectionBlocks(hex=hexes[0] if hexes else str(pending), heading=block))
            pending = None
            continue
        if sections:
            sections[-1].blocks.append(block)
        else:
            before.append(block)
    return before, sections, after


# ---------------------------------------------------------------- text with changes accepted


# Fields whose result Word computes from the file itself: a table of contents, a document
# property (the title page's report date and version, ``pipeline/title_page.py``), dates, pages.
COMPUTED_FIELDS = (
    "TOC",
    "DOCPROPERTY",
    "CREATEDATE",
    "SAVEDATE",
    "PRINTDATE",
    "DATE",
    "TIME",
    "PAGE",
    "NUMPAGES",
)


def computed_field(instruction: str) -> bool:
    words = instruction.strip().upper().split()
    return bool(words) and words[0] in COMPUTED_FIELDS


class _Fields:
    """Complex fields open across runs and paragraphs; text inside a TOC's result is skipped."""

    def __init__(self) -> None:
        self.stack: list[dict[str, Any]] = []

    def skipping(self) -> bool:
        return any(f["result"] and computed_field(f["instr"]) for f in self.stack)

    def fld_char(self, kind: str | None) -> None:
        if kind == "begin":
            self.stack.append({"instr": "", "result": False})
        elif kind == "separate" and self.stack:
            self.stack[-1]["result"] = True
        elif kind == "end" and self.stack:
            self.stack.pop()


def _deleted(element: Any, stop: Any) -> bool:
    parent = element.getparent()
    while parent is not None and parent is not stop:
        if parent.tag in _SKIP_CONTAINERS:
            return True
        parent = parent.getparent()
    return False


def paragraph_text(p: Any, fields: _Fields | None = None) -> str:
    """The paragraph's text with tracked changes accepted and computed TOC entries left out."""
    fields = fields or _Fields()
    out: list[str] = []
    for el in p.iter():
        tag = el.tag
        if tag == qn("w:fldSimple"):
            continue  # its result runs are read below unless it is a TOC
        if tag == qn("w:fldChar"):
            fields.fld_char(el.get(qn("w:fldCharType")))
            continue
        if tag == qn("w:instrText"):
            if fields.stack:
                fields.stack[-1]["instr"] += el.text or ""
            continue
        if tag not in (qn("w:t"), qn("w:tab"), qn("w:br"), qn("w:noBreakHyphen"), qn("w:cr")):
            continue
        if _deleted(el, p) or fields.skipping() or _in_computed_simple_field(el, p):
            continue
        if tag == qn("w:t"):
            out.append(el.text or "")
        elif tag == qn("w:tab"):
            # A tab stop inside paragraph properties is not text.
            if el.getparent() is not None and el.getparent().tag == qn("w:tabs"):
                continue
            out.append("\t")
        elif tag in (qn("w:br"), qn("w:cr")):
            out.append("\n")
        else:
            out.append("-")
    return "".join(out)


def _in_computed_simple_field(el: Any, stop: Any) -> bool:
    parent = el.getparent()
    while parent is not None and parent is not stop:
        if parent.tag == qn("w:fldSimple"):
            return computed_field(parent.get(qn("w:instr")) or "")
        parent = parent.getparent()
    return False


def paragraph_mark_deleted(p: Any) -> bool:
    rpr = p.find(f"{qn('w:pPr')}/{qn('w:rPr')}")
    return rpr is not None and rpr.find(qn("w:del")) is not None


def paragraph_style(p: Any) -> str:
    style = p.find(f"{qn('w:pPr')}/{qn('w:pStyle')}")
    return (style.get(qn("w:val")) or "") if style is not None else ""


def table_rows(tbl: Any) -> tuple[tuple[str, ...], ...]:
    rows = []
    for tr in tbl.findall(qn("w:tr")):
        trpr = tr.find(qn("w:trPr"))
        if trpr is not None and trpr.find(qn("w:del")) is not None:
            continue  # a deleted row
        cells = []
        for tc in tr.findall(qn("w:tc")):
            lines = [paragraph_text(p) for p in tc.iter(W_P)]
            cells.append("\n".join(line for line in lines if line))
        rows.append(tuple(cells))
    return tuple(rows)


def read_items(blocks: list[Any]) -> list[ReadItem]:
    """A section's paragraphs (empty ones left out) and tables, changes accepted."""
    items: list[ReadItem] = []
    fields = _Fields()
    carry = ""  # text of a paragraph whose mark was deleted: it joins the next one
    for block in blocks:
        if block.tag == W_TBL:
            if carry.strip():
                items.append(ReadItem("paragraph", text=carry))
                carry = ""
            items.append(ReadItem("table", rows=table_rows(block)))
            continue
        text = carry + paragraph_text(block, fields)
        if paragraph_mark_deleted(block):
            carry = text
            continue
        carry = ""
        if text.strip():
            items.append(ReadItem("paragraph", text=text, style=paragraph_style(block)))
    if carry.strip():
        items.append(ReadItem("paragraph", text=carry))
    return items


def has_tracked_changes(blocks: list[Any]) -> bool:
    return any(el.tag in TRACKED for block in blocks for el in block.iter())


# ---------------------------------------------------------------- comments


def comment_anchors(blocks: list[Any]) -> list[str]:
    """Ids of the comments anchored in ``blocks``, in order of their first anchor."""
    found: list[str] = []
    for block in blocks:
        for el in block.iter(qn("w:commentRangeStart"), qn("w:commentReference")):
            cid = el.get(W_ID)
            if cid is not None and cid not in found:
                found.append(cid)
    return found


def _comments_part(document: Any) -> Any | None:
    for rel in document.part.rels.values():
        if rel.reltype == RT.COMMENTS and not rel.is_external:
            return rel.target_part
    return None


def _comment_texts(part: Any) -> dict[str, tuple[str, str]]:
    """Comment id → (author, text): the comment's paragraphs, one line each."""
    root = part.element if hasattr(part, "element") else etree.fromstring(part.blob)
    out: dict[str, tuple[str, str]] = {}
    for comment in root.findall(qn("w:comment"))[:MAX_COMMENTS]:
        cid = comment.get(W_ID)
        if cid is None:
            continue
        lines = [paragraph_text(p).strip() for p in comment.iter(W_P)]
        out[cid] = ((comment.get(qn("w:author")) or "").strip(), "\n".join(x for x in lines if x))
    return out


def _properties(document: Any) -> dict[str, str]:
    for rel in document.part.package.rels.values():
        if rel.reltype == CUSTOM_PROPERTIES_RELTYPE and not rel.is_external:
            return parse_custom_properties(rel.target_part.blob)
    return {}


# ---------------------------------------------------------------- the whole file


def read_document(document: Any) -> ReviewedCopy:
    """A python-docx ``Document`` read as a reviewed copy (see the module docstring)."""
    body = document.element.body
    before, sections, after = walk_sections(body)
    anchored: dict[str, str | None] = {}
    for cid in comment_anchors(before):
        anchored.setdefault(cid, None)
    read_sections = []
    for section in sections:
        for cid in comment_anchors([section.heading, *section.blocks]):
            anchored.setdefault(cid, section.hex)
        read_sections.append(
            ReadSection(
                hex=section.hex,
                heading=paragraph_text(section.heading).strip(),
                items=tuple(read_items(section.blocks)),
                tracked_changes=has_tracked_changes(section.blocks),
                xml=tuple(etree.tostring(b, encoding="unicode") for b in section.blocks),
            )
        )
    for cid in comment_anchors(after):
        anchored.setdefault(cid, None)
    part = _comments_part(document)
    texts = _comment_texts(part) if part is not None else {}
    comments = []
    folio = 0
    for cid, (author, text) in texts.items():
        if author == FOLIO_AUTHOR:
            folio += 1
            continue
        if not text:
            continue
        comments.append(ReadComment(cid, author or "Reviewer", text, anchored.get(cid)))
    return ReviewedCopy(
        properties=_properties(document),
        sections=tuple(read_sections),
        comments=tuple(comments),
        folio_comments=folio,
    )


def read_reviewed_copy(path: str) -> ReviewedCopy:
    """``read_document`` of the .docx at ``path`` (picklable result, for the limited child)."""
    return read_document(docx.Document(path))
