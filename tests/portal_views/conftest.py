"""Portal view test fixtures: logged-in clients, uploaded files, documents in each state.

The personas (``org``, ``member``, ``manager``, ``outsider``...) come from tests/conftest.py. Rows
are made through the services (as the portal does); only the job's outcome (``complete``) is
written directly, standing in for the worker.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from docx import Document

from documents import services
from documents.models import GeneratedDocument

MINIMAL_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def docx_bytes(text: str = "The study enrolled 120 participants.") -> bytes:
    doc = Document()
    doc.add_heading("Study Protocol", level=1)
    doc.add_paragraph(text)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def pdf_upload(name: str = "protocol.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, MINIMAL_PDF, content_type="application/pdf")


def docx_upload(name: str = "sap.docx") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, docx_bytes(), content_type="application/octet-stream")


@pytest.fixture
def login() -> Callable[..., Client]:
    """``login(user, enforce_csrf=False)`` -> a ``Client`` with a session for ``user``."""

    def make(user: Any, enforce_csrf: bool = False) -> Client:
        client = Client(enforce_csrf_checks=enforce_csrf)
        client.force_login(user)
        return client

    return make


@pytest.fixture
def upload() -> Callable[..., str]:
    """``upload(user, name)`` stores a small PDF (or DOCX) and returns its ``file_path``."""

    def make(user: Any, name: str = "protocol.pdf") -> str:
        file = docx_upload(name) if name.endswith(".docx") else pdf_upload(name)
        return services.file_upload(user=user, uploaded_file=file).source_file.file_path

    return make


@pytest.fixture
def make_document(upload) -> Callable[..., GeneratedDocument]:
    """``make_document(user, **overrides)`` -> a Pending document requested through the service."""

    def make(user: Any, output_name: str = "CSR_Draft", set_name: str = "Study 001", **kw: Any):
        path = upload(user, kw.pop("file_name", "protocol.pdf"))
        return services.generation_request(
            user=user,
            document_type="CSR",
            file_paths=[path],
            document_set_key=kw.pop("set_key", "study-001"),
            document_set_name=set_name,
            template_ref="ich-e3-csr",
            output_name=output_name,
            **kw,
        )

    return make


def sample_twin(document: GeneratedDocument) -> dict[str, Any]:
    sections = (document.outline or {}).get("sections", [])
    first, second, third = sections[0], sections[1], sections[2]
    cite = {
        "file_path": "x/documents/protocol.pdf",
        "file_name": "protocol.pdf",
        "page": 4,
        "block": None,
        "quote": "A total of 120 participants were randomised.",
    }
    return {
        "document_id": str(document.id),
        "template_id": str(document.template_id),
        "manifest": {},
        "qc": {"sections_generated": 1},
        "sections": [
            {
                "section_id": first["section_id"],
                "number": first["number"],
                "title": first["title"],
                "level": first["level"],
                "state": "generated",
                "paragraphs": [
                    {"text": "120 participants were randomised.", "citations": [cite]},
                    {
                        "text": "Adults aged 18 to 65",
                        "citations": [],
                        "style": "list",
                        "list_label": "1.",
                    },
                    {
                        "text": "Written consent",
                        "citations": [],
                        "style": "list",
                        "list_label": "2.",
                    },
                ],
                "tables": [
                    {
                        "title": "Table 1 Disposition",
                        "rows": [["Arm", "N"], ["Placebo", "60"], ["Drug", "60"]],
                        "citations": [
                            {
                                **cite,
                                "page": None,
                                "block": 7,
                                "file_name": "results.xlsx",
                                "quote": "Placebo 60",
                            }
                        ],
                    }
                ],
            },
            {
                "section_id": second["section_id"],
                "number": second["number"],
                "title": second["title"],
                "level": second["level"],
                "state": "no_source",
                "paragraphs": [],
                "tables": [],
            },
            {
                "section_id": third["section_id"],
                "number": third["number"],
                "title": third["title"],
                "level": third["level"],
                "state": "skipped",
                "paragraphs": [],
                "tables": [],
            },
        ],
    }


def complete(document: GeneratedDocument, content: bytes = b"PK fake docx") -> GeneratedDocument:
    """Stand in for the worker: store an output file and a twin, mark the row Complete."""
    key = default_storage.save(
        f"{document.organization_id}/output/{document.id}.docx", ContentFile(content)
    )
    GeneratedDocument.objects.filter(pk=document.pk).update(
        status="Complete",
        progress=100,
        step="Generate",
        sections_done=document.sections_total,
        output_key=key,
        twin=sample_twin(document),
        qc={"sections_generated": 1, "sections_no_source": 1, "citations_total": 2},
        finished_at=timezone.now(),
    )
    document.refresh_from_db()
    return document


def running(document: GeneratedDocument, progress: int = 40, step: str = "Ingest") -> None:
    GeneratedDocument.objects.filter(pk=document.pk).update(
        status="Generating", progress=progress, step=step, started_at=timezone.now()
    )
    document.refresh_from_db()
