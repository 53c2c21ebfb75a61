"""Render the drafts as a Word document.

Layout: the E3 title page and the table of contents with its entries already written
(``render_front.py``; the outline's "1 Title Page" section is written as the title page, else the
title page is a cover before the first section; the TOC is placed in the outline's table-of-contents
section when there is one, else after the title page), then every section as a real ``Heading N``
paragraph whose text carries the template's number ("9.4.1 Blinding"), its paragraphs, lists (with
the source's own labels, indented by label kind), tables (``Table Grid``) and a bracketed citation
marker "[12, 13]" after each paragraph and table. The numbers are the one numbering of
``numbering.py`` (the preview and the twin's consumers use the same). The markers point into the
numbered "List of Sources and References" (file, page or block, quote). Sentences the writer
reworded (tense, terms, abbreviations) are highlighted in yellow and carry a Word comment with the
source sentence; banned phrases get a comment too. ``no_source`` sections show their one sentence in
italics, ``not_applicable`` ones "Not applicable: <reason>". The "Quality control report" is the
last section (bookmark ``folio_qc``).

This file is the **review copy**; the clean copy, the QC report and the list of sources as
their own files are made from it and the twin on download (``copies.py``, docs/api.md).

Identity (``docx_identity``, CONTRACT §8): each section heading holds a bookmark named from its
section id, the "List of Sources and References" heading holds ``folio_end``, and
``inp.document_properties`` become the file's custom properties, so that a copy reviewed in Word
can be matched back to its document, version and sections.

With ``inp.base_document_path`` the template .docx is opened instead of python-docx's default: its
styles, headers, footers and page setup are kept and its body is cleared first. Heading styles it
lacks are created (with an outline level, so the TOC field sees them), and the automatic numbering
its heading styles may carry is switched off on our headings, whose text has the number.

Speed: python-docx's element API costs about 1 ms per run (style lookups by name, ordered child
insertion, character-by-character text); the body is therefore written as WordprocessingML text,
parsed once by lxml and appended before the final ``w:sectPr`` — the same XML, about ten times
faster. Comments go into the comments part the same way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import docx
from docx.enum.style import WD_STYLE_TYPE
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Pt

from documents.pipeline import language
from documents.pipeline.docx_identity import (
    END_BOOKMARK,
    section_bookmark,
    write_custom_properties,
)
from documents.pipeline.numbering import CitationKey, citation_key, number_citations
from documents.pipeline.profiles import e3_entry
from documents.pipeline.render_front import (
    TocEntry,
    _x,
    fact_citation,
    is_title_section,
    toc_xml,
    write_title_page,
    write_title_section,
)
from documents.pipeline.title_page import DRAFT_PROPERTY, draft_stamp, key_facts
from documents.pipeline.twin import interleaved
from documents.pipeline.types import (
    Citation,
    ExtractedSource,
    KeyFact,
    Paragraph,
    PipelineInput,
    SectionDraft,
    Table,
)

QC_BOOKMARK = "folio_qc"  # the QC report's heading: the clean copy leaves it out
SOURCES_HEADING = "List of Sources and References"
QC_HEADING = "Quality control report"
AUTHOR = "Folio"
MAX_COMMENTS = 5000
TEXT_WIDTH_TWIPS = 9000


_LABEL_KINDS = (
    ("bracket", re.compile(r"^\[\d+[a-z]?\]$")),
    ("number", re.compile(r"^\d+[.]?$")),
    ("number_paren", re.compile(r"^\(?\d+\)$")),
    ("roman", re.compile(r"^\(?[ivxlc]+[.)]$")),
    ("letter", re.compile(r"^\(?[a-zA-Z][.)]$")),
    ("bullet", re.compile(r"^[•\-–·▪●○◦*]$")),
)


def _label_kind(label: str) -> str:
    for name, pattern in _LABEL_KINDS:
        if pattern.match(label.strip()):
            return name
    return "other"


class _Writer:
    """Accumulates the body as WordprocessingML text."""

    def __init__(
        self,
        inp: PipelineInput,
        sources: Sequence[ExtractedSource],
        *,
        document: Any = None,
    ) -> None:
        """With ``document`` (an open python-docx Document), write XML for that file and leave
        its body as it is (``copies.py`` re-renders a part of a stored copy)."""
        self.inp = inp
        self.sources = sources
        self.base = bool(inp.base_document_path) or document is not None
        if document is not None:
            self.doc = document
        else:
            self.doc = (
                docx.Document(inp.base_document_path) if inp.base_document_path else docx.Document()
            )
        if self.base and document is None:
            body = self.doc.element.body
            for child in list(body):
                if child.tag != qn("w:sectPr"):
                    body.remove(child)
        self.parts: list[str] = []
        self.comments: list[tuple[int, str]] = []
        # The one numbering (numbering.py), set by ``render_docx`` before anything is written.
        self.citation_numbers: dict[CitationKey, int] = {}
        self.cited: dict[CitationKey, Citation] = {}
        self.toc_entries: list[TocEntry] = []
        self._next_comment_id = self._first_comment_id()
        # Ids of the bookmarks written here; over an existing file, far above its own.
        self._next_bookmark_id = 1 if document is None else 900_000
        self._styles = self._ensure_styles()
        self.title = ""
        # The title page's report date and version (title_page.draft_stamp, DRAFT_PROPERTY).
        self.draft_stamp = draft_stamp(
            (inp.document_properties or {}).get("folio_version"),
            datetime.now(UTC).date().isoformat(),
        )

    # ------------------------------------------------------------ styles

    def _ensure_styles(self) -> dict[str, str]:
        ids: dict[str, str] = {}
        names = {s.name: s for s in self.doc.styles}
        for level in range(1, 10):
            name = f"Heading {level}"
            if name not in names:
                style = self.doc.styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
                style.base_style = self.doc.styles["Normal"]
                style.font.bold = True
                style.font.size = Pt(max(10, 16 - level))
                ppr = style.element.get_or_add_pPr()
                outline = OxmlElement("w:outlineLvl")
                outline.set(qn("w:val"), str(level - 1))
                ppr.append(outline)
                names[name] = style
            ids[name] = names[name].style_id
        for name in ("Title", "List Paragraph", "Table Grid", "TOC Heading", "Caption"):
            if name in names:
                ids[name] = names[name].style_id
        return ids

    def _first_comment_id(self) -> int:
        try:
            existing = self.doc.part._comments_part.element.xpath("./w:comment/@w:id")
        except Exception:  # pragma: no cover - defensive: a broken base comments part
            existing = []
        return max((int(i) for i in existing if str(i).isdigit()), default=-1) + 1

    # ------------------------------------------------------------ XML pieces

    def run(
        self,
        text: str,
        *,
        bold: bool = False,
        italic: bool = False,
        highlight: bool = False,
        small: bool = False,
        grey: bool = False,
    ) -> str:
        props = ""
        if bold:
            props += "<w:b/>"
        if italic:
            props += "<w:i/>"
        if grey:
            props += '<w:color w:val="595959"/>'
        if small:
            props += '<w:sz w:val="16"/>'
        if highlight:
            props += '<w:highlight w:val="yellow"/>'
        rpr = f"<w:rPr>{props}</w:rPr>" if props else ""
        pieces = []
        for k, chunk in enumerate(text.split("\t")):
            if k:
                pieces.append("<w:tab/>")
            if chunk:
                pieces.append(f'<w:t xml:space="preserve">{_x(chunk)}</w:t>')
        return f"<w:r>{rpr}{''.join(pieces)}</w:r>"

    def commented(self, run_xml: str, comment: str) -> str:
        if len(self.comments) >= MAX_COMMENTS:
            return run_xml
        cid = self._next_comment_id
        self._next_comment_id += 1
        self.comments.append((cid, comment))
        return (
            f'<w:commentRangeStart w:id="{cid}"/>{run_xml}<w:commentRangeEnd w:id="{cid}"/>'
            f'<w:r><w:rPr><w:rStyle w:val="CommentReference"/></w:rPr>'
            f'<w:commentReference w:id="{cid}"/></w:r>'
        )

    def para(
        self,
        runs: str = "",
        *,
        style: str | None = None,
        indent: tuple[int, int] | None = None,
        no_numbering: bool = False,
    ) -> None:
        ppr = ""
        if style and style in self._styles:
            ppr += f'<w:pStyle w:val="{self._styles[style]}"/>'
        if no_numbering:
            ppr += '<w:numPr><w:numId w:val="0"/></w:numPr>'
        if indent is not None:
            left, hanging = indent
            ppr += f'<w:ind w:left="{left}" w:hanging="{hanging}"/>'
        self.parts.append(f"<w:p>{f'<w:pPr>{ppr}</w:pPr>' if ppr else ''}{runs}</w:p>")

    def page_break(self) -> None:
        self.parts.append('<w:p><w:r><w:br w:type="page"/></w:r></w:p>')

    def heading(self, text: str, level: int, *, bookmark: str | None = None) -> None:
        runs = self.run(text)
        if bookmark:  # docx_identity: how a reviewed copy's sections are found again
            bid = self._next_bookmark_id
            self._next_bookmark_id += 1
            runs = (
                f'<w:bookmarkStart w:id="{bid}" w:name="{_x(bookmark)}"/>{runs}'
                f'<w:bookmarkEnd w:id="{bid}"/>'
            )
        self.para(runs, style=f"Heading {min(9, max(1, level))}", no_numbering=self.base)

    def toc(self, *, heading: bool = False) -> None:
        """The table of contents with its entries written (render_front.py)."""
        self.parts.append(toc_xml(self, self.toc_entries, heading=heading))

    def number(self, citation: Citation) -> int:
        """The citation's number in the one numbering; one the twin does not cite (a title-page
        fact) is numbered after the twin's."""
        key = citation_key(citation)
        if key not in self.citation_numbers:
            self.citation_numbers[key] = len(self.citation_numbers) + 1
        self.cited.setdefault(key, citation)
        return self.citation_numbers[key]

    def marker(self, citations: Sequence[Citation]) -> str:
        if not citations:
            return ""
        numbers = {self.number(c) for c in citations}
        return self.run(" [" + ", ".join(_compress(sorted(numbers))) + "]", small=True, grey=True)

    def fact_runs(self, runs: str, fact: KeyFact, marker: Any) -> str:
        """A title-page value with its citation: the bracketed reference, and a comment with
        the source sentence (the clean copy drops comments, the reference stays)."""
        citation = self._same_citation(fact_citation(fact))
        where = _location(fact.file_name, fact.page, fact.block)
        quote = re.sub(r"\s+", " ", fact.quote).strip()
        return self.commented(runs, f"Source: {where}: “{quote}”") + marker([citation])

    def cited_runs(self, runs: str, citation: Citation) -> str:
        """Runs with a comment giving the citation's source sentence (review copy)."""
        where = _location(citation.file_name, citation.page, citation.block)
        quote = re.sub(r"\s+", " ", citation.quote).strip()
        return self.commented(runs, f"Source: {where}: “{quote}”")

    def _same_citation(self, citation: Citation) -> Citation:
        """The twin's citation of the same place and words, when a section cites it (so the
        title page and the body share its number): the same quote, else the closest quote that
        holds it or that it holds."""
        key = citation_key(citation)
        if key in self.cited:
            return self.cited[key]
        words = re.sub(r"\W+", "", citation.quote).lower()
        best: tuple[int, Citation] | None = None
        for known_key, known in self.cited.items():
            if known_key[:3] != key[:3]:
                continue
            other = re.sub(r"\W+", "", known.quote).lower()
            if words and other and (words in other or other in words):
                distance = abs(len(other) - len(words))
                if best is None or distance < best[0]:
                    best = (distance, known)
        return best[1] if best is not None else citation

    def table(
        self, rows: Sequence[Sequence[str]], *, header_rows: int, bold_first_column: bool = False
    ) -> None:
        width = max((len(r) for r in rows), default=0)
        if not width:
            return
        col = TEXT_WIDTH_TWIPS // width
        style = (
            f'<w:tblStyle w:val="{self._styles["Table Grid"]}"/>'
            if "Table Grid" in self._styles
            else ""
        )
        borders = (
            ""
            if style
            else (
                "<w:tblBorders>"
                + "".join(
                    f'<w:{side} w:val="single" w:sz="4" w:space="0" w:color="auto"/>'
                    for side in ("top", "left", "bottom", "right", "insideH", "insideV")
                )
                + "</w:tblBorders>"
            )
        )
        out = [
            f'<w:tbl><w:tblPr>{style}<w:tblW w:w="0" w:type="auto"/>{borders}'
            '<w:tblLook w:val="04A0" w:firstRow="1" w:lastRow="0" w:firstColumn="1" '
            'w:lastColumn="0" w:noHBand="0" w:noVBand="1"/></w:tblPr><w:tblGrid>'
            + "".join(f'<w:gridCol w:w="{col}"/>' for _ in range(width))
            + "</w:tblGrid>"
        ]
        for r_idx, row in enumerate(rows):
            out.append("<w:tr>")
            for c_idx in range(width):
                text = row[c_idx] if c_idx < len(row) else ""
                bold = r_idx < header_rows or (bold_first_column and c_idx == 0)
                paras = "".join(
                    f"<w:p>{self.run(line, bold=bold) if line else ''}</w:p>"
                    for line in (text.split("\n") or [""])
                )
                cell_props = f'<w:tcPr><w:tcW w:w="{col}" w:type="dxa"/></w:tcPr>'
                out.append(f"<w:tc>{cell_props}{paras or '<w:p/>'}</w:tc>")
            out.append("</w:tr>")
        out.append("</w:tbl>")
        self.parts.append("".join(out))

    # ------------------------------------------------------------ content

    def paragraph(self, para: Paragraph, list_level: int = 0) -> None:
        if para.style == "note":
            self.para(self.run(para.text, italic=True))
            return
        runs = ""
        indent = None
        style = None
        if para.style == "list":
            style = "List Paragraph"
            indent = (440 + 360 * list_level, 400)
            if para.list_label:
                runs += self.run(f"{para.list_label}\t")
        runs += self._sentences(para)
        runs += self.marker(para.citations)
        for flag in para.flags:
            if flag.startswith("banned_phrase"):
                phrase = flag.split(":", 1)[1].strip()
                runs = (
                    self.commented(runs, f"Style guide: {phrase!r} is a banned phrase.")
                    if runs
                    else runs
                )
        self.para(runs, style=style, indent=indent)

    def _sentences(self, para: Paragraph) -> str:
        if para.source_text is None or para.source_text == para.text:
            return self.run(para.text)
        new = language.sentences(para.text)
        old = language.sentences(para.source_text)
        if len(new) != len(old):
            return self.commented(
                self.run(para.text, highlight=True), f"Source: {para.source_text}"
            )
        out = []
        for k, (a, b) in enumerate(zip(new, old, strict=True)):
            text = a + (" " if k < len(new) - 1 else "")
            if a != b:
                out.append(self.commented(self.run(text, highlight=True), f"Source: {b}"))
            else:
                out.append(self.run(text))
        return "".join(out)

    def source_table(self, table: Table, *, synopsis: bool = False) -> None:
        if table.title:
            self.para(
                self.run(table.title, bold=True),
                style="Caption" if "Caption" in self._styles else None,
            )
        self.table(table.rows, header_rows=table.header_rows or 0, bold_first_column=synopsis)
        marker = self.marker(table.citations)
        if marker:
            self.para(marker)

    def section(self, draft: SectionDraft, *, with_toc: bool, title_page: bool = False) -> None:
        heading = f"{draft.number} {draft.title}".strip() if draft.number else draft.title
        self.heading(heading, draft.level, bookmark=section_bookmark(draft.section_id))
        if with_toc:
            self.toc()
        if title_page:  # the section is the title page (render_front.py)
            self.title = write_title_section(self, draft) or self.title
            return
        if draft.state == "skipped":
            return
        if draft.state == "not_applicable":
            self.para(not_applicable_runs(self, draft.reason))
            return
        kinds: list[str] = []
        synopsis = (e3_entry(draft.title) or {}).get("derived") == "synopsis"
        for item in interleaved(draft):
            if isinstance(item, Table):
                kinds = []
                self.source_table(item, synopsis=synopsis)
                continue
            level = 0
            if item.style == "list":
                kind = _label_kind(item.list_label)
                if kind in kinds:
                    del kinds[kinds.index(kind) + 1 :]
                else:
                    kinds.append(kind)
                level = len(kinds) - 1
            else:
                kinds = []
            self.paragraph(item, level)

    def sources_list(self) -> None:
        self.heading(SOURCES_HEADING, 1, bookmark=END_BOOKMARK)
        for src in self.sources:
            self.para(
                self.run(src.file_name, bold=True)
                + self.run(f" ({src.kind}; {src.file_path}; sha256 {src.sha256[:12]})"),
                style="List Paragraph",
            )
        for key, number in sorted(self.citation_numbers.items(), key=lambda kv: kv[1]):
            citation = self.cited.get(key)
            if citation is None:
                continue
            quote = re.sub(r"\s+", " ", citation.quote).strip()
            self.para(
                self.run(f"[{number}]\t", bold=True)
                + self.run(_location(citation.file_name, citation.page, citation.block) + ": ")
                + self.run(f"“{quote}”", italic=True),
                indent=(560, 560),
            )

    def qc_report(self, qc: dict[str, Any]) -> None:
        self.heading(QC_HEADING, 1, bookmark=QC_BOOKMARK)
        rows = [
            ("Sections", qc.get("sections_total")),
            ("Generated", qc.get("sections_generated")),
            ("No source content", qc.get("sections_no_source")),
            ("Skipped", qc.get("sections_skipped")),
            ("Not applicable (marked by a person)", qc.get("sections_not_applicable")),
            (
                "Citations verified",
                f"{qc.get('citations_verified')} of {qc.get('citations_total')}",
            ),
            ("Numbers found in no source", qc.get("unsupported_numbers")),
            ("Sentences still in the future tense", qc.get("future_tense_sentences")),
            (
                "Abbreviations used before their definition",
                qc.get("abbreviations_before_definition"),
            ),
            ("Sentences reworded by the writer", qc.get("rewritten_sentences")),
            ("Share of sentences repeated across sections", qc.get("repeated_sentences")),
            ("Banned phrases", qc.get("banned_phrases")),
            (
                "LLM sentences dropped (not supported by the sources)",
                qc.get("llm_sentences_dropped"),
            ),
        ]
        self.table(
            [("Check", "Result")] + [(k, str(v)) for k, v in rows if v is not None], header_rows=1
        )
        for key, label in (
            ("warnings", "Warnings"),
            ("no_source_sections", "Sections without source content"),
            ("not_applicable_sections", "Sections marked not applicable"),
            ("unsupported_number_examples", "Numbers found in no source"),
            ("future_tense_examples", "Sentences still in the future tense"),
            ("unverified_citation_examples", "Citations that did not verify"),
            ("abbreviations_undefined", "Abbreviations without a definition in the sources"),
        ):
            values = qc.get(key) or []
            if values:
                self.para(self.run(label, bold=True))
                self.para(self.run("; ".join(_describe(v) for v in values[:60])))

    # ------------------------------------------------------------ output

    def save(self, path: str) -> None:
        body = self.doc.element.body
        fragment = parse_xml(f"<w:body {nsdecls('w')}>{''.join(self.parts)}</w:body>")
        sect = body.find(qn("w:sectPr"))
        children = list(fragment)
        if sect is not None:
            for child in children:
                sect.addprevious(child)
        else:
            body.extend(children)
        if self.comments:
            part = self.doc.part._comments_part
            xml = "".join(
                f'<w:comment w:id="{cid}" w:author="{AUTHOR}" w:initials="F"><w:p>'
                '<w:pPr><w:pStyle w:val="CommentText"/></w:pPr>'
                '<w:r><w:rPr><w:rStyle w:val="CommentReference"/></w:rPr><w:annotationRef/></w:r>'
                f"{self.run(text)}</w:p></w:comment>"
                for cid, text in self.comments
            )
            wrapper = parse_xml(f"<w:comments {nsdecls('w')}>{xml}</w:comments>")
            part.element.extend(list(wrapper))
        write_custom_properties(
            self.doc, {**(self.inp.document_properties or {}), DRAFT_PROPERTY: self.draft_stamp}
        )
        core = self.doc.core_properties
        core.title = (self.title or self.inp.output_name or self.inp.template_name)[:255]
        core.subject = (self.inp.document_type or "")[:255]
        core.author = AUTHOR
        self.doc.save(path)


def render_docx(
    drafts: Sequence[SectionDraft],
    *,
    sources: Sequence[ExtractedSource],
    qc: dict[str, Any],
    inp: PipelineInput,
    path: str,
) -> None:
    """Write the .docx for ``drafts`` to ``path`` (see the module docstring). This is the review
    copy; the clean copy is made from it on download (``copies.py``)."""
    w = _Writer(inp, sources)
    visible = _visible_sections(drafts)
    shown = [d for k, d in enumerate(drafts) if k in visible]
    w.citation_numbers = number_citations(shown)
    for draft in shown:
        for item in interleaved(draft) if draft.state != "not_applicable" else ():
            for citation in item.citations:
                w.cited.setdefault(citation_key(citation), citation)
    w.toc_entries = [
        TocEntry(
            level=d.level,
            text=f"{d.number} {d.title}".strip() if d.number else d.title,
            bookmark=section_bookmark(d.section_id),
        )
        for d in shown
    ] + [
        TocEntry(level=1, text=SOURCES_HEADING, bookmark=END_BOOKMARK),
        TocEntry(level=1, text=QC_HEADING, bookmark=QC_BOOKMARK),
    ]
    title_index = next(
        (
            k
            for k, d in enumerate(drafts)
            if k in visible
            and (e3_entry(d.title) or {}).get("derived") == "title_page"
            and is_title_section(d)
        ),
        None,
    )
    if title_index is None:  # no title-page section: the same page as a cover
        w.title = write_title_page(w, key_facts(sources), marker=w.marker)
    toc_index = next(
        (
            k
            for k, d in enumerate(drafts)
            if k in visible and (e3_entry(d.title) or {}).get("derived") == "toc"
        ),
        None,
    )
    if toc_index is None and title_index is None:
        w.toc(heading=True)
        w.page_break()
    for k, draft in enumerate(drafts):
        if k in visible:
            w.section(draft, with_toc=(k == toc_index), title_page=(k == title_index))
        if k == title_index and toc_index is None:
            w.toc(heading=True)
            w.page_break()
    w.sources_list()
    w.qc_report(qc)
    w.save(path)


def not_applicable_runs(w: _Writer, reason: str) -> str:
    return w.run("Not applicable: ", bold=True) + w.run(reason or "(no reason given)", italic=True)


# ---------------------------------------------------------------- helpers


def _visible_sections(drafts: Sequence[SectionDraft]) -> set[int]:
    """Sections shown in the document: every non-skipped one, plus the skipped ancestors of
    shown sections (so that "9.4.1" still sits under "9.4" and "9")."""
    visible = {k for k, d in enumerate(drafts) if d.state != "skipped"}
    for k in sorted(visible):
        level = drafts[k].level
        for j in range(k - 1, -1, -1):
            if drafts[j].level < level:
                visible.add(j)
                level = drafts[j].level
                if level <= 1:
                    break
    return visible


def _compress(numbers: list[int]) -> list[str]:
    """[3, 4, 5, 9] → ["3–5", "9"]."""
    out: list[str] = []
    start: int | None = None
    prev = 0
    for n in numbers:
        if start is None:
            start = prev = n
        elif n == prev + 1:
            prev = n
        else:
            out.append(f"{start}–{prev}" if prev != start else str(start))
            start = prev = n
    if start is not None:
        out.append(f"{start}–{prev}" if prev != start else str(start))
    return out


def _location(file_name: str, page: int | None, block: int | None) -> str:
    if page is not None:
        return f"{file_name}, page {page}"
    if block is not None:
        return f"{file_name}, block {block}"
    return file_name


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        keys = ("section", "number", "text", "quote", "page", "block", "reason")
        return ", ".join(f"{k}: {v}" for k, v in value.items() if k in keys)
    return str(value)
