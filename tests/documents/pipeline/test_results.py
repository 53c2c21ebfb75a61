"""Results outputs (``results.py``, ``extract/tlf.py``): TLF tables parsed into their parts,
classed, placed in the E3 results sections, and their key figures stated from their cells."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from documents.pipeline import extract, figures, language, qc, results
from documents.pipeline.results import ResultTable
from documents.pipeline.types import ExtractedSource, Paragraph, SourceDescriptor
from tests.documents.pipeline.test_orchestrate import all_text, by_number, docx_source, sec, write

GROUPS = ("", "Placebo (N=60)", "Zanotinib 50 mg (N=60)")


def row(*cells: str, width: int = 3) -> tuple[str, ...]:
    """A row of ``width`` cells (a title or footnote row has one filled cell)."""
    return (*cells, *("",) * (width - len(cells)))


EFFICACY = [
    row("Table 14.2.1 Proportion of Patients Achieving PASI 75 at Week 12"),
    row("Full Analysis Set"),
    GROUPS,
    ("Responders, n (%)", "12 (20.0)", "33 (55.0)"),
    ("Difference vs placebo (%)", "", "35.0"),
    ("95% CI", "", "18.2, 51.8"),
    ("p-value", "", "<0.001"),
    ("Non-responders, n (%)", "48 (80.0)", "27 (45.0)"),
    row("[a] Missing data were imputed as non-response for the primary analysis."),
    row("Source: t_pasi.sas"),
]
DISPOSITION = [
    row("Table 14.1.1 Disposition of Patients"),
    row("All Randomized Patients"),
    GROUPS,
    ("Randomized", "60", "60"),
    ("Completed", "52 (86.7)", "55 (91.7)"),
    ("Discontinued", "8 (13.3)", "5 (8.3)"),
]
AE_OVERVIEW = [
    row("Table 14.3.1 Overview of Treatment-Emergent Adverse Events"),
    row("Safety Population"),
    GROUPS,
    ("Any TEAE", "20 (33.3)", "29 (48.3)"),
    ("Any serious TEAE", "1 (1.7)", "2 (3.3)"),
    ("TEAE leading to discontinuation", "0", "3 (5.0)"),
]
RESULTS_OUTLINE = (
    sec("10", "Study Patients"),
    sec("10.1", "Disposition of Patients"),
    sec("11", "Efficacy Evaluation"),
    sec("11.2", "Demographic and Other Baseline Characteristics"),
    sec("11.4", "Efficacy Results and Tabulations of Individual Patient Data"),
    sec("11.4.1", "Analysis of Efficacy"),
    sec("12", "Safety Evaluation"),
    sec("12.2", "Adverse Events (AEs)"),
)


def results_source(*tables: list[tuple[str, ...]]) -> ExtractedSource:
    return docx_source("results.docx", "results", [("table", t) for t in tables])


def parsed(rows: list[tuple[str, ...]]) -> ResultTable:
    src = results_source(rows)
    table = results.parse(src, 0, 0, src.blocks[0])
    assert table is not None
    return table


def key_figures(draft_paragraphs: tuple[Paragraph, ...], number: str) -> Paragraph:
    (para,) = [p for p in draft_paragraphs if p.text.startswith(f"Key figures of Table {number}")]
    return para


# ---------------------------------------------------------------- parsing


def test_a_tlf_table_is_parsed_into_number_title_population_groups_and_footnotes() -> None:
    table = parsed(EFFICACY)
    assert (table.kind, table.number) == ("Table", "14.2.1")
    assert table.title == "Proportion of Patients Achieving PASI 75 at Week 12"
    assert table.caption == "Table 14.2.1 Proportion of Patients Achieving PASI 75 at Week 12"
    assert table.population == "Full Analysis Set"
    assert table.header == (GROUPS,)
    assert [figures.group_name(g) for g in table.groups()] == ["Placebo", "Zanotinib 50 mg"]
    assert [cells[0] for _k, cells in table.data] == [
        "Responders, n (%)",
        "Difference vs placebo (%)",
        "95% CI",
        "p-value",
        "Non-responders, n (%)",
    ]
    # Row indices point into the block's rows (what a citation needs).
    assert all(EFFICACY[k] == cells for k, cells in table.data)
    assert [text for _k, text in table.footnotes] == [EFFICACY[-2][0], EFFICACY[-1][0]]
    # Only the footnote that says something about the results is written as prose.
    assert [text for _k, text in figures.prose_footnotes(table)] == [EFFICACY[-2][0]]


def test_statistic_columns_belong_to_the_group_before_them() -> None:
    table = parsed(
        [
            row("Table 14.2.3 Change from Baseline in PASI at Week 12", width=5),
            row("Full Analysis Set", width=5),
            ("", "Placebo (N=60)", "Zanotinib 50 mg (N=60)", "Difference", "95% CI"),
            ("LS mean change", "-4.1", "-9.8", "-5.7", "-7.2, -4.2"),
        ]
    )
    columns = table.columns()
    assert [(c.index, c.stat) for c in columns] == [(1, False), (2, False), (3, True), (4, True)]
    (_k, cells), *_ = table.data
    assert figures.row_values(table, cells) == [
        ("Placebo", "-4.1"),
        ("Zanotinib 50 mg", "-9.8 (Difference -5.7) (95% CI -7.2, -4.2)"),
    ]


def test_a_table_without_a_tlf_title_is_no_output() -> None:
    src = docx_source("results.docx", "results", [("table", [GROUPS, ("Randomized", "60", "60")])])
    assert results.parse(src, 0, 0, src.blocks[0]) is None
    assert results.collect([src]) == []


def _word_tlf(path: Path) -> Path:
    """A Word TLF as reporting tools write it: the title, population and footnotes in rows of one
    cell merged over the table's width."""
    import docx

    document = docx.Document()
    document.add_paragraph("Clinical Study Report Tables")
    grid = document.add_table(rows=0, cols=3)

    def merged(text: str) -> None:
        cells = grid.add_row().cells
        cells[0].merge(cells[2]).text = text

    merged(EFFICACY[0][0])
    merged(EFFICACY[1][0])
    for cells in EFFICACY[2:8]:
        for cell, text in zip(grid.add_row().cells, cells, strict=True):
            cell.text = text
    merged(EFFICACY[8][0])
    merged(EFFICACY[9][0])
    document.save(str(path))
    return path


def test_a_word_tlf_with_merged_title_and_footnote_rows_is_parsed(tmp_path: Path) -> None:
    path = _word_tlf(tmp_path / "tables.docx")
    desc = SourceDescriptor("org/documents/tables.docx", "tables.docx", "4" * 64, "docx", str(path))
    src = replace(extract.extract_text(desc, in_process=True), kind="results")
    (table,) = results.collect([src])
    assert table.number == "14.2.1" and table.population == "Full Analysis Set"
    # The header is the N= row alone, the footnotes are not data.
    assert table.header == (GROUPS,)
    assert [cells[0] for _k, cells in table.data][-1] == "Non-responders, n (%)"
    assert [text for _k, text in table.footnotes] == [EFFICACY[8][0], EFFICACY[9][0]]
    # Placed, written and cited like any output.
    drafts = by_number(write([src], RESULTS_OUTLINE))
    efficacy = drafts["11.4.1"]
    assert efficacy.tables and efficacy.tables[0].rows[0] == GROUPS
    report = qc.quality_report(list(drafts.values()), [src])
    assert report["citations_verified"] == report["citations_total"] > 0


# ---------------------------------------------------------------- classes


@pytest.mark.parametrize(
    ("kind", "number", "title", "klass"),
    [
        # by title, whatever the number says
        ("Table", "14.3.1", "Subject Disposition", "disposition"),
        ("Table", "14.2.1", "Overview of Treatment-Emergent Adverse Events", "ae_overview"),
        ("Table", "14.1.2", "Demographic and Baseline Characteristics", "demographics"),
        ("Table", "14.2.4", "Progression-Free Survival", "efficacy"),
        ("Table", "14.3.2", "Serious Adverse Events by Preferred Term", "sae"),
        ("Listing", "16.2.7", "Adverse Events", "ae_listing"),
        # by number when the title names no class, in the numbering styles TLFs use
        ("Table", "14.2.5", "Results at Week 12", "efficacy"),
        ("Table", "14.3.9", "Summary Table", "ae_common"),
        ("Table", "14-3.01", "Summary Table", "ae_common"),
        ("Table", "14-2.01", "Results at Week 12", "efficacy"),
        ("Table", "14_1_1", "Summary Table", "demographics"),
        ("Table", "16-2.7", "Patient Events", "ae_listing"),
        # neither
        ("Table", "14.30.1", "Summary Table", "other"),
        ("Table", "99.1", "Summary Table", "other"),
    ],
)
def test_an_output_is_classed_by_its_title_else_by_its_number(
    kind: str, number: str, title: str, klass: str
) -> None:
    assert results.classify(kind, number, title) == klass


# ---------------------------------------------------------------- key figures


def _cell_numbers(rows: list[tuple[str, ...]]) -> set[str]:
    return {n for r in rows for c in r for n in language.numbers_in(c)}


@pytest.mark.parametrize(
    ("rows", "section"),
    [(EFFICACY, "11.4.1"), (DISPOSITION, "10.1"), (AE_OVERVIEW, "12.2")],
)
def test_the_key_figures_are_cells_of_the_table_each_cited_to_its_row(
    rows: list[tuple[str, ...]], section: str
) -> None:
    src = results_source(rows)
    drafts = by_number(write([src], RESULTS_OUTLINE))
    number = rows[0][0].split()[1]
    para = key_figures(drafts[section].paragraphs, number)
    stated = language.numbers_in(para.text.split(":", 1)[1])
    assert stated and set(stated) <= _cell_numbers(rows), para.text
    # Every figure is in the quote of its row's citation (the caption's is the table's title);
    # the other numbers are the groups' names ("Zanotinib 50 mg"), column labels.
    row_quotes = [c.quote for c in para.citations if not c.quote.startswith("Table ")]
    labels = _cell_numbers(rows[:3])
    for n in stated:
        assert n in labels or any(n in language.numbers_in(q) for q in row_quotes), (n, row_quotes)
    # One citation for each row stated, and for the statistic rows read with it ("95% CI").
    table = results.parse(src, 0, 0, src.blocks[0])
    assert table is not None
    first = src.blocks[0].block
    stated_rows = {
        first + r for k, _c in results.key_rows(table) for r in results.rows_read(table, k)
    }
    cited_rows = {c.block for c in para.citations if not c.quote.startswith("Table ")}
    assert cited_rows == stated_rows
    # Each row citation points at the row it quotes (block numbers count table rows).
    for c in para.citations:
        assert c.block is not None
        cells = rows[c.block - src.blocks[0].block]
        assert language.normalize_alnum(" ".join(cells)) == language.normalize_alnum(c.quote)
    assert all(qc.verify_citation(c, [src]) for c in para.citations)


def test_ci_and_p_value_rows_attach_to_their_estimate() -> None:
    table = parsed(EFFICACY)
    keys = results.key_rows(table)
    labels = [cells[0] for _k, cells in keys]
    assert "95% CI" not in labels and "p-value" not in labels
    ((k, difference),) = [(k, cells) for k, cells in keys if cells[0].startswith("Difference")]
    assert difference[2] == "35.0 (95% CI 18.2, 51.8) (p-value <0.001)"
    # The figures come from three rows, each cited.
    assert [EFFICACY[r][0] for r in results.rows_read(table, k)] == [
        "Difference vs placebo (%)",
        "95% CI",
        "p-value",
    ]
    phrase = figures.figures_phrase(table, difference)
    assert phrase == "Difference vs placebo (%): 35.0 (95% CI 18.2, 51.8) (p-value <0.001)"


def test_a_ci_row_after_another_row_stays_with_that_row() -> None:
    table = parsed(
        [
            row("Table 14.2.2 Time to Relapse"),
            row("Full Analysis Set"),
            GROUPS,
            ("Median, weeks", "12.1", "20.4"),
            ("95% CI", "10.0, 14.3", "17.9, 23.0"),
            ("Hazard ratio", "", "0.52"),
            ("95% CI", "", "0.38, 0.71"),
        ]
    )
    values = {cells[0]: cells[1:] for _k, cells in results.key_rows(table, limit=5)}
    assert values["Median, weeks"] == ("12.1 (95% CI 10.0, 14.3)", "20.4 (95% CI 17.9, 23.0)")
    assert values["Hazard ratio"] == ("", "0.52 (95% CI 0.38, 0.71)")
    assert "95% CI" not in values


def test_the_comparison_between_groups_comes_first() -> None:
    keys = results.key_rows(parsed(EFFICACY))
    assert keys[0][1][0].startswith("Difference")
    keys = results.key_rows(parsed(AE_OVERVIEW))
    assert keys[0][1][0] == "Any TEAE"


# ---------------------------------------------------------------- placement


def test_each_output_lands_in_the_e3_section_that_takes_its_class() -> None:
    src = results_source(EFFICACY, DISPOSITION, AE_OVERVIEW)
    drafts = by_number(write([src], RESULTS_OUTLINE))
    placed = {n: [t.title for t in d.tables] for n, d in drafts.items() if d.tables}
    assert placed == {
        "10.1": ["Table 14.1.1 Disposition of Patients (All Randomized Patients)"],
        "11.4.1": [
            "Table 14.2.1 Proportion of Patients Achieving PASI 75 at Week 12 (Full Analysis Set)"
        ],
        "12.2": ["Table 14.3.1 Overview of Treatment-Emergent Adverse Events (Safety Population)"],
    }
    # Parents of the sections that took outputs are generated and empty of their own.
    assert drafts["11.4"].state == "generated" and drafts["11.4"].tables == ()
    # A results section whose kind of table was not given says which were.
    demographics = drafts["11.2"]
    assert demographics.state == "no_source"
    note = demographics.paragraphs[0].text
    assert "Table 14.1.1" in note and "Table 14.2.1" in note and "Table 14.3.1" in note


def test_an_output_classed_by_its_number_is_placed_too() -> None:
    ae = [row("Table 14-3.01 Summary Table"), row("Safety Population"), *AE_OVERVIEW[2:]]
    drafts = by_number(write([results_source(ae)], RESULTS_OUTLINE))
    assert [t.title for t in drafts["12.2"].tables] == [
        "Table 14-3.01 Summary Table (Safety Population)"
    ]
    assert re.search(r"Any TEAE: Placebo 20 \(33\.3\)", all_text(drafts["12.2"]))


def test_an_unnumbered_output_is_named_by_its_title_and_classed_by_its_rows() -> None:
    """R and SAS programs often print no table number: a results file's table with figures is
    still an output, named by its title line (or the file), classed by its title or rows."""
    ancova = [
        row("ANCOVA of Change from Baseline at Week 20"),
        ("Treatment", "N", "LS Mean (95% CI)"),
        ("Zanotinib 50 mg", "60", "0.16 (-0.31, 0.63)"),
        ("Placebo", "60", "0.09 (-0.23, 0.42)"),
    ]
    pairwise = [
        ("Pairwise Comparison", "Difference (95% CI)", "p-Value"),
        ("Zanotinib vs. Placebo", "0.07 (-0.50, 0.63)", "0.822"),
    ]
    demographics = [
        row("Population: Intent-to-Treat"),
        GROUPS,
        ("Age, mean (SD)", "75.2 (8.6)", "75.7 (8.3)"),
        ("Sex, female n (%)", "30 (50.0)", "32 (53.3)"),
        ("Race, White n (%)", "50 (83.3)", "52 (86.7)"),
        row("20:43 Tuesday, July 25, 2023"),
    ]
    outputs = results.collect([results_source(ancova, pairwise, demographics)])
    assert [(t.ref, t.klass) for t in outputs] == [
        ("the table “ANCOVA of Change from Baseline at Week 20”", "efficacy"),
        ("the table “ANCOVA of Change from Baseline at Week 20 (continued)”", "efficacy"),
        ("the table “results.docx”", "demographics"),
    ]
    assert outputs[2].population == "Intent-to-Treat"
    # The program's run stamp is not a footnote worth a sentence.
    assert figures.prose_footnotes(outputs[2]) == []
    assert results.is_run_stamp("2023-07-25 20:42:50")
    assert not results.is_run_stamp("Day 29 to Day 57")


def test_a_change_from_baseline_table_is_efficacy_not_demographics() -> None:
    title = "Primary Endpoint Analysis: ADAS Cog (11) - Change from Baseline to Week 24"
    assert results.classify("Table", "14-3.01", title) == "efficacy"
    assert results.classify("Table", "14.1.2", "Baseline Characteristics") == "demographics"


def test_a_table_with_the_groups_in_its_rows_is_read_row_by_row() -> None:
    """An ANCOVA table lists the groups in rows and the visits and statistics in columns: each
    figure is named by its column, each row by its group; never a visit taken for a group."""
    ancova = [
        row("ANCOVA of Change from Baseline at Week 20", width=5),
        ("", "Baseline", "Baseline", "Week 20", "Week 20"),
        ("Treatment", "N", "Mean (SD)", "N", "Mean (SD)"),
        ("Zanotinib 50 mg", "84", "5.4 (1.34)", "31", "5.8 (1.61)"),
        ("Placebo", "86", "5.6 (2.14)", "65", "5.8 (1.50)"),
    ]
    (table,) = results.collect([results_source(ancova)])
    assert figures.is_transposed(table)
    placebo = next(cells for _k, cells in table.data if cells[0] == "Placebo")
    listed = figures.figures_phrase(table, placebo)
    assert listed.startswith("Placebo: ")
    for label, value in [("Baseline N", "86"), ("Baseline Mean (SD)", "5.6 (2.14)")]:
        assert f"{label} {value}" in listed
    assert "Week 20 N 65" in listed and "Week 20 Mean (SD) 5.8 (1.50)" in listed
    assert figures.figures_phrase(table, placebo, style="was").startswith(
        "In the Placebo group, Baseline N was 86"
    )
    # The usual layout (groups in columns with their N) is not transposed.
    assert not figures.is_transposed(parsed(EFFICACY))
