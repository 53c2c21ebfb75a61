"""Text sanitising before storage and rendering (reliability plan §A15, §0.6).

python-docx refuses NUL, control characters and U+FFFE (``ValueError``) and lone surrogates
(``UnicodeEncodeError``); PostgreSQL refuses NUL in text and in jsonb. A source whose text holds
them must still generate, and neither the database nor the .docx may hold them.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import docx
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from documents import jobs
from documents.models import Extraction, GeneratedDocument
from tests.reliability import hostile as H
from tests.reliability.conftest import outcome

pytestmark = [
    pytest.mark.reliability(category="bad_input"),
    pytest.mark.django_db,
    pytest.mark.timeout(60),
]

FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _docx_text(path: Path) -> str:
    with zipfile.ZipFile(path) as z:
        return "".join(
            z.read(n).decode("utf-8", errors="surrogatepass")
            for n in z.namelist()
            if n.endswith(".xml")
        )


def _generate(client, member, path, submit, capture, **overrides):
    with capture(execute=True):
        response = submit(member, [path], **overrides)
    assert response.status_code == 202, response.content
    task = response.json()["task_id"]
    jobs.run_generation(task)
    return GeneratedDocument.objects.get(pk=task)


def test_a_source_with_nul_controls_and_surrogates_generates_a_clean_document(
    request, member, api_client, submit, django_capture_on_commit_callbacks, clean_queue
):
    """A15: NUL, VT, U+FFFE, a lone surrogate in PDF text: removed before storage and .docx."""
    client = api_client(member)
    uploaded = client.post(
        "/api/v1/files/upload",
        {"file_content": SimpleUploadedFile("control.pdf", H.control_chars_pdf())},
        format="multipart",
    )
    assert uploaded.status_code == 201
    doc = _generate(
        client, member, uploaded.json()["file_path"], submit, django_capture_on_commit_callbacks
    )
    assert (doc.status, doc.error_code) == ("Complete", None), doc.error

    stored = json.dumps(Extraction.objects.get().data, ensure_ascii=False)
    assert "Hostile Study tests control characters" in stored
    assert not FORBIDDEN.search(stored)
    assert not FORBIDDEN.search(json.dumps(doc.twin, ensure_ascii=False))

    output = Path(settings.MEDIA_ROOT) / doc.output_key
    assert not FORBIDDEN.search(_docx_text(output))
    docx.Document(str(output))  # opens
    outcome(request, "Complete; DB and .docx hold none of the characters")


def test_control_characters_in_the_request_are_removed_before_storage_and_rendering(
    member, api_client, submit, django_capture_on_commit_callbacks, clean_queue, tiny_source
):
    """Outline titles and instructions with NUL / VT / U+FFFE: the job still completes cleanly."""
    path = tiny_source(member)
    outline = {
        "sections": [
            {"section_id": "s-1", "section_name": "1 Title\x0b Page\ufffe", "level": 1},
            {"section_id": "s-2", "section_name": "2 Syn\x00opsis", "level": 1},
        ]
    }
    doc = _generate(
        api_client(member),
        member,
        path,
        submit,
        django_capture_on_commit_callbacks,
        generic_mrt_outline_full=outline,
        document_instructions="Use past tense\x07\ufffe.",
    )
    assert (doc.status, doc.error_code) == ("Complete", None), doc.error
    output = Path(settings.MEDIA_ROOT) / doc.output_key
    assert not FORBIDDEN.search(_docx_text(output))
    assert not FORBIDDEN.search(json.dumps(doc.outline, ensure_ascii=False))
    assert not FORBIDDEN.search(doc.instructions)
