"""Stale sections: which sections of a draft cite source text that a newer version of a source
file changed or removed (docs/api.md, "The review cycle"; issue 10, item 4).

Each citation is checked against the newest version of its file the way QC checks it
(``citations.verify_citation``): the quote must still lie on the cited page (PDF) or in the cited
block (DOCX/XLSX paragraph, table row or sheet row). The cited page or block is compared, not
the whole file, so a new version that changes one paragraph makes stale exactly the sections
citing that paragraph; a page whose other text changed still supports a quote that is intact on
it. A section people edited is stale only through the paragraphs Folio wrote and they kept
(theirs carry no citations).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from documents.pipeline.citations import verify_citation
from documents.pipeline.twin import citation_from_dict
from documents.pipeline.types import ExtractedSource


def _citations(section: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
    for p in section.get("paragraphs", []):
        yield from p.get("citations", [])
    for t in section.get("tables", []):
        yield from t.get("citations", [])


def stale_sections(
    sections: Iterable[Mapping[str, Any]], newest: Mapping[str, ExtractedSource]
) -> list[str]:
    """Ids of the sections (in order) with a citation that no longer verifies in the newest
    version of its file; ``newest`` maps a ``file_path`` to that version's extraction."""
    sources = [replace(src, file_path=path) for path, src in newest.items()]
    out = []
    for section in sections:
        if section.get("state") == "skipped":
            continue
        for data in _citations(section):
            if data.get("file_path") not in newest:
                continue
            if not verify_citation(citation_from_dict(data), sources):
                out.append(section["section_id"])
                break
    return out
