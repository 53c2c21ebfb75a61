"""Where each template section's content comes from (pipeline.profiles)."""

from __future__ import annotations

from documents.pipeline.profiles import profile_for
from documents.pipeline.types import OutlineSection


def section(number: str, title: str, level: int = 2, **fields: object) -> OutlineSection:
    return OutlineSection(section_id=number, number=number, title=title, level=level, **fields)


def test_an_e3_section_draws_on_concepts_and_reads_the_sap_first_for_statistics() -> None:
    profile = profile_for(section("9.7.2", "Determination of Sample Size", 3))
    assert profile.main == ("sample_size",)
    assert profile.kinds[:2] == ("sap", "protocol") and "results" not in profile.kinds
    assert "planned_size" in profile.elements


def test_e3_titles_decide_over_the_templates_own_heading_synonyms() -> None:
    # The built-in template's hints name source headings; for a section the correspondence
    # table knows, the content model decides and the hints do not add headings to look for.
    profile = profile_for(
        section(
            "9.1",
            "Overall Study Design and Plan - Description",
            hints={"source_kinds": ["protocol"], "source_headings": ["Study Schema"]},
        )
    )
    assert profile.main[0] == "design.description"
    assert "synopsis.design" in profile.main and "committees" in profile.main
    assert profile.headings == ()
    assert "sap" in profile.kinds  # the hint's "protocol only" does not hide the SAP


def test_a_rule_naming_a_heading_adds_its_concept_first() -> None:
    rule = {"type": "source", "parameters": {"source_heading": "Inclusion Criteria"}}
    profile = profile_for(section("9.3", "Selection of Study Population", rules=(rule,)))
    assert profile.main[0] == "inclusion"


def test_a_title_the_table_does_not_know_is_read_as_the_concepts_it_names() -> None:
    profile = profile_for(section("4.7", "Randomisation and Blinding"))
    assert "randomisation" in profile.main
    custom = profile_for(
        section("X", "Our Special Part", hints={"source_headings": ["Concomitant Medications"]})
    )
    assert custom.main == ("concomitant",)
    unknown = profile_for(section("Y", "Things", hints={"source_headings": ["Zebra Herding"]}))
    assert unknown.headings == ("Zebra Herding",)


def test_results_sections_take_results_tables_and_derived_sections_are_marked() -> None:
    disposition = profile_for(section("10.1", "Disposition of Patients"))
    assert disposition.kinds == ("results",) and disposition.data_fed
    assert disposition.results == ("disposition",)
    data_sets = profile_for(section("11.1", "Data Sets Analysed"))
    assert data_sets.without_results == ("analysis_sets",)
    assert profile_for(section("2", "Synopsis", 1)).derived == "synopsis"
    assert (
        profile_for(section("13", "Discussion and Overall Conclusions", 1)).derived == "discussion"
    )
