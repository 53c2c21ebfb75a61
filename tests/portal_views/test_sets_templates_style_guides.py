"""Document sets, templates (read-only tree) and style guides (managers edit, members read)."""

from __future__ import annotations

import uuid

import pytest

from templates_app import services as template_services
from templates_app.models import StyleGuide, Template

pytestmark = pytest.mark.django_db


# --- document sets --------------------------------------------------------------------------------


def test_the_sets_list_shows_counts(login, member, make_document):
    document = make_document(member)
    body = login(member).get("/sets/").content.decode()
    assert "Study 001" in body and f"/sets/{document.document_set_id}/" in body
    assert "<td>1</td>" in body  # one document, one file


def test_the_sets_list_has_an_htmx_partial(login, member, make_document):
    make_document(member)
    response = login(member).get("/sets/", HTTP_HX_REQUEST="true")
    assert response.content.decode().lstrip().startswith('<section id="set-results"')


def test_a_set_page_lists_its_documents_and_files(login, member, make_document):
    document = make_document(member)
    client = login(member)
    body = client.get(f"/sets/{document.document_set_id}/").content.decode()
    assert "CSR_Draft" in body and "protocol.pdf" in body
    assert f"/documents/new/?document_set={document.document_set_id}" in body
    partial = client.get(f"/sets/{document.document_set_id}/", HTTP_HX_REQUEST="true")
    assert partial.content.decode().lstrip().startswith('<div id="set-documents"')


def test_another_organizations_set_is_a_404(login, member, outsider, make_document):
    document = make_document(member)
    client = login(outsider)
    assert client.get(f"/sets/{document.document_set_id}/").status_code == 404
    assert client.get(f"/sets/{uuid.uuid4()}/").status_code == 404
    assert b"Study 001" not in client.get("/sets/").content


# --- templates ------------------------------------------------------------------------------------


def test_the_templates_list_shows_the_built_ins(login, member):
    client = login(member)
    body = client.get("/templates/").content.decode()
    assert "ICH E3 Clinical Study Report" in body and "Built-in" in body
    partial = client.get("/templates/", HTTP_HX_REQUEST="true").content.decode()
    assert partial.lstrip().startswith('<section id="template-results"')


def test_a_template_page_shows_its_tree_with_synopsis_and_instructions(login, member):
    template = Template.objects.get(key="ich-e3-csr")
    section = template.sections.exclude(synopsis="").order_by("order_index").first()
    body = login(member).get(f"/templates/{template.pk}/").content.decode()
    assert '<ul class="tree">' in body
    assert "Synopsis:" in body and section.title in body
    assert "Duplicate" not in body  # members read only


def test_another_organizations_template_is_a_404(login, member, other_org):
    theirs = Template.objects.create(organization=other_org, name="Globex Outline")
    client = login(member)
    assert client.get(f"/templates/{theirs.pk}/").status_code == 404
    assert b"Globex Outline" not in client.get("/templates/").content


def test_a_manager_duplicates_a_built_in_template(login, manager, member):
    template = Template.objects.get(key="ich-e3-csr")
    assert login(member).post(f"/templates/{template.pk}/duplicate/").status_code == 403
    response = login(manager).post(f"/templates/{template.pk}/duplicate/")
    copy = Template.objects.get(name="ICH E3 Clinical Study Report (copy)")
    assert response.status_code == 302 and response["Location"] == f"/templates/{copy.pk}/"
    assert copy.sections.count() == template.sections.count()


# --- style guides ---------------------------------------------------------------------------------


STYLE_FORM = {
    "name": "House style",
    "tense": "past",
    "preferred_terms": "adverse event: side effect, adverse experience\nparticipant: subject",
    "abbreviations": "AE: adverse event\nSAP: statistical analysis plan",
    "banned_phrases": "clearly\nobviously",
    "instructions": "Use plain English.",
}


def test_a_manager_creates_a_style_guide_from_the_textareas(login, manager):
    client = login(manager)
    assert client.get("/style-guides/new/").status_code == 200
    response = client.post("/style-guides/new/", STYLE_FORM)
    guide = StyleGuide.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/style-guides/{guide.pk}/"
    assert guide.preferred_terms == {
        "adverse event": ["side effect", "adverse experience"],
        "participant": ["subject"],
    }
    assert guide.abbreviations == {"AE": "adverse event", "SAP": "statistical analysis plan"}
    assert guide.banned_phrases == ["clearly", "obviously"]
    assert guide.organization == manager.membership.organization


def test_a_manager_edits_a_style_guide_and_sees_the_text_formats(login, manager):
    guide = template_services.style_guide_create(
        user=manager, name="House", preferred_terms={"participant": ["subject", "patient"]}
    )
    client = login(manager)
    body = client.get(f"/style-guides/{guide.pk}/edit/").content.decode()
    assert "participant: subject, patient" in body
    response = client.post(f"/style-guides/{guide.pk}/edit/", {**STYLE_FORM, "name": "House v2"})
    assert response.status_code == 302
    guide.refresh_from_db()
    assert guide.name == "House v2" and guide.banned_phrases == ["clearly", "obviously"]


def test_a_badly_formatted_line_is_shown_beside_its_field(login, manager):
    response = login(manager).post(
        "/style-guides/new/", {**STYLE_FORM, "abbreviations": "AE adverse event"}
    )
    body = response.content.decode()
    assert response.status_code == 400
    assert body.index('for="id_abbreviations"') < body.index("Line 1: write")
    assert StyleGuide.objects.count() == 0


def test_a_member_reads_style_guides_but_cannot_edit(login, member, manager):
    guide = template_services.style_guide_create(user=manager, name="House")
    client = login(member)
    listing = client.get("/style-guides/").content.decode()
    assert "House" in listing and "New style guide" not in listing
    detail = client.get(f"/style-guides/{guide.pk}/").content.decode()
    assert "House" in detail and "/edit/" not in detail
    assert client.get("/style-guides/new/").status_code == 403
    assert client.post("/style-guides/new/", STYLE_FORM).status_code == 403
    assert client.get(f"/style-guides/{guide.pk}/edit/").status_code == 403
    assert client.post(f"/style-guides/{guide.pk}/edit/", STYLE_FORM).status_code == 403
    guide.refresh_from_db()
    assert guide.name == "House" and StyleGuide.objects.count() == 1


def test_another_organizations_style_guide_is_a_404(login, manager, outsider, other_org):
    theirs = StyleGuide.objects.create(organization=other_org, name="Globex style")
    client = login(manager)
    assert client.get(f"/style-guides/{theirs.pk}/").status_code == 404
    assert client.get(f"/style-guides/{theirs.pk}/edit/").status_code == 404
    assert client.post(f"/style-guides/{theirs.pk}/edit/", STYLE_FORM).status_code == 404
    assert b"Globex style" not in client.get("/style-guides/").content


def test_the_style_guide_form_needs_a_csrf_token(login, manager):
    response = login(manager, enforce_csrf=True).post("/style-guides/new/", STYLE_FORM)
    assert response.status_code == 403
    assert StyleGuide.objects.count() == 0


def test_the_style_guide_list_has_an_htmx_partial(login, manager):
    template_services.style_guide_create(user=manager, name="House")
    response = login(manager).get("/style-guides/", HTTP_HX_REQUEST="true")
    assert response.content.decode().lstrip().startswith('<section id="style-guide-results"')
