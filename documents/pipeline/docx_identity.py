"""Where a generated .docx came from, written into the file so that a copy edited in Word (or
LibreOffice) can be matched back to its document, version and sections (docs/api.md, "The review
cycle").

- **Custom document properties** (``docProps/custom.xml``): ``folio_document_id``,
  ``folio_version`` and ``folio_template_id``. python-docx reads and writes only the core
  properties, so the part is written here through its packaging API (the package relationship
  ``.../relationships/custom-properties``); properties a base template already carries are kept.
- **Section bookmarks**: each section heading holds ``w:bookmarkStart``/``w:bookmarkEnd`` named
  ``folio_`` + the section id's 32 lowercase hex digits (38 characters, within Word's 40), so a
  section is found again after people insert paragraphs or renumber headings. The heading that
  follows the last section ("List of Sources and References") carries ``folio_end``.

Reading both back is ``documents/review/reader.py``'s job; this module is the one definition of
the names, shared by the renderer and the reader.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any
from xml.sax.saxutils import escape

from docx.opc.packuri import PackURI
from docx.opc.part import Part
from lxml import etree

BOOKMARK_PREFIX = "folio_"
END_BOOKMARK = "folio_end"
DOCUMENT_ID = "folio_document_id"
VERSION = "folio_version"
TEMPLATE_ID = "folio_template_id"

CUSTOM_PROPERTIES_RELTYPE = (
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships/custom-properties"
)
CUSTOM_PROPERTIES_CONTENT_TYPE = (
    "application/vnd.openxmlformats-officedocument.custom-properties+xml"
)
_CUSTOM_NS = "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"
_VT_NS = "http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"
# The format id every custom property carries (FMTID_UserDefinedProperties).
_FMTID = "{D5CDD505-2E9C-101B-9397-08002B2CF9AE}"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def section_hex(section_id: str) -> str:
    """The 32 hex digits that name a section: its UUID's, or (for an outline whose ids are not
    UUIDs) those of a UUID derived from the id."""
    try:
        return uuid.UUID(str(section_id)).hex
    except ValueError:
        return uuid.uuid5(uuid.NAMESPACE_URL, f"folio-section:{section_id}").hex


def section_bookmark(section_id: str) -> str:
    return BOOKMARK_PREFIX + section_hex(section_id)


def is_section_bookmark(name: str) -> bool:
    hex_part = name[len(BOOKMARK_PREFIX) :]
    return (
        name.startswith(BOOKMARK_PREFIX)
        and len(hex_part) == 32
        and all(c in "0123456789abcdef" for c in hex_part)
    )


# ---------------------------------------------------------------- custom properties


def _property_xml(pid: int, name: str, value: Any) -> str:
    if isinstance(value, bool):
        typed = f"<vt:bool>{'true' if value else 'false'}</vt:bool>"
    elif isinstance(value, int):
        typed = f"<vt:i4>{value}</vt:i4>"
    else:
        typed = f"<vt:lpwstr>{escape(str(value))}</vt:lpwstr>"
    return (
        f'<property fmtid="{_FMTID}" pid="{pid}" name="{escape(name, {chr(34): "&quot;"})}">'
        f"{typed}</property>"
    )


def parse_custom_properties(blob: bytes) -> dict[str, str]:
    """``docProps/custom.xml`` as name → value text (every type read as its text)."""
    root = etree.fromstring(blob, _PARSER)
    out: dict[str, str] = {}
    for prop in root.findall(f"{{{_CUSTOM_NS}}}property"):
        name = prop.get("name")
        if not name:
            continue
        value = next(iter(prop), None)
        out[name] = (value.text or "") if value is not None else ""
    return out


def write_custom_properties(document: Any, properties: Mapping[str, Any]) -> None:
    """Set ``properties`` (str, int or bool values) in the custom properties of a python-docx
    ``Document``, keeping the others a base template may carry."""
    if not properties:
        return
    package = document.part.package
    existing_part = None
    for rel in package.rels.values():
        if rel.reltype == CUSTOM_PROPERTIES_RELTYPE and not rel.is_external:
            existing_part = rel.target_part
            break
    kept: list[tuple[str, str]] = []  # (name, the property's typed XML) of other properties
    if existing_part is not None:
        root = etree.fromstring(existing_part.blob, _PARSER)
        for prop in root.findall(f"{{{_CUSTOM_NS}}}property"):
            name = prop.get("name") or ""
            if name and name not in properties:
                value = next(iter(prop), None)
                typed = etree.tostring(value, encoding="unicode") if value is not None else ""
                kept.append((name, typed))
    items = []
    pid = 2  # pids start at 2 (0 and 1 are reserved)
    for name, typed in kept:
        items.append(
            f'<property fmtid="{_FMTID}" pid="{pid}" name="{escape(name, {chr(34): "&quot;"})}">'
            f"{typed}</property>"
        )
        pid += 1
    for name, value in properties.items():
        items.append(_property_xml(pid, name, value))
        pid += 1
    blob = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Properties xmlns="{_CUSTOM_NS}" xmlns:vt="{_VT_NS}">{"".join(items)}</Properties>'
    ).encode()
    if existing_part is not None:
        existing_part._blob = blob
        return
    part = Part(PackURI("/docProps/custom.xml"), CUSTOM_PROPERTIES_CONTENT_TYPE, blob, package)
    package.relate_to(part, CUSTOM_PROPERTIES_RELTYPE)
