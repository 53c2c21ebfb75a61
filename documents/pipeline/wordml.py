"""WordprocessingML element and attribute names that Folio's code walks a .docx body by.

One definition for the writer of the copies (``pipeline/copies.py``) and the readers of a
reviewed copy (``review/reader.py``, ``review/redline.py``), so that both name the same tags.
"""

from __future__ import annotations

from docx.oxml.ns import qn

W_P = qn("w:p")
W_TBL = qn("w:tbl")
W_SDT = qn("w:sdt")
W_SDT_CONTENT = qn("w:sdtContent")
W_SECTPR = qn("w:sectPr")
W_BOOKMARK_START = qn("w:bookmarkStart")
W_NAME = qn("w:name")
W_ID = qn("w:id")
