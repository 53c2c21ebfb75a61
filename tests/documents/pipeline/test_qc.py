"""Citation verification and the QC counts (documents.pipeline.qc)."""

from __future__ import annotations

from documents.pipeline import qc
from documents.pipeline.types import Citation, Paragraph, SectionDraft, Table
from tests.documents.pipeline.test_orchestrate import docx_source, pdf_source

SOURCE = pdf_source(
    "protocol.pdf",
    "protocol",
    [
        [
            ("h", "1", "Design"),
            (
                "p",
                "Patients will be randomized to zanotinib 50 mg or placebo in a double-blind, "
                "placebo-controlled design.",
            ),
        ],
        [
            (
                "p",
                "The adverse event (AE) data will be coded. Approximately 120 patients will be "
                "enrolled.",
            )
        ],
    ],
)
DOCX = docx_source(
    "results.docx",
    "results",
    [
        ("h", "1", "Disposition"),
        ("p", "Of 120 randomized patients, 112 completed."),
        ("table", [("Arm", "N"), ("Zanotinib", "60"), ("Placebo", "60")]),
    ],
)
SOURCES = [SOURCE, DOCX]


def cite(
    quote: str, *, page: int | None = None, block: int | None = None, source=SOURCE
) -> Citation:
    return Citation(source.file_path, source.file_name, page, block, quote)


def test_a_quote_verifies_on_its_page_ignoring_case_spaces_and_line_breaks() -> None:
    assert qc.verify_citation(
        cite(
            "patients will be RANDOMIZED to zanotinib 50 mg or placebo in a double-blind,\n"
            "placebo-controlled",
            page=1,
        ),
        SOURCES,
    )
    assert qc.verify_citation(cite("double blind placebo controlled", page=1), SOURCES)


def test_a_quote_on_another_page_or_with_other_words_does_not_verify() -> None:
    assert not qc.verify_citation(
        cite("Approximately 120 patients will be enrolled", page=1), SOURCES
    )
    assert qc.verify_citation(cite("Approximately 120 patients will be enrolled", page=2), SOURCES)
    assert not qc.verify_citation(
        cite("Approximately 130 patients will be enrolled", page=2), SOURCES
    )
    assert not qc.verify_citation(
        cite("will be enrolled Approximately 120 patients", page=2), SOURCES
    )
    assert not qc.verify_citation(cite("anything", page=9), SOURCES)
    assert not qc.verify_citation(cite("", page=1), SOURCES)
    unknown = Citation("org/documents/other.pdf", "other.pdf", 1, None, "Patients")
    assert not qc.verify_citation(unknown, SOURCES)


def test_docx_quotes_verify_in_their_paragraph_or_table_row_block() -> None:
    assert qc.verify_citation(cite("112 completed", block=2, source=DOCX), SOURCES)
    assert not qc.verify_citation(cite("112 completed", block=3, source=DOCX), SOURCES)
    # The table starts at block 3: its rows are blocks 3, 4 and 5, cells joined.
    assert qc.verify_citation(cite("Zanotinib 60", block=4, source=DOCX), SOURCES)
    assert qc.verify_citation(cite("Placebo | 60", block=5, source=DOCX), SOURCES)
    assert not qc.verify_citation(cite("Placebo 60", block=4, source=DOCX), SOURCES)


def draft(
    number: str, state: str, *paragraphs: Paragraph, tables: tuple[Table, ...] = (), title: str = ""
) -> SectionDraft:
    return SectionDraft(
        f"s-{number}",
        number,
        title or f"Section {number}",
        number.count(".") + 1,
        state,  # type: ignore[arg-type]
        tuple(paragraphs),
        tables,
    )


def test_quality_report_counts_states_citations_and_unsupported_numbers() -> None:
    good = cite("Approximately 120 patients will be enrolled", page=2)
    bad = cite("Approximately 999 patients", page=2)
    drafts = [
        draft(
            "9.1",
            "generated",
            Paragraph(
                "Approximately 120 patients were enrolled.",
                (good,),
                source_text="Approximately 120 patients will be enrolled.",
            ),
        ),
        draft(
            "9.2",
            "generated",
            Paragraph("Approximately 999 patients were enrolled in 7 sites.", (bad,)),
        ),
        draft(
            "10.1",
            "no_source",
            Paragraph("No source document provided results data.", style="note"),
        ),
        draft("11", "skipped"),
        draft(
            "12.1",
            "generated",
            tables=(
                Table(
                    "Disposition",
                    (("Arm", "N"), ("Zanotinib", "61")),
                    (cite("Zanotinib 60", block=4, source=DOCX),),
                ),
            ),
        ),
    ]
    report = qc.quality_report(drafts, SOURCES)
    assert report["sections_total"] == 5
    assert (
        report["sections_generated"],
        report["sections_no_source"],
        report["sections_skipped"],
    ) == (3, 1, 1)
    assert (report["citations_total"], report["citations_verified"]) == (3, 2)
    assert report["unsupported_numbers"] == 3  # 999, 7 and 61
    assert {e["number"] for e in report["unsupported_number_examples"]} == {"999", "7", "61"}
    assert report["rewritten_sentences"] == 1
    assert report["no_source_sections"] == ["10.1"]


def test_quality_report_counts_future_tense_repeats_and_abbreviations_before_definition() -> None:
    c = cite("Approximately 120 patients will be enrolled", page=2)
    sentence = "Approximately 120 patients were enrolled in the trial at sites."
    drafts = [
        draft(
            "9.1", "generated", Paragraph("Patients will be randomized. Each AE was coded.", (c,))
        ),
        draft("9.2", "generated", Paragraph(sentence, (c,))),
        draft(
            "9.3",
            "generated",
            Paragraph(f"{sentence} The adverse event (AE) data were coded.", (c,)),
        ),
        draft(
            "15",
            "generated",
            Paragraph("Smith J. It will be published.", (c,)),
            title="Reference List",
        ),
    ]
    report = qc.quality_report(drafts, SOURCES)
    assert report["future_tense_sentences"] == 1  # the reference list does not count
    assert 0 < report["future_tense_ratio_9_12"] <= 0.5
    assert report["abbreviations_before_definition"] == 1
    assert report["abbreviations_before_definition_examples"] == ["AE"]
    assert report["repeated_sentence_count"] == 1
    assert report["repeated_sentences"] == 0.5  # 2 of the 4 counted sentences (short ones are not)
    assert qc.quality_report(drafts, SOURCES, tense="present")["future_tense_sentences"] == 0


def test_llm_drops_and_banned_phrases_are_summed_from_paragraph_flags() -> None:
    c = cite("Approximately 120 patients will be enrolled", page=2)
    drafts = [
        draft(
            "7",
            "generated",
            Paragraph("Text one.", (c,), flags=("llm_sentences_dropped: 2", "banned_phrase: cure")),
        ),
        draft("8", "generated", Paragraph("Text two.", (c,), flags=("llm_sentences_dropped: 1",))),
    ]
    report = qc.quality_report(drafts, SOURCES)
    assert report["llm_sentences_dropped"] == 3
    assert report["banned_phrases"] == 1


# --- warnings: what the writer must know before reading the draft --------------------------------


def _warnings_for(sources) -> list[str]:
    from tests.documents.pipeline.test_orchestrate import write

    drafts = write(sources)
    return qc.quality_report(drafts, sources)["warnings"]


def test_sources_that_hold_almost_nothing_for_the_template_are_said_plainly() -> None:
    recipe = docx_source(
        "recipe.docx",
        "other",
        [("h", "1", "Pancakes"), ("p", "Whisk two eggs into the flour and fry in butter.")],
    )
    warnings = _warnings_for([recipe])
    assert any("held almost nothing for this template" in w for w in warnings)


def test_a_full_protocol_and_sap_raise_no_mostly_empty_warning() -> None:
    from tests.documents.pipeline.test_orchestrate import protocol, sap

    warnings = _warnings_for([protocol(), sap()])
    assert not any("held almost nothing" in w for w in warnings)
    assert any("No results file was given" in w for w in warnings)


def test_extraction_warnings_reach_the_qc_report_with_their_file() -> None:
    from dataclasses import replace

    from tests.documents.pipeline.test_orchestrate import protocol

    noisy = replace(protocol(), warnings=("page 3: text outside the page could not be placed",))
    warnings = _warnings_for([noisy])
    assert "protocol.pdf: page 3: text outside the page could not be placed" in warnings


def test_the_docx_qc_appendix_lists_the_warnings(tmp_path) -> None:
    import docx

    from documents.pipeline import render
    from documents.pipeline.types import PipelineInput
    from tests.documents.pipeline.test_orchestrate import csr_outline, protocol, write

    sources = [protocol()]
    drafts = list(write(sources))
    report = qc.quality_report(drafts, sources)
    report["warnings"] = ["The sources held almost nothing for this template: 9 of 10."]
    inp = PipelineInput(
        sources=(),
        outline=csr_outline(),
        template_name="ICH E3 Clinical Study Report",
        document_type="CSR",
        output_name="w",
    )
    out = tmp_path / "w.docx"
    render.render_docx(drafts, sources=sources, qc=report, inp=inp, path=str(out))
    texts = [p.text for p in docx.Document(str(out)).paragraphs]
    at = texts.index("Warnings")
    assert texts[at + 1].startswith("The sources held almost nothing for this template")
