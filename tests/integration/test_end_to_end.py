"""The whole path a user takes, through the real API, the embedded Redis and an RQ worker.

Upload a PDF and a DOCX built by the test → generate ``ich-e3-csr`` → 202 → the worker runs the
pipeline → status Complete → download the .docx and open it → every citation's quote is found on
the cited page or block of the source (tests/helpers/citations.py, independent of the pipeline).
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from docx import Document

from templates_app.models import Template
from tests.fixtures import builders
from tests.helpers.citations import all_citations, citation_verifies

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def sources(tmp_path: Path) -> dict[str, Path]:
    pdf = tmp_path / "protocol.pdf"
    docx = tmp_path / "sap.docx"
    builders.build_protocol_pdf(pdf)
    builders.build_sap_docx(docx)
    return {"protocol.pdf": pdf, "sap.docx": docx}


def upload(client, path: Path) -> str:
    response = client.post(
        "/api/v1/files/upload",
        {"file_content": SimpleUploadedFile(path.name, path.read_bytes())},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    return response.json()["file_path"]


def test_upload_generate_poll_download_and_verify_citations(
    api_client, member, sources, rq_worker, clean_queue
):
    client = api_client(member)
    paths = [upload(client, p) for p in sources.values()]

    started = time.monotonic()
    response = client.post(
        "/api/v1/documents/generate",
        {
            "document_type": "CSR",
            "file_paths": paths,
            "connector_data_id": "e2e",
            "workspace_name": "End to end",
            "generic_mrt_id": "ich-e3-csr",
            "output_name": "E2E_CSR.docx",
        },
        format="json",
    )
    accept_seconds = time.monotonic() - started
    assert response.status_code == 202, response.json()
    assert accept_seconds < 2
    task_id = response.json()["task_id"]

    first = client.get(f"/api/v1/documents/status/{task_id}").json()
    assert first["status"] == "Pending"

    rq_worker()  # a real RQ SimpleWorker drains the queue

    status = client.get(f"/api/v1/documents/status/{task_id}").json()
    assert status["status"] == "Complete", status
    assert status["progress"] == 100
    assert status["qc"]["citations_total"] > 0
    assert status["qc"]["citations_verified"] == status["qc"]["citations_total"]
    assert status["qc"]["unsupported_numbers"] == 0

    download = client.get(status["download_url"])
    assert download.status_code == 200
    doc = Document(io.BytesIO(b"".join(download.streaming_content)))
    headings = [
        p.text for p in doc.paragraphs if p.style is not None and p.style.name.startswith("Heading")
    ]
    template = Template.objects.get(key="ich-e3-csr")
    expected = [f"{s.number} {s.title}" for s in template.sections.order_by("order_index")]
    found = [h for h in headings if h in expected]
    assert found == expected, "the draft's headings are the E3 outline, in order"

    twin = client.get(f"/api/v1/documents/{task_id}/sections").json()
    assert twin["manifest"]["sources"][0]["sha256"]
    states = {s["state"] for s in twin["sections"]}
    assert "generated" in states and "no_source" in states
    citations = all_citations(twin)
    assert citations
    failures = [c for c in citations if not citation_verifies(c, sources)]
    assert not failures, failures[:3]
    by_number = {s["number"]: s for s in twin["sections"]}
    assert by_number["9.3.1"]["state"] == "generated"
    assert by_number["12.2"]["state"] == "no_source"  # no results source was given
