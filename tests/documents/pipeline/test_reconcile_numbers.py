"""The QC number check (issue 10, item 6): every number of the synopsis (2) and the conclusions
(13) equals a number of the body section or results table it cites; mismatches name both."""

from __future__ import annotations

from documents.pipeline import qc
from documents.pipeline.reconcile_numbers import number_mismatches
from documents.pipeline.types import Citation, Paragraph, SectionDraft, Table

SAP_BLOCK = Citation("org/documents/sap.docx", "sap.docx", None, 12, "")
TLF_ROW = Citation("org/documents/t14.rtf", "t14.rtf", None, 40, "PASI 90 | 41.7% | 8.3%")


def _body(sample: str) -> SectionDraft:
    cite = Citation(SAP_BLOCK.file_path, "sap.docx", None, 12, f"A total of {sample} patients")
    return SectionDraft(
        "s-9.7.2",
        "9.7.2",
        "Determination of Sample Size",
        3,
        "generated",
        paragraphs=(Paragraph(f"A total of {sample} patients were randomised.", (cite,)),),
    )


def _results() -> SectionDraft:
    return SectionDraft(
        "s-11.4",
        "11.4.1",
        "Analysis of Efficacy",
        3,
        "generated",
        tables=(
            Table(
                "Table 14.2.1 PASI 90",
                (("Endpoint", "Drug", "Placebo"), ("PASI 90", "41.7%", "8.3%")),
                (TLF_ROW,),
                header_rows=1,
            ),
        ),
    )


def _synopsis(sample: str, responders: str = "41.7%") -> SectionDraft:
    cite = Citation(SAP_BLOCK.file_path, "sap.docx", None, 12, f"A total of {sample} patients")
    return SectionDraft(
        "s-2",
        "2",
        "Synopsis",
        1,
        "generated",
        tables=(
            Table(
                "",
                (("Number of patients", f"A total of {sample} patients were randomised."),),
                (cite,),
            ),
            Table("", (("Efficacy results", f"PASI 90: {responders} vs 8.3%"),), (TLF_ROW,)),
        ),
    )


def test_a_synopsis_that_agrees_with_the_body_has_no_mismatch() -> None:
    drafts = [_synopsis("120"), _body("120"), _results()]
    assert number_mismatches(drafts, qc._numbers) == []


def test_a_body_section_written_again_leaves_a_mismatch_with_both_places() -> None:
    # 9.7.2 was regenerated from a newer SAP (130 patients); the synopsis was not.
    drafts = [_synopsis("120"), _body("130"), _results()]
    found = number_mismatches(drafts, qc._numbers)
    assert found == [
        {
            "section": "2",
            "number": "120",
            "text": "Number of patients | A total of 120 patients were randomised.",
            "cited": {"section": "9.7.2", "text": "A total of 130 patients were randomised."},
        }
    ]


def test_a_results_figure_that_differs_from_its_table_is_listed() -> None:
    drafts = [_synopsis("120", responders="44.7%"), _body("120"), _results()]
    found = number_mismatches(drafts, qc._numbers)
    assert [(m["number"], m["cited"]["section"]) for m in found] == [("44.7", "11.4.1")]


def test_the_quality_report_carries_the_check() -> None:
    report = qc.quality_report([_synopsis("120"), _body("130"), _results()], [])
    assert report["number_mismatches"] == 1
    assert report["number_mismatch_examples"][0]["cited"]["section"] == "9.7.2"


def test_people_s_paragraphs_are_counted_as_edited_and_left_out_of_the_checks() -> None:
    edited = SectionDraft(
        "s-9.1",
        "9.1",
        "Overall Study Design",
        2,
        "generated",
        paragraphs=(Paragraph("A reviewer wrote 987654 words here.", (), flags=("edited",)),),
        edited=True,
    )
    report = qc.quality_report([edited], [])
    assert report["paragraphs_edited"] == 1 and report["sections_edited"] == 1
    assert report["unsupported_numbers"] == 0 and report["citations_total"] == 0
