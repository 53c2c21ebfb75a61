"""POST /api/v1/documents/{id}/review (docs/api.md, "The review cycle") on real drafts: reviewers'
comments become instructions for their sections, people's edits are kept, Folio's own comments are
not instructions, and files that are no Folio draft of this document are refused with a reason."""

from __future__ import annotations

import io
import zipfile

import docx
import pytest
from docx.oxml.ns import qn

from documents.models import DocumentReview, GeneratedDocument
from documents.pipeline import language
from documents.pipeline.docx_identity import section_hex
from documents.review.reader import walk_sections
from tests.documents.review.conftest import fetch, generate, review, upload
from tests.fixtures.reviewed import (
    REVIEWER,
    add_comment,
    insert_paragraph_after,
    open_docx,
    rewrite_paragraph,
    save_docx,
    section_paragraphs,
    track_insertion,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

TERMS = "Use 'participants' instead of 'patients'."
REWRITTEN = "Reviewers rewrote this paragraph: blinding was kept until database lock."


def _sentences(section: dict) -> list[str]:
    return [s for p in section["paragraphs"] for s in language.sentences(p["text"])]


def _without_review_marks(section: dict) -> dict:
    return {k: v for k, v in section.items() if k not in ("review_comments", "stale")}


def _reviewed_copy(draft) -> bytes:
    """Comments in 9.3.1 and 9.7.2; a paragraph of 9.4.6 rewritten; a Folio comment kept."""
    document = open_docx(draft.docx)
    add_comment(
        document, section_paragraphs(document, draft.section("9.3.1")["section_id"])[0], TERMS
    )
    add_comment(
        document, section_paragraphs(document, draft.section("9.7.2")["section_id"])[0], TERMS
    )
    blinding = section_paragraphs(document, draft.section("9.4.6")["section_id"])
    rewrite_paragraph(blinding[0], REWRITTEN)
    return save_docx(document)


def test_an_unchanged_copy_finds_nothing_and_makes_no_version(draft) -> None:
    response = review(draft.client, draft.task_id, draft.docx)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["task_id"] is None and body["sections"] == []
    assert body["comments_outside_sections"] == [] and body["sections_not_found"] == []
    # The draft holds Folio's own comments on reworded sentences: none is an instruction.
    comments = zipfile.ZipFile(io.BytesIO(draft.docx)).read("word/comments.xml").decode()
    assert 'w:author="Folio"' in comments
    assert GeneratedDocument.objects.count() == 1


def test_the_clean_copy_reads_back_too_and_unchanged_finds_nothing(draft) -> None:
    from tests.documents.review.conftest import fetch

    _twin, clean = fetch(draft.client, draft.task_id, copy="clean")
    assert "word/comments.xml" not in zipfile.ZipFile(io.BytesIO(clean)).namelist()
    response = review(draft.client, draft.task_id, clean)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["sections"] == [] and body["sections_not_found"] == []
    assert GeneratedDocument.objects.count() == 1


def test_two_commented_sections_are_written_again_and_an_edited_one_is_kept(
    draft, rq_worker
) -> None:
    response = review(draft.client, draft.task_id, _reviewed_copy(draft))
    assert response.status_code == 202, response.json()
    body = response.json()
    by_number = {s["number"]: s for s in body["sections"]}
    assert set(by_number) == {"9.3.1", "9.7.2", "9.4.6"}
    for number in ("9.3.1", "9.7.2"):
        s = by_number[number]
        assert s["regenerate"] is True and s["edited"] is False
        assert [(c["author"], c["text"]) for c in s["comments"]] == [(REVIEWER, TERMS)]
        assert s["comments"][0]["status"] == "acted_on"
        assert "participants" in s["comments"][0]["understood"][0]
    assert by_number["9.4.6"] == {
        **by_number["9.4.6"],
        "edited": True,
        "regenerate": False,
        "comments": [],
    }

    rq_worker()
    new_id = body["task_id"]
    status = draft.client.get(f"/api/v1/documents/status/{new_id}").json()
    assert status["status"] == "Complete", status
    assert status["version"] == 2 and status["previous_version"] == draft.task_id
    twin, _data = fetch(draft.client, new_id)
    assert twin["version"] == 2 and twin["previous_version"] == draft.task_id
    old = {s["section_id"]: s for s in draft.twin["sections"]}
    for section in twin["sections"]:
        before = old[section["section_id"]]
        if section["number"] in ("9.3.1", "9.7.2"):
            # The comment followed: the same sentences with the term replaced, no table added.
            assert _sentences(section) == [
                language.apply_preferred_terms(s, {"participants": ["patients"]})
                for s in _sentences(before)
            ]
            assert "participants" in " ".join(_sentences(section)).lower()
            assert section["tables"] == before["tables"]
            assert section["review_comments"] == [{"author": REVIEWER, "text": TERMS}]
        elif section["number"] == "9.4.6":
            assert section["edited"] is True
            texts = [p["text"] for p in section["paragraphs"]]
            assert texts[0] == REWRITTEN
            assert section["paragraphs"][0]["citations"] == []
            assert "edited" in section["paragraphs"][0]["flags"]
            # The paragraphs people left alone keep Folio's text and citations.
            assert section["paragraphs"][1:] == before["paragraphs"][1:]
        else:
            assert _without_review_marks(section) == {
                **_without_review_marks(before),
                "edited": False,
            }, section["number"]
    assert twin["qc"]["paragraphs_edited"] == 1
    assert twin["qc"]["sections_edited"] == 1
    review_row = DocumentReview.objects.get()
    assert review_row.document_id.hex == draft.task_id.replace("-", "")


def test_a_later_regeneration_never_overwrites_the_edited_section_unless_asked(
    draft, rq_worker
) -> None:
    body = review(draft.client, draft.task_id, _reviewed_copy(draft)).json()
    rq_worker()
    v2 = body["task_id"]
    blinding = draft.section("9.4.6")["section_id"]
    refused = draft.client.post(
        f"/api/v1/documents/{v2}/regenerate", {"section_ids": [blinding]}, format="json"
    )
    assert refused.status_code == 400 and refused.json()["code"] == "section_edited"
    other = draft.section("9.3.2")["section_id"]
    ok = draft.client.post(
        f"/api/v1/documents/{v2}/regenerate", {"section_ids": [other]}, format="json"
    )
    assert ok.status_code == 202
    rq_worker()
    v3 = ok.json()["task_id"]
    twin3, _ = fetch(draft.client, v3)
    kept = next(s for s in twin3["sections"] if s["section_id"] == blinding)
    assert kept["edited"] is True and kept["paragraphs"][0]["text"] == REWRITTEN
    forced = draft.client.post(
        f"/api/v1/documents/{v3}/regenerate",
        {"section_ids": [blinding], "overwrite_edited": True},
        format="json",
    )
    assert forced.status_code == 202
    rq_worker()
    twin4, _ = fetch(draft.client, forced.json()["task_id"])
    rewritten = next(s for s in twin4["sections"] if s["section_id"] == blinding)
    assert rewritten["edited"] is False
    assert REWRITTEN not in [p["text"] for p in rewritten["paragraphs"]]


def test_reviewers_tracked_changes_stay_pending_in_the_next_version(draft, rq_worker) -> None:
    document = open_docx(draft.docx)
    blinding_id = draft.section("9.4.6")["section_id"]
    paragraphs = section_paragraphs(document, blinding_id)
    track_insertion(paragraphs[0], " Unblinding was documented.")
    insert_paragraph_after(paragraphs[-1], "A new paragraph that a reviewer typed.")
    add_comment(
        document, section_paragraphs(document, draft.section("9.3.1")["section_id"])[0], TERMS
    )
    body = review(draft.client, draft.task_id, save_docx(document)).json()
    assert {s["number"]: s["edited"] for s in body["sections"]}["9.4.6"] is True
    rq_worker()
    twin, data = fetch(draft.client, body["task_id"])
    section = next(s for s in twin["sections"] if s["section_id"] == blinding_id)
    # In the twin the change is accepted; in the file it is still the reviewer's to accept.
    assert section["paragraphs"][0]["text"].endswith("Unblinding was documented.")
    assert section["paragraphs"][-1]["text"] == "A new paragraph that a reviewer typed."
    new_doc = docx.Document(io.BytesIO(data))
    _b, sections, _a = walk_sections(new_doc.element.body)
    body_xml = next(s for s in sections if s.hex == section_hex(blinding_id))
    inserts = [el for block in body_xml.blocks for el in block.iter(qn("w:ins"))]
    assert [i.get(qn("w:author")) for i in inserts] == [REVIEWER]


def test_regenerate_false_reads_the_copy_and_makes_nothing(draft) -> None:
    response = review(draft.client, draft.task_id, _reviewed_copy(draft), regenerate="false")
    assert response.status_code == 200
    body = response.json()
    assert body["task_id"] is None
    assert {s["number"] for s in body["sections"]} == {"9.3.1", "9.7.2", "9.4.6"}
    assert all(not s["regenerate"] for s in body["sections"])
    assert GeneratedDocument.objects.count() == 1


def test_a_comment_on_an_edited_section_is_left_for_a_person_unless_overwrite(draft) -> None:
    document = open_docx(draft.docx)
    blinding = section_paragraphs(document, draft.section("9.4.6")["section_id"])
    rewrite_paragraph(blinding[0], REWRITTEN)
    add_comment(document, blinding[1], TERMS)
    data = save_docx(document)
    kept = review(draft.client, draft.task_id, data).json()
    section = kept["sections"][0]
    assert section["edited"] is True and section["regenerate"] is False
    assert section["comments"][0]["status"] == "left_for_person"
    assert kept["task_id"] is None
    forced = review(draft.client, draft.task_id, data, overwrite_edited="true").json()
    assert forced["sections"][0]["regenerate"] is True and forced["task_id"]


def test_comments_outside_every_section_are_listed_not_dropped(draft) -> None:
    document = open_docx(draft.docx)
    # The title page is section 1 now; the list of sources is outside every section.
    texts = [p.text for p in document.paragraphs]
    sources = document.paragraphs[texts.index("List of Sources and References") + 1]
    add_comment(document, sources, "Please add the report date.")
    body = review(draft.client, draft.task_id, save_docx(document)).json()
    assert body["comments_outside_sections"] == [
        {"author": REVIEWER, "text": "Please add the report date."}
    ]
    assert body["sections"] == [] and body["task_id"] is None


def test_a_comment_the_built_in_writer_does_not_understand_is_left_for_a_person(draft) -> None:
    document = open_docx(draft.docx)
    paragraph = section_paragraphs(document, draft.section("9.7.2")["section_id"])[0]
    add_comment(document, paragraph, "Check this figure with the sponsor.")
    body = review(draft.client, draft.task_id, save_docx(document)).json()
    comment = body["sections"][0]["comments"][0]
    assert comment["status"] == "left_for_person" and comment["understood"] == []


def test_any_version_in_the_path_reads_the_version_named_in_the_file(draft, rq_worker) -> None:
    first = review(draft.client, draft.task_id, _reviewed_copy(draft)).json()
    rq_worker()
    # The copy of version 1, sent to version 2's address: matched against version 1.
    again = review(draft.client, first["task_id"], _reviewed_copy(draft), regenerate="false")
    assert again.status_code == 200
    assert {s["number"] for s in again.json()["sections"]} == {"9.3.1", "9.7.2", "9.4.6"}


# ---------------------------------------------------------------- refusals


def test_a_docx_that_folio_did_not_write_is_not_a_folio_draft(draft) -> None:
    plain = docx.Document()
    plain.add_paragraph("Minutes of the review meeting.")
    response = review(draft.client, draft.task_id, save_docx(plain), name="minutes.docx")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "not_a_folio_draft"
    assert "minutes.docx" in body["detail"] and "not a Folio draft" in body["detail"]
    assert DocumentReview.objects.count() == 0 and GeneratedDocument.objects.count() == 1


@pytest.mark.parametrize(
    "name,data",
    [
        ("notes.txt", b"plain text, not Word"),
        ("broken.docx", b"PK\x03\x04 not really a zip"),
        ("empty.docx", b""),
    ],
)
def test_a_file_that_is_not_a_docx_is_unreadable(draft, name, data) -> None:
    response = review(draft.client, draft.task_id, data, name=name)
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "unreadable_document"
    assert name in response.json()["detail"]


def test_a_draft_of_another_document_is_the_wrong_document(draft, rq_worker) -> None:
    other = generate(draft.client, draft.file_paths, rq_worker, output_name="Other_CSR")
    _twin, other_docx = fetch(draft.client, other)
    response = review(draft.client, draft.task_id, other_docx)
    assert response.status_code == 400
    assert response.json()["code"] == "wrong_document"


def test_another_organizations_document_is_a_404_and_its_draft_the_wrong_document(
    draft, api_client, outsider, sources, rq_worker
) -> None:
    theirs = api_client(outsider)
    assert review(theirs, draft.task_id, draft.docx).status_code == 404
    paths = [upload(theirs, name, data)["file_path"] for name, data in sources.items()]
    their_task = generate(theirs, paths, rq_worker)
    response = review(theirs, their_task, draft.docx)
    assert response.status_code == 400 and response.json()["code"] == "wrong_document"
    # The message does not say whether the named document exists elsewhere.
    assert draft.task_id not in response.json()["detail"]


def test_the_file_field_is_required(draft) -> None:
    response = draft.client.post(
        f"/api/v1/documents/{draft.task_id}/review", {}, format="multipart"
    )
    assert response.status_code == 400 and "file" in response.json()["detail"]


def test_without_folio_s_file_the_copy_is_compared_with_the_twin(draft) -> None:
    from django.core.files.storage import default_storage

    default_storage.delete(GeneratedDocument.objects.get(pk=draft.task_id).output_key)
    unchanged = review(draft.client, draft.task_id, draft.docx)
    assert unchanged.status_code == 200 and unchanged.json()["sections"] == []
    body = review(draft.client, draft.task_id, _reviewed_copy(draft), regenerate="false").json()
    assert {s["number"]: s["edited"] for s in body["sections"]} == {
        "9.3.1": False,
        "9.7.2": False,
        "9.4.6": True,
    }
