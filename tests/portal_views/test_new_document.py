"""The new-document form: upload and/or pick files, choose a set and template, Generate."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from documents import queue
from documents.models import DocumentSet, GeneratedDocument, SourceFile
from documents.selectors import document_sources
from templates_app.models import Template
from tests.portal_views.conftest import docx_upload, pdf_upload

pytestmark = pytest.mark.django_db


def e3() -> Template:
    return Template.objects.get(key="ich-e3-csr")


def form_data(**overrides):
    data = {
        "document_set": "Study 001",
        "template": str(e3().pk),
        "output_name": "CSR_Draft",
        "instructions": "",
    }
    data.update(overrides)
    return data


def test_the_form_has_the_contract_labels(login, member):
    body = login(member).get("/documents/new/").content.decode()
    assert 'for="id_source_files">Source files</label>' in body
    assert 'type="file" name="source_files"' in body and "multiple" in body
    assert 'accept=".pdf,.docx,.xlsx,.rtf,.txt,.out"' in body
    assert 'for="id_template">Template</label>' in body
    assert ">ICH E3 Clinical Study Report</option>" in body
    assert 'for="id_document_set">Document set</label>' in body
    assert 'for="id_output_name">Output name</label>' in body
    assert ">Generate</button>" in body
    assert 'enctype="multipart/form-data"' in body


def test_the_form_offers_the_chosen_templates_sections(login, member):
    body = login(member).get("/documents/new/").content.decode()
    assert 'name="sections_template"' in body
    assert 'name="sections"' in body
    assert "Select all" in body and "Select none" in body


def test_uploading_two_files_creates_a_pending_document(login, member):
    client = login(member)
    data = form_data(source_files=[pdf_upload("protocol.pdf"), docx_upload("sap.docx")])
    response = client.post("/documents/new/", data)
    document = GeneratedDocument.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/documents/{document.pk}/"
    assert document.status == "Pending"
    assert document.output_name == "CSR_Draft"
    assert document.template == e3()
    assert document.document_set.name == "Study 001"
    assert document.document_set.key == "study-001"
    assert document.created_by == member
    assert sorted(link.version.source_file.name for link in document.source_links.all()) == [
        "protocol.pdf",
        "sap.docx",
    ]
    assert document.selected_section_ids == []  # every section ticked: the whole template


def test_files_already_uploaded_can_be_picked_and_the_set_reused(login, member, upload):
    path = upload(member, "protocol.pdf")
    client = login(member)
    client.post("/documents/new/", form_data(source_files=[pdf_upload("first.pdf")]))
    first = GeneratedDocument.objects.get()
    body = client.get("/documents/new/").content.decode()
    assert f'value="{path}"' in body and "Study 001" in body  # grouped under its set
    response = client.post(
        "/documents/new/", form_data(existing_files=[path], document_set="study 001")
    )
    assert response.status_code == 302
    second = GeneratedDocument.objects.exclude(pk=first.pk).get()
    assert second.document_set_id == first.document_set_id
    assert DocumentSet.objects.count() == 1


def test_a_wrong_file_type_is_named_beside_the_field(login, member):
    bad = SimpleUploadedFile("notes.csv", b"just,some,notes", content_type="application/pdf")
    response = login(member).post("/documents/new/", form_data(source_files=[bad]))
    body = response.content.decode()
    assert response.status_code == 400
    assert GeneratedDocument.objects.count() == 0
    field_start = body.index('for="id_source_files"')
    error_at = body.index("notes.csv: files of type .csv are not accepted")
    assert field_start < error_at < body.index("Files already uploaded")
    assert 'class="field-error"' in body


def test_content_that_is_not_what_the_extension_says_is_named(login, member):
    fake = SimpleUploadedFile("protocol.pdf", b"PK\x03\x04 not a pdf at all")
    body = login(member).post("/documents/new/", form_data(source_files=[fake])).content.decode()
    assert "protocol.pdf" in body and "field-error" in body
    assert GeneratedDocument.objects.count() == 0


def test_good_uploads_are_kept_and_ticked_when_another_file_fails(login, member):
    bad = SimpleUploadedFile("notes.csv", b"notes")
    body = (
        login(member)
        .post("/documents/new/", form_data(source_files=[pdf_upload("good.pdf"), bad]))
        .content.decode()
    )
    good = SourceFile.objects.get(name="good.pdf")
    assert f'value="{good.file_path}" checked' in body


def test_no_source_file_at_all_is_an_error_beside_source_files(login, member):
    body = login(member).post("/documents/new/", form_data()).content.decode()
    assert "Choose at least one source file" in body


def test_a_missing_output_name_is_shown_beside_the_field(login, member):
    response = login(member).post(
        "/documents/new/", form_data(output_name="", source_files=[pdf_upload()])
    )
    body = response.content.decode()
    assert response.status_code == 400
    assert body.index('for="id_output_name"') < body.index("This field is required.")


def test_a_service_error_is_mapped_to_its_field(login, member):
    """An output name made only of unsafe characters passes the form but not the service."""
    response = login(member).post(
        "/documents/new/", form_data(output_name="...", source_files=[pdf_upload()])
    )
    body = response.content.decode()
    assert response.status_code == 400
    assert 'id="id_output_name_error"' in body
    assert GeneratedDocument.objects.count() == 0


def test_another_organizations_file_cannot_be_picked(login, member, outsider, upload):
    theirs = upload(outsider, "secret.pdf")
    response = login(member).post("/documents/new/", form_data(existing_files=[theirs]))
    assert response.status_code == 400
    assert GeneratedDocument.objects.count() == 0
    body = response.content.decode()
    assert "secret.pdf" not in body
    assert "A ticked file is not one of your uploads." in body


def test_another_organizations_template_is_not_offered(login, member, outsider, other_org):
    Template.objects.create(organization=other_org, name="Globex Private Outline")
    body = login(member).get("/documents/new/").content.decode()
    assert "Globex Private Outline" not in body


def test_only_the_ticked_sections_are_requested(login, member):
    sections = list(e3().sections.order_by("order_index")[:2])
    data = form_data(
        source_files=[pdf_upload()],
        sections_template=str(e3().pk),
        sections=[str(s.pk) for s in sections],
    )
    assert login(member).post("/documents/new/", data).status_code == 302
    assert GeneratedDocument.objects.get().selected_section_ids == [str(s.pk) for s in sections]


def test_ticking_no_section_is_an_error(login, member):
    data = form_data(source_files=[pdf_upload()], sections_template=str(e3().pk))
    body = login(member).post("/documents/new/", data).content.decode()
    assert "Tick at least one section" in body
    assert GeneratedDocument.objects.count() == 0


def test_the_section_picker_partial_follows_the_template(login, member, manager):
    m11 = Template.objects.get(key="ich-m11-protocol")
    response = login(member).get(
        "/documents/new/sections/", {"template": str(m11.pk)}, HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="section-picker"')
    assert f'value="{m11.pk}"' in body
    first = m11.sections.order_by("order_index").first()
    assert f'value="{first.pk}"' in body


def test_the_section_picker_without_htmx_returns_to_the_form(login, member):
    m11 = Template.objects.get(key="ich-m11-protocol")
    response = login(member).get("/documents/new/sections/", {"template": str(m11.pk)})
    assert response.status_code == 302
    page = login(member).get(response["Location"]).content.decode()
    assert f'<option value="{m11.pk}" selected>' in page


def test_show_sections_without_javascript_keeps_the_typed_values(login, member):
    m11 = Template.objects.get(key="ich-m11-protocol")
    body = (
        login(member)
        .post(
            "/documents/new/",
            form_data(template=str(m11.pk), output_name="Protocol_v2", show_sections="1"),
        )
        .content.decode()
    )
    assert f'name="sections_template" value="{m11.pk}"' in body
    assert 'value="Protocol_v2"' in body
    assert GeneratedDocument.objects.count() == 0


def test_the_form_needs_a_csrf_token(login, member):
    client = login(member, enforce_csrf=True)
    response = client.post("/documents/new/", form_data(source_files=[pdf_upload()]))
    assert response.status_code == 403
    assert GeneratedDocument.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_an_unreachable_queue_shows_the_error_and_links_the_failed_row(login, member, monkeypatch):
    """Real commits here, so the enqueue runs (and fails) inside the request, as in production."""

    def down(document_id: str) -> None:
        raise queue.QueueError("connection refused")

    monkeypatch.setattr(queue, "enqueue_generation", down)
    response = login(member).post("/documents/new/", form_data(source_files=[pdf_upload()]))
    document = GeneratedDocument.objects.get()
    body = response.content.decode()
    assert response.status_code == 400
    assert document.status == "Failed" and document.error_code == "queue_unavailable"
    assert "The job queue is not reachable" in body
    assert f'href="/documents/{document.pk}/"' in body


def test_a_set_page_link_prefills_the_set_and_ticks_its_files(login, member, make_document):
    document = make_document(member)
    body = (
        login(member)
        .get("/documents/new/", {"document_set": str(document.document_set_id)})
        .content.decode()
    )
    assert 'value="Study 001"' in body
    path = document.source_links.get().version.source_file.file_path
    assert f'value="{path}" checked' in body


def test_chosen_files_survive_an_error_in_another_field(login, member):
    client = login(member)
    response = client.post(
        "/documents/new/",
        form_data(output_name="", source_files=[pdf_upload("kept.pdf"), docx_upload("sap.docx")]),
    )
    body = response.content.decode()
    assert response.status_code == 400
    assert "This field is required." in body
    kept = SourceFile.objects.get(name="kept.pdf")
    sap = SourceFile.objects.get(name="sap.docx")
    assert f'value="{kept.file_path}" checked' in body
    assert f'value="{sap.file_path}" checked' in body
    assert "kept.pdf, sap.docx are uploaded and ticked below" in body
    assert GeneratedDocument.objects.count() == 0

    # Sent again with the name and the ticked files (the file input is empty): generated.
    response = client.post(
        "/documents/new/",
        form_data(existing_files=[kept.file_path, sap.file_path]),
    )
    assert response.status_code == 302
    document = GeneratedDocument.objects.get()
    names = sorted(v.source_file.name for v in document_sources(document))
    assert names == ["kept.pdf", "sap.docx"]
