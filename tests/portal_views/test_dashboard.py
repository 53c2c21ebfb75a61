"""The dashboard: the organization's recent documents, filters, pagination and its HTMX partial."""

from __future__ import annotations

import pytest

from tests.portal_views.conftest import complete, running

pytestmark = pytest.mark.django_db


def test_the_dashboard_lists_the_organizations_documents(login, member, manager, make_document):
    mine = make_document(member, output_name="CSR_Mine")
    theirs = make_document(manager, output_name="CSR_Colleague")
    body = login(member).get("/").content.decode()
    assert "CSR_Mine" in body and "CSR_Colleague" in body
    assert f"/documents/{mine.pk}/" in body and f"/documents/{theirs.pk}/" in body
    assert 'class="badge badge--Pending"' in body
    assert "ICH E3" in body  # the template
    assert "Study 001" in body  # the document set
    assert "by manager" in body


def test_another_organizations_documents_are_not_listed(login, member, outsider, make_document):
    make_document(outsider, output_name="Globex_Secret")
    assert b"Globex_Secret" not in login(member).get("/").content


def test_the_status_filter_works_without_javascript(login, member, make_document):
    done = complete(make_document(member, output_name="Done_Doc"))
    make_document(member, output_name="Waiting_Doc")
    body = login(member).get("/", {"status": "Complete"}).content.decode()
    assert "Done_Doc" in body and "Waiting_Doc" not in body
    assert done.status == "Complete"


def test_the_document_set_filter(login, member, make_document):
    a = make_document(member, output_name="In_A", set_name="Set A", set_key="set-a")
    make_document(member, output_name="In_B", set_name="Set B", set_key="set-b")
    body = login(member).get("/", {"document_set": str(a.document_set_id)}).content.decode()
    assert "In_A" in body and "In_B" not in body


def test_an_htmx_request_gets_only_the_results_partial(login, member, make_document):
    make_document(member, output_name="Partial_Doc")
    response = login(member).get("/", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="document-results"')
    assert "<html" not in body and "Partial_Doc" in body
    assert "HX-Request" in response["Vary"]


def test_the_results_poll_while_a_document_runs_and_stop_with_286(login, member, make_document):
    document = make_document(member)
    running(document)
    client = login(member)
    assert 'hx-trigger="every 3s"' in client.get("/").content.decode()
    page = client.get("/").content.decode()
    assert 'hx-swap="none"' in page and "hx-swap-oob" not in page
    poll = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TRIGGER": "document-results"}
    response = client.get("/", **poll)
    assert response.status_code == 200
    # Only the status cells are swapped, out of band: the links (and focus) stay.
    assert f'<td id="doc-status-{document.pk}" hx-swap-oob="true">' in response.content.decode()
    complete(document)
    response = client.get("/", **poll)
    assert response.status_code == 286
    assert "every 3s" not in response.content.decode()
    assert (
        f'<td id="doc-status-{document.pk}" hx-swap-oob="true"><span class="badge badge--Complete">'
        in (response.content.decode())
    )


def test_pagination_keeps_the_filters(login, member, make_document, settings):
    settings.FOLIO_MAX_ACTIVE_JOBS_PER_ORG = 100
    for i in range(22):
        make_document(member, output_name=f"Doc_{i:02d}")
    client = login(member)
    first = client.get("/", {"status": "Pending"}).content.decode()
    assert "Page 1 of 2" in first
    assert "?status=Pending&amp;page=2" in first
    second = client.get("/", {"status": "Pending", "page": 2}).content.decode()
    assert "Page 2 of 2" in second and "Doc_00" in second and "Doc_21" not in second


def test_an_empty_dashboard_invites_a_first_document(login, member):
    body = login(member).get("/").content.decode()
    assert "No documents yet" in body and 'href="/documents/new/"' in body
