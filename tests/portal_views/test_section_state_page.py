"""Marking a section not applicable from the document page, with a reason, and restoring it
(the same service as the API: documents/services/section_state.py)."""

from __future__ import annotations

import uuid

import pytest

from documents.models import GeneratedDocument
from tests.portal_views.conftest import complete

pytestmark = pytest.mark.django_db


@pytest.fixture
def document(member, make_document):
    return complete(make_document(member))


def no_source_id(document: GeneratedDocument) -> str:
    return next(s["section_id"] for s in document.twin["sections"] if s["state"] == "no_source")


def test_a_section_without_a_source_is_marked_not_applicable_and_restored(login, member, document):
    client = login(member)
    section = no_source_id(document)
    page = client.get(f"/documents/{document.pk}/").content.decode()
    assert f'action="/documents/{document.pk}/sections/{section}/state/"' in page

    response = client.post(
        f"/documents/{document.pk}/sections/{section}/state/",
        {"state": "not_applicable", "reason": "No ethics committee: a phase 1 in-house study."},
    )
    assert response.status_code == 302
    assert response["Location"] == f"/documents/{document.pk}/#section-{section}"
    document.refresh_from_db()
    marked = next(s for s in document.twin["sections"] if s["section_id"] == section)
    assert marked["state"] == "not_applicable"
    assert document.qc["sections_no_source"] == 0
    assert GeneratedDocument.objects.count() == 1  # not a regeneration

    page = client.get(response["Location"]).content.decode()
    assert "marked not applicable; it no longer counts as missing." in page
    assert "No ethics committee: a phase 1 in-house study." in page
    assert '<span class="nav-state nav-state--not_applicable">not applicable</span>' in page
    assert ">Restore</button>" in page

    client.post(f"/documents/{document.pk}/sections/{section}/state/", {"state": "restore"})
    document.refresh_from_db()
    restored = next(s for s in document.twin["sections"] if s["section_id"] == section)
    assert restored["state"] == "no_source"


def test_a_missing_reason_is_shown_beside_the_field(login, member, document):
    section = no_source_id(document)
    response = login(member).post(
        f"/documents/{document.pk}/sections/{section}/state/",
        {"state": "not_applicable", "reason": "  "},
    )
    body = response.content.decode()
    assert response.status_code == 400
    assert f'<p class="field-error" id="reason-{section}-error">Say why' in body
    assert f'id="reason-{section}" name="reason"' in body
    document.refresh_from_db()
    assert all(s["state"] != "not_applicable" for s in document.twin["sections"])


def test_an_unknown_section_or_a_running_document_is_a_message(login, member, make_document):
    client = login(member)
    pending = make_document(member, output_name="Running")
    response = client.post(
        f"/documents/{pending.pk}/sections/x/state/",
        {"state": "not_applicable", "reason": "r"},
        follow=True,
    )
    assert response.status_code == 200
    assert b"not complete" in response.content


@pytest.mark.parametrize("target", ["theirs", "random"])
def test_another_organizations_document_is_a_404(login, outsider, document, target):
    pk = document.pk if target == "theirs" else uuid.uuid4()
    response = login(outsider).post(
        f"/documents/{pk}/sections/{no_source_id(document)}/state/",
        {"state": "not_applicable", "reason": "Not ours."},
    )
    assert response.status_code == 404
    document.refresh_from_db()
    assert all(s["state"] != "not_applicable" for s in document.twin["sections"])


def test_the_form_needs_a_csrf_token(login, member, document):
    client = login(member, enforce_csrf=True)
    response = client.post(
        f"/documents/{document.pk}/sections/{no_source_id(document)}/state/",
        {"state": "not_applicable", "reason": "r"},
    )
    assert response.status_code == 403
