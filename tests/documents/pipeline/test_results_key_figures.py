"""Which rows of a results output are stated in words, and how they read (``results.key_rows``,
``figures.figures_phrase``)."""

from __future__ import annotations

from documents.pipeline import figures, results
from documents.pipeline.types import Block, ExtractedSource


def _table(title: str, rows: list[tuple[str, ...]]) -> results.ResultTable:
    block = Block(index=1, kind="table", text="", block=1, rows=((title, "", ""), *rows))
    src = ExtractedSource("r.docx", "r.docx", "0" * 64, "docx", None, (block,), kind="results")
    table = results.parse(src, 0, 0, block)
    assert table is not None
    return table


HEADER = ("", "Drug (N=120)", "Placebo (N=60)")


def test_a_statistic_row_is_named_with_the_label_only_row_above_it() -> None:
    table = _table(
        "Table 14.1.3 Demographic Characteristics",
        [
            HEADER,
            ("Age (years)", "", ""),
            ("Mean (SD)", "51.2 (9.8)", "50.7 (10.1)"),
            ("Median (min, max)", "52.0 (21, 74)", "51.0 (19, 75)"),
            ("Sex", "", ""),
            ("Female", "70 (58.3)", "33 (55.0)"),
            ("Region", "", ""),
            ("United States", "40 (33.3)", "21 (35.0)"),
        ],
    )
    labels = [cells[0] for _k, cells in results.key_rows(table, limit=10)]
    assert "Age (years), mean (SD)" in labels
    assert "Age (years), median (min, max)" in labels
    assert "Sex, Female" in labels
    assert "Region, United States" in labels  # a name keeps its capitals
    phrase = figures.figures_phrase(table, dict(results.key_rows(table, limit=10))[3])
    assert phrase == "Age (years), mean (SD): Drug 51.2 (9.8); Placebo 50.7 (10.1)"


def test_disposition_states_randomised_treated_and_discontinued_before_the_rest() -> None:
    table = _table(
        "Table 14.1.1 Subject Disposition",
        [
            HEADER,
            ("Screen failures", "", "41"),
            ("Withdrew consent", "", "9"),
            ("Randomised", "120", "60"),
            ("Randomised but not treated", "2 (1.7)", "1 (1.7)"),
            ("Withdrew consent", "1 (0.8)", "1 (1.7)"),
            ("Treated", "118 (98.3)", "59 (98.3)"),
            ("Completed the study", "101 (84.2)", "50 (83.3)"),
            ("Median follow-up, months", "11.2", "11.0"),
        ],
    )
    labels = [cells[0] for _k, cells in results.key_rows(table, limit=3)]
    assert labels == ["Randomised", "Treated", "Completed the study"]


def test_a_label_that_occurs_twice_is_stated_once() -> None:
    table = _table(
        "Table 14.1.1 Subject Disposition",
        [
            HEADER,
            ("Withdrew consent", "3 (2.5)", "2 (3.3)"),
            ("Withdrew consent", "1 (0.8)", "1 (1.7)"),
        ],
    )
    labels = [cells[0] for _k, cells in results.key_rows(table, limit=5)]
    assert labels == ["Withdrew consent"]


def test_a_plural_row_label_takes_were_in_the_was_style() -> None:
    table = _table(
        "Table 14.3.1 Overview of Adverse Events",
        [HEADER, ("Deaths", "0", "1 (1.7)"), ("Any TEAE", "88 (73.3)", "40 (66.7)")],
    )
    rows = dict(results.key_rows(table, limit=5))
    phrases = [figures.figures_phrase(table, cells, style="was") for cells in rows.values()]
    assert "Deaths were 0 in the Drug group and 1 (1.7) in the Placebo group" in phrases
    assert "Any TEAE was 88 (73.3) in the Drug group and 40 (66.7) in the Placebo group" in phrases
