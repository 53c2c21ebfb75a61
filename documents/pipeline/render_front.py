"""The front matter of a rendered .docx: the E3 title page and the table of contents.

**Title page** (ICH E3 section 1): the study title (``Title`` style), then one line per field —
protocol number, phase, sponsor, investigational product, indication, study initiation and
completion dates, report date and version, and the GCP compliance statement to confirm. Each
filled value comes from the sources' key facts (``render._key_facts``) and carries its citation
as a bracketed reference in the one numbering (``numbering.py``) and, in the review copy, a
Word comment with the source sentence; each missing value is a visible placeholder
("[Sponsor: not found in the sources — to be completed]"). The file's core property ``title``
is the study title (the output name when the sources do not give one).

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
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from docx.enum.style import WD_STYLE_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Pt

from documents.pipeline.types import Citation, KeyFact

if TYPE_CHECKING:  # pragma: no cover
    from documents.pipeline.render import _Writer

_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _x(text: str) -> str:
    """Text made safe for WordprocessingML (escaped, no characters XML cannot hold)."""
    return escape(_INVALID_XML.sub("", text), {'"': "&quot;"})


TOC_INSTRUCTION = 'TOC \\o "1-3" \\h \\z \\u'
TOC_LEVELS = 3
TOC_GALLERY = "Table of Contents"

# (fact name, label) in the order E3's title page lists them.
TITLE_FIELDS: tuple[tuple[str, str], ...] = (
    ("protocol_number", "Protocol number"),
    ("phase", "Phase of development"),
    ("sponsor", "Sponsor"),
    ("product", "Investigational product"),
    ("indication", "Indication"),
    ("first_patient", "Study initiation date (first patient enrolled)"),
    ("last_patient", "Study completion date (last patient completed)"),
)
DOCUMENT_KINDS = {"CSR": "Clinical Study Report", "PROTOCOL": "Clinical Study Protocol"}
GCP_PLACEHOLDER = (
    "[To be confirmed: this study was conducted in accordance with Good Clinical Practice (GCP), "
    "including the archiving of essential documents.]"
)


def placeholder(label: str) -> str:
    return f"[{label}: not found in the sources — to be completed]"


@dataclass(frozen=True)
class TocEntry:
    level: int
    text: str
    bookmark: str


def study_title(facts: Sequence[KeyFact]) -> str | None:
    for fact in facts:
        if fact.name == "title" and fact.value.strip():
            return " ".join(fact.value.split())
    return None


def fact_citation(fact: KeyFact) -> Citation:
    return Citation(
        file_path=fact.file_path,
        file_name=fact.file_name,
        page=fact.page,
        block=fact.block,
        quote=fact.quote,
    )


def write_title_page(
    w: _Writer,
    facts: Sequence[KeyFact],
    *,
    marker: Callable[[Sequence[Citation]], str],
    version: object = None,
) -> str:
    """Write the title page; returns the study title it used (for the core properties)."""
    by_name = {f.name: f for f in facts}
    title_fact = by_name.get("title")
    title = study_title(facts)
    shown = title or placeholder("Study title")
    runs = w.run(shown)
    if title_fact is not None and title:
        runs = w.fact_runs(runs, title_fact, marker)
    w.para(runs, style="Title" if "Title" in w._styles else None)
    subtitle = DOCUMENT_KINDS.get(
        (w.inp.document_type or "").strip().upper(), w.inp.document_type or w.inp.template_name
    )
    if subtitle:
        w.para(w.run(subtitle, bold=True))
    for name, label in TITLE_FIELDS:
        fact = by_name.get(name)
        value = " ".join(fact.value.split()) if fact is not None else ""
        if fact is None or not value:
            w.para(w.run(placeholder(label), italic=True))
            continue
        w.para(w.run(f"{label}: ", bold=True) + w.fact_runs(w.run(value), fact, marker))
    today = datetime.now(UTC).date().isoformat()
    version_text = f"draft version {version}" if version else "draft"
    w.para(
        w.run("Report date and version: ", bold=True)
        + w.run(f"{today}, {version_text} ")
        + w.run("[to be confirmed]", italic=True)
    )
    w.para(w.run("Good Clinical Practice: ", bold=True) + w.run(GCP_PLACEHOLDER, italic=True))
    w.para(
        w.run(
            "Draft written by Folio from the source documents listed at the end. Every value and "
            "paragraph cites its sources; bracketed values are placeholders to complete. Review "
            "before use.",
            italic=True,
            small=True,
        )
    )
    w.page_break()
    return title or ""


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
