"""Step 1 of the pipeline: a source file (PDF, DOCX, XLSX, RTF, text) → located, structured blocks.

Every block keeps the location a citation needs (docs/api.md, "The traceability twin: locations"): a
PDF block has its ``page`` (1-based, one page per block: a paragraph that runs over a page break
becomes two blocks, so no quote ever crosses a page); a DOCX/XLSX block has its ``block`` number.
Parsers run in a forked child under ``limited.run_limited`` (deadline and memory limit); set
``FOLIO_EXTRACT_IN_PROCESS=1`` (or pass ``in_process=True``) to run them in-process when debugging.

PDF (pypdf). ``ExtractedSource.pages`` holds each page's text exactly as ``page.extract_text()``
returns it (after ``sanitize_text``). Blocks are built from those same lines, in order, so the
letters and digits of every block are a substring of its page's letters and digits. One
``extract_text`` call per page, with a ``visitor_text`` callback recording each run's font size,
boldness and position; from these:

- headings: numbered lines (``9.4.1 Blinding``, ``5.1. Inclusion Criteria``) in bold or a larger
  font, ``APPENDIX 2``-style lines, and short bold / large / all-caps lines; level = depth of the
  number, else from the font size; a heading wrapped over two or three lines is joined;
- running headers and footers (a line repeated at the top or bottom of most pages, digits
  ignored) and page numbers (``Page 3 of 97``, ``- 3 -``) are dropped;
- table-of-contents and list-of-tables pages are recognised by form (entries ending in a page
  number after dot leaders, spaced or not, or none; wrapped entries; a "Contents" / "Table of
  Contents" / "List of Tables" title) and never become text: their entries, with the PDF's
  outline (bookmarks) when it has one, are a map of headings and pages (``toc``) that confirms
  headings in the body;
- wrapped lines are joined into paragraphs (a new paragraph starts at a blank line, a vertical
  gap larger than the usual line spacing, or a change of font); a hyphen at a line end is removed
  when the joined word occurs elsewhere in the document or ends in a common suffix, else kept;
- list items (``1.``, ``a)``, ``[3]``, ``•``, ``-``) become ``list_item`` blocks whose ``number``
  is the label as printed and whose ``text`` is the rest; ``Table 2``/``Figure 1`` lines start
  ``caption`` blocks. Heading and list-item ``text`` never includes the number.

DOCX (python-docx, after ``safety.check_ooxml_zip``). Block numbers must agree with an
independent reader using python-docx (``document.iter_inner_content()``, ``Paragraph.text``,
``table.rows``/``row.cells``), so the body is read exactly as python-docx reads it: its own
paragraphs and tables in order (body-level content controls such as a TOC are skipped); every
paragraph counts 1 (empty ones too) and every table row counts 1; a table block carries the
number of its first row, so row ``i`` (0-based) of a table is ``block + i``; a row's cells are
python-docx's (a horizontally merged cell repeated per grid column, a vertically merged one
repeating the text above).
Headings come from the outline level: the paragraph's own ``w:outlineLvl``, else the nearest
style in its ``basedOn`` chain named "Heading N" / "Title" or carrying ``w:outlineLvl`` (so custom
styles such as ``01Heading1`` count). TOC paragraphs (``TOC n`` styles, "TOC Heading") are
counted but not emitted. Hidden text (``w:vanish``, resolved through run, character and
paragraph styles) is left out. Numbering labels are computed from ``numbering.xml``.
Footnotes are not read: they have no block number a reader of the body could check.

XLSX (openpyxl, read-only, cached values). Each worksheet is one ``table`` block (its
``heading_path`` is the sheet name) whose rows are every stored row from row 1: the declared
``<dimension>`` is never trusted (a sheet declaring "A1" with data in C2:O11 is read whole; the
cell budget bounds the work). ``block`` numbers count those rows across sheets in order, so row
``i`` of a sheet's table is ``block + i`` as for DOCX tables.

Content controls and text boxes (DOCX) are read too: what python-docx's body walk does not
show is numbered after the body (``docx_text``; docs/api.md says how a citation names it).
RTF (``rtf``: striprtf) and plain-text listings (``text``: ``.txt``, ``.out``) become lines and
tables; results outputs (TLFs) in any format get their caption, number, population, header rows
and footnotes from ``tlf``.

``heading_path`` of a heading includes the heading itself, so a heading and the paragraphs under
it share one path; entries read ``"5.1 Inclusion Criteria"`` (number without trailing dot).

Modules: ``dispatch`` (``extract_text``: file type, limits, child process), ``pdf`` (pypdf pages
and styled lines), ``pdf_lines`` / ``pdf_layout`` / ``pdf_headings`` / ``pdf_tables`` (running
lines, paragraphs, headings, tables rebuilt from text positions), ``toc`` (tables of contents and
PDF outlines, used as heading maps), ``docx_styles`` (styles and numbering), ``docx_body`` and
``docx_text`` (the body, content controls, text boxes), ``xlsx``, ``rtf``, ``text``, ``tlf``,
``codec`` (``source_to_json`` / ``source_from_json``, the extraction cache), ``common`` (the
citation alphabet ``alnum``, heading patterns, the heading stack).
"""

from documents.pipeline.extract.codec import source_from_json, source_to_json
from documents.pipeline.extract.common import (
    EXTRACTOR_VERSION,
    alnum,
    iter_text_units,
    table_row_block,
)
from documents.pipeline.extract.dispatch import extract_text, start_extract

__all__ = [
    "EXTRACTOR_VERSION",
    "alnum",
    "extract_text",
    "iter_text_units",
    "source_from_json",
    "source_to_json",
    "start_extract",
    "table_row_block",
]
