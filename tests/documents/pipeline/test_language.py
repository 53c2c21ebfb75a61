"""Sentences, tense conversion, style-guide terms and abbreviations (pipeline.language)."""

from __future__ import annotations

import pytest

from documents.pipeline import language
from documents.pipeline.language import (
    apply_preferred_terms,
    expand_first_use,
    find_definitions,
    find_phrases,
    has_future,
    parse_abbreviation_run,
    repair_split_words,
    sentences,
    to_past,
)

# ---------------------------------------------------------------- sentences


def test_it_splits_sentences_without_cutting_abbreviations_decimals_or_section_numbers() -> None:
    text = (
        "Patients were enrolled (see Section 3.10.3. Study Extensions). The DSMB met after 75, "
        "150 patients, e.g. Dr. Smith at U.S. sites. Power is 0.9. Furthermore, this has 80% "
        "power (p<.05). Efficacy measures are described in Section 3.9.1.1. As stated there, "
        "the outcome is ADAS-Cog."
    )
    assert sentences(text) == [
        "Patients were enrolled (see Section 3.10.3. Study Extensions).",
        "The DSMB met after 75, 150 patients, e.g. Dr. Smith at U.S. sites.",
        "Power is 0.9.",
        "Furthermore, this has 80% power (p<.05).",
        "Efficacy measures are described in Section 3.9.1.1.",
        "As stated there, the outcome is ADAS-Cog.",
    ]


def test_sentence_spans_point_into_the_original_text() -> None:
    text = "First one.  Second   one! Third?"
    spans = language.split_sentences(text)
    assert [text[s:e] for s, e in spans] == ["First one.", "Second   one!", "Third?"]


# ---------------------------------------------------------------- tense

TENSE_CASES = [
    (
        "Patients will be randomized to 1 of 3 treatment arms.",
        "Patients were randomized to 1 of 3 treatment arms.",
    ),
    (
        "The study will be conducted on an outpatient basis.",
        "The study was conducted on an outpatient basis.",
    ),
    ("Approximately 300 patients will be enrolled.", "Approximately 300 patients were enrolled."),
    ("Patients will receive placebo.", "Patients received placebo."),
    (
        "At screening, patients will undergo an assessment and receive a placebo patch.",
        "At screening, patients underwent an assessment and received a placebo patch.",
    ),
    ("Patients will have completed Visit 8.", "Patients had completed Visit 8."),
    ("Each patient will have a TTS applied.", "Each patient had a TTS applied."),
    ("Patients will not be enrolled.", "Patients were not enrolled."),
    ("Patients will not receive study drug.", "Patients did not receive study drug."),
    ("Treatment compliance will not be provided.", "Treatment compliance was not provided."),
    ("The DSMB will review cardiovascular findings.", "The DSMB reviewed cardiovascular findings."),
    (
        "Urinalysis will be done at Visits 4, 9, and 12.",
        "Urinalysis was done at Visits 4, 9, and 12.",
    ),
    (
        "Vital signs, temperature, and an assessment of adverse events will be obtained.",
        "Vital signs, temperature, and an assessment of adverse events were obtained.",
    ),
    (
        "Plasma levels of xanomeline and metabolites will be obtained at Visit 3.",
        "Plasma levels of xanomeline and metabolites were obtained at Visit 3.",
    ),
    (
        "Use of concomitant medications will be collected.",
        "Use of concomitant medications was collected.",
    ),
    ("Data will be analyzed using SAS.", "Data were analyzed using SAS."),
    (
        "Summary statistics will be generated for each visit.",
        "Summary statistics were generated for each visit.",
    ),
    ("A total of 300 patients will be randomized.", "A total of 300 patients were randomized."),
    (
        "The number of subjects randomized will be summarized.",
        "The number of subjects randomized was summarized.",
    ),
    (
        "Patients who discontinue early will be brought back for assessments.",
        "Patients who discontinued early were brought back for assessments.",
    ),
    (
        "The first interim analysis will occur when 50% of the patients have completed Visit 8.",
        "The first interim analysis occurred when 50% of the patients had completed Visit 8.",
    ),
    (
        "Patients will also be asked to return all patches.",
        "Patients were also asked to return all patches.",
    ),
    (
        "Two interim analyses are planned for this study.",
        "Two interim analyses were planned for this study.",
    ),
    ("The patches are to be worn all day.", "The patches were to be worn all day."),
    (
        "The assessments will be assigned to visits, as will laboratory assessments.",
        "The assessments were assigned to visits, as were laboratory assessments.",
    ),
    (
        "This prompted speculation that replacement therapy will alleviate the dysfunction.",
        "This prompted speculation that replacement therapy would alleviate the dysfunction.",
    ),
    (
        "Investigators will begin dosing and will give the first dose.",
        "Investigators began dosing and gave the first dose.",
    ),
    ("The sponsor will submit the report.", "The sponsor submitted the report."),
    ("Sites will stop enrolment.", "Sites stopped enrolment."),
    ("The caregiver will apply the patch.", "The caregiver applied the patch."),
    (
        "All adverse events, whether reported by the patient or noted by staff, will be recorded.",
        "All adverse events, whether reported by the patient or noted by staff, were recorded.",
    ),
    (
        "If the dose is reduced, the visit will be rescheduled.",
        "If the dose was reduced, the visit was rescheduled.",
    ),
    (
        "Samples are drawn before dosing, except for PK samples, which will be obtained later.",
        "Samples were drawn before dosing, except for PK samples, which were obtained later.",
    ),
    (
        "Because patients enrolled in this study will be outpatients, compliance will be assured.",
        "Because patients enrolled in this study were outpatients, compliance was assured.",
    ),
    (
        "Patients who terminate early will be retrieved on the date which would have represented "
        "Visit 12.",
        "Patients who terminated early were retrieved on the date which would have represented "
        "Visit 12.",
    ),
    (
        "The consent will include: “Lilly will pay the medical expenses for the treatment.”",
        "The consent included: “Lilly will pay the medical expenses for the treatment.”",
    ),
    (
        "The name of the investigator(s) is/are listed on the cover pages.",
        "The name of the investigator(s) was/were listed on the cover pages.",
    ),
]


@pytest.mark.parametrize(("future", "past"), TENSE_CASES)
def test_it_puts_the_protocols_future_into_the_reports_past(future: str, past: str) -> None:
    assert to_past(future) == past


@pytest.mark.parametrize(
    "unchanged",
    [
        "Patients must be at least 50 years of age.",
        "Concomitant medication should not be taken within 24 hours of a visit.",
        "The patient's will was respected.",
        "Xanomeline is a novel M1 agonist.",
        "Will the patient return?",
    ],
)
def test_it_leaves_modals_facts_and_the_noun_will_alone(unchanged: str) -> None:
    assert to_past(unchanged) == unchanged


def test_has_future_sees_the_modal_but_not_the_noun() -> None:
    assert has_future("Patients will be randomized.")
    assert has_future("Patients won't be randomized.")
    assert not has_future("Patients were randomized.")
    assert not has_future("The patient's will was respected.")
    assert not has_future("The consent said: “Lilly will pay the medical expenses.”")


def test_irregular_and_regular_past_forms() -> None:
    assert language.past_form("undergo") == "underwent"
    assert language.past_form("withdraw") == "withdrew"
    assert language.past_form("occur") == "occurred"
    assert language.past_form("visit") == "visited"
    assert language.past_form("apply") == "applied"
    assert language.past_form("plan") == "planned"
    assert language.past_form("Receive") == "Received"


# ---------------------------------------------------------------- style guide


def test_preferred_terms_replace_variants_keeping_case_and_plural() -> None:
    text = "Patients and each patient signed; the PATIENT diary and outpatients were fine."
    out = apply_preferred_terms(text, {"participant": ["patient"]})
    assert (
        out == "Participants and each participant signed; the PARTICIPANT diary and outpatients "
        "were fine."
    )


def test_banned_phrases_are_found_case_insensitively_on_word_boundaries() -> None:
    assert find_phrases("The drug is Safe and Effective.", ["safe and effective", "cure"]) == [
        "safe and effective"
    ]
    assert find_phrases("Procured supplies.", ["cure"]) == []


# ---------------------------------------------------------------- abbreviations


def test_it_finds_inline_definitions_by_initials_and_by_letters() -> None:
    found = {
        d.abbreviation: d.long_form
        for d in find_definitions(
            "Probable AD as defined by the Alzheimer’s Disease and Related Disorders Association "
            "(ADRDA) guidelines, an electrocardiogram (ECG), adverse events (AEs) and the "
            "Alzheimer’s Disease Assessment Scale−Cognitive Subscale (ADAS-Cog)."
        )
    }
    assert found["ADRDA"] == "Alzheimer’s Disease and Related Disorders Association"
    assert found["ECG"] == "electrocardiogram"
    assert found["AE"] == "adverse event"
    assert found["ADAS-Cog"] == "Alzheimer’s Disease Assessment Scale−Cognitive Subscale"


def test_it_reads_an_abbreviation_list_that_extraction_ran_together() -> None:
    entries = parse_abbreviation_run(
        "AE adverse event ANCOVA analysis of covariance BMI body mass index mg milligrams "
        "TTS Transdermal Therapeutic System"
    )
    assert [(a, d) for a, d, _ in entries] == [
        ("AE", "adverse event"),
        ("ANCOVA", "analysis of covariance"),
        ("BMI", "body mass index"),
        ("mg", "milligrams"),
        ("TTS", "Transdermal Therapeutic System"),
    ]


def test_expand_first_use_spells_out_the_abbreviation_once() -> None:
    assert expand_first_use("An AE was reported. Each AE was coded.", "AE", "adverse event") == (
        "An adverse event (AE) was reported. Each AE was coded."
    )
    assert (
        expand_first_use("AEs were coded.", "AE", "adverse event")
        == "Adverse events (AEs) were coded."
    )
    assert expand_first_use("No abbreviation here.", "AE", "adverse event") is None


def test_codes_units_and_roman_numerals_are_not_abbreviations() -> None:
    used = language.abbreviations_used(
        "Protocol H2Q-MC-LZZT, ITEM04, Phase III, the DSMB and ECGs at 50 cm2."
    )
    assert used == ["DSMB", "ECG"]


def test_it_repairs_words_that_pdf_extraction_split() -> None:
    vocab = {"description": 3, "primary": 5, "center": 4, "of": 9, "study": 5}
    assert repair_split_words("Descripti on of Study Primar y Multi-cent er", vocab) == (
        "Description of Study Primary Multi-center"
    )
    assert repair_split_words("in to the study", {"into": 4, "in": 9, "to": 9}) == "in to the study"


def test_compounds_stages_and_degrees_are_not_abbreviations_to_define() -> None:
    text = "BICR-assessed progression in stage IIIB disease; Jane Roe, MD, FRCP, PhD; the ECG."
    assert language.abbreviations_used(text) == ["ECG"]


def test_an_appendix_label_does_not_hide_an_abbreviation_or_reference_list() -> None:
    from documents.pipeline import mapping

    assert mapping.is_abbreviation_heading("Appendix 5: Abbreviations")
    assert mapping.is_abbreviation_heading("List of Abbreviations")
    assert mapping.is_reference_heading("Annex B - References")
    assert not mapping.is_abbreviation_heading("Appendix 5: Laboratory Tests")


@pytest.mark.parametrize(
    ("present", "past"),
    [
        (
            "The trial comprises a screening period and a treatment period.",
            "The trial comprised a screening period and a treatment period.",
        ),
        (
            "All patients attend a safety visit and were then followed for survival.",
            "All patients attended a safety visit and were then followed for survival.",
        ),
        (
            "The trial enrols adults who have received one prior line of therapy.",
            "The trial enrolled adults who had received one prior line of therapy.",
        ),
        (
            "Patients who discontinue treatment continue tumour assessments.",
            "Patients who discontinued treatment continued tumour assessments.",
        ),
        (
            "Sponsor staff do not have access to unblinded data.",
            "Sponsor staff did not have access to unblinded data.",
        ),
        ("This is a Phase 3, randomised trial.", "This was a Phase 3, randomised trial."),
        # committees, pharmacists and systems act in the report's past too
        (
            "An independent committee oversees the safety of participants.",
            "An independent committee oversaw the safety of participants.",
        ),
        (
            "On Day 1 the IWRS assigns each participant to zanotinib or placebo.",
            "On Day 1 the IWRS assigned each participant to zanotinib or placebo.",
        ),
        (
            "Each participant takes part for approximately 6 months.",
            "Each participant took part for approximately 6 months.",
        ),
        # a verb coordinated with a converted one follows it
        (
            "The full model takes the main model and adds the interaction term.",
            "The full model took the main model and added the interaction term.",
        ),
    ],
)
def test_the_present_of_study_conduct_goes_into_the_past(present: str, past: str) -> None:
    assert language.present_to_past(present) == past


@pytest.mark.parametrize(
    "unchanged",
    [
        "The definitions are as follows.",
        "Sensitivity analyses are described in the SAP.",  # "analyses" is a noun here
        "NSCLC accounts for about 85% of cases.",
        "Patients must receive at least one dose.",
        "To receive the drug, a patient signs the form.",
        "The last dose is taken on Day 28.",
        "The patient “continues to attend visits as planned” in the diary.",
        "Medical records and study monitors are listed in the site file.",  # nouns, not verbs
        "The DSMB reviews safety data and makes recommendations.",  # "reviews" may be a noun
    ],
)
def test_nouns_modals_infinitives_and_quotations_keep_their_tense(unchanged: str) -> None:
    assert language.present_to_past(unchanged) == unchanged


def test_background_sections_keep_their_present_and_conduct_sections_do_not() -> None:
    from tests.documents.pipeline.test_orchestrate import by_number, docx_source, write

    src = docx_source(
        "protocol.docx",
        "protocol",
        [
            ("h", "1", "Introduction"),
            ("h", "1.1", "Background"),
            ("p", "Most patients with advanced disease receive chemotherapy as first-line care."),
            ("h", "4", "Trial Design"),
            ("h", "4.1", "Overall Design"),
            (
                "p",
                "The trial comprises a screening period of 28 days and 24 weeks of treatment.",
            ),
        ],
    )
    drafts = by_number(write([src]))
    assert "receive chemotherapy" in " ".join(p.text for p in drafts["7"].paragraphs)
    assert "The trial comprised a screening period" in " ".join(
        p.text for p in drafts["9.1"].paragraphs
    )


def test_a_definition_names_its_term_in_full_even_after_the_first_use() -> None:
    from documents.pipeline import glossary
    from documents.pipeline.types import Paragraph, SectionDraft

    defs = {"PFS": glossary.Definition("progression-free survival", None)}
    drafts = {
        0: SectionDraft(
            "a",
            "8",
            "Objectives",
            1,
            "generated",
            (Paragraph(text="The primary objective is to compare PFS between arms."),),
            (),
        ),
        1: SectionDraft(
            "b",
            "9.5.3",
            "Primary Efficacy Variable(s)",
            3,
            "generated",
            (
                Paragraph(text="PFS is the time from randomisation to progression or death."),
                Paragraph(text="PFS is assessed by central review."),  # not a definition
            ),
            (),
        ),
    }
    glossary.expand_first_uses(
        drafts, [0, 1], defs, expandable=lambda j: True, counts=lambda j: True
    )
    assert drafts[0].paragraphs[0].text == (
        "The primary objective is to compare progression-free survival (PFS) between arms."
    )
    defining, other = drafts[1].paragraphs
    assert defining.text == (
        "Progression-free survival (PFS) is the time from randomisation to progression or death."
    )
    assert defining.source_text == "PFS is the time from randomisation to progression or death."
    assert other.text == "PFS is assessed by central review."


def test_a_list_of_verbs_after_a_converted_one_is_in_the_past_too() -> None:
    assert language.to_past(
        "Patients who will be randomized, enroll, discontinue, or complete the study will be "
        "summarized."
    ) == (
        "Patients who were randomized, enrolled, discontinued, or completed the study were "
        "summarized."
    )
    # Other words of a list stay as they are.
    assert language.to_past("Patients will be randomized, stratified by region, and treated.") == (
        "Patients were randomized, stratified by region, and treated."
    )


def test_a_tables_legend_defines_its_abbreviations() -> None:
    from documents.pipeline.citations import QuoteLocator
    from documents.pipeline.writer import source_definitions
    from tests.documents.pipeline.test_orchestrate import docx_source

    src = docx_source(
        "protocol.docx",
        "protocol",
        [("p", "C = cycle; EOT = end of treatment; FU = follow-up; PS = performance status.")],
    )
    found = source_definitions([src], QuoteLocator((src,)))
    assert {a: d.long_form for a, d in found.items()} == {
        "EOT": "end of treatment",
        "FU": "follow-up",
        "PS": "performance status",
    }
    assert all(d.citation is not None and d.citation.block == 1 for d in found.values())
