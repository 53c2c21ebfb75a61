"""Match a reviewed copy's sections to the twin of the version it was made from.

Folio's text and the copy are compared item by item (paragraphs and tables in reading order) on
letters and digits only, case-folded, with citation markers ("[3, 5–7]") taken out of both: the
markers, highlights, comments and fonts that Word or LibreOffice change are not edits; words
are. "Folio's text" is the section as read from the very file Folio wrote for that version (so
how the renderer lays a section out does not matter), or the twin when that file is gone. A
section whose items differ is ``edited``.

``edited_section`` builds the twin section of an edited section as the reviewers sent it back
(tracked changes accepted): a paragraph or table that is still exactly Folio's keeps its
citations; one that people wrote or changed has ``"citations": []`` and (paragraphs) the flag
``edited`` (docs/api.md: left out of the QC citation counts, counted as edited).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from documents.pipeline.docx_identity import section_hex
from documents.pipeline.language import normalize_alnum
from documents.review.reader import ReadItem, ReadSection

EDITED_FLAG = "edited"
# A citation marker as the renderer writes it: "[3]", "[3, 4]", "[3–5, 9]".
MARKER_RE = re.compile(r"\s*\[\s*\d+(?:\s*[–-]\s*\d+)?(?:\s*,\s*\d+(?:\s*[–-]\s*\d+)?)*\s*\]")
_LIST_STYLES = {"listparagraph", "list paragraph"}


def without_markers(text: str) -> str:
    return MARKER_RE.sub("", text)


def key(text: str) -> str:
    return normalize_alnum(without_markers(text))


def table_key(rows: Sequence[Sequence[str]]) -> str:
    return normalize_alnum(" ".join(" ".join(without_markers(c) for c in row) for row in rows))


def sections_by_hex(sections: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {section_hex(s["section_id"]): s for s in sections}


def interleaved_items(section: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The twin section's paragraphs and tables in reading order (as the renderer writes)."""
    paragraphs = section.get("paragraphs", [])
    tables = sorted(
        enumerate(section.get("tables", [])),
        key=lambda kt: (
            kt[1].get("after_paragraphs")
            if kt[1].get("after_paragraphs") is not None
            else len(paragraphs),
            kt[0],
        ),
    )
    out: list[tuple[str, dict[str, Any]]] = []
    k = 0
    for n in range(len(paragraphs) + 1):
        while k < len(tables):
            after = tables[k][1].get("after_paragraphs")
            if (after if after is not None else len(paragraphs)) > n:
                break
            out.append(("table", tables[k][1]))
            k += 1
        if n < len(paragraphs):
            out.append(("paragraph", paragraphs[n]))
    out.extend(("table", t) for _k, t in tables[k:])
    return out


def twin_keys(section: dict[str, Any]) -> list[str]:
    """What the copy of an untouched section reads as, item by item (empty items dropped)."""
    keys: list[str] = []
    for kind, item in interleaved_items(section):
        if kind == "paragraph":
            keys.append(key(f"{item.get('list_label', '')} {item.get('text', '')}"))
        else:
            if item.get("title"):
                keys.append(key(item["title"]))
            keys.append("table:" + table_key(item.get("rows", [])))
    return [k for k in keys if k and k != "table:"]


def read_keys(items: Sequence[ReadItem]) -> list[str]:
    keys = [key(i.text) if i.kind == "paragraph" else "table:" + table_key(i.rows) for i in items]
    return [k for k in keys if k and k != "table:"]


def is_edited(
    read: ReadSection, section: dict[str, Any], original: ReadSection | None = None
) -> bool:
    """Whether people changed the section: its items compared with the same section of the
    file Folio wrote (``original``, read the same way), or, without that file, with the twin."""
    if original is not None:
        return read_keys(read.items) != read_keys(original.items)
    return read_keys(read.items) != twin_keys(section)


def _split_label(text: str) -> tuple[str, str]:
    if "\t" in text:
        label, rest = text.split("\t", 1)
        if 0 < len(label.strip()) <= 8:
            return label.strip(), rest
    return "", text


def _clean(text: str) -> str:
    return re.sub(r"[ \t]+", " ", without_markers(text)).strip()


def edited_section(read: ReadSection, section: dict[str, Any]) -> dict[str, Any]:
    """The twin section as the reviewers sent it back (see the module docstring)."""
    paragraphs_by_key: dict[str, list[dict[str, Any]]] = {}
    tables_by_key: dict[str, list[dict[str, Any]]] = {}
    titles = set()
    for kind, item in interleaved_items(section):
        if kind == "paragraph":
            k = key(f"{item.get('list_label', '')} {item.get('text', '')}")
            paragraphs_by_key.setdefault(k, []).append(item)
        else:
            tables_by_key.setdefault(table_key(item.get("rows", [])), []).append(item)
            if item.get("title"):
                titles.add(key(item["title"]))
    paragraphs: list[dict[str, Any]] = []
    tables: list[dict[str, Any]] = []
    caption = ""
    for item in read.items:
        if item.kind == "table":
            k = table_key(item.rows)
            if tables_by_key.get(k):
                table = dict(tables_by_key[k].pop(0))
            else:
                width = max((len(r) for r in item.rows), default=0)
                table = {
                    "title": caption,
                    "header_rows": 1 if len(item.rows) > 1 else 0,
                    "rows": [[*map(_clean, r), *([""] * (width - len(r)))] for r in item.rows],
                    "citations": [],
                }
            table["after_paragraphs"] = len(paragraphs)
            tables.append(table)
            caption = ""
            continue
        k = key(item.text)
        if not k:
            continue
        if paragraphs_by_key.get(k):
            paragraphs.append(paragraphs_by_key[k].pop(0))
            caption = ""
            continue
        if k in titles or item.style.lower() == "caption":
            caption = _clean(item.text)  # a table's title: it goes with the table below
            continue
        label, text = ("", item.text)
        style = "body"
        if item.style.lower() in _LIST_STYLES:
            label, text = _split_label(item.text)
            style = "list"
        new: dict[str, Any] = {"text": _clean(text), "citations": [], "flags": [EDITED_FLAG]}
        if style != "body":
            new["style"] = style
        if label:
            new["list_label"] = label
        paragraphs.append(new)
        caption = ""
    if caption:
        paragraphs.append({"text": caption, "citations": [], "flags": [EDITED_FLAG]})
    state = section.get("state", "generated")
    if state != "skipped" and (paragraphs or tables):
        state = "generated"
    return {
        **section,
        "state": state,
        "paragraphs": paragraphs,
        "tables": tables,
        "edited": True,
        "review_comments": [],
        "stale": False,
    }
