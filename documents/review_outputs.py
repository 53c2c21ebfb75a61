"""The review cycle's part of a finished generation (called by the job, ``documents/jobs.py``).

After the pipeline has written a new version's .docx and twin:

1. **Edited sections carried as people left them.** Each section people edited (``edited`` in
   the twin) that this version did not write again gets its body from where those people left
   it — the reviewed copy this version was made from, or else the previous version's own file —
   so their pending tracked changes stay pending (``review/carry.py``).
2. **Comments kept on the version.** The reviewers' comments of the review this version was made
   from go into its twin, per section (``review_comments``).
3. **The redline.** For any version with a previous one: a copy of the .docx whose differences in
   the section bodies from the previous text are tracked changes (``review/redline.py``); the
   previous text is the previous version's twin with, when a review came between, the sections
   as the reviewers sent them back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docx
from django.core.files.storage import default_storage
from django.utils import timezone

from documents.models import GeneratedDocument
from documents.pipeline.docx_identity import section_hex
from documents.pipeline_input import previous_sections
from documents.review import carry, redline
from documents.review.reader import read_document

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outputs:
    docx_path: str
    redline_path: str | None
    sections: list[dict[str, Any]]
    redlined_sections: list[str]


def _comments_by_section(document: GeneratedDocument) -> dict[str, list[dict[str, str]]]:
    review = document.review
    if review is None or document.origin != GeneratedDocument.Origin.REVIEW:
        return {}
    out: dict[str, list[dict[str, str]]] = {}
    for section in review.sections or []:
        comments = [
            {"author": c.get("author", ""), "text": c.get("text", "")}
            for c in section.get("comments", [])
        ]
        if comments:
            out[section["section_id"]] = comments
    return out


def _previous_file_bodies(document: GeneratedDocument, hexes: set[str]) -> dict[str, list[str]]:
    """Section bodies (as WordprocessingML) from the previous version's stored .docx."""
    previous = document.previous_version
    if previous is None or not previous.output_key or not hexes:
        return {}
    try:
        with default_storage.open(previous.output_key, "rb") as fh:
            copy = read_document(docx.Document(fh))
    except Exception:  # a missing file: the twin's text is rendered instead
        logger.warning("Previous version %s is not readable; edited text re-rendered", previous.pk)
        return {}
    return {s.hex: list(s.xml) for s in copy.sections if s.hex in hexes}


def _carried(document: GeneratedDocument, sections: list[dict[str, Any]]) -> dict[str, list[str]]:
    regenerated = set(document.regenerate_section_ids or [])
    edited = {
        s["section_id"] for s in sections if s.get("edited") and s["section_id"] not in regenerated
    }
    if not edited or document.previous_version_id is None:
        return {}
    bodies: dict[str, list[str]] = {}
    review_xml = document.review.carried_xml if document.review is not None else {}
    for sid in edited:
        if sid in (review_xml or {}):
            bodies[section_hex(sid)] = list(review_xml[sid])
    missing = {section_hex(sid) for sid in edited} - set(bodies)
    bodies.update(_previous_file_bodies(document, missing))
    return bodies


def finish_outputs(
    document: GeneratedDocument,
    *,
    docx_path: str,
    sections: list[dict[str, Any]],
    workdir: Path,
) -> Outputs:
    """Steps 1-3 of the module docstring; the .docx at ``docx_path`` is rewritten in place."""
    comments = _comments_by_section(document)
    for section in sections:
        section["review_comments"] = comments.get(section["section_id"], [])
    bodies = _carried(document, sections)
    if bodies:
        copy = docx.Document(docx_path)
        carry.replace_section_bodies(copy, bodies)
        carry.drop_orphan_comments(copy)  # the renderer's notes on text that was replaced
        copy.save(docx_path)
    if document.previous_version_id is None:
        return Outputs(docx_path, None, sections, [])
    base = previous_sections(document)
    marked_copy = docx.Document(docx_path)
    date = timezone.now().replace(microsecond=0).isoformat().replace("+00:00", "Z")
    marked = redline.redline_document(
        marked_copy, previous=list(base.values()), current=sections, date=date
    )
    redline_path = str(workdir / "redline.docx")
    marked_copy.save(redline_path)
    return Outputs(docx_path, redline_path, sections, marked)
