"""The document page's own texts (no request, no writes): its title, the status card's spoken
and written values, and the section navigator.

``status_texts`` gives what the polled status card says: the page title (document, version,
status: WCAG 2.4.2), the progress bar's text value ("Orchestrate, 90 %") and the sentence the one
live region announces. The announcement changes only when the step or the status does, so
folio.js speaks each step and the end exactly once however often the card is polled.
"""

from __future__ import annotations

import re
from typing import Any

from documents.models import GeneratedDocument


def page_title(document: GeneratedDocument) -> str:
    return f"{document.output_name} · version {document.version} · {document.status}"


def status_texts(document: GeneratedDocument) -> dict[str, str]:
    status = document.status
    step = document.step or ""
    if status == GeneratedDocument.Status.COMPLETE:
        progress_text = "Complete, 100 %"
        announce = "Complete: the draft is ready to download."
    elif status == GeneratedDocument.Status.FAILED:
        progress_text = f"Failed at {step or 'the start'}, {document.progress} %"
        announce = "Failed: the draft could not be made."
    elif status == GeneratedDocument.Status.CANCELLED:
        progress_text = f"Cancelled, {document.progress} %"
        announce = "Cancelled."
    elif status == GeneratedDocument.Status.PENDING or not step:
        progress_text = f"Waiting to start, {document.progress} %"
        announce = "Waiting to start."
    else:
        progress_text = f"{step}, {document.progress} %"
        announce = f"Step: {step}."
    return {
        "page_title": page_title(document),
        "progress_text": progress_text,
        "announce": announce,
    }


def section_states(preview: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One navigator entry per section of the preview: its anchor, number, title and states."""
    if not preview:
        return []
    out = []
    for s in preview["sections"]:
        marks = [m for m in ("edited", "stale") if s.get(m)]
        out.append(
            {
                "id": s["id"],
                "number": s["number"],
                "title": s["title"],
                "level": s["level"],
                "state": s["state"],
                "label": STATE_LABELS.get(s["state"], s["state"].replace("_", " ")),
                "marks": marks,
            }
        )
    return out


STATE_LABELS = {
    "generated": "generated",
    "no_source": "no source",
    "skipped": "skipped",
    "not_applicable": "not applicable",
    "kept": "kept",
}


# --- citations placed where they belong ---------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[“\"])")
_WORD = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)?")


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) > 2 or w.isdigit()}


def _best(candidates: list[set[str]], quote: str) -> tuple[int, int]:
    """Index of the candidate sharing the most words with ``quote`` (the last on a tie), and
    how many it shares."""
    wanted = _words(quote)
    best, best_score = len(candidates) - 1, 0
    for i, words in enumerate(candidates):
        score = len(words & wanted)
        if score and score >= best_score:
            best, best_score = i, score
    return best, best_score


def sentence_segments(text: str, citations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The paragraph as sentences, each followed by the citations whose quote it shares most
    words with, so a marker stands at the end of the sentence it supports; a citation that
    matches no sentence stands at the end of the paragraph."""
    pieces = _SENTENCE_END.split(text) if citations else [text]
    segments = [{"text": piece, "citations": []} for piece in pieces]
    for i, segment in enumerate(segments[:-1]):
        segment["text"] = f"{pieces[i]} "
    if not segments:
        segments = [{"text": text, "citations": []}]
    words = [_words(s["text"]) for s in segments]
    for citation in citations:
        index, _ = _best(words, str(citation.get("quote", "")))
        segments[index]["citations"].append(citation)
    for segment in segments:
        segment["citations"].sort(key=lambda c: c["n"])
    return segments


def _table_rows(block: dict[str, Any]) -> None:
    """Each body row with the citations whose quote it shares most words with (at least two);
    the rest cite the whole table."""
    rows = block.get("body") or []
    block["body_rows"] = [{"cells": row, "citations": []} for row in rows]
    block["table_citations"] = []
    words = [_words(" ".join(str(cell) for cell in row)) for row in rows]
    for citation in block.get("citations", []):
        quote = str(citation.get("quote", ""))
        index, score = _best(words, quote) if words else (0, 0)
        if words and score >= min(2, len(_words(quote))) and score > 0:
            block["body_rows"][index]["citations"].append(citation)
        else:
            block["table_citations"].append(citation)


NO_SOURCE_TODO = (
    "Nothing in the sources supports it: write it yourself, or add a source and regenerate it."
)


def place_citations(preview: dict[str, Any] | None) -> dict[str, Any] | None:
    """``draft_preview``'s output with each citation placed: paragraphs and list items as
    sentences with their markers (``segments``), tables as rows with theirs (``body_rows``) and
    the citations of the whole table (``table_citations``). Numbers are not changed."""
    if not preview:
        return preview
    for section in preview["sections"]:
        if section["state"] == "no_source":
            # Collapsed to one line saying what to do: the pipeline's own note when it wrote one.
            notes = [b["text"] for b in section["blocks"] if b.get("style") == "note"]
            section["todo"] = notes[0] if notes else NO_SOURCE_TODO
        for block in section["blocks"]:
            if block["kind"] == "table":
                _table_rows(block)
                continue
            items = block["items"] if block["kind"] == "list" else [block]
            for item in items:
                item["segments"] = sentence_segments(item["text"], item["citations"])
    return preview


def citation_by_number(preview: dict[str, Any] | None, number: int) -> dict[str, Any] | None:
    """The citation numbered ``number`` in the preview (the marker the reader opened)."""
    if not preview:
        return None
    for section in preview["sections"]:
        for block in section["blocks"]:
            items = block["items"] if block["kind"] == "list" else [block]
            for item in items:
                for citation in item.get("citations", []):
                    if citation["n"] == number:
                        return {**citation, "section": section}
    return None
