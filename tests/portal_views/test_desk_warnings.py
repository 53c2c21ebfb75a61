"""What the writer's desk tells before generation and beside a citation, from files Folio has
really read (the extraction cache filled by the real extractor, as a generation would):

- a set whose files name different studies warns on its page and on the new-document form;
- a DOCX citation opens its block in context, the quote marked.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from docx import Document

from documents import services
from documents.models import GeneratedDocument
from documents.pipeline.extract import extract_text
from documents.pipeline.types import SourceDescriptor
from documents.selectors import document_sources
from documents.services.job_state import DatabaseExtractionCache
from tests.portal_views.conftest import complete

pytestmark = pytest.mark.django_db


def protocol_docx(number: str, finding: str) -> bytes:
    document = Document()
    document.add_paragraph("Clinical Study Protocol")
    document.add_paragraph(f"Protocol Number: {number}")
    document.add_heading("1 Introduction", level=1)
    document.add_paragraph("Patients received the study drug twice daily.")
    document.add_paragraph(finding)
    document.add_paragraph("Visits took place every four weeks.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def read_like_a_generation(document: GeneratedDocument, tmp_path: Path) -> None:
    """Extract each source of ``document`` with the real extractor into the extraction cache."""
    for version in document_sources(document):
        local = tmp_path / version.source_file.name
        with default_storage.open(version.storage_key, "rb") as fh:
            local.write_bytes(fh.read())
        source = extract_text(
            SourceDescriptor(
                file_path=version.source_file.file_path,
                file_name=version.source_file.name,
                sha256=version.sha256,
                file_type=version.file_type,
                local_path=str(local),
            ),
            in_process=True,
        )
        DatabaseExtractionCache({}).put(source)


def make(member, files: dict[str, bytes]) -> GeneratedDocument:
    paths = [
        services.file_upload(
            user=member, uploaded_file=SimpleUploadedFile(name, data)
        ).source_file.file_path
        for name, data in files.items()
    ]
    return services.generation_request(
        user=member,
        document_type="CSR",
        file_paths=paths,
        document_set_key="study-mix",
        document_set_name="Study mix",
        template_ref="ich-e3-csr",
        output_name="CSR_Mix",
    )


def test_files_of_different_studies_are_flagged_before_generation(login, member, tmp_path):
    document = make(
        member,
        {
            "protocol.docx": protocol_docx("AB-1001", "The dose was 10 mg."),
            "other.docx": protocol_docx("QX-7734-02", "The dose was 20 mg."),
        },
    )
    client = login(member)
    set_page = f"/sets/{document.document_set_id}/"
    assert "may belong to different studies" not in client.get(set_page).content.decode()

    read_like_a_generation(document, tmp_path)
    body = client.get(set_page).content.decode()
    assert "These files may belong to different studies" in body
    assert "QX-7734-02" in body and "AB-1001" in body
    form = client.get(f"/documents/new/?document_set={document.document_set_id}")
    assert "These files may belong to different studies" in form.content.decode()
    assert "may belong" not in client.get("/documents/new/").content.decode()


def test_a_docx_citation_opens_its_block_in_context(login, member, tmp_path):
    document = make(member, {"protocol.docx": protocol_docx("AB-1001", "The dose was 10 mg.")})
    complete(document)
    read_like_a_generation(document, tmp_path)
    version = document_sources(document)[0]
    twin = document.twin
    twin["sections"][0]["paragraphs"][0]["citations"] = [
        {
            "file_path": version.source_file.file_path,
            "file_name": "protocol.docx",
            "page": None,
            "block": 5,
            "quote": "dose was 10 mg",
        }
    ]
    twin["sections"][0]["tables"] = []
    GeneratedDocument.objects.filter(pk=document.pk).update(twin=twin)

    body = (
        login(member)
        .get(f"/documents/{document.pk}/citations/1/", HTTP_HX_REQUEST="true")
        .content.decode()
    )
    assert "Source 1: protocol.docx, block 5" in body
    assert '<li value="5" class="cited" aria-current="true">' in body
    assert "The <mark>dose was 10 mg</mark>." in body
    # The blocks around it, for context, unmarked.
    assert "Patients received the study drug twice daily." in body
    assert "Visits took place every four weeks." in body
    assert "img" not in body.split("Quoted:")[1]
