"""Information elements (``elements.py`` + ``data/elements.json``): facts a section must state,
gathered from wherever the sources put them, each cited, none written twice."""

from __future__ import annotations

from documents.pipeline import elements, qc
from documents.pipeline.types import ExtractedSource, Paragraph, SectionDraft
from tests.documents.pipeline.test_orchestrate import (
    Item,
    all_text,
    by_number,
    pdf_source,
    sec,
    write,
)

DESIGN_OUTLINE = (
    sec("9", "Investigational Plan"),
    sec("9.1", "Overall Study Design and Plan - Description"),
)
SAMPLE_SIZE_OUTLINE = (
    sec("9.7", "Statistical Methods Planned in the Protocol and Determination of Sample Size"),
    sec("9.7.2", "Determination of Sample Size"),
)

RATIO_ROW = ("Allocation", "Patients are randomised 2:1 to zanotinib or placebo")
DESIGN_ROW = ("Design", "A randomised, double-blind, placebo-controlled, parallel-group study")
SITES = "The study will be conducted at approximately 40 sites in 8 countries."
DMC = "An independent Data Monitoring Committee (DMC) will review unblinded safety data."
STEERING = "A Steering Committee of external experts will oversee the scientific conduct."
SAMPLE = "Approximately 120 patients will be randomized to detect a 25% difference."
DESIGN_TEXT = (
    "This is a double-blind, placebo-controlled, parallel-group study of zanotinib in adults "
    "with plaque psoriasis."
)


def design_protocol(*, design_text: str = DESIGN_TEXT) -> ExtractedSource:
    """A protocol that states 9.1's facts in three places: a synopsis table, the design section
    and an administrative appendix."""
    pages: list[list[Item]] = [
        [
            ("h", "", "Protocol Synopsis"),
            (
                "table",
                [
                    ("Title", "A Study of Zanotinib in Plaque Psoriasis"),
                    RATIO_ROW,
                    DESIGN_ROW,
                ],
            ),
            ("h", "1", "Introduction"),
            ("p", "Zanotinib is an oral inhibitor of TYK2 studied in plaque psoriasis."),
            ("h", "2", "Study Design"),
            ("p", design_text),
            ("p", "The treatment period lasts 16 weeks, with a follow-up period of 4 weeks."),
        ],
        [
            ("h", "3", "Statistical Considerations"),
            ("h", "3.1", "Sample Size"),
            ("p", SAMPLE),
            ("h", "4", "Appendices"),
            ("h", "4.1", "Study Administrative Structure"),
            ("p", SITES),
            ("p", DMC),
            ("p", STEERING),
        ],
    ]
    return pdf_source("protocol.pdf", "protocol", pages)


def element_paragraphs(draft: SectionDraft, element_id: str) -> list[Paragraph]:
    return [p for p in draft.paragraphs if f"element: {element_id}" in p.flags]


def test_9_1_gathers_ratio_sites_countries_and_committees_each_cited() -> None:
    src = design_protocol()
    drafts = by_number(write([src], DESIGN_OUTLINE + SAMPLE_SIZE_OUTLINE))
    design = drafts["9.1"]
    # The allocation ratio from the synopsis table's row, read as "Label: value" in the report's
    # tense (the row as written is kept for the reviewer).
    (ratio,) = element_paragraphs(design, "allocation_ratio")
    assert ratio.source_text == f"{RATIO_ROW[0]}: {RATIO_ROW[1]}."
    assert ratio.text == f"{RATIO_ROW[0]}: {RATIO_ROW[1]}.".replace(" are ", " were ")
    # The sites and countries from the administrative appendix (one sentence states both).
    (sites,) = element_paragraphs(design, "sites_countries")
    assert "40 sites in 8 countries" in sites.text
    # Every committee the sources name, one sentence each.
    committees = element_paragraphs(design, "committees")
    assert len(committees) == 2
    assert any("Data Monitoring Committee" in p.text for p in committees)
    assert any("Steering Committee" in p.text for p in committees)
    gathered = [ratio, sites, *committees]
    for p in gathered:
        assert p.citations and all(qc.verify_citation(c, [src]) for c in p.citations), p
    assert ratio.citations[0].page == 1 and sites.citations[0].page == 2
    # Written in the report's register, like the passages.
    assert "was conducted at approximately 40 sites" in sites.text


def test_elements_come_after_the_sections_own_passages() -> None:
    design = by_number(write([design_protocol()], DESIGN_OUTLINE))["9.1"]
    flags = [any(f.startswith("element: ") for f in p.flags) for p in design.paragraphs]
    assert flags[0] is False and flags[-1] is True
    assert flags == sorted(flags)  # passages first, then the elements the passages lacked
    assert design.paragraphs[0].text.startswith("This was a double-blind")  # the report's past


def test_a_unit_another_section_was_given_is_not_used_again() -> None:
    src = design_protocol()
    # With 9.7.2 in the outline the sample-size sentence is that section's to write...
    drafts = by_number(write([src], DESIGN_OUTLINE + SAMPLE_SIZE_OUTLINE))
    assert "Approximately 120 patients were randomized" in all_text(drafts["9.7.2"])
    assert not element_paragraphs(drafts["9.1"], "planned_size")
    text = " ".join(all_text(d) for d in drafts.values())
    assert text.count("Approximately 120 patients were randomized") == 1
    # ...without it, 9.1 states the planned size itself.
    alone = by_number(write([src], DESIGN_OUTLINE))["9.1"]
    (size,) = element_paragraphs(alone, "planned_size")
    assert "Approximately 120 patients" in size.text


def test_an_element_the_sections_passages_state_is_not_added_again() -> None:
    # The design section says "double-blind, placebo-controlled": the synopsis's design row
    # would say it twice.
    stated = by_number(write([design_protocol()], DESIGN_OUTLINE))["9.1"]
    assert not element_paragraphs(stated, "design_type")
    assert not element_paragraphs(stated, "blinding_status")
    assert DESIGN_ROW[1] not in all_text(stated)
    # A design section that does not say it gets the row.
    silent = design_protocol(design_text="The study has a screening visit and 8 clinic visits.")
    unstated = by_number(write([silent], DESIGN_OUTLINE))["9.1"]
    (design_type,) = element_paragraphs(unstated, "design_type")
    assert DESIGN_ROW[1] in design_type.text


def test_no_sentence_is_written_twice_across_the_sections() -> None:
    drafts = write([design_protocol()], DESIGN_OUTLINE + SAMPLE_SIZE_OUTLINE)
    sentences = [p.text for d in drafts for p in d.paragraphs if p.style != "note"]
    assert len(sentences) == len(set(sentences))


def test_a_label_value_row_reads_label_colon_value() -> None:
    assert elements.row_text(("Number of sites:", "Approximately 40 sites")) == (
        "Number of sites: Approximately 40 sites"
    )
    assert elements.row_text(("Phase", "3")) is None  # no value to speak of
    assert elements.row_text(("", "Approximately 40 sites")) is None
    assert elements.row_text(("a", "b", "c", "d", "e")) is None  # a data grid, not a label row
    long_label = "A label far too long to be a label in a synopsis table row"
    assert elements.row_text((long_label, "Approximately 40 sites")) is None


def test_a_title_page_is_not_read_for_the_design_but_a_synopsis_before_section_1_is() -> None:
    sap = pdf_source(
        "sap.pdf",
        "sap",
        [
            [
                ("p", "Statistical Analysis Plan"),
                (
                    "p",
                    "Study Title: A Phase 2, Randomized, Double-Blind, Placebo-Controlled Study "
                    "of Zanotinib in Plaque Psoriasis",
                ),
                ("h", "1", "Introduction"),
                ("p", "This plan describes the analyses of the zanotinib study."),
                ("h", "2", "Statistical Methods"),
                ("p", "All analyses will use SAS version 9.4."),
            ]
        ],
    )
    design = by_number(write([sap], DESIGN_OUTLINE))["9.1"]
    assert "Study Title" not in all_text(design)
    # The synopsis of design_protocol() lies before its section 1 too, and is read.
    drafts = by_number(write([design_protocol()], DESIGN_OUTLINE))
    assert "randomised 2:1" in all_text(drafts["9.1"])


def test_who_was_studied_is_a_statement_about_the_population_not_a_definition() -> None:
    """The synopsis row "Diagnosis and main criteria for inclusion" is filled with the sentence
    that states the population element; a glossary's definition, a screen-failure rule or a
    reason to postpone a dose is not one (the LZZT draft had "Patients who were enrolled in the
    study are those who have been assigned to a treatment group" there)."""
    from documents.pipeline.elements import elements

    population = elements()["population_statement"]
    for not_it in (
        "Enroll: Patients who were enrolled in the study are those who have been assigned to a "
        "treatment group.",
        "Participants who sign the informed consent form but were not randomized are screen "
        "failures; they may be rescreened once.",
        "Evaluable patients refers to patients with at least one post-baseline assessment.",
    ):
        assert not population.matches(not_it), not_it
    for it in (
        "The trial enrolled adults with KRAS G12C-mutated NSCLC who had received one prior line.",
        "Male or female, 18 to 64 years of age, inclusive, at the time of consent.",
        "Patients aged 60 or older with mild to moderate Alzheimer's disease were enrolled.",
    ):
        assert population.matches(it), it
