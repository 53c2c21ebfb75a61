"""The draft's language (``language/``, ``glossary.py``, ``writer.py``, ``passages.py``): agreement
kept after the future → past rewrite, one expansion per abbreviation, and no fragment of page
furniture (table-of-contents lines, running headers, page numbers) written as text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from documents.pipeline import classify, extract, glossary, qc
from documents.pipeline.citations import QuoteLocator
from documents.pipeline.language import to_past
from documents.pipeline.passages import write_groups
from documents.pipeline.types import Paragraph, SectionDraft, SourceDescriptor
from documents.pipeline.writer import WriterContext, write_block
from tests.documents.pipeline.test_orchestrate import (
    all_text,
    by_number,
    csr_outline,
    docx_source,
    pdf_source,
    sec,
    write,
)
from tests.fixtures import builders, layouts

# ---------------------------------------------------------------- agreement


@pytest.mark.parametrize(
    ("future", "past"),
    [
        # a relative clause between the subject and its verb
        (
            "Patients who meet the criteria will be classified as responders.",
            "Patients who met the criteria were classified as responders.",
        ),
        (
            "A patient who meets the criteria will be classified as a responder.",
            "A patient who met the criteria was classified as a responder.",
        ),
        (
            "All patients who receive at least one dose will be included in the safety set.",
            "All patients who received at least one dose were included in the safety set.",
        ),
        # a singular subject after a plural prepositional phrase
        (
            "The proportion of patients with a PASI 75 response will be compared between arms.",
            "The proportion of patients with a PASI 75 response was compared between arms.",
        ),
        (
            "The number of patients in each arm will be summarised.",
            "The number of patients in each arm was summarised.",
        ),
        (
            "The analysis of covariance with treatment and region as factors will be used.",
            "The analysis of covariance with treatment and region as factors was used.",
        ),
        (
            "Each of the efficacy variables will be analysed at each visit.",
            "Each of the efficacy variables was analysed at each visit.",
        ),
        (
            "One of the secondary endpoints will be analysed with a mixed model.",
            "One of the secondary endpoints was analysed with a mixed model.",
        ),
        # a plural subject after a singular prepositional phrase
        (
            "Samples from each patient will be stored for 5 years.",
            "Samples from each patient were stored for 5 years.",
        ),
        # coordinated subjects
        ("Age and sex will be summarised by arm.", "Age and sex were summarised by arm."),
        (
            "Height, weight and blood pressure will be measured at each visit.",
            "Height, weight and blood pressure were measured at each visit.",
        ),
        (
            "The investigator and the sponsor will be informed.",
            "The investigator and the sponsor were informed.",
        ),
        (
            "Neither the patient nor the investigator will be aware of the assignment.",
            "Neither the patient nor the investigator was aware of the assignment.",
        ),
        # a second clause with its own subject
        (
            "Study treatment will be dispensed at each visit and unused tablets will be returned.",
            "Study treatment was dispensed at each visit and unused tablets were returned.",
        ),
        (
            "Blood samples will be drawn and the serum will be stored frozen.",
            "Blood samples were drawn and the serum was stored frozen.",
        ),
    ],
)
def test_subject_and_verb_agree_after_the_future_becomes_past(future: str, past: str) -> None:
    assert to_past(future) == past


def test_the_draft_keeps_agreement_in_the_sentences_it_rewrites() -> None:
    src = docx_source(
        "protocol.docx",
        "protocol",
        [
            ("h", "1", "Introduction"),
            ("p", "Psoriasis is a chronic inflammatory disease of the skin."),
            ("h", "3", "Study Design"),
            (
                "p",
                "Patients who meet the criteria will be randomised to zanotinib or placebo. "
                "Study treatment will be dispensed at each visit and unused tablets will be "
                "returned to the pharmacy.",
            ),
        ],
    )
    design = by_number(write([src], (sec("9.1", "Overall Study Design and Plan - Description"),)))
    text = all_text(design["9.1"])
    assert "Patients who met the criteria were randomised to zanotinib or placebo." in text
    assert "unused tablets were returned to the pharmacy" in text
    assert design["9.1"].paragraphs[0].source_text is not None  # the original, for review


# ---------------------------------------------------------------- abbreviations

NRI = "non-responder imputation"


def _drafts(*texts: str) -> dict[int, SectionDraft]:
    return {
        k: SectionDraft(f"s{k}", str(k + 7), f"Section {k}", 1, "generated", (Paragraph(t),))
        for k, t in enumerate(texts)
    }


def _expanded(*texts: str) -> list[str]:
    drafts = _drafts(*texts)
    glossary.expand_first_uses(
        drafts,
        range(len(drafts)),
        {"NRI": glossary.Definition(NRI, None)},
        expandable=lambda j: True,
        counts=lambda j: True,
    )
    return [drafts[k].paragraphs[0].text for k in range(len(drafts))]


@pytest.mark.parametrize(
    "defining",
    [
        "Missing responses were handled by non-responder imputation (NRI).",
        "Non-responder imputation (NRI) was used for missing responses.",
        "Missing responses were handled by NRI (non-responder imputation).",
        "Missing responses were handled as failures (non-responder imputation, NRI).",
        "Missing responses were handled by non-responder imputation, NRI, at every visit.",
    ],
)
def test_an_abbreviation_defined_in_its_sentence_is_never_expanded_again(defining: str) -> None:
    later = "The NRI analysis was repeated for PASI 90."
    assert _expanded(defining, later) == [defining, later]
    out = " ".join(_expanded(defining, later))
    assert out.lower().count(NRI) == 1


def test_an_abbreviation_is_expanded_once_at_its_first_use() -> None:
    first = "The NRI analysis was the primary analysis."
    defining = "Missing responses were handled by non-responder imputation (NRI)."
    got = _expanded(first, defining, "NRI was also used for PASI 90.")
    assert got[0] == "The non-responder imputation (NRI) analysis was the primary analysis."
    assert got[1:] == [defining, "NRI was also used for PASI 90."]


def test_the_draft_expands_an_abbreviation_its_sources_define_only_once() -> None:
    sap_source = docx_source(
        "sap.docx",
        "sap",
        [
            ("h", "1", "General Considerations"),
            ("p", "All tests are two-sided at the 5% level."),
            ("h", "2", "Handling of Missing Data"),
            ("p", "Missing responses will be handled by non-responder imputation (NRI)."),
            ("p", "A sensitivity analysis will repeat the NRI analysis with multiple imputation."),
        ],
    )
    outline = (
        sec("9.7", "Statistical Methods Planned in the Protocol and Determination of Sample Size"),
        sec("9.7.1", "Statistical and Analytical Plans"),
        sec("4", "List of Abbreviations and Definition of Terms"),
    )
    drafts = by_number(write([sap_source], outline))
    text = all_text(drafts["9.7.1"])
    assert "non-responder imputation (NRI)" in text
    assert text.lower().count(NRI) == 1
    assert dict(drafts["4"].tables[0].rows)["NRI"] == NRI


# ---------------------------------------------------------------- no fragments

FURNITURE = [
    re.compile(r"(?:\.\s?){4,}\s*\d*\s*$"),  # dot leaders of a table of contents
    re.compile(r"(?i)\bpage\s+\d+\s+of\s+\d+\b"),
    re.compile(r"^\s*[-–]?\s*\d+\s*[-–]?\s*$"),  # a bare page number
    re.compile(r"(?i)^confidential$"),
]


@pytest.mark.parametrize(
    "fragment",
    [
        "3.4.1 Inclusion Criteria . . . . . . . . . . 12",
        "3.4.1 Inclusion Criteria ........................ 12",
        "3.4.1 Inclusion Criteria …… 12",
        "Table 14.2.1 Proportion of Responders . . . . . . 45",
        "Page 3 of 40",
        "Confidential Page 7 of 40",
        "- 12 -",
        "12",
        "CONFIDENTIAL",
    ],
)
def test_the_writer_writes_no_toc_line_page_number_or_furniture(fragment: str) -> None:
    before = "Zanotinib is an oral inhibitor of TYK2."
    sentence = "Patients were randomised in a 1:1 ratio to zanotinib or placebo."
    layouts_ = {
        "same page": [[("p", fragment), ("p", sentence)]],
        "page foot": [[("p", before), ("p", fragment)], [("p", sentence)]],
    }
    for name, pages in layouts_.items():
        src = pdf_source("protocol.pdf", "protocol", pages)
        ctx = WriterContext(sources=[src], locator=QuoteLocator([src]))
        written = write_groups(
            ctx, [(0, list(enumerate(src.blocks)))], 500, source_kind=lambda s: "protocol"
        )
        expected = [sentence] if name == "same page" else [before, sentence]
        assert [p.text for p in written.paragraphs] == expected, name
        fragment_block = next(b for b in src.blocks if b.text == fragment)
        assert write_block(ctx, 0, fragment_block).paragraphs == []


def _load(path: Path) -> object:
    desc = SourceDescriptor(
        f"org/documents/{path.name}", path.name, "6" * 64, path.suffix.lstrip("."), str(path)
    )
    return classify.classify_source(extract.extract_text(desc, in_process=True))


@pytest.mark.parametrize(
    ("build", "furniture"),
    [
        (builders.build_protocol_pdf, builders.PROTOCOL["header"]),
        (layouts.build_spaced_leader_toc_pdf, "Sponsor Ltd - Protocol XY-301 - Version 2.0"),
        (layouts.build_plain_contents_pdf, "Sponsor Ltd - Protocol XY-301 - Version 2.0"),
    ],
)
def test_a_draft_from_real_pdfs_holds_no_toc_line_header_or_page_number(
    tmp_path: Path, build, furniture: str
) -> None:
    path = Path(build(tmp_path / "protocol.pdf"))
    sources = list(classify.attach_key_facts((_load(path),)))
    drafts = write(sources, csr_outline())
    texts = [p.text for d in drafts for p in d.paragraphs if p.style != "note"]
    assert len(texts) >= 5  # the draft was written
    for text in texts:
        assert furniture not in text, text
        assert not any(p.search(text) for p in FURNITURE), text
        # A table-of-contents entry ("5.1 Inclusion Criteria 5") is not a sentence of the draft.
        assert not re.fullmatch(r"\d+(?:\.\d+)*\s+[A-Z][\w ,]+\s+\d+", text), text
    report = qc.quality_report(list(drafts), sources)
    assert report["citations_verified"] == report["citations_total"]


@pytest.mark.parametrize(
    ("fragment", "kept"),
    [
        # a SAP's mock table shell: placeholders, not facts
        ("Marked improvement xx (xx%) xx (xx%) xx (xx%)", False),
        ("Mean (SD) xx.x (xx.xx) xx.x (xx.xx)", False),
        # a design diagram's labels run together
        ("Placebo interim analysis (50% complete) interim analysis (50% complete)", False),
        # real text with an x, and an objective without a full stop that repeats words apart
        ("Each patient applied 2 x 25 cm2 patches daily in the morning.", True),
        (
            "To compare the progression-free survival of patients treated with zanotinib with "
            "that of patients treated with placebo",
            True,
        ),
    ],
)
def test_mock_shells_and_diagram_labels_are_not_written_as_text(fragment: str, kept: bool) -> None:
    sentence = "Patients were randomised in a 1:1 ratio to zanotinib or placebo."
    src = pdf_source("sap.pdf", "sap", [[("p", sentence), ("p", fragment)]])
    ctx = WriterContext(sources=[src], locator=QuoteLocator([src]))
    written = write_groups(
        ctx, [(0, list(enumerate(src.blocks)))], 500, source_kind=lambda s: "sap"
    )
    texts = [p.text for p in written.paragraphs]
    assert texts[0] == sentence
    assert (fragment in texts) is kept, texts
