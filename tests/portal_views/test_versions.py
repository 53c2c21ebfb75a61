"""Versions that explain themselves: the dashboard shows one row per document ("version 2 of
2"), each version says what it was made from, and a regeneration that changed nothing says so."""

from __future__ import annotations

import pytest

from documents.models import GeneratedDocument
from tests.portal_views.conftest import complete

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_versions(login, member, make_document):
    first = complete(make_document(member))
    section = first.outline["sections"][0]["section_id"]
    login(member).post(
        f"/documents/{first.pk}/regenerate/",
        {"section_ids": [section], "instructions": "Shorter."},
    )
    second = GeneratedDocument.objects.exclude(pk=first.pk).get()
    return first, second, section


def test_the_dashboard_shows_one_row_per_document_with_its_newest_version(
    login, member, make_document, two_versions
):
    first, second, _ = two_versions
    other = make_document(member, output_name="Other_Draft")
    body = login(member).get("/").content.decode()
    assert f'href="/documents/{second.pk}/"' in body
    assert f'href="/documents/{first.pk}/"' not in body
    assert f'href="/documents/{other.pk}/"' in body
    assert "version 2 of 2" in body
    assert body.count("<tr>") == 3  # the head row and two documents


def test_a_version_says_what_it_was_made_from(login, member, two_versions):
    first, second, _ = two_versions
    number = first.outline["sections"][0]["number"]
    body = login(member).get(f"/documents/{second.pk}/").content.decode()
    assert f"Regenerated {number} from version 1 with the instruction “Shorter.”." in body
    assert "Nothing changed" not in body  # not complete yet


def test_a_regeneration_that_changed_nothing_says_so(login, member, two_versions):
    _, second, _ = two_versions
    complete(second)  # the same twin as version 1: the section reads as before
    body = login(member).get(f"/documents/{second.pk}/").content.decode()
    assert "Nothing changed: the sections read as in the version it was made from." in body

    twin = second.twin
    twin["sections"][0]["paragraphs"][0]["text"] = "121 participants were randomised."
    GeneratedDocument.objects.filter(pk=second.pk).update(twin=twin)
    body = login(member).get(f"/documents/{second.pk}/").content.decode()
    assert "Nothing changed" not in body
