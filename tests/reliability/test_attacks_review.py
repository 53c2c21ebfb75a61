"""Attacks through the review cycle (issue 10): hostile reviewed copies, forged Folio properties,
a reviewed copy whose XML points at parts of its own, and webhook URLs aimed at the operator's
network. Each is refused with a clear code, or made harmless, and nothing of anyone's changes."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import docx
import pytest
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls

from documents.models import DocumentReview, GeneratedDocument
from documents.pipeline.docx_identity import write_custom_properties
from tests.documents.review import conftest as review_fixtures
from tests.documents.review.conftest import fetch, review
from tests.fixtures import builders
from tests.fixtures.reviewed import open_docx, save_docx, section_paragraphs
from tests.reliability.conftest import outcome

pytestmark = [
    pytest.mark.reliability(category="attack"),
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(240),
]
draft = review_fixtures.draft
sources = review_fixtures.sources


@pytest.mark.parametrize(
    "build",
    [builders.build_docx_zip_bomb, builders.build_doctype_docx, builders.build_traversal_docx],
    ids=["zip-bomb", "entity-expansion", "path-traversal"],
)
def test_a_hostile_docx_as_a_reviewed_copy_is_unreadable(request, draft, build, tmp_path) -> None:
    """A zip bomb, a DOCTYPE with entities or a traversal member name sent as a reviewed copy."""
    path = build(tmp_path / "hostile.docx")
    response = review(draft.client, draft.task_id, Path(path).read_bytes(), name="hostile.docx")
    assert response.status_code == 400
    assert response.json()["code"] == "unreadable_document"
    assert DocumentReview.objects.count() == 0 and GeneratedDocument.objects.count() == 1
    outcome(request, f"400 unreadable_document: {response.json()['detail'][:80]}")


def test_forged_properties_naming_another_organization_s_document_say_nothing(
    request, draft, api_client, outsider, sources
) -> None:
    """A plain .docx with folio_document_id set to someone else's document, or to nothing."""
    theirs = api_client(outsider)
    paths = [
        review_fixtures.upload(theirs, name, data)["file_path"] for name, data in sources.items()
    ]
    their_doc = theirs.post(
        "/api/v1/documents/generate",
        {
            "document_type": "CSR",
            "file_paths": paths,
            "connector_data_id": "x",
            "workspace_name": "X",
            "template_id": "ich-e3-csr",
            "output_name": "Theirs",
        },
        format="json",
    ).json()["task_id"]
    answers = []
    for named in (draft.task_id, str(uuid.uuid4())):
        forged = docx.Document()
        forged.add_paragraph("Forged.")
        write_custom_properties(forged, {"folio_document_id": named, "folio_version": 1})
        answers.append(review(theirs, their_doc, save_docx(forged)))
    assert [a.status_code for a in answers] == [400, 400]
    assert {a.json()["code"] for a in answers} == {"wrong_document"}
    assert answers[0].json()["detail"] == answers[1].json()["detail"]
    outcome(request, "another organization's id reads exactly like a random id")


def test_a_reviewed_copy_over_the_upload_limit_is_413(request, draft, settings) -> None:
    settings.FOLIO_MAX_UPLOAD_MB = 1
    response = review(draft.client, draft.task_id, draft.docx + b"\0" * (1024 * 1024))
    assert response.status_code == 413
    outcome(request, "413 file_too_large")


def test_an_edited_section_s_references_to_its_own_parts_do_not_travel(
    request, draft, rq_worker
) -> None:
    """A reviewed copy whose edited section holds a hyperlink and an image pointing at
    relationships of its own: the next version's file must not point at them."""
    document = open_docx(draft.docx)
    target = section_paragraphs(document, draft.section("9.4.6")["section_id"])[0]
    target._p.addnext(
        parse_xml(
            f'<w:p {nsdecls("w", "r")}><w:hyperlink r:id="rId9999"><w:r><w:t>see the portal</w:t>'
            '</w:r></w:hyperlink><w:r><w:drawing><wp:inline xmlns:wp="http://schemas.'
            'openxmlformats.org/drawingml/2006/wordprocessingDrawing"/></w:drawing></w:r></w:p>'
        )
    )
    paragraph = section_paragraphs(document, draft.section("9.3.1")["section_id"])[0]
    document.add_comment(
        [r for r in paragraph.runs if r.text],
        text="Use 'participants' instead of 'patients'.",
        author="R",
        initials="R",
    )
    body = review(draft.client, draft.task_id, save_docx(document)).json()
    rq_worker()
    _twin, data = fetch(draft.client, body["task_id"])
    xml = docx.Document(io.BytesIO(data)).element.xml
    assert "rId9999" not in xml and "<w:drawing" not in xml
    assert "see the portal" in xml  # the text people wrote stays
    outcome(request, "foreign r:id and drawing dropped; the text kept; the file opens")


@pytest.mark.parametrize(
    "url",
    [
        "http://[::ffff:127.0.0.1]/hook",
        "http://2130706433/hook",
        "http://0.0.0.0/hook",
        "http://[fe80::1]/hook",
        "http://192.168.1.1/hook",
        "http://100.64.0.1/hook",
        "http://localhost./hook",
    ],
)
def test_webhook_urls_disguising_internal_addresses_are_refused(
    request, api_client, manager, url
) -> None:
    response = api_client(manager).post("/api/v1/webhooks", {"url": url}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "webhook_url_refused"
    outcome(request, f"400 webhook_url_refused: {url}")
