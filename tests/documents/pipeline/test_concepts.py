"""The content model (``concepts.py`` + ``data/concepts.json``): which concept a source heading
holds, from its title words, its place in the document and the text under it."""

from __future__ import annotations

import pytest

from documents.pipeline import concepts, ingest
from documents.pipeline.concepts import NodeConcept
from documents.pipeline.types import ExtractedSource
from tests.documents.pipeline.test_orchestrate import Item, docx_source, pdf_source


def classified(src: ExtractedSource) -> dict[str, NodeConcept | None]:
    """Every heading of one source ("6.1 Primary Endpoint") → its concept (None: unclassified)."""
    index = ingest.build_index(ingest.chunk_text((src,)))
    found = concepts.classify_nodes(index)
    return {f"{n.number} {n.title}".strip(): found.get(n.id) for n in index.nodes}


def protocol_of(items: list[Item]) -> dict[str, NodeConcept | None]:
    return classified(docx_source("protocol.docx", "protocol", items))


VACCINE_TEXT = (
    "Each dose of 0.5 mL is given by intramuscular injection into the deltoid muscle. The vials "
    "are stored at 2 to 8 C and each single-dose vial holds one dose. The route of administration "
    "is intramuscular."
)


# ---------------------------------------------------------------- by title words


@pytest.mark.parametrize(
    ("title", "family"),
    [
        # ICH M11 headings
        ("Trial Intervention", "intervention"),
        ("Trial Intervention and Concomitant Therapy", "intervention"),
        ("Trial Population", "population"),
        # legacy protocol headings for the same content
        ("Study Treatments", "intervention"),
        ("STUDY TREATMENT(S)", "intervention"),
        ("Investigational Product", "intervention"),
        ("Selection of Subjects", "population"),
        ("Efficacy Assessments", "assessments.efficacy"),
        ("Efficacy Measures", "assessments.efficacy"),
        # patient / subject / participant are one word to the model
        ("Participant Inclusion Criteria", "inclusion"),
        ("Subject Exclusion Criteria", "exclusion"),
    ],
)
def test_a_heading_is_classified_by_its_title_words_whatever_the_layout(
    title: str, family: str
) -> None:
    found = concepts.classify_one(title=title)
    assert found is not None, title
    assert found.via.startswith("title"), found
    assert concepts.is_within(found.concept, family), (title, found)


def test_m11_and_legacy_protocols_put_the_same_content_in_the_same_concepts() -> None:
    m11 = protocol_of(
        [
            ("h", "1", "Introduction"),
            ("p", "Psoriasis is a chronic inflammatory disease of the skin."),
            ("h", "5", "Trial Population"),
            ("p", "Adults with moderate plaque psoriasis are enrolled."),
            ("h", "6", "Trial Intervention and Concomitant Therapy"),
            ("h", "6.1", "Description of Trial Intervention"),
            ("p", "Zanotinib 50 mg tablets are taken orally once daily."),
            ("h", "8", "Trial Assessments and Procedures"),
            ("h", "8.1", "Efficacy Assessments"),
            ("p", "The PASI is assessed at every visit."),
        ]
    )
    legacy = classified(
        pdf_source(
            "legacy.pdf",
            "protocol",
            [
                [
                    ("h", "1", "Introduction"),
                    ("p", "Psoriasis is a chronic inflammatory disease of the skin."),
                    ("h", "3", "Selection of Study Population"),
                    ("p", "Adults with moderate plaque psoriasis are enrolled."),
                    ("h", "4", "Study Treatments"),
                    ("h", "4.1", "Investigational Product"),
                    ("p", "Zanotinib 50 mg tablets are taken orally once daily."),
                    ("h", "6", "Efficacy Measures"),
                    ("p", "The PASI is assessed at every visit."),
                ]
            ],
        )
    )
    pairs = [
        ("5 Trial Population", "3 Selection of Study Population", "population"),
        ("6.1 Description of Trial Intervention", "4.1 Investigational Product", "intervention"),
        ("8.1 Efficacy Assessments", "6 Efficacy Measures", "assessments.efficacy"),
    ]
    for m11_heading, legacy_heading, family in pairs:
        a, b = m11[m11_heading], legacy[legacy_heading]
        assert a is not None and b is not None, (m11_heading, legacy_heading)
        assert concepts.is_within(a.concept, family), (m11_heading, a)
        assert concepts.is_within(b.concept, family), (legacy_heading, b)
    # The product's description, not the broad intervention chapter, in both layouts.
    m11_product = m11["6.1 Description of Trial Intervention"]
    legacy_product = legacy["4.1 Investigational Product"]
    assert m11_product is not None and legacy_product is not None
    assert m11_product.concept == legacy_product.concept == "intervention.description"


# ---------------------------------------------------------------- by place


def test_a_primary_endpoint_is_the_analysis_under_statistics_and_the_endpoint_elsewhere() -> None:
    found = protocol_of(
        [
            ("h", "1", "Introduction"),
            ("p", "Psoriasis is a chronic inflammatory disease of the skin."),
            ("h", "3", "Objectives and Endpoints"),
            ("h", "3.2", "Primary Endpoint"),
            ("p", "The primary endpoint is the proportion of patients with PASI 75 at Week 12."),
            ("h", "9", "Statistical Analyses"),
            ("h", "9.4", "Primary Endpoint"),
            ("p", "The primary endpoint is compared between arms with logistic regression."),
        ]
    )
    definition, analysis = found["3.2 Primary Endpoint"], found["9.4 Primary Endpoint"]
    assert definition is not None and definition.concept == "endpoints.primary"
    assert analysis is not None and analysis.concept == "stats.primary"
    assert "place" in analysis.via  # the title alone said "endpoint"


def test_a_bare_heading_is_read_with_its_parent() -> None:
    found = protocol_of(
        [
            ("h", "1", "Introduction"),
            ("p", "Psoriasis is a chronic inflammatory disease of the skin."),
            ("h", "2", "Objectives"),
            ("h", "2.1", "Primary"),
            ("p", "To compare zanotinib with placebo at Week 12."),
            ("h", "4", "Endpoints"),
            ("h", "4.1", "Primary"),
            ("p", "PASI 75 response at Week 12."),
            ("h", "9", "Statistical Analyses"),
            ("h", "9.1", "Primary"),
            ("p", "Logistic regression adjusted for region."),
        ]
    )
    by_number = {k.split()[0]: v for k, v in found.items()}
    assert by_number["2.1"] is not None and by_number["2.1"].concept == "objectives.primary"
    assert by_number["4.1"] is not None and by_number["4.1"].concept == "endpoints.primary"
    assert by_number["9.1"] is not None and by_number["9.1"].concept == "stats.primary"
    # Alone, "Primary" names nothing.
    assert concepts.classify_one(title="Primary") is None


# ---------------------------------------------------------------- by body


def test_a_heading_no_title_names_is_classified_by_the_words_of_its_text() -> None:
    found = protocol_of(
        [
            ("h", "1", "Introduction"),
            ("p", "Psoriasis is a chronic inflammatory disease of the skin."),
            ("h", "6", "Zanovax"),
            ("p", VACCINE_TEXT),
        ]
    )
    product = found["6 Zanovax"]
    assert product is not None
    assert product.via == "body"
    assert product.concept == "intervention.description"
    # The same heading over unrelated text is not guessed.
    history = "Zanovax was first made in 1999 by a team of chemists in a university laboratory."
    assert concepts.classify_one(title="Zanovax", body=history) is None


def test_a_study_vaccine_heading_speaking_of_doses_routes_and_vials_is_the_intervention() -> None:
    found = protocol_of(
        [
            ("h", "1", "Introduction"),
            ("p", "Influenza causes seasonal epidemics."),
            ("h", "6", "Study Vaccine"),
            ("p", VACCINE_TEXT),
        ]
    )
    vaccine = found["6 Study Vaccine"]
    assert vaccine is not None and concepts.is_within(vaccine.concept, "intervention")


def test_body_words_decide_only_with_several_terms_and_a_clear_lead() -> None:
    # One term of the intervention ("dose") is not enough.
    assert concepts.classify_one(title="Kits", body="Each kit holds one dose.") is None
    scores = concepts.body_scores(VACCINE_TEXT)
    assert max(scores, key=scores.__getitem__) == "intervention.description"


# ---------------------------------------------------------------- what is not content


def test_front_matter_before_section_one_is_not_read_as_content() -> None:
    found = protocol_of(
        [
            ("h", "", "Protocol Synopsis"),
            ("p", "A randomised, double-blind study of zanotinib in 120 adults."),
            ("h", "", "Inclusion Criteria"),
            ("p", "Adults aged 18 years or older with plaque psoriasis."),
            ("h", "1", "Introduction"),
            ("p", "Psoriasis is a chronic inflammatory disease of the skin."),
            ("h", "5", "Inclusion Criteria"),
            ("p", "Adults aged 18 years or older with plaque psoriasis."),
        ]
    )
    synopsis = found["Protocol Synopsis"]
    assert synopsis is not None and synopsis.concept == "synopsis"
    assert found["Inclusion Criteria"] is None  # a synopsis row, not the criteria section
    body = found["5 Inclusion Criteria"]
    assert body is not None and body.concept == "inclusion"


def test_a_container_is_not_inherited_by_its_subheadings_but_a_topic_is() -> None:
    found = protocol_of(
        [
            ("h", "1", "Introduction"),
            ("p", "Psoriasis is a chronic inflammatory disease of the skin."),
            ("h", "3", "Inclusion Criteria"),
            ("p", "Adults aged 18 years or older."),
            ("h", "3.1", "Notes"),
            ("p", "Age is checked at screening."),
            ("h", "7", "Synopsis"),
            ("h", "7.1", "Notes"),
            ("p", "Age is checked at screening."),
            ("h", "10", "Appendices"),
            ("h", "10.1", "Miscellany"),
            ("p", "Age is checked at screening."),
        ]
    )
    inherited = found["3.1 Notes"]
    assert inherited is not None
    assert inherited.concept == "inclusion" and inherited.via == "parent"
    assert found["7 Synopsis"] is not None and found["10 Appendices"] is not None
    assert found["7.1 Notes"] is None
    assert found["10.1 Miscellany"] is None
