"""PUT /api/v1/documents/{id}/sections/{section_id}/state (CONTRACT §9): a section marked not
applicable with a reason, and restored; the twin, the QC report and the copies follow, with no
new version."""

from __future__ import annotations

import io

import docx
import pytest

from documents.models import GeneratedDocument
from portal.models import AuditEvent

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

REASON = "No interim analysis was planned for this study."


def _put(client, task_id: str, section_id: str, body: dict):
    return client.put(
        f"/api/v1/documents/{task_id}/sections/{section_id}/state", body, format="json"
    )


def _no_source(draft) -> dict:
    return next(s for s in draft.twin["sections"] if s["state"] == "no_source")


def _texts(data: bytes) -> list[str]:
    return [p.text for p in docx.Document(io.BytesIO(data)).paragraphs]


def _download(client, task_id: str, **params) -> bytes:
    response = client.get(f"/api/v1/documents/{task_id}/download", params)
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def test_marking_a_section_not_applicable_and_restoring_it(draft) -> None:
    section = _no_source(draft)
    sid, heading = section["section_id"], f"{section['number']} {section['title']}"
    label = section["number"] or section["title"]
    qc_before = draft.twin["qc"]
    assert label in qc_before["no_source_sections"]
    before_clean = _download(draft.client, draft.task_id)

    response = _put(draft.client, draft.task_id, sid, {"state": "not_applicable", "reason": REASON})
    assert response.status_code == 200, response.json()
    assert response.json()["section"]["state"] == "not_applicable"
    assert response.json()["section"]["reason"] == REASON
    # The twin reads it, the QC report no longer counts it as missing: no new version.
    twin = draft.client.get(f"/api/v1/documents/{draft.task_id}/sections").json()
    marked = next(s for s in twin["sections"] if s["section_id"] == sid)
    assert (marked["state"], marked["reason"]) == ("not_applicable", REASON)
    assert label not in twin["qc"]["no_source_sections"]
    assert twin["qc"]["sections_no_source"] == qc_before["sections_no_source"] - 1
    assert twin["qc"]["not_applicable_sections"] == [{"section": label, "reason": REASON}]
    status = draft.client.get(f"/api/v1/documents/status/{draft.task_id}").json()
    assert status["qc"]["sections_no_source"] == qc_before["sections_no_source"] - 1
    assert GeneratedDocument.objects.count() == 1
    event = AuditEvent.objects.get(action="section_state")
    assert event.details["section_id"] == sid and event.details["reason"] == REASON

    # Both copies show the heading with the reason; the review copy's QC appendix and the QC
    # report download are recounted.
    for params in ({}, {"copy": "review"}):
        texts = _texts(_download(draft.client, draft.task_id, **params))
        at = texts.index(heading)
        assert texts[at + 1] == f"Not applicable: {REASON}"
    qc = docx.Document(io.BytesIO(_download(draft.client, draft.task_id, part="qc")))
    cells = {row.cells[0].text: row.cells[1].text for row in qc.tables[0].rows}
    assert cells["No source content"] == str(qc_before["sections_no_source"] - 1)
    assert cells["Not applicable (marked by a person)"] == "1"

    # Restore: the section and the QC report are as they were, and so is the clean copy.
    response = _put(draft.client, draft.task_id, sid, {"state": "restore"})
    assert response.status_code == 200
    assert response.json()["section"]["state"] == "no_source"
    assert "reason" not in response.json()["section"]
    twin = draft.client.get(f"/api/v1/documents/{draft.task_id}/sections").json()
    assert twin["qc"]["no_source_sections"] == qc_before["no_source_sections"]
    assert _texts(_download(draft.client, draft.task_id)) == _texts(before_clean)
    assert GeneratedDocument.objects.count() == 1


def test_bad_requests_are_400_with_a_code_and_other_organizations_404(
    draft, api_client, outsider
) -> None:
    sid = _no_source(draft)["section_id"]
    for body, code in (
        ({"state": "not_applicable"}, "reason_required"),
        ({"state": "not_applicable", "reason": "   "}, "reason_required"),
        ({"state": "gone"}, "invalid"),
        ({}, "invalid"),
    ):
        response = _put(draft.client, draft.task_id, sid, body)
        assert response.status_code == 400, body
        assert response.json()["code"] == code and response.json()["detail"]
    response = _put(draft.client, draft.task_id, "no-such-section", {"state": "restore"})
    assert response.status_code == 404 and response.json()["code"] == "section_not_found"
    response = _put(
        api_client(outsider), draft.task_id, sid, {"state": "not_applicable", "reason": REASON}
    )
    assert response.status_code == 404
    twin = draft.client.get(f"/api/v1/documents/{draft.task_id}/sections").json()
    assert next(s for s in twin["sections"] if s["section_id"] == sid)["state"] == "no_source"
    assert not AuditEvent.objects.filter(action="section_state").exists()
