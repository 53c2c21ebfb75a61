"""Carry people's edited sections into the next version's .docx as they left them.

A section that people changed in a reviewed copy is carried into the next version unchanged
(docs/api.md, "The review cycle"), tracked changes not yet accepted included: its WordprocessingML
is kept from the reviewed copy (``ReadSection.xml``) and replaces, in the new .docx, the body that
the renderer wrote from the twin. What cannot travel between two files is removed first: references
to the reviewed copy's own parts (images, hyperlink targets, footnotes, numbering definitions),
comment anchors (the comments themselves are kept on the version, not in the file) and bookmarks;
revision ids are renumbered so they stay unique in the new file."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls, qn
from lxml import etree

from documents.review.reader import TRACKED, walk_sections

R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_DROP = {
    qn("w:commentRangeStart"),
    qn("w:commentRangeEnd"),
    qn("w:bookmarkStart"),
    qn("w:bookmarkEnd"),
    qn("w:footnoteReference"),
    qn("w:endnoteReference"),
    qn("w:drawing"),
    qn("w:pict"),
    qn("w:object"),
    qn("w:numPr"),
    qn("w:permStart"),
    qn("w:permEnd"),
    qn("w:sectPr"),  # a section break inside a paragraph would change the new file's layout
}
_UNWRAP = {qn("w:hyperlink"), qn("w:smartTag"), qn("w:customXml")}
REVISION_ID_BASE = 700_000


def _parse_block(xml: str) -> Any:
    wrapper = parse_xml(f"<w:body {nsdecls('w', 'r')}>{xml}</w:body>")
    return wrapper[0]


def sanitize(block: Any) -> Any:
    """The block without references to its old file (module docstring); changed in place."""
    for el in list(block.iter()):
        if el.tag in _DROP or (
            el.tag == qn("w:r") and el.find(qn("w:commentReference")) is not None
        ):
            parent = el.getparent()
            if parent is not None:
                parent.remove(el)
    for el in list(block.iter(*_UNWRAP)):
        parent = el.getparent()
        if parent is None:
            continue
        index = parent.index(el)
        for child in list(el):
            if child.tag in (qn("w:hyperlinkPr"), qn("w:smartTagPr"), qn("w:customXmlPr")):
                continue
            parent.insert(index, child)
            index += 1
        parent.remove(el)
    for el in block.iter():
        for name in list(el.attrib):
            if name.startswith(f"{{{R_NS}}}"):
                del el.attrib[name]
    return block


def renumber_revisions(blocks: Sequence[Any], start: int) -> int:
    """Give every tracked change in ``blocks`` a new id from ``start``; returns the next id."""
    n = start
    for block in blocks:
        for el in block.iter(*TRACKED):
            if el.get(qn("w:id")) is not None:
                el.set(qn("w:id"), str(n))
                n += 1
    return n


def carried_blocks(xml: Sequence[str]) -> list[Any]:
    return [sanitize(_parse_block(x)) for x in xml if x.strip()]


def replace_section_bodies(document: Any, bodies: Mapping[str, Sequence[str]]) -> list[str]:
    """Put each section's carried blocks (section hex → block XML) in place of the body the
    renderer wrote. Returns the hexes replaced (a section absent from the file is skipped)."""
    _before, sections, _after = walk_sections(document.element.body)
    done = []
    next_id = REVISION_ID_BASE
    for section in sections:
        if section.hex not in bodies:
            continue
        for block in section.blocks:
            parent = block.getparent()
            if parent is not None:
                parent.remove(block)
        blocks = carried_blocks(bodies[section.hex])
        next_id = renumber_revisions(blocks, next_id)
        anchor = section.heading
        for block in blocks:
            anchor.addnext(block)
            anchor = block
        done.append(section.hex)
    return done


def drop_orphan_comments(document: Any) -> int:
    """Remove comments whose anchors are no longer in the body; returns how many."""
    from documents.review.reader import _comments_part

    part = _comments_part(document)
    if part is None:
        return 0
    anchored = {
        el.get(qn("w:id"))
        for el in document.element.body.iter(qn("w:commentRangeStart"), qn("w:commentReference"))
    }
    root = part.element
    removed = 0
    for comment in root.findall(qn("w:comment")):
        if comment.get(qn("w:id")) not in anchored:
            root.remove(comment)
            removed += 1
    return removed


def to_xml(block: Any) -> str:
    return etree.tostring(block, encoding="unicode")
