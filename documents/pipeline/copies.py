"""The copies of one generation (CONTRACT §9), made from the stored review copy and the twin.

The job stores one file, the **review copy** (``render.py``): rewritten sentences highlighted,
source sentences as Word comments, the full list of sources with quotes and the QC report as an
appendix. Everything else is made from it and from the twin when someone downloads it
(``documents/downloads.py`` caches the result by document and twin state):

- ``apply_section_states``: sections a person marked not applicable (the twin's ``state``)
  lose their body for one "Not applicable: <reason>" paragraph; in both copies.
- ``replace_qc``: the QC report written again from the twin's (recounted) ``qc``.
- ``make_clean``: the **clean copy** for circulation — no highlights, no comments (anchors and
  the comments part both gone), no QC report (its heading, its table of contents entry and
  everything after it), and in place of the long quoted list a compact "List of Sources and
  References": one paragraph per source file giving each reference number and its page or
  block ("protocol.pdf: p. 12 [3, 7–9]; p. 13 [4]"), read from the review copy's own list, so the
  numbers are the ones its markers carry (``numbering.py``).
- ``cut_part``: the list of sources (files and every reference with its quote) or the QC report,
  each as its own .docx: the review copy with everything else removed.

Both copies keep what the review cycle reads back (``docx_identity``): the section bookmarks,
``folio_end`` on the list of sources and the custom document properties.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls, qn

from documents.pipeline.docx_identity import BOOKMARK_PREFIX, END_BOOKMARK, section_bookmark
from documents.pipeline.render import QC_BOOKMARK, _compress, _Writer, _x
from documents.pipeline.types import PipelineInput
from documents.pipeline.wordml import W_BOOKMARK_START, W_NAME, W_P, W_SDT, W_SECTPR


def _bookmarks(block: Any) -> set[str]:
    if block.tag == W_BOOKMARK_START:
        return {block.get(W_NAME) or ""}
    return {b.get(W_NAME) or "" for b in block.iter(W_BOOKMARK_START)}


def _body_blocks(body: Any) -> list[Any]:
    return [child for child in body if child.tag != W_SECTPR]


def _is_heading_of_a_section(block: Any) -> bool:
    return block.tag == W_P and any(
        n.startswith(BOOKMARK_PREFIX) and n != QC_BOOKMARK for n in _bookmarks(block)
    )


# ---------------------------------------------------------------- section states


def apply_section_states(document: Any, states: Mapping[str, str]) -> list[str]:
    """Give each section in ``states`` (section id → reason) the single paragraph
    "Not applicable: <reason>" as its body. Returns the section ids found in the file."""
    if not states:
        return []
    wanted = {section_bookmark(sid): (sid, reason) for sid, reason in states.items()}
    blocks = _body_blocks(document.element.body)
    done: list[str] = []
    k = 0
    while k < len(blocks):
        block = blocks[k]
        hit = next((wanted[n] for n in _bookmarks(block) if n in wanted), None)
        k += 1
        if hit is None or block.tag != W_P:
            continue
        while k < len(blocks) and not _is_heading_of_a_section(blocks[k]):
            if blocks[k].tag == W_SDT:  # a table of contents inside the section stays
                k += 1
                continue
            blocks[k].getparent().remove(blocks[k])
            k += 1
        sid, reason = hit
        note = parse_xml(
            f"<w:p {nsdecls('w')}><w:r><w:rPr><w:b/></w:rPr>"
            '<w:t xml:space="preserve">Not applicable: </w:t></w:r>'
            f'<w:r><w:rPr><w:i/></w:rPr><w:t xml:space="preserve">{_x(reason)}</w:t></w:r></w:p>'
        )
        block.addnext(note)
        done.append(sid)
    _drop_orphan_comments(document)
    return done


def replace_qc(document: Any, qc: dict[str, Any]) -> None:
    """Write the QC report again from ``qc`` (the twin's, recounted when a section was marked)
    in place of the one the file holds (from the ``folio_qc`` heading to the end)."""
    blocks, _start, at = _tail(document)
    if at is None:
        return
    anchor = blocks[at].getprevious()
    parent = blocks[at].getparent()
    for block in blocks[at:]:
        parent.remove(block)
    inp = PipelineInput(sources=(), template_name="", document_type="", output_name="")
    w = _Writer(inp, [], document=document)
    w.qc_report(qc)
    fragment = parse_xml(f"<w:body {nsdecls('w')}>{''.join(w.parts)}</w:body>")
    for child in list(fragment):
        anchor.addnext(child)
        anchor = child


# ---------------------------------------------------------------- the clean copy


def _drop_comments(document: Any) -> None:
    body = document.element.body
    for el in list(body.iter(qn("w:commentRangeStart"), qn("w:commentRangeEnd"))):
        el.getparent().remove(el)
    for ref in list(body.iter(qn("w:commentReference"))):
        run = ref.getparent()
        if run is not None and run.getparent() is not None:
            run.getparent().remove(run)
    part = document.part
    for rid, rel in list(part.rels.items()):
        if rel.reltype == RT.COMMENTS:
            part.drop_rel(rid)


def _drop_orphan_comments(document: Any) -> None:
    part = document.part
    rel = next((r for r in part.rels.values() if r.reltype == RT.COMMENTS), None)
    if rel is None:
        return
    anchored = {
        el.get(qn("w:id"))
        for el in document.element.body.iter(qn("w:commentRangeStart"), qn("w:commentReference"))
    }
    root = rel.target_part.element
    for comment in root.findall(qn("w:comment")):
        if comment.get(qn("w:id")) not in anchored:
            root.remove(comment)


_REFERENCE = re.compile(r"^\[(\d+)\]\t(.*?): “")
_PLACE = re.compile(r"^(.*), (page|block) (\d+)$")


def _para_text(p: Any) -> str:
    out = []
    for el in p.iter(qn("w:t"), qn("w:tab")):
        out.append("\t" if el.tag == qn("w:tab") else (el.text or ""))
    return "".join(out)


def read_sources_list(blocks: Sequence[Any]) -> tuple[list[str], list[tuple[int, str, str]]]:
    """The review copy's list of sources, read back: the file names, and every reference as
    (number, file name, place)."""
    files: list[str] = []
    refs: list[tuple[int, str, str]] = []
    for block in blocks:
        if block.tag != W_P:
            continue
        text = _para_text(block)
        match = _REFERENCE.match(text)
        if match:
            where = _PLACE.match(match.group(2))
            if where:
                kind = "p." if where.group(2) == "page" else "block"
                refs.append((int(match.group(1)), where.group(1), f"{kind} {where.group(3)}"))
            else:
                refs.append((int(match.group(1)), match.group(2), "whole file"))
            continue
        runs = block.findall(qn("w:r"))
        if runs and runs[0].find(f"{qn('w:rPr')}/{qn('w:b')}") is not None and len(runs) > 1:
            files.append("".join(t.text or "" for t in runs[0].iter(qn("w:t"))))
    return files, refs


def _place_key(place: str) -> tuple[int, int]:
    kind, _sep, number = place.partition(" ")
    order = {"p.": 0, "block": 1}.get(kind, 2)
    return (order, int(number) if number.isdigit() else 0)


def compact_sources_xml(files: Sequence[str], refs: Sequence[tuple[int, str, str]]) -> list[str]:
    """One paragraph per source file: its name, then each page or block it is cited at with the
    reference numbers there ("protocol.pdf: p. 3 [1, 4–6]; p. 12 [2]")."""
    by_file: dict[str, dict[str, list[int]]] = {name: {} for name in files}
    for number, name, place in refs:
        by_file.setdefault(name, {}).setdefault(place, []).append(number)
    out = []
    for name, places in by_file.items():
        listed = "; ".join(
            f"{place} [{', '.join(_compress(sorted(numbers)))}]"
            for place, numbers in sorted(places.items(), key=lambda kv: _place_key(kv[0]))
        )
        out.append(
            f'<w:p {nsdecls("w")}><w:pPr><w:spacing w:after="80"/></w:pPr>'
            f'<w:r><w:rPr><w:b/></w:rPr><w:t xml:space="preserve">{_x(name)}</w:t></w:r>'
            + (
                f'<w:r><w:rPr><w:sz w:val="18"/></w:rPr><w:t xml:space="preserve">: '
                f"{_x(listed)}</w:t></w:r>"
                if listed
                else ""
            )
            + "</w:p>"
        )
    return out


def _tail(document: Any) -> tuple[list[Any], int | None, int | None]:
    """(the body's blocks, the index of the list of sources' heading, of the QC heading)."""
    blocks = _body_blocks(document.element.body)
    start = next((k for k, b in enumerate(blocks) if END_BOOKMARK in _bookmarks(b)), None)
    qc = next((k for k, b in enumerate(blocks) if QC_BOOKMARK in _bookmarks(b)), None)
    return blocks, start, qc


def make_clean(document: Any) -> None:
    """Turn the review copy in ``document`` into the clean copy (module docstring), in place."""
    body = document.element.body
    for el in list(body.iter(qn("w:highlight"))):
        el.getparent().remove(el)
    _drop_comments(document)
    # The table of contents loses its QC entry.
    for link in list(body.iter(qn("w:hyperlink"))):
        if link.get(qn("w:anchor")) == QC_BOOKMARK:
            para = link.getparent()
            if para.find(f".//{qn('w:fldChar')}") is not None:
                para.remove(link)
            else:
                para.getparent().remove(para)
    blocks, start, _qc = _tail(document)
    if start is None:
        return
    files, refs = read_sources_list(blocks[start + 1 :])
    for block in blocks[start + 1 :]:
        body.remove(block)
    anchor = blocks[start]
    for xml in compact_sources_xml(files, refs):
        para = parse_xml(xml)
        anchor.addnext(para)
        anchor = para


def cut_part(document: Any, part: str, *, title: str) -> None:
    """Keep only the list of sources (``part="sources"``) or the QC report (``"qc"``) of the
    review copy in ``document``, under a title; in place."""
    body = document.element.body
    blocks, start, qc = _tail(document)
    if part == "sources":
        keep = blocks[start:qc] if start is not None else []
    else:
        keep = blocks[qc:] if qc is not None else []
    kept = {id(b) for b in keep}
    for block in blocks:
        if id(block) not in kept:
            body.remove(block)
    _drop_comments(document)
    # No section bookmark is left, so a part is never taken for a reviewed copy of the document.
    for el in list(body.iter(qn("w:bookmarkStart"), qn("w:bookmarkEnd"))):
        el.getparent().remove(el)
    heading = parse_xml(
        f'<w:p {nsdecls("w")}><w:pPr><w:pStyle w:val="Title"/></w:pPr>'
        f'<w:r><w:t xml:space="preserve">{_x(title)}</w:t></w:r></w:p>'
    )
    body.insert(0, heading)
    document.core_properties.title = title[:255]
