"""Matching survives another editor: a reviewed copy saved again by LibreOffice
(``soffice --headless --convert-to docx``) is read exactly as the Word-made one: the same
document, the same sections, comments and edits. Skipped with a reason without LibreOffice."""

from __future__ import annotations

import pytest

from documents.review import match
from documents.review.reader import read_reviewed_copy
from tests.documents.review.conftest import review
from tests.fixtures.reviewed import (
    SOFFICE_MISSING,
    add_comment,
    insert_paragraph_after,
    libreoffice_convert,
    open_docx,
    rewrite_paragraph,
    save_docx,
    section_paragraphs,
    soffice,
)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.skipif(soffice() is None, reason=SOFFICE_MISSING),
]
TERMS = "Use 'participants' instead of 'patients'."


def test_an_untouched_draft_saved_by_libreoffice_reads_as_unchanged(draft, tmp_path) -> None:
    converted = libreoffice_convert(draft.docx)
    path = tmp_path / "lo.docx"
    path.write_bytes(converted)
    copy = read_reviewed_copy(str(path))
    assert copy.properties["folio_document_id"] == draft.task_id
    by_hex = match.sections_by_hex(draft.twin["sections"])
    shown = [s for s in draft.twin["sections"] if s["state"] != "skipped"]
    assert {s.hex for s in copy.sections} >= {h for h, s in by_hex.items() if s in shown}
    edited = [by_hex[s.hex]["number"] for s in copy.sections if match.is_edited(s, by_hex[s.hex])]
    assert edited == []
    response = review(draft.client, draft.task_id, converted)
    assert response.status_code == 200 and response.json()["sections"] == []


def test_comments_and_edits_survive_a_libreoffice_round_trip(draft) -> None:
    document = open_docx(draft.docx)
    for number in ("9.3.1", "9.7.2"):
        paragraph = section_paragraphs(document, draft.section(number)["section_id"])[0]
        add_comment(document, paragraph, TERMS)
    blinding = section_paragraphs(document, draft.section("9.4.6")["section_id"])
    rewrite_paragraph(blinding[0], "Reviewers rewrote this paragraph.")
    insert_paragraph_after(blinding[-1], "And added this one.")
    word_made = save_docx(document)
    direct = review(draft.client, draft.task_id, word_made, regenerate="false").json()
    converted = review(
        draft.client, draft.task_id, libreoffice_convert(word_made), regenerate="false"
    ).json()
    assert converted["sections"] == direct["sections"]
    assert {s["number"]: s["edited"] for s in converted["sections"]} == {
        "9.3.1": False,
        "9.7.2": False,
        "9.4.6": True,
    }
