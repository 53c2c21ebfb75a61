"""The built-in templates: loaded by migrate, complete, and re-synced in place."""

from __future__ import annotations

import json

import pytest

from templates_app.builtin import BUILTIN_DIR, load_builtin_data, sync_builtin_templates
from templates_app.models import Template, TemplateSection

pytestmark = pytest.mark.django_db

# Every numbered section of ICH E3 (reference/document-structures.md B.1).
E3_OUTLINE = """
1 2 3 4 5 5.1 5.2 5.3 6 7 8 9 9.1 9.2 9.3 9.3.1 9.3.2 9.3.3 9.4 9.4.1 9.4.2 9.4.3 9.4.4 9.4.5 9.4.6
9.4.7 9.4.8 9.5 9.5.1 9.5.2 9.5.3 9.5.4 9.6 9.7 9.7.1 9.7.2 9.8 10 10.1 10.2 11 11.1 11.2 11.3 11.4
11.4.1 11.4.2 11.4.2.1 11.4.2.2 11.4.2.3 11.4.2.4 11.4.2.5 11.4.2.6 11.4.2.7 11.4.2.8 11.4.3 11.4.4
11.4.5 11.4.6 11.4.7 12 12.1 12.2 12.2.1 12.2.2 12.2.3 12.2.4 12.3 12.3.1 12.3.1.1 12.3.1.2 12.3.1.3
12.3.2 12.3.3 12.4 12.4.1 12.4.2 12.4.2.1 12.4.2.2 12.4.2.3 12.5 12.6 13 14 14.1 14.2 14.3 14.3.1
14.3.2 14.3.3 14.3.4 15 16 16.1 16.1.1 16.1.2 16.1.3 16.1.4 16.1.5 16.1.6 16.1.7 16.1.8 16.1.9
16.1.10 16.1.11 16.1.12 16.2 16.2.1 16.2.2 16.2.3 16.2.4 16.2.5 16.2.6 16.2.7 16.2.8 16.3 16.3.1
16.3.2 16.4
"""
E3_NUMBERS = E3_OUTLINE.split()
HINT_KEYS = {"source_kinds", "source_headings", "keywords"}
OPTIONAL_HINT_KEYS = {"derived", "data_fed", "applicable", "unnumbered"}
SOURCE_KINDS = {"protocol", "sap", "results", "other"}


def test_migrate_loads_the_full_ich_e3_outline(e3):
    assert e3.built_in and e3.organization_id is None
    assert "ICH E3" in e3.name
    assert (e3.document_type, e3.tense) == ("CSR", "past")
    numbers = list(e3.sections.order_by("order_index").values_list("number", flat=True))
    assert numbers == E3_NUMBERS  # the full list, in order
    assert e3.sections.count() == 119


@pytest.mark.parametrize(
    ("number", "title", "level"),
    [
        ("9.7.2", "Determination of Sample Size", 3),
        ("11.4.2.8", "Examination of Subgroups", 4),
        ("16.4", "Individual Patient Data Listings (US Archival Listings)", 2),
        ("1", "Title Page", 1),
        ("5.1", "Independent Ethics Committee (IEC) or Institutional Review Board (IRB)", 2),
    ],
)
def test_e3_sections_have_their_titles_and_levels(e3, number, title, level):
    section = e3.sections.get(number=number)
    assert (section.title, section.level) == (title, level)
    assert section.section_name == f"{number} {title}"


def test_every_e3_section_has_synopsis_instructions_and_mapping_hints(e3):
    for section in e3.sections.all():
        assert section.synopsis and section.instructions, section.number
        assert set(section.hints) >= HINT_KEYS, section.number
        assert set(section.hints) <= HINT_KEYS | OPTIONAL_HINT_KEYS, section.number
        assert set(section.hints["source_kinds"]) <= SOURCE_KINDS, section.number
        top = int(section.number.split(".")[0])
        if top in (10, 11, 12, 14):
            assert "results" in section.hints["source_kinds"], section.number
            assert section.hints.get("data_fed") is True, section.number


def test_e3_hints_name_the_headings_sources_use(e3):
    def headings(number: str) -> list[str]:
        return e3.sections.get(number=number).hints["source_headings"]

    assert {"Inclusion Criteria", "Eligibility Criteria"} <= set(headings("9.3.1"))
    assert {"Sample Size Considerations", "Sample Size Determination"} <= set(headings("9.7.2"))
    assert {"Ethical Review", "Institutional Review Board"} <= set(headings("5.1"))
    assert "Trial Objectives and Associated Estimands" in headings("8")
    assert e3.sections.get(number="1").hints["derived"] == "title_page"
    assert e3.sections.get(number="2").hints["derived"] == "synopsis"
    assert e3.sections.get(number="13").hints["derived"] == "discussion"
    assert e3.sections.get(number="9.5.2").hints["applicable"] == "when applicable"
    assert "applicable" not in e3.sections.get(number="11.4.2.8").hints


def test_migrate_loads_the_ich_m11_protocol_outline(m11):
    assert m11.built_in and (m11.document_type, m11.tense) == ("Protocol", "source")
    sections = list(m11.sections.order_by("order_index"))
    front = [s for s in sections if s.hints.get("unnumbered")]
    assert [s.title for s in front] == ["Title Page", "Amendment Details", "Table of Contents"]
    assert all(s.number == "" for s in front)
    level1 = [s.number for s in sections if s.level == 1 and s.number]
    assert level1 == [str(n) for n in range(1, 15)]
    assert {s.level for s in sections} == {1, 2}
    assert m11.sections.get(number="10.11").title == "Sample Size Determination"
    assert m11.sections.get(number="3").title == "Trial Objectives and Associated Estimands"


def test_resync_is_idempotent_and_keeps_section_ids(e3):
    before = dict(e3.sections.values_list("number", "id"))
    results = sync_builtin_templates()
    assert {r.key for r in results} == {"ich-e3-csr", "ich-m11-protocol"}
    assert not any(r.changed for r in results)
    assert dict(e3.sections.values_list("number", "id")) == before


def test_resync_repairs_edits_and_restores_deleted_sections_with_the_same_id(e3):
    section = e3.sections.get(number="9.7.2")
    original_id = section.id
    TemplateSection.objects.filter(pk=section.pk).update(title="Tampered", synopsis="x")
    e3.sections.get(number="16.4").delete()
    Template.objects.filter(pk=e3.pk).update(name="Renamed")

    results = {r.key: r for r in sync_builtin_templates()}

    assert results["ich-e3-csr"].sections_created == 1
    e3.refresh_from_db()
    assert "ICH E3" in e3.name
    assert e3.sections.get(number="9.7.2").title == "Determination of Sample Size"
    assert e3.sections.get(number="9.7.2").id == original_id
    assert e3.sections.count() == 119
    data = json.loads((BUILTIN_DIR / "ich_e3_csr.json").read_text())
    file_id = next(s["id"] for s in data["sections"] if s["number"] == "16.4")
    assert str(e3.sections.get(number="16.4").id) == file_id


def test_resync_removes_sections_that_left_the_file(e3):
    TemplateSection.objects.create(template=e3, order_index=500, level=1, number="17", title="X")
    sync_builtin_templates()
    assert not e3.sections.filter(number="17").exists()
    assert list(e3.sections.order_by("order_index").values_list("order_index", flat=True)) == list(
        range(119)
    )


def test_builtin_files_have_unique_fixed_uuids():
    ids: set[str] = set()
    for name in ("ich_e3_csr.json", "ich_m11_protocol.json"):
        data = load_builtin_data(BUILTIN_DIR / name)
        file_ids = {s["id"] for s in data["sections"]}
        assert len(file_ids) == len(data["sections"])
        assert not ids & file_ids
        ids |= file_ids
