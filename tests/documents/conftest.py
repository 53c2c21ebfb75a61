"""Fixtures for the documents API tests: uploaded files and a helper to request generation."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from docx import Document

MINIMAL_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def docx_bytes(text: str = "Hello") -> bytes:
    doc = Document()
    doc.add_heading("Study Protocol", level=1)
    doc.add_paragraph(text)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


@pytest.fixture
def upload(api_client):
    """upload(user, name, content, **fields) -> response of POST /api/v1/files/upload."""

    def _upload(user, name="protocol.pdf", content=MINIMAL_PDF, **fields):
        client = api_client(user)
        data = {"file_content": SimpleUploadedFile(name, content, content_type="application/pdf")}
        data.update(fields)
        return client.post("/api/v1/files/upload", data, format="multipart")

    return _upload


@pytest.fixture
def generate_body():
    def _body(file_paths, **overrides):
        body = {
            "document_type": "CSR",
            "file_paths": file_paths,
            "connector_data_id": "study-001",
            "workspace_name": "Study 001",
            "template_id": "ich-e3-csr",
            "output_name": "CSR_Draft",
        }
        body.update(overrides)
        return {k: v for k, v in body.items() if v is not None}

    return _body
