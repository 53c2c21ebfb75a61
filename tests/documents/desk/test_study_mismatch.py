"""A source set whose files name different studies: the selector the page shows before
generation, and the QC report (status and twin) after it."""

from __future__ import annotations

import io

import pytest
from docx import Document

from documents import selectors
from documents.models import GeneratedDocument
from tests.documents.review.conftest import generate, upload

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _other_study_docx() -> bytes:
    document = Document()
    document.add_paragraph("Clinical Study Protocol")
    document.add_paragraph("Protocol Number: QX-7734-02")
    document.add_heading("1 Introduction", level=1)
    document.add_paragraph("Patients with asthma received inhaled quixolast twice daily.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_files_of_different_studies_are_flagged_before_and_after_generation(
    draft, rq_worker
) -> None:
    first = GeneratedDocument.objects.get(pk=draft.task_id)
    # The draft's two files name the same study: nothing to say.
    assert selectors.study_mismatch(first.document_set) == []
    assert draft.twin["qc"]["study_mismatch"] == []

    other = upload(draft.client, "other-protocol.docx", _other_study_docx())["file_path"]
    task_id = generate(draft.client, [*draft.file_paths, other], rq_worker)
    status = draft.client.get(f"/api/v1/documents/status/{task_id}").json()
    mismatch = status["qc"]["study_mismatch"]
    assert len(mismatch) == 1 and "QX-7734-02 in other-protocol.docx" in mismatch[0]
    assert status["qc"]["warnings"][0] == mismatch[0]
    # The page's selector says the same for the set, from the files Folio has read.
    document_set = GeneratedDocument.objects.get(pk=task_id).document_set
    assert selectors.study_mismatch(document_set) == mismatch
