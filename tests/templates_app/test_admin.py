"""The Django admin: managers see their organization's rows (built-ins read-only), superusers all;
actions and import pages go through the services."""

from __future__ import annotations

import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from portal.models import Membership
from templates_app import services
from templates_app.models import StyleGuide, Template
from tests.templates_app.conftest import make_person, outline_of

pytestmark = pytest.mark.django_db

TEMPLATES = "/admin/templates_app/template/"


@pytest.fixture
def admin_for():
    def login(user):
        client = Client()
        client.force_login(user)
        return client

    return login


def test_a_manager_sees_only_the_organizations_templates_and_the_built_ins(
    admin_for, acme_manager, acme_template, globex_template
):
    response = admin_for(acme_manager).get(TEMPLATES)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Acme CSR shell" in page
    assert "ICH E3 Clinical Study Report" in page
    assert "Globex secret outline" not in page


def test_another_organizations_template_is_not_reachable(admin_for, acme_manager, globex_template):
    client = admin_for(acme_manager)
    response = client.get(f"{TEMPLATES}{globex_template.pk}/change/")
    assert response.status_code == 302  # "doesn't exist", like an unknown id
    response = client.post(f"{TEMPLATES}{globex_template.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert Template.objects.filter(pk=globex_template.pk).exists()


def test_a_built_in_is_read_only_for_a_manager(admin_for, acme_manager, e3):
    client = admin_for(acme_manager)
    response = client.get(f"{TEMPLATES}{e3.pk}/change/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Determination of Sample Size" in page  # sections inline, shown read-only
    assert 'name="_save"' not in page
    response = client.post(f"{TEMPLATES}{e3.pk}/change/", {"name": "Mine"})
    assert response.status_code == 403
    assert client.post(f"{TEMPLATES}{e3.pk}/delete/", {"post": "yes"}).status_code == 403
    e3.refresh_from_db()
    assert "ICH E3" in e3.name


def test_a_manager_edits_an_own_template(admin_for, acme_manager, acme_template):
    response = admin_for(acme_manager).get(f"{TEMPLATES}{acme_template.pk}/change/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'name="_save"' in page
    assert "Describe the design." in page  # the sections inline


def test_a_manager_adds_a_template_in_their_organization(admin_for, acme_manager, acme):
    response = admin_for(acme_manager).post(
        f"{TEMPLATES}add/",
        {
            "name": "Added in admin",
            "document_type": "CSR",
            "tense": "past",
            "description": "",
            "sections-TOTAL_FORMS": "1",
            "sections-INITIAL_FORMS": "0",
            "sections-MIN_NUM_FORMS": "0",
            "sections-MAX_NUM_FORMS": "1000",
            "sections-0-order_index": "0",
            "sections-0-level": "1",
            "sections-0-number": "1",
            "sections-0-title": "Introduction",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    template = Template.objects.get(name="Added in admin")
    assert template.organization == acme and not template.built_in
    assert outline_of(template) == [("1", "Introduction", 1)]


def test_a_member_with_staff_access_is_refused(admin_for, acme):
    member = make_person(acme, "tpl-staff-member", Membership.Role.MEMBER)
    member.is_staff = True
    member.save()
    client = admin_for(member)
    assert client.get(TEMPLATES).status_code == 403
    assert client.get("/admin/templates_app/styleguide/").status_code == 403


def test_a_superuser_sees_every_organization(admin_for, superuser, acme_template, globex_template):
    client = admin_for(superuser)
    page = client.get(TEMPLATES).content.decode()
    assert "Acme CSR shell" in page and "Globex secret outline" in page
    sections = client.get("/admin/templates_app/templatesection/?q=Secret").content.decode()
    assert "1 Secret" in sections


def test_sections_and_rules_admin_are_scoped_too(
    admin_for, acme_manager, acme_template, globex_template
):
    client = admin_for(acme_manager)
    sections = client.get("/admin/templates_app/templatesection/?q=Secret").content.decode()
    assert "1 Secret" not in sections
    foreign = globex_template.sections.first()
    response = client.get(f"/admin/templates_app/templatesection/{foreign.pk}/change/")
    assert response.status_code == 302
    rules = client.get("/admin/templates_app/rule/").content.decode()
    assert "Take the numbers from TFLs." in rules


def test_style_guides_are_scoped(admin_for, acme_manager, globex_manager):
    services.style_guide_create(user=acme_manager, name="Acme house style")
    services.style_guide_create(user=globex_manager, name="Globex house style")
    page = admin_for(acme_manager).get("/admin/templates_app/styleguide/").content.decode()
    assert "Acme house style" in page and "Globex house style" not in page


def test_a_manager_adds_a_style_guide_in_their_organization(admin_for, acme_manager, acme):
    response = admin_for(acme_manager).post(
        "/admin/templates_app/styleguide/add/",
        {
            "name": "Admin style",
            "tense": "past",
            "preferred_terms": "{}",
            "abbreviations": '{"AE": "adverse event"}',
            "banned_phrases": "[]",
            "instructions": "",
        },
    )
    assert response.status_code == 302
    guide = StyleGuide.objects.get(name="Admin style")
    assert guide.organization == acme and guide.abbreviations == {"AE": "adverse event"}


# --- actions and import pages ---------------------------------------------------------------------


def test_the_duplicate_action_copies_a_built_in_into_the_organization(
    admin_for, acme_manager, acme, e3
):
    response = admin_for(acme_manager).post(
        TEMPLATES, {"action": "duplicate_templates", "_selected_action": [str(e3.pk)]}
    )
    assert response.status_code == 302
    copy = Template.objects.get(name="ICH E3 Clinical Study Report (copy)")
    assert copy.organization == acme and copy.sections.count() == 119


def test_the_export_action_downloads_json_that_imports_back(admin_for, acme_manager, acme_template):
    client = admin_for(acme_manager)
    response = client.post(
        TEMPLATES, {"action": "export_templates_json", "_selected_action": [str(acme_template.pk)]}
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert 'filename="acme-csr-shell.json"' in response["Content-Disposition"]
    data = json.loads(response.content)
    assert data["template_name"] == "Acme CSR shell" and len(data["sections"]) == 6

    data["template_name"] = "Re-imported shell"
    upload = SimpleUploadedFile("shell.json", json.dumps(data).encode())
    response = client.post(f"{TEMPLATES}import-json/", {"file": upload})
    assert response.status_code == 302
    copy = Template.objects.get(name="Re-imported shell")
    assert outline_of(copy) == outline_of(acme_template)


def test_the_json_import_page_reports_bad_files(admin_for, acme_manager):
    client = admin_for(acme_manager)
    assert client.get(f"{TEMPLATES}import-json/").status_code == 200
    bad = SimpleUploadedFile("bad.json", b"{not json")
    response = client.post(f"{TEMPLATES}import-json/", {"file": bad})
    assert response.status_code == 200 and "not valid JSON" in response.content.decode()
    empty = SimpleUploadedFile(
        "empty.json", json.dumps({"name": "X", "document_type": "CSR", "sections": []}).encode()
    )
    response = client.post(f"{TEMPLATES}import-json/", {"file": empty})
    assert "sections: must be a non-empty list" in response.content.decode()


def test_the_word_import_page_creates_a_template(admin_for, acme_manager, acme, template_docx):
    client = admin_for(acme_manager)
    page = client.get(TEMPLATES).content.decode()
    assert "Import from Word" in page and "Import from JSON" in page
    assert client.get(f"{TEMPLATES}import-docx/").status_code == 200
    response = client.post(
        f"{TEMPLATES}import-docx/",
        {
            "file": SimpleUploadedFile("shell.docx", template_docx),
            "template_name": "Word shell",
            "document_type": "CSR",
        },
    )
    # Step 1: the outline to prune, a checkbox per heading; nothing saved yet.
    assert response.status_code == 200
    page = response.content.decode()
    assert not Template.objects.filter(name="Word shell").exists()
    boxes = re.findall(r'name="keep" value="(\d+)" checked', page)
    assert boxes == ["0", "1", "2", "3", "4", "5"]
    assert "Statistical Methods" in page and "study paragraph" in page
    assert "Tocilizumab" not in page
    staged = re.search(r'name="staged" value="([0-9a-f]{32})"', page).group(1)
    # Nothing checked: the page again, with the error.
    again = client.post(
        f"{TEMPLATES}import-docx/",
        {"staged": staged, "file_name": "shell.docx", "template_name": "Word shell"},
    )
    assert again.status_code == 200 and "keep at least one section" in again.content.decode()
    # Step 2: "Methods" (2) unchecked takes its sub-sections (3, 4) along.
    response = client.post(
        f"{TEMPLATES}import-docx/",
        {
            "staged": staged,
            "file_name": "shell.docx",
            "template_name": "Word shell",
            "document_type": "CSR",
            "keep": ["0", "1", "3", "4", "5"],
        },
    )
    assert response.status_code == 302
    template = Template.objects.get(name="Word shell")
    assert template.organization == acme
    assert outline_of(template) == [
        ("1", "Introduction", 1),
        ("1.1", "Study Objectives", 2),
        ("2", "Results", 1),
    ]
    assert "Tocilizumab" not in template.sections.get(number="1").template_text
    # The staged file is gone once saved; the token cannot be used twice.
    response = client.post(
        f"{TEMPLATES}import-docx/",
        {"staged": staged, "file_name": "shell.docx", "keep": ["0"]},
    )
    assert response.status_code == 200 and "upload the Word file again" in response.content.decode()


def test_import_pages_are_refused_to_members(admin_for, acme):
    member = make_person(acme, "tpl-staff-member2", Membership.Role.MEMBER)
    member.is_staff = True
    member.save()
    assert admin_for(member).get(f"{TEMPLATES}import-docx/").status_code == 403
