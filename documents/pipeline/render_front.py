"""The front matter of a rendered .docx: the E3 title page and the table of contents.

**Title page** (ICH E3 section 1; its lines come from ``title_page.py``): the study title
(``Title`` style), the kind of document, then one line per key fact — protocol number, phase,
sponsor, investigational product, indication, study dates, ... — the report date and version,
and the GCP compliance statement to confirm. Each filled value carries its citation as a
bracketed reference in the one numbering (``numbering.py``) and, in the review copy, a Word
comment with the source sentence; each missing value is a visible placeholder ("[Sponsor: not
found in the sources — to be completed]"). When the outline has E3's "1 Title Page" section,
that section *is* the title page (``write_title_section``: its twin paragraphs, laid out under
its heading), so each fact appears once; otherwise the same lines are a cover before the first
section (``write_title_page``). The file's core property ``title`` is the study title (the
output name when the sources do not give one).

**Table of contents**: a ``w:sdt`` content control of the "Table of Contents" gallery holding a
``TOC \\o "1-3" \\h \\z \\u`` field whose result is already written — one ``TOC1``..``TOC3``
paragraph per heading down to level 3, each a hyperlink to the heading's bookmark — so the
entries are there when the file is opened, and Word's "Update Field" can still refresh them
(adding page numbers).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from docx.enum.style import WD_STYLE_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Pt

from documents.pipeline.title_page import (
    DATE_LABEL,
    DRAFT_PROPERTY,
    GCP_LABEL,
    TITLE_FIELDS,
    line_kind,
    study_title,
    title_lines,
)
from documents.pipeline.types import Citation, KeyFact, SectionDraft

if TYPE_CHECKING:  # pragma: no cover
    from documents.pipeline.render import _Writer

_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _x(text: str) -> str:
    """Text made safe for WordprocessingML (escaped, no characters XML cannot hold)."""
    return escape(_INVALID_XML.sub("", text), {'"': "&quot;"})


TOC_INSTRUCTION = 'TOC \\o "1-3" \\h \\z \\u'
TOC_LEVELS = 3
TOC_GALLERY = "Table of Contents"


@dataclass(frozen=True)
class TocEntry:
    level: int
    text: str
    bookmark: str


def fact_citation(fact: KeyFact) -> Citation:
    return Citation(
        file_path=fact.file_path,
        file_name=fact.file_name,
        page=fact.page,
        block=fact.block,
        quote=fact.quote,
    )


def _line_runs(
    w: _Writer, kind: str, text: str, label: str, value_runs: Callable[[str], str]
) -> str:
    """A title-page line's runs: the label bold, a placeholder or note italic, "[to be
    confirmed]" italic; ``value_runs`` wraps the value (its citation)."""
    if kind == "note":
        return w.run(text, italic=True, small=True)
    if kind == "placeholder":
        return w.run(text, italic=True)
    if kind == "subtitle":
        return w.run(text, bold=True)
    if not label or not text.startswith(f"{label}: "):
        return value_runs(text)
    value = text[len(label) + 2 :]
    head = w.run(f"{label}: ", bold=True)
    if kind == "gcp":
        return head + w.run(value, italic=True)
    if kind == "date":
        return head + draft_field(w) + w.run(" ") + w.run(value, italic=True)
    return head + value_runs(value)


def draft_field(w: _Writer) -> str:
    """The report date and version as a ``DOCPROPERTY`` field whose result is written."""
    return (
        '<w:r><w:fldChar w:fldCharType="begin"/></w:r>'
        f'<w:r><w:instrText xml:space="preserve"> DOCPROPERTY {DRAFT_PROPERTY} '
        "\\* MERGEFORMAT </w:instrText></w:r>"
        '<w:r><w:fldChar w:fldCharType="separate"/></w:r>'
        f"{w.run(w.draft_stamp)}"
        '<w:r><w:fldChar w:fldCharType="end"/></w:r>'
    )


def _label(text: str) -> str:
    head = text.split(": ", 1)[0]
    known = {label for _n, label, _e in TITLE_FIELDS} | {DATE_LABEL, GCP_LABEL}
    return head if head in known else ""


def write_title_page(
    w: _Writer,
    facts: Sequence[KeyFact],
    *,
    marker: Callable[[Sequence[Citation]], str],
) -> str:
    """The title page as a cover before the first section, for an outline without a title-page
    section; returns the study title it used (for the core properties)."""
    lines = title_lines(
        facts,
        document_type=w.inp.document_type or "",
        template_name=w.inp.template_name or "",
    )
    for line in lines:
        fact = line.fact

        def value_runs(value: str, fact: KeyFact | None = fact) -> str:
            runs = w.run(value)
            return w.fact_runs(runs, fact, marker) if fact is not None else runs

        runs = _line_runs(w, line.kind, line.text, line.label, value_runs)
        w.para(runs, style="Title" if line.kind == "title" and "Title" in w._styles else None)
    w.page_break()
    return study_title(facts) or ""


def write_title_section(w: _Writer, draft: SectionDraft) -> str:
    """The title-page section's paragraphs (``derive.title_page``) written as the title page:
    the same words as the twin, laid out as ``write_title_page`` lays them, each citation a
    bracketed reference and, in the review copy, a comment with its source sentence. Returns
    the study title (empty when it is a placeholder)."""
    title = ""
    for para in draft.paragraphs:
        kind = line_kind(para.flags) or "fact"
        if kind == "title" and para.style != "note":
            title = para.text
        citations = para.citations

        def value_runs(value: str, citations: Sequence[Citation] = citations) -> str:
            runs = w.run(value)
            if not citations:
                return runs
            return w.cited_runs(runs, citations[0]) + w.marker(citations)

        runs = _line_runs(w, kind, para.text, _label(para.text), value_runs)
        w.para(runs, style="Title" if kind == "title" and "Title" in w._styles else None)
    w.page_break()
    return title


def is_title_section(draft: SectionDraft) -> bool:
    """A section written as the title page: derived title-page lines, still Folio's own."""
    return draft.state in {"generated", "no_source"} and any(
        line_kind(p.flags) for p in draft.paragraphs
    )


def ensure_toc_styles(w: _Writer) -> None:
    names = {s.name: s for s in w.doc.styles}
    for level in range(1, TOC_LEVELS + 1):
        name = f"toc {level}"
        style = names.get(name)
        if style is None:
            style = w.doc.styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
            style.style_id = f"TOC{level}"  # Word's own id for its built-in "toc N"
            style.base_style = w.doc.styles["Normal"]
            style.paragraph_format.left_indent = Pt(11 * (level - 1))
            style.paragraph_format.space_after = Pt(2)
            ppr = style.element.get_or_add_pPr()
            tabs = OxmlElement("w:tabs")
            tab = OxmlElement("w:tab")
            tab.set(qn("w:val"), "right")
            tab.set(qn("w:leader"), "dot")
            tab.set(qn("w:pos"), "9000")
            tabs.append(tab)
            ppr.append(tabs)
        w._styles[f"TOC{level}"] = style.style_id


def toc_xml(w: _Writer, entries: Sequence[TocEntry], *, heading: bool) -> str:
    """The table of contents as a ``w:sdt`` whose TOC field result holds ``entries``."""
    ensure_toc_styles(w)
    paras: list[str] = []
    if heading:
        style = w._styles.get("TOC Heading")
        ppr = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>' if style else ""
        paras.append(f"<w:p>{ppr}{w.run('Table of Contents', bold=True)}</w:p>")
    begin = (
        '<w:r><w:fldChar w:fldCharType="begin"/></w:r>'
        f'<w:r><w:instrText xml:space="preserve"> {_x(TOC_INSTRUCTION)} </w:instrText></w:r>'
        '<w:r><w:fldChar w:fldCharType="separate"/></w:r>'
    )
    end = '<w:r><w:fldChar w:fldCharType="end"/></w:r>'
    shown = [e for e in entries if e.level <= TOC_LEVELS]
    if not shown:
        paras.append(f"<w:p>{begin}{end}</w:p>")
    for k, entry in enumerate(shown):
        style = w._styles[f"TOC{max(1, entry.level)}"]
        link = (
            f'<w:hyperlink w:anchor="{_x(entry.bookmark)}" w:history="1">'
            f"{w.run(entry.text)}</w:hyperlink>"
        )
        paras.append(
            f'<w:p><w:pPr><w:pStyle w:val="{style}"/></w:pPr>'
            f"{begin if k == 0 else ''}{link}{end if k == len(shown) - 1 else ''}</w:p>"
        )
    return (
        "<w:sdt><w:sdtPr><w:docPartObj>"
        f'<w:docPartGallery w:val="{TOC_GALLERY}"/><w:docPartUnique/>'
        "</w:docPartObj></w:sdtPr><w:sdtContent>" + "".join(paras) + "</w:sdtContent></w:sdt>"
    )
