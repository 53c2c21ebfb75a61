"""Assignment (``assign.py``): which source passages each template section takes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from documents.pipeline import assign, ingest
from documents.pipeline.profiles import profile_for
from documents.pipeline.types import ExtractedSource, OutlineSection
from tests.documents.pipeline.test_orchestrate import (
    all_text,
    by_number,
    docx_source,
    protocol,
    sap,
    sec,
    write,
)


@dataclass
class Assigned:
    """Each section number → the texts of the blocks it was given, in its order."""

    texts: dict[str, list[str]]
    result: assign.Assignment
    index: ingest.SourceIndex

    def of(self, number: str) -> str:
        return "\n".join(self.texts.get(number, []))


def assigned(
    sources: Sequence[ExtractedSource],
    outline: Sequence[OutlineSection],
    *,
    results_present: Iterable[str] = (),
) -> Assigned:
    index = ingest.build_index(ingest.chunk_text(tuple(sources)))
    profiles = [profile_for(s) for s in outline]
    has_children = [
        k + 1 < len(outline) and outline[k + 1].level > outline[k].level
        for k in range(len(outline))
    ]
    body = [k for k, p in enumerate(profiles) if p.derived is None]
    result = assign.assign_sections(
        index, profiles, body, has_children=has_children, results_present=set(results_present)
    )
    texts = {
        outline[k].number: [index.blocks[s][p].text for s, ps in groups for p in ps]
        for k, groups in result.groups.items()
    }
    return Assigned(texts, result, index)


TREATMENTS_OUTLINE = (
    sec("9", "Investigational Plan"),
    sec("9.3", "Selection of Study Population"),
    sec("9.4", "Treatments"),
    sec("9.4.1", "Treatments Administered"),
    sec("9.4.3", "Method of Assigning Patients to Treatment Groups"),
    sec("9.4.6", "Blinding"),
    sec("9.4.7", "Prior and Concomitant Therapy"),
    sec("9.5", "Efficacy and Safety Variables"),
    sec("9.5.1", "Efficacy and Safety Measurements Assessed and Flow Chart"),
)

RANDOMISATION = (
    "Patients will be randomised in a 1:1 ratio using an IWRS with permuted blocks, stratified "
    "by region."
)
BLINDING = (
    "The study is double-blind: investigators and patients are unaware of the assignment, and "
    "emergency unblinding is possible through the IWRS."
)
CONTRACEPTION = (
    "Women of childbearing potential must use a highly effective contraceptive method such as a "
    "condom with spermicide."
)
PREGNANCY = (
    "Any pregnancy will be reported within 24 hours and the outcome of the pregnancy followed "
    "until delivery; a pregnant patient stops treatment."
)


def treatments_protocol() -> ExtractedSource:
    return docx_source(
        "protocol.docx",
        "protocol",
        [
            ("h", "1", "Introduction"),
            ("p", "Psoriasis is a chronic inflammatory disease of the skin."),
            ("h", "6", "Study Intervention"),
            ("p", "This chapter describes what the patients receive."),
            ("h", "6.1", "Study Intervention(s) Administered"),
            ("p", "Zanotinib 50 mg tablets will be taken orally once daily."),
            ("h", "6.2", "Randomisation and Blinding"),
            ("p", RANDOMISATION),
            ("p", BLINDING),
            ("h", "6.3", "Concomitant Therapy"),
            ("p", "Topical corticosteroids are prohibited during the study."),
            ("h", "6.4", "Supply Notes"),
            ("p", "Kits are shipped by courier each month."),
            ("h", "7", "Contraception and Pregnancy Testing"),
            ("p", CONTRACEPTION),
            ("p", PREGNANCY),
        ],
    )


# ---------------------------------------------------------------- who owns a heading


def test_a_heading_goes_to_the_section_that_names_its_concept_first() -> None:
    src = docx_source(
        "protocol.docx",
        "protocol",
        [
            ("h", "1", "Study Design"),
            ("p", "A randomised, double-blind, placebo-controlled study."),
            ("h", "2", "Committees"),
            ("p", "An independent data monitoring committee reviews the safety data."),
        ],
    )
    committee = "An independent data monitoring committee reviews the safety data."
    # Two sections of a non-E3 template both draw on committees; the order of their concept
    # lists decides.
    design_first = (
        sec("A", "Part A", concepts=["design.description", "committees"]),
        sec("B", "Part B", concepts=["committees", "oversight"]),
    )
    got = assigned([src], design_first)
    assert committee in got.of("B") and committee not in got.of("A")
    committees_first = (
        sec("A", "Part A", concepts=["committees", "design.description"]),
        sec("B", "Part B", concepts=["oversight", "committees"]),
    )
    got = assigned([src], committees_first)
    assert committee in got.of("A") and committee not in got.of("B")


def test_e3_sections_take_the_headings_whose_concepts_they_name() -> None:
    got = assigned([treatments_protocol()], TREATMENTS_OUTLINE)
    assert "Zanotinib 50 mg tablets" in got.of("9.4.1")
    assert "Topical corticosteroids" in got.of("9.4.7")
    # Blinding draws on randomisation only as an "also" concept: the heading's main concept
    # (randomisation) belongs to 9.4.3.
    assert RANDOMISATION in got.of("9.4.3")
    assert RANDOMISATION not in got.of("9.4.6")


def test_a_section_takes_the_subtree_minus_what_went_elsewhere() -> None:
    got = assigned([treatments_protocol()], TREATMENTS_OUTLINE)
    treatments = got.texts["9.4"]
    # Its own text and the subheading no other section wants ("Supply Notes")...
    assert "This chapter describes what the patients receive." in treatments
    assert "Kits are shipped by courier each month." in treatments
    # ...but not the subheadings that went to 9.4.1, 9.4.3, 9.4.6 and 9.4.7.
    for other in ("9.4.1", "9.4.3", "9.4.6", "9.4.7"):
        for text in got.texts[other]:
            assert text not in treatments, (other, text)


def test_a_heading_that_joins_two_topics_is_split_paragraph_by_paragraph() -> None:
    got = assigned([treatments_protocol()], TREATMENTS_OUTLINE)
    # "Randomisation and Blinding": each paragraph to the section of its topic.
    assert got.texts["9.4.3"] == [RANDOMISATION]
    assert got.texts["9.4.6"] == [BLINDING]
    # "Contraception and Pregnancy Testing": contraception is part of selecting the population,
    # reporting a pregnancy is a safety measurement.
    assert CONTRACEPTION in got.texts["9.3"] and PREGNANCY not in got.texts["9.3"]
    assert PREGNANCY in got.texts["9.5.1"] and CONTRACEPTION not in got.texts["9.5.1"]


def test_a_heading_that_names_one_topic_is_not_split() -> None:
    src = docx_source(
        "protocol.docx",
        "protocol",
        [
            ("h", "1", "Introduction"),
            ("p", "Psoriasis is a chronic inflammatory disease of the skin."),
            ("h", "6", "Randomisation"),
            ("p", RANDOMISATION),
            ("p", BLINDING),
        ],
    )
    got = assigned([src], TREATMENTS_OUTLINE)
    assert got.texts["9.4.3"] == [RANDOMISATION, BLINDING]
    assert "9.4.6" not in got.texts


# ---------------------------------------------------------------- nothing twice


def test_no_block_position_belongs_to_two_sections() -> None:
    sources = [protocol(), sap(), treatments_protocol()]
    outline = (
        *TREATMENTS_OUTLINE,
        sec("9.1", "Overall Study Design and Plan - Description"),
        sec("9.3.1", "Inclusion Criteria"),
        sec("9.3.2", "Exclusion Criteria"),
        sec("9.7", "Statistical Methods Planned in the Protocol and Determination of Sample Size"),
        sec("9.7.1", "Statistical and Analytical Plans"),
        sec("9.7.2", "Determination of Sample Size"),
        sec("7", "Introduction"),
        sec("5.1", "Independent Ethics Committee (IEC) or Institutional Review Board (IRB)"),
    )
    got = assigned(sources, outline)
    owner: dict[tuple[int, int], int] = {}
    for k, groups in got.result.groups.items():
        for s_idx, positions in groups:
            assert len(positions) == len(set(positions)), (outline[k].number, positions)
            for p in positions:
                assert (s_idx, p) not in owner, (outline[k].number, outline[owner[(s_idx, p)]])
                owner[(s_idx, p)] = k
    assert len(got.result.groups) >= 8  # the check covered most of the sections
    assert got.result.claimed == set(owner)


# ---------------------------------------------------------------- results sections


ANALYSIS_SETS = "The full analysis set includes all randomised patients who received one dose."
RESULTS_OUTLINE = (
    sec("9.7", "Statistical Methods Planned in the Protocol and Determination of Sample Size"),
    sec("9.7.1", "Statistical and Analytical Plans"),
    sec("11", "Efficacy Evaluation"),
    sec("11.1", "Data Sets Analysed"),
)


def analysis_plan() -> ExtractedSource:
    return docx_source(
        "sap.docx",
        "sap",
        [
            ("h", "1", "General Considerations"),
            ("p", "All tests are two-sided at the 5% level."),
            ("h", "2", "Analysis Sets"),
            ("p", ANALYSIS_SETS),
            ("p", "The per-protocol set excludes patients with major protocol deviations."),
            ("h", "3", "Primary Analysis"),
            ("p", "The primary endpoint is compared with a logistic regression model."),
        ],
    )


def test_without_results_data_sets_analysed_takes_the_analysis_set_definitions() -> None:
    got = assigned([analysis_plan()], RESULTS_OUTLINE)
    assert ANALYSIS_SETS in got.of("11.1")
    assert ANALYSIS_SETS not in got.of("9.7.1")
    assert "logistic regression" in got.of("9.7.1")  # the rest of the plan stays with methods


def test_with_an_analysis_sets_table_the_definitions_stay_with_the_methods() -> None:
    got = assigned([analysis_plan()], RESULTS_OUTLINE, results_present={"analysis_sets"})
    assert ANALYSIS_SETS in got.of("9.7.1")
    assert "11.1" not in got.texts


def test_the_draft_writes_the_analysis_sets_under_data_sets_analysed() -> None:
    drafts = by_number(write([analysis_plan()], RESULTS_OUTLINE))
    assert drafts["11.1"].state == "generated"
    assert "full analysis set" in all_text(drafts["11.1"])
    assert "full analysis set" not in all_text(drafts["9.7.1"])
