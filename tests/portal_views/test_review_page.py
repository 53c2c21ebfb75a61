"""The review cycle on the document page (docs/api.md, "The review cycle"): the **Reviewed copy**
upload and its refusals beside the field, **Download redline**, **edited** and **stale** badges with
**Regenerate stale sections**, reviewers' comments per section, and the version list saying who
changed what."""

from __future__ import annotations

import docx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from documents.models import GeneratedDocument
from tests.documents.review import conftest as review_fixtures
from tests.fixtures.reviewed import (
    add_comment,
    open_docx,
    rewrite_paragraph,
    save_docx,
    section_paragraphs,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
# The generated draft of the review tests (tests/documents/review/conftest.py).
draft = review_fixtures.draft
sources = review_fixtures.sources
TERMS = "Use 'participants' instead of 'patients'."


def _reviewed(draft) -> bytes:
    document = open_docx(draft.docx)
    add_comment(
        document, section_paragraphs(document, draft.section("9.7.2")["section_id"])[0], TERMS
    )
    rewrite_paragraph(
        section_paragraphs(document, draft.section("9.4.6")["section_id"])[0],
        "Reviewers rewrote this paragraph.",
    )
    return save_docx(document)


def test_a_complete_document_offers_the_review_upload(login, member, draft) -> None:
    body = login(member).get(f"/documents/{draft.task_id}/").content.decode()
    assert '<label for="id_file">Reviewed copy</label>' in body
    assert ">Upload review</button>" in body
    assert "Download redline" not in body  # a first draft has nothing to compare with
    assert "First draft." in body


def test_a_file_folio_did_not_write_is_refused_beside_the_field(login, member, draft) -> None:
    plain = docx.Document()
    plain.add_paragraph("Minutes.")
    response = login(member).post(
        f"/documents/{draft.task_id}/review/",
        {"file": SimpleUploadedFile("minutes.docx", save_docx(plain)), "regenerate": "on"},
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert 'id="review-file-error"' in body and "minutes.docx is not a Folio draft" in body
    assert GeneratedDocument.objects.count() == 1


def test_uploading_a_review_makes_a_version_with_badges_comments_and_a_redline(
    login,
    member,
    draft,
    rq_worker,
) -> None:
    client = login(member)
    response = client.post(
        f"/documents/{draft.task_id}/review/",
        {"file": SimpleUploadedFile("reviewed.docx", _reviewed(draft)), "regenerate": "on"},
    )
    new = GeneratedDocument.objects.exclude(pk=draft.task_id).get()
    assert response.status_code == 302 and response["Location"] == f"/documents/{new.pk}/"
    rq_worker()
    body = client.get(f"/documents/{new.pk}/").content.decode()
    assert 'class="badge badge--edited"' in body and ">edited</span>" in body
    assert "Reviewers' comment" in body and TERMS.replace("'", "&#x27;") in body
    assert "Download redline" in body
    assert "From a reviewed copy (reviewed.docx) of version 1" in body
    assert "Version 2 (this page)" in body
    redline = client.get(f"/documents/{new.pk}/download/redline/")
    assert redline.status_code == 200
    assert "redline-v2.docx" in redline["Content-Disposition"]
    # The reviewed version's page lists what its last review found.
    old = client.get(f"/documents/{draft.task_id}/").content.decode()
    assert "Last reviewed copy" in old and "acted on" in old


def test_stale_sections_get_a_badge_and_a_regenerate_action(
    login, member, draft, rq_worker
) -> None:
    stale = draft.section("9.7.2")["section_id"]
    GeneratedDocument.objects.filter(pk=draft.task_id).update(stale_sections=[stale])
    client = login(member)
    body = client.get(f"/documents/{draft.task_id}/").content.decode()
    assert ">stale</span>" in body
    assert ">Regenerate stale sections</button>" in body
    response = client.post(f"/documents/{draft.task_id}/regenerate/stale/")
    new = GeneratedDocument.objects.exclude(pk=draft.task_id).get()
    assert response.status_code == 302 and new.regenerate_section_ids == [stale]
    assert new.origin == "stale"
    page = client.get(response["Location"]).content.decode()
    assert (
        "Stale sections written again from the newest sources: 9.7.2 "
        "(the rest as in version 1)." in page
    )
