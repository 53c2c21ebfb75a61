"""RTF outputs as SAS (ODS RTF) and R (r2rtf, rtables, pharmaRTF) write them.

Reader choice. ``striprtf`` (BSD-3, pure Python, maintained on PyPI) does the RTF lexing: control
words, groups, ignorable destinations, code pages, ``\\'hh`` and ``\\uN`` escapes, fields,
embedded pictures. It was chosen over ``rtfparse`` (6 s for a 2.4 MB table: a recursive tree with
a file seek per token) and over LibreOffice's headless conversion (a 200 MB system package, a
process per file outside the extraction child's memory limit, and not installed everywhere).
striprtf flattens the document to text and drops page headers and footers, where SAS and
pharmaRTF print the table's number, title, population and column headers, and its footnotes; so
before calling it this module:

- rewrites each ``{\\header…}`` / ``{\\footer…}`` group as a plain group between private-use
  markers (page headers go before the body, footers after it; repeated ones are read once);
- marks ``\\cell``, ``\\row``, ``\\intbl``, ``\\pard`` and ``\\line`` with private-use characters
  (``{\\uc1\\uN?}``, robust to the document's ``\\ucN``), so that table rows and cells come out
  of the flat text intact and a literal ``|`` in a cell stays a character.

The text is then rebuilt as paragraphs and tables (cell lines joined by a space). Tables split
over pages (one per section, with repeated header rows) are joined. A results table (TLF) gets
its number, title, population and footnotes from the paragraphs around it and becomes one
``table`` block whose rows start with the title and population lines and end with the
footnotes (``tlf.annotate_table`` finds the parts). Locations: blocks are numbered in reading
order, one number per paragraph and per table row, as for plain-text files.
"""

from __future__ import annotations

import re
from typing import Any

from documents.pipeline.errors import SourceError
from documents.pipeline.extract.common import Builder, CharBudget, alnum
from documents.pipeline.extract.tlf import annotate_table, page_of, population_of, tlf_title
from documents.pipeline.safety import Limits, sanitize_text
from documents.pipeline.types import ExtractedSource, SourceDescriptor

_CELL, _ROW, _INTBL, _PARD, _LINE, _HEAD, _FOOT, _END, _CELLX = (chr(0xE000 + k) for k in range(9))
_MARKERS = {
    "cell": _CELL,
    "nestcell": _CELL,
    "row": _ROW,
    "nestrow": _ROW,
    "intbl": _INTBL,
    "pard": _PARD,
    "line": _LINE,
    "cellx": _CELLX,
}
# A control word (not preceded by an escaping backslash) that the text rebuild needs to see.
_CONTROL = re.compile(
    r"(?<!\\)((?:\\\\)*)\\(cell|nestcell|row|nestrow|intbl|pard|line)(?![a-zA-Z])|"
    r"(?<!\\)((?:\\\\)*)\\(cellx)(?=-?\d)"
)
_HF_START = re.compile(r"\{\\(header|footer)[lrf]?(?![a-zA-Z])")
_TOKEN = re.compile(r"\\\\|\\[{}]|\\bin(\d+) ?|[{}]")


def _marker(ch: str) -> str:
    return f"{{\\uc1\\u{ord(ch)}?}}"


def _split_header_footer(rtf: str) -> str:
    """Each page header or footer group rewritten as a plain group between markers."""
    out: list[str] = []
    pos = 0
    for m in _HF_START.finditer(rtf):
        if m.start() < pos:
            continue  # inside a group already rewritten
        depth = 0
        k = m.start()
        end = None
        for t in _TOKEN.finditer(rtf, k):
            tok = t.group(0)
            if t.group(1):  # \binN: skip N raw bytes
                continue
            if tok == "{":
                depth += 1
            elif tok == "}":
                depth -= 1
                if depth == 0:
                    end = t.end()
                    break
        if end is None:
            break
        marker = _HEAD if m.group(1) == "header" else _FOOT
        inner = rtf[m.end() : end - 1]
        out.append(rtf[pos : m.start()])
        out.append("{" + _marker(marker) + inner + _marker(_END) + "}")
        pos = end
    out.append(rtf[pos:])
    return "".join(out)


_TAB_LIKE = re.compile(r"\\pmartabq[lcr](?![a-zA-Z])")


# A footnote marker set as a superscript letter: "{\super a}" (SAS ODS RTF, r2rtf) or
# "\super a\nosupersub". Read as "[a]", the bracketed form the PDF and DOCX readers see and
# that the results code strips from labels and recognises in footnotes; flattened, it was glued
# to its word ("Baselinea"). Digits stay as they are (an exponent: "10{\super 9}/L"), and so do
# ordinal suffixes after a digit ("5{\super th}").
_SUPER_MARK = re.compile(
    r"(?P<before>.?)(?:\{\\super\s?(?P<a>[a-z]{1,2}|\*{1,2})\}"
    r"|\\super\s?(?P<b>[a-z]{1,2}|\*{1,2})\\nosupersub(?![a-zA-Z]))"
)
_ORDINAL = frozenset({"st", "nd", "rd", "th"})


def _super_mark(m: re.Match[str]) -> str:
    before, mark = m.group("before"), m.group("a") or m.group("b")
    if before.isdigit() and mark in _ORDINAL:
        return before + mark
    return f"{before}[{mark}]"


def _mark_controls(rtf: str) -> str:
    """Markers for cells, rows, table paragraphs and line breaks; striprtf's own rendering of
    these words ("|", newlines) is dropped with them. Superscript footnote markers become
    "[a]"."""
    rtf = _SUPER_MARK.sub(_super_mark, rtf)
    rtf = _TAB_LIKE.sub(lambda m: "\\tab ", rtf)
    return _CONTROL.sub(
        lambda m: (
            m.group(1) + _marker(_MARKERS[m.group(2)])
            if m.group(2)
            else m.group(3) + _marker(_CELLX)
        ),
        rtf,
    )


def _flat(unit: Any) -> Any:
    """A paragraph's line breaks as spaces; a table's, in its cells, in place (the table stays
    the same object)."""
    if isinstance(unit, str):
        return unit.replace(_LINE, " ")
    for k, row in enumerate(unit):
        unit[k] = tuple(cell.replace(_LINE, " ") for cell in row)
    return unit


def _flat_all(units: list[Any]) -> list[Any]:
    return [_flat(u) for u in units]


def _note_lines(unit: Any) -> list[str]:
    """The footnotes a unit under the results table holds: each line of a paragraph, or of the
    one cell of each row of a one-column table."""
    texts = [unit] if isinstance(unit, str) else [row[0] for row in unit]
    return [line for text in texts for line in text.split(_LINE) if line.strip()]


def _units(text: str) -> tuple[list[Any], list[Any], list[Any]]:
    """(header units, body units, footer units); a unit is a paragraph string or a list of rows."""
    parts: dict[str, list[Any]] = {"head": [], "body": [], "foot": []}
    where = "body"
    cur: list[str] = []
    in_table = False
    cells: list[str] = []
    rows: list[tuple[str, ...]] = []
    edges: list[list[int]] = []  # each row's cell right edges (\cellx), when the file gives them
    row_edges: list[int] = []
    want_edge = False

    def flush_para() -> None:
        # A paragraph keeps its line breaks (\line) as _LINE: under a results table each line
        # is a footnote of its own; everywhere else they read as spaces (``_flat``).
        lines = (re.sub(r"\s+", " ", part).strip() for part in "".join(cur).split(_LINE))
        s = _LINE.join(line for line in lines if line)
        cur.clear()
        if s:
            close_table()
            parts[where].append(s)

    def close_table() -> None:
        if rows:
            parts[where].extend(_on_grid(list(rows), list(edges)))
            rows.clear()
            edges.clear()

    split = f"([{_CELL}{_ROW}{_INTBL}{_PARD}{_LINE}{_HEAD}{_FOOT}{_END}{_CELLX}\n])"
    for ch in re.split(split, text):
        if not ch:
            continue
        if want_edge:
            want_edge = False
            m = re.match(r"\s*(-?\d+)\s?", ch)
            if m:
                row_edges.append(int(m.group(1)))
                ch = ch[m.end() :]
                if not ch:
                    continue
        if ch == _CELLX:
            want_edge = True
        elif ch == _INTBL:
            in_table = True
        elif ch == _PARD:
            in_table = False
        elif ch == _CELL:
            lines = (re.sub(r"\s+", " ", part).strip() for part in "".join(cur).split(_LINE))
            cells.append(_LINE.join(line for line in lines if line))
            cur.clear()
        elif ch == _ROW:
            if cells:
                # A line break inside a cell of a grid is a space; a one-cell row (SAS's
                # footnote rows) keeps its lines until the reader knows where the row sits.
                rows.append(tuple(cells) if len(cells) == 1 else tuple(_flat(c) for c in cells))
                edges.append(list(row_edges))
            row_edges = []
            cells = []
            cur.clear()
            in_table = False
        elif ch == _LINE:
            cur.append(_LINE)
        elif ch == "\n":
            if in_table or cells:
                cur.append(" ")
            else:
                flush_para()
        elif ch in (_HEAD, _FOOT, _END):
            flush_para()
            close_table()
            in_table = False
            where = {_HEAD: "head", _FOOT: "foot"}.get(ch, "body")
        else:
            cur.append(ch)
    flush_para()
    close_table()
    return parts["head"], parts["body"], parts["foot"]


class _Fresh(list):  # type: ignore[type-arg]
    """A table that starts where another ended with another column layout: not a page's
    continuation of it (``_join_tables`` leaves it apart)."""


_EDGE_SLACK = 40  # twips: writers round a column's edge differently from row to row


def _on_grid(rows: list[tuple[str, ...]], edges: list[list[int]]) -> list[list[Any]]:
    """A table's rows on one column grid, from the cells' right edges (``\\cellx``): a header
    cell that spans several columns of the rows below ("Week 20" over "N" and "Mean (SD)") is
    repeated in each of them, as Word does with a merged cell, so that every value sits under
    its own header; a row of another layout after the data ("Pairwise comparison | Difference
    | p-value") starts a table of its own. Rows without edges are left as they are."""
    if len(edges) != len(rows) or any(
        len(e) != len(r) or not e for e, r in zip(edges, rows, strict=True)
    ):
        return [rows]
    tables: list[list[int]] = [[0]]
    for k in range(1, len(rows)):
        same = _same_edges(edges[k], edges[k - 1])
        valued = any(_is_value(c) for r in rows[tables[-1][0] : k] for c in r[1:])
        if not same and valued and not any(_is_value(c) for c in rows[k][1:]):
            tables.append([k])
        else:
            tables[-1].append(k)
    out: list[list[Any]] = []
    for n, members in enumerate(tables):
        grid = sorted({x for k in members for x in edges[k]})
        merged: list[int] = []
        for x in grid:
            if merged and x - merged[-1] <= _EDGE_SLACK:
                merged[-1] = x
            else:
                merged.append(x)
        table: list[Any] = _Fresh() if n else []
        for k in members:
            cells: list[str] = []
            left = -(10**9)
            for text, right in zip(rows[k], edges[k], strict=True):
                span = [g for g in merged if left + _EDGE_SLACK < g <= right + _EDGE_SLACK]
                span = span or [min(merged, key=lambda g: abs(g - right))]
                header = not any(_is_value(c) for c in rows[k][1:])
                cells.extend(
                    [text] * len(span) if header and text else [text] + [""] * (len(span) - 1)
                )
                left = right
            width = len(merged)
            cells = (cells + [""] * width)[:width]
            table.append(tuple(cells))
        out.append(table)
    return out


_VALUE_CELL = re.compile(r"^\s*[<>≤≥]?\s*[-+−]?\.?\d[\d,.]*\s*(?:\(|%|$|[-–;:/]\s*\d)")


def _is_value(cell: str) -> bool:
    """A cell holding a figure ("84", "5.4 ( 1.34)", "<0.001"), not a label ("Week 20")."""
    return bool(_VALUE_CELL.match(cell))


def _same_edges(a: list[int], b: list[int]) -> bool:
    return len(a) == len(b) and all(abs(x - y) <= _EDGE_SLACK for x, y in zip(a, b, strict=True))


def _dedupe(units: list[Any]) -> list[Any]:
    """Page headers and footers repeat on every page: keep each once, in order."""
    seen: set[str] = set()
    out = []
    for u in units:
        key = repr(u)
        if key not in seen:
            seen.add(key)
            out.append(u)
    return out


def _join_tables(units: list[Any]) -> list[Any]:
    """Tables split over pages: consecutive tables (only page furniture between) joined, their
    repeated leading rows dropped."""
    out: list[Any] = []
    for u in units:
        if isinstance(u, list) and out and not isinstance(u, _Fresh):
            k = len(out) - 1
            while k >= 0 and isinstance(out[k], str) and page_of(out[k]) and len(out[k]) < 40:
                k -= 1
            if k >= 0 and isinstance(out[k], list):
                prev = out[k]
                skip = 0
                while skip < min(len(u), len(prev)) and u[skip] == prev[skip]:
                    skip += 1
                prev.extend(u[skip:])
                del out[k + 1 :]
                continue
        out.append(list(u) if isinstance(u, list) else u)
    return out


def _tlf_table(
    head: list[Any], body_table: list[tuple[str, ...]], foot: list[Any]
) -> dict[str, Any]:
    """One results table: title lines and header rows from the page header, the body's rows,
    footnotes from the page footer."""
    lines = [u for u in head if isinstance(u, str) and not (page_of(u) and len(u) < 60)]
    header_tables = [u for u in head if isinstance(u, list)]
    width = max(len(r) for r in body_table)
    pad = ("",) * (width - 1)
    lead: list[tuple[str, ...]] = []
    caption = ""
    for s in lines:
        if s.startswith(_UNNUMBERED):
            caption = s[1:]
            lead.append((caption, *pad))
        elif tlf_title(s) or population_of(s) or lead:
            lead.append((s, *pad))
    header = [r for t in header_tables for r in t]
    body_rows = list(body_table)
    while header and body_rows and body_rows[0] in header:
        body_rows.pop(0)  # the header row repeated at the top of the body (\\trhdr)
    rows = lead + header + body_rows
    notes = [u for u in foot if isinstance(u, str) and alnum(u) and not page_of(u)]
    rows += [(f, *pad) for f in notes]
    fields = annotate_table(rows)
    if caption and not fields:
        fields = annotate_table([(f"Table 0 {caption}", *pad), *rows[1:]])
        fields.update(caption=caption, table_number="")
    return {"rows": rows, **fields}


_UNNUMBERED = "\ue00f"  # marks a title line that carries no TLF number


def _looks_like_title(s: str) -> bool:
    return 3 <= len(s) <= 250 and not s.endswith((".", ";", ",")) and s[:1].isupper()


def extract_rtf(desc: SourceDescriptor, limits: Limits) -> ExtractedSource:
    from striprtf.striprtf import rtf_to_text

    name = desc.file_name
    with open(desc.local_path, "rb") as fh:
        data = fh.read(limits.max_extracted_chars * 4 + 1)
    if len(data) > limits.max_extracted_chars * 4:
        raise SourceError(name, "document_too_complex")
    if not data.lstrip()[:5] == b"{\\rtf":
        raise SourceError(name, "invalid_file_type")
    # RTF is 7-bit; latin-1 keeps every byte (\binN data included) for the lexer.
    rtf = _mark_controls(_split_header_footer(data.decode("latin-1")))
    text = sanitize_text(rtf_to_text(rtf, errors="replace"))
    CharBudget(limits.max_extracted_chars, name).take(text)
    head, body, foot = _units(text)
    head, foot = _dedupe(head), _dedupe(foot)
    body = _join_tables(body)

    # The results table: the body's largest table, with the page header and footer around it.
    tables = [u for u in body if isinstance(u, list)]
    main = max(tables, key=len) if tables else None
    units: list[Any] = []
    tlf: dict[str, Any] | None = None
    if main is not None:
        k = body.index(main)
        before = [u for u in body[:k] if isinstance(u, str)]
        after = [u for u in body[k + 1 :] if isinstance(u, str) or len(u[0]) == 1]
        title_lines = [_flat(u) for u in head + before[-3:]]
        # Footnotes: each line under the table ("[a] ...\line [b] ...") is one.
        notes = [line for u in after for line in _note_lines(u)] + [_flat(u) for u in foot]
        for u in [*head, *body]:
            if isinstance(u, list):
                _flat(u)
        candidate = _tlf_table(title_lines, main, notes)
        if not candidate.get("caption") and before and _looks_like_title(_flat(before[-1])):
            # No "Table N" number (r2rtf prints the title alone): the line above is the title.
            candidate = _tlf_table(
                [*_flat_all(head), f"{_UNNUMBERED}{_flat(before[-1])}"], main, notes
            )
        if candidate.get("caption") or candidate.get("population"):
            tlf = candidate
            body = [u for u in body if u is main or (u not in before[-3:] and u not in after)]
    head, body, foot = _flat_all(head), _flat_all(body), _flat_all(foot)
    if tlf is None:
        units = [*head, *body, *foot]
    else:
        used_head = {r[0] for r in tlf["rows"]} | {_UNNUMBERED + r[0] for r in tlf["rows"]}
        units = [u for u in head if not (isinstance(u, str) and u in used_head)]
        units = [u for u in units if not isinstance(u, list)]
        units += [tlf if u is main else u for u in body]
        units += [u for u in foot if isinstance(u, str) and u not in used_head and page_of(u)]

    out = Builder()
    block = 0
    for u in units:
        if isinstance(u, str):
            block += 1
            out.add(kind="paragraph", text=u, block=block)
            continue
        fields = u if isinstance(u, dict) else {"rows": u, **annotate_table(u)}
        rows = tuple(tuple(c for c in r) for r in fields.pop("rows"))
        if not any(alnum(" ".join(r)) for r in rows):
            continue
        out.add(
            kind="table",
            text="\n".join(" | ".join(r) for r in rows),
            block=block + 1,
            rows=rows,
            **fields,
        )
        block += len(rows)
        if block > limits.max_blocks:
            raise SourceError(name, "document_too_complex")
    if not any(alnum(b.text) for b in out.blocks):
        raise SourceError(name, "no_text_found", "The RTF file holds no text.")
    title = next((b.caption for b in out.blocks if b.caption), "")
    return ExtractedSource(
        file_path=desc.file_path,
        file_name=desc.file_name,
        sha256=desc.sha256,
        file_type="rtf",
        page_count=None,
        blocks=tuple(out.blocks),
        title=title,
    )
