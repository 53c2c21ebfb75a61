"""A generated draft to review: sources built by the test, the real API, a real RQ worker."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.fixtures import builders


@dataclass
class Draft:
    client: Any
    task_id: str
    twin: dict[str, Any]
    docx: bytes
    file_paths: list[str]

    def section(self, number: str) -> dict[str, Any]:
        return next(s for s in self.twin["sections"] if s["number"] == number)


def upload(client: Any, name: str, data: bytes) -> dict[str, Any]:
    response = client.post(
        "/api/v1/files/upload",
        {"file_content": SimpleUploadedFile(name, data)},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    return response.json()


def generate(client: Any, paths: list[str], rq_worker: Any, **extra: Any) -> str:
    response = client.post(
        "/api/v1/documents/generate",
        {
            "document_type": "CSR",
            "file_paths": paths,
            "connector_data_id": extra.pop("set_key", "review-study"),
            "workspace_name": "Review study",
            "template_id": "ich-e3-csr",
            "output_name": extra.pop("output_name", "Review_CSR"),
            **extra,
        },
        format="json",
    )
    assert response.status_code == 202, response.json()
    rq_worker()
    task_id = response.json()["task_id"]
    status = client.get(f"/api/v1/documents/status/{task_id}").json()
    assert status["status"] == "Complete", status
    return task_id


def fetch(client: Any, task_id: str, copy: str = "review") -> tuple[dict[str, Any], bytes]:
    """The twin and a copy of the .docx (the review copy unless ``copy="clean"``)."""
    twin = client.get(f"/api/v1/documents/{task_id}/sections").json()
    download = client.get(f"/api/v1/documents/{task_id}/download", {"copy": copy})
    assert download.status_code == 200
    return twin, b"".join(download.streaming_content)


def review(client: Any, task_id: str, data: bytes, name: str = "reviewed.docx", **fields: Any):
    return client.post(
        f"/api/v1/documents/{task_id}/review",
        {"file": SimpleUploadedFile(name, data), **fields},
        format="multipart",
    )


@pytest.fixture
def sources(tmp_path: Path) -> dict[str, bytes]:
    pdf = tmp_path / "protocol.pdf"
    sap = tmp_path / "sap.docx"
    builders.build_protocol_pdf(pdf)
    builders.build_sap_docx(sap)
    return {"protocol.pdf": pdf.read_bytes(), "sap.docx": sap.read_bytes()}


@pytest.fixture
def draft(api_client, member, sources, rq_worker, clean_queue) -> Draft:
    client = api_client(member)
    paths = [upload(client, name, data)["file_path"] for name, data in sources.items()]
    task_id = generate(client, paths, rq_worker)
    twin, data = fetch(client, task_id)
    return Draft(client, task_id, twin, data, paths)
