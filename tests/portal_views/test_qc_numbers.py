"""The QC number check on the document page: each mismatch with both places."""

from __future__ import annotations

import pytest

from documents.models import GeneratedDocument
from tests.portal_views.conftest import complete

pytestmark = pytest.mark.django_db


def test_number_mismatches_are_listed_with_both_places(login, member, make_document) -> None:
    document = complete(make_document(member))
    mismatch = {
        "section": "2",
        "number": "120",
        "text": "Number of patients | A total of 120 patients were randomised.",
        "cited": {"section": "9.7.2", "text": "A total of 130 patients were randomised."},
    }
    GeneratedDocument.objects.filter(pk=document.pk).update(
        qc={**document.qc, "number_mismatches": 1, "number_mismatch_examples": [mismatch]}
    )
    body = login(member).get(f"/documents/{document.pk}/").content.decode()
    assert "Numbers that differ from what they cite" in body
    assert "<strong>120</strong> in 2" in body
    assert "9.7.2 says “A total of 130 patients were randomised.”" in body


def test_no_box_without_a_mismatch(login, member, make_document) -> None:
    document = complete(make_document(member))
    body = login(member).get(f"/documents/{document.pk}/").content.decode()
    assert "Numbers that differ from what they cite" not in body
