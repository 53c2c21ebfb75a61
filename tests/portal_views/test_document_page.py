"""A document's page: status, polling partial (286 when terminal), preview, download, cancel,
regenerate and versions."""

from __future__ import annotations

import uuid

import pytest

from documents.models import GeneratedDocument
from portal.models import AuditEvent
from tests.portal_views.conftest import complete, running

pytestmark = pytest.mark.django_db


@pytest.fixture
def document(member, make_document):
    return make_document(member)


def test_a_pending_document_shows_status_progress_steps_and_polls(login, member, document):
    response = login(member).get(f"/documents/{document.pk}/")
    body = response.content.decode()
    assert response.status_code == 200
    assert 'data-status="Pending"' in body
    assert '<progress max="100" value="0"' in body
    for step in ["Extract", "Classify", "Ingest", "Outline", "Orchestrate", "Generate"]:
        assert f">{step}<" in body
    assert f'hx-get="/documents/{document.pk}/status/"' in body
    assert 'hx-trigger="every 1s"' in body
    assert ">Cancel</button>" in body
    assert "Download .docx" not in body
    assert '<meta http-equiv="refresh"' in body  # the no-JS fallback


def test_a_running_document_shows_its_current_step(login, member, document):
    running(document, progress=45, step="Ingest")
    body = login(member).get(f"/documents/{document.pk}/").content.decode()
    assert 'data-status="Generating"' in body
    assert 'value="45"' in body
    assert '<li class="done">Extract' in body
    assert '<li class="current" aria-current="step">Ingest' in body
    assert '<li class="pending">Outline' in body


def test_the_status_partial_is_200_while_running_and_286_when_terminal(login, member, document):
    client = login(member)
    url = f"/documents/{document.pk}/status/"
    running(document)
    response = client.get(url, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    # Only the card's values, swapped in place out of band: the buttons (and focus) stay put.
    assert body.lstrip().startswith('<div id="status-values"')
    assert 'hx-swap-oob="true"' in body
    assert "<html" not in body
    assert ">Cancel</button>" not in body and 'id="draft-preview"' not in body
    assert 'aria-valuetext="Ingest, 40 %"' in body
    assert 'data-title="CSR_Draft · version 1 · Generating · Folio"' in body
    assert "no-store" in response["Cache-Control"] or "no-cache" in response["Cache-Control"]

    complete(document)
    response = client.get(url, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 286
    assert 'data-status="Complete"' in body
    assert "every 1s" not in body
    assert "Download .docx" in body
    assert 'data-announce="Complete: the draft is ready to download."' in body
    # The preview arrives with the last poll (out-of-band), so no manual reload is needed.
    assert 'id="draft-preview"' in body and 'hx-swap-oob="true"' in body
    # The page's banner ("… is on its way") no longer applies: the last poll removes it.
    assert '<div id="messages" hx-swap-oob="delete">' in body


def test_the_page_itself_answers_htmx_with_the_status_partial(login, member, document):
    response = login(member).get(f"/documents/{document.pk}/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response.content.decode().lstrip().startswith('<div id="status-values"')


def test_the_status_url_without_htmx_goes_to_the_page(login, member, document):
    response = login(member).get(f"/documents/{document.pk}/status/")
    assert response.status_code == 302 and response["Location"] == f"/documents/{document.pk}/"


def test_a_failed_document_shows_its_error_in_plain_words(login, member, document):
    GeneratedDocument.objects.filter(pk=document.pk).update(
        status="Failed",
        step="Extract",
        error="protocol.pdf: The file is password-protected. Remove the password.",
        error_code="encrypted_document",
    )
    response = login(member).get(f"/documents/{document.pk}/status/", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 286
    assert 'data-status="Failed"' in body
    assert "The file is password-protected" in body
    assert '<li class="failed">Extract' in body
    assert "Traceback" not in body
    assert ">Cancel</button>" not in body


def test_a_complete_document_shows_download_and_the_preview(login, member, document):
    complete(document)
    body = login(member).get(f"/documents/{document.pk}/").content.decode()
    assert 'data-status="Complete"' in body
    assert '<progress max="100" value="100"' in body
    assert f'href="/documents/{document.pk}/download/">Download .docx</a>' in body
    assert "hx-trigger" not in body.split('id="document-status"')[1].split(">")[0]
    # Numbered headings, paragraphs, lists, tables and citations with file, page and quote.
    assert "<h3>1 Title Page</h3>" in body
    assert "120 participants were randomised." in body
    assert '<span class="list-label">1.</span> Adults aged 18 to 65' in body
    assert "<caption>Table 1 Disposition</caption>" in body
    assert '<details class="cite"><summary aria-label="Source 1: protocol.pdf, page 4">[1]' in body
    assert "<blockquote>A total of 120 participants were randomised.</blockquote>" in body
    assert "results.xlsx, block 7" in body
    # no_source flagged, skipped hidden behind a toggle.
    assert "state-no_source" in body and "No source found" in body
    assert "state-skipped" in body and 'id="show-skipped"' in body
    assert ">Regenerate</button>" in body
    assert "Sections generated" in body  # QC summary


def test_download_streams_the_docx_and_records_it(login, member, document):
    complete(document, content=b"PK the docx bytes")
    # The review copy with no section marked is the stored file (the clean copy is made from
    # it: tests/documents/test_copies.py).
    response = login(member).get(f"/documents/{document.pk}/download/?copy=review")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"PK the docx bytes"
    assert response["Content-Disposition"] == 'attachment; filename="CSR_Draft-review.docx"'
    assert response["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )
    event = AuditEvent.objects.get(action="download")
    assert event.actor == member and event.object_id == str(document.pk)


def test_an_unknown_copy_is_a_400_and_the_page_links_every_copy(login, member, document):
    complete(document, content=b"PK the docx bytes")
    client = login(member)
    response = client.get(f"/documents/{document.pk}/download/?copy=draft")
    assert response.status_code == 400 and "copy" in response.content.decode()
    page = client.get(f"/documents/{document.pk}/").content.decode()
    for query in ("?copy=review", "?part=qc", "?part=sources"):
        assert f"/documents/{document.pk}/download/{query}" in page


def test_download_before_completion_is_a_409_page(login, member, document):
    response = login(member).get(f"/documents/{document.pk}/download/")
    assert response.status_code == 409
    assert b"not ready to download" in response.content


@pytest.mark.parametrize(
    ("method", "route"),
    [
        ("get", "/documents/{id}/"),
        ("get", "/documents/{id}/status/"),
        ("get", "/documents/{id}/download/"),
        ("post", "/documents/{id}/cancel/"),
        ("post", "/documents/{id}/regenerate/"),
    ],
)
def test_another_organizations_document_is_a_404(login, outsider, document, method, route):
    complete(document)
    client = login(outsider)
    theirs = getattr(client, method)(route.format(id=document.pk), HTTP_HX_REQUEST="true")
    random = getattr(client, method)(route.format(id=uuid.uuid4()), HTTP_HX_REQUEST="true")
    assert theirs.status_code == random.status_code == 404
    document.refresh_from_db()
    assert document.status == "Complete"


def test_cancel_stops_a_pending_document(login, member, document):
    client = login(member)
    response = client.post(f"/documents/{document.pk}/cancel/", {"confirmed": "yes"})
    assert response.status_code == 302
    document.refresh_from_db()
    assert document.status == "Cancelled"
    page = client.get(response["Location"]).content.decode()
    assert 'data-status="Cancelled"' in page and "The generation was cancelled." in page
    assert ">Cancel</button>" not in page


def test_cancel_of_a_running_document_is_requested(login, member, document):
    running(document)
    client = login(member)
    response = client.post(f"/documents/{document.pk}/cancel/", {"confirmed": "yes"}, follow=True)
    document.refresh_from_db()
    assert document.cancel_requested and document.status == "Generating"
    assert b"Cancellation requested" in response.content
    assert b">Cancel</button>" not in response.content  # already requested


def test_cancel_of_an_ended_document_is_a_message_not_an_error(login, member, document):
    complete(document)
    response = login(member).post(
        f"/documents/{document.pk}/cancel/", {"confirmed": "yes"}, follow=True
    )
    assert response.status_code == 200
    assert b"it cannot be cancelled" in response.content


def test_cancel_and_regenerate_need_a_csrf_token(login, member, document):
    client = login(member, enforce_csrf=True)
    assert client.post(f"/documents/{document.pk}/cancel/").status_code == 403
    complete(document)
    section = document.outline["sections"][0]["section_id"]
    response = client.post(f"/documents/{document.pk}/regenerate/", {"section_ids": [section]})
    assert response.status_code == 403
    assert GeneratedDocument.objects.count() == 1


def test_the_page_needs_get(login, member, document):
    assert login(member).post(f"/documents/{document.pk}/").status_code == 405


def test_regenerating_sections_makes_a_new_version(login, member, document):
    complete(document)
    section = document.outline["sections"][1]["section_id"]
    response = login(member).post(
        f"/documents/{document.pk}/regenerate/",
        {"section_ids": [section], "instructions": "Shorter."},
    )
    new = GeneratedDocument.objects.exclude(pk=document.pk).get()
    assert response.status_code == 302
    assert response["Location"] == f"/documents/{new.pk}/"
    assert new.previous_version_id == document.pk
    assert new.regenerate_section_ids == [section]
    # A regeneration's instructions are for the regenerated sections only.
    assert new.section_instructions == {section: "Shorter."}
    assert new.instructions == document.instructions
    assert new.version == 2 and new.origin == "regenerate"
    page = login(member).get(f"/documents/{new.pk}/").content.decode()
    assert "Version 2 (this page)" in page
    assert f'href="/documents/{document.pk}/">Version 1</a>' in page


def test_regenerate_without_a_section_explains_itself(login, member, document):
    complete(document)
    response = login(member).post(f"/documents/{document.pk}/regenerate/", {}, follow=True)
    assert b"Tick at least one section to regenerate." in response.content
    assert GeneratedDocument.objects.count() == 1


def test_regenerate_of_an_unfinished_document_is_refused_politely(login, member, document):
    section = document.outline["sections"][0]["section_id"]
    response = login(member).post(
        f"/documents/{document.pk}/regenerate/", {"section_ids": [section]}, follow=True
    )
    assert response.status_code == 200
    assert b"Only a complete document can be regenerated." in response.content


def test_a_document_without_a_twin_renders(login, member, document):
    GeneratedDocument.objects.filter(pk=document.pk).update(
        status="Complete", progress=100, twin=None
    )
    response = login(member).get(f"/documents/{document.pk}/")
    assert response.status_code == 200
    assert b'data-status="Complete"' in response.content


def test_the_preview_heads_a_table_with_the_twin_s_header_rows(login, member, document):
    complete(document)
    twin = document.twin
    rows = [["Arm", "Week 12"], ["", "Mean"], ["Placebo", "1.2"]]
    twin["sections"][0]["tables"] = [
        {"title": "Told", "header_rows": 2, "rows": rows, "citations": []},
        # A twin made before header_rows: the renderer's own rule ("Week 12" is no header).
        {"title": "Old", "rows": rows, "citations": []},
    ]
    GeneratedDocument.objects.filter(pk=document.pk).update(twin=twin)
    body = login(member).get(f"/documents/{document.pk}/").content.decode()
    told = body.split("<caption>Told</caption>")[1].split("</table>")[0]
    old = body.split("<caption>Old</caption>")[1].split("</table>")[0]
    thead = told.split("<thead>")[1].split("</thead>")[0]
    assert thead.count("<tr>") == 2 and '<th scope="col">Week 12</th>' in thead
    assert told.split("<tbody>")[1].count("<tr>") == 1
    assert "<thead>" not in old and old.count("<tr>") == 3


def test_a_complete_documents_qc_warnings_are_shown_before_the_draft(login, member, document):
    complete(document)
    warning = (
        "The sources held almost nothing for this template: 110 of 119 sections have no source."
    )
    GeneratedDocument.objects.filter(pk=document.pk).update(
        qc={**document.qc, "warnings": [warning, "results.xlsx: sheet 'Notes' has no table."]}
    )
    body = login(member).get(f"/documents/{document.pk}/").content.decode()
    assert "Before you read this draft" in body
    assert "110 of 119 sections have no source." in body
    assert "sheet &#x27;Notes&#x27; has no table." in body


def test_no_warning_box_when_the_qc_report_has_none(login, member, document):
    complete(document)
    body = login(member).get(f"/documents/{document.pk}/").content.decode()
    assert "Before you read this draft" not in body


def test_cancel_without_javascript_asks_first(login, member, document):
    client = login(member)
    page = client.get(f"/documents/{document.pk}/").content.decode()
    assert 'name="confirmed" value=""' in page and "data-confirm=" in page
    response = client.post(f"/documents/{document.pk}/cancel/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Stop generating CSR_Draft?</h1>" in body
    assert 'name="confirmed" value="yes"' in body and ">Keep it running</a>" in body
    document.refresh_from_db()
    assert document.status == "Pending" and not document.cancel_requested
    client.post(f"/documents/{document.pk}/cancel/", {"confirmed": "yes"})
    document.refresh_from_db()
    assert document.status == "Cancelled"
