"""Derived sections (``derive.py``) and the key facts they rest on (``facts.py``): the title page,
the synopsis, the conclusions and the output index, written last from the body and the facts."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from documents.pipeline import extract, facts, language, qc
from documents.pipeline import title_page as title_page_module
from documents.pipeline.types import ExtractedSource, SectionDraft, SourceDescriptor
from tests.documents.pipeline.test_orchestrate import (
    by_number,
    csr_outline,
    docx_source,
    protocol,
    sap,
    sec,
    write,
)
from tests.documents.pipeline.test_results import AE_OVERVIEW, DISPOSITION, EFFICACY, row
from tests.fixtures import builders


def load_pdf(path: Path, kind: str = "protocol") -> ExtractedSource:
    desc = SourceDescriptor(f"org/documents/{path.name}", path.name, "5" * 64, "pdf", str(path))
    return replace(extract.extract_text(desc, in_process=True), kind=kind)  # type: ignore[arg-type]


def numbers_of(draft: SectionDraft) -> set[str]:
    """Every number a section shows: its paragraphs, its tables' titles and cells."""
    texts = [p.text for p in draft.paragraphs]
    texts += [t.title for t in draft.tables] + [c for t in draft.tables for r in t.rows for c in r]
    return {n for text in texts for n in language.numbers_in(text)}


def cell_numbers(*tables: list[tuple[str, ...]]) -> set[str]:
    return {n for t in tables for r in t for c in r for n in language.numbers_in(c)}


# The outline of a report with results: the body sections the derived ones summarise.
RESULTS_OUTLINE = tuple(
    sorted(
        (
            *csr_outline(),
            sec("11", "Efficacy Evaluation"),
            sec("11.4", "Efficacy Results and Tabulations of Individual Patient Data"),
            sec("11.4.1", "Analysis of Efficacy"),
            sec("11.4.7", "Efficacy Conclusions"),
            sec("12.6", "Safety Conclusions"),
            sec("14", "Tables, Figures and Graphs Referred to but Not Included in the Text"),
            sec("16", "Appendices"),
            sec("16.2", "Patient Data Listings"),
        ),
        key=lambda s: tuple(int(x) for x in s.number.split(".")),
    )
)


def results_source(*tables: list[tuple[str, ...]]) -> ExtractedSource:
    return docx_source("results.docx", "results", [("table", t) for t in tables])


def draft_with_results(*tables: list[tuple[str, ...]]) -> tuple[dict[str, SectionDraft], list]:
    sources = [protocol(), sap(), results_source(*tables)]
    return by_number(write(sources, RESULTS_OUTLINE)), sources


# ---------------------------------------------------------------- title page


TITLE_PAGE_LINES = (
    "Sponsor:\nNorthwind Biologics Ltd\nProtocol Number:\nNWB-2201\nPhase:\nPhase 3\n"
    "Indication:\nChronic plaque psoriasis"
)


@pytest.mark.parametrize("colon", [":", ""])
def test_a_pdf_title_page_label_line_then_value_line_gives_the_fact(
    tmp_path: Path, colon: str
) -> None:
    lines = TITLE_PAGE_LINES.replace(":", colon)
    path = builders.build_pdf(
        tmp_path / "protocol.pdf",
        [
            [("title", "Clinical Study Protocol"), ("lines", lines)],
            [("h1", "1 Introduction"), ("body", "Zanotinib is an oral inhibitor of TYK2.")],
        ],
    )
    (src,) = facts.attach_key_facts((load_pdf(path),))
    found = {f.name: f for f in src.key_facts}
    assert found["sponsor"].value == "Northwind Biologics Ltd"
    assert found["protocol_number"].value == "NWB-2201"
    assert found["phase"].value == "Phase 3"
    assert found["indication"].value == "Chronic plaque psoriasis"
    for fact in found.values():
        assert fact.page == 1
        assert language.normalize_alnum(fact.quote) in language.normalize_alnum(src.pages[0])
        # The quote is the label and its value, not the lines after them.
        assert len(fact.quote.split()) <= len(fact.value.split()) + 2, fact


def test_the_title_page_cites_each_fact_and_shows_a_placeholder_for_each_missing_one(
    tmp_path: Path,
) -> None:
    path = builders.build_pdf(
        tmp_path / "protocol.pdf",
        [
            [
                ("title", "Clinical Study Protocol"),
                ("body", "Study Title: A Randomised Study of Zanotinib in Plaque Psoriasis"),
                ("body", "Protocol Number: NWB-2201"),
                ("body", "Sponsor: Northwind Biologics Ltd"),
            ],
            [("h1", "1 Introduction"), ("body", "Psoriasis is a chronic skin disease.")],
        ],
    )
    sources = list(facts.attach_key_facts((load_pdf(path),)))
    title_page = by_number(write(sources, (sec("1", "Title Page"), sec("7", "Introduction"))))["1"]
    assert title_page.state == "generated"
    title, subtitle = title_page.paragraphs[:2]
    assert title.text == "A Randomised Study of Zanotinib in Plaque Psoriasis"
    assert title.flags == ("title_page:title",) and title.style == "body"
    assert title.citations and all(qc.verify_citation(c, sources) for c in title.citations)
    assert subtitle.flags == ("title_page:subtitle",)
    lines = {p.text.split(":", 1)[0]: p for p in title_page.paragraphs[2:]}
    expected = {"Protocol number": "NWB-2201", "Sponsor": "Northwind Biologics Ltd"}
    for label, value in expected.items():
        para = lines[label]
        assert para.text == f"{label}: {value}"
        assert para.citations and all(qc.verify_citation(c, sources) for c in para.citations)
        assert para.style != "note" and para.flags == ("title_page:fact",)
    missing = [
        label
        for _name, label, needed in title_page_module.TITLE_FIELDS
        if needed and label not in expected
    ]
    assert "Phase of development" in missing  # phase, product and indication are not stated
    for label in missing:
        para = lines[f"[{label}"]
        assert para.style == "note" and not para.citations
        assert para.text == title_page_module.placeholder(label)
    # Each fact once: no label repeated.
    texts = [p.text.split(":", 1)[0] for p in title_page.paragraphs]
    assert len(texts) == len(set(texts))


# ---------------------------------------------------------------- synopsis


def test_the_synopsis_results_rows_carry_the_numbers_of_the_body_sections() -> None:
    drafts, sources = draft_with_results(EFFICACY, DISPOSITION, AE_OVERVIEW)
    (synopsis,) = drafts["2"].tables
    rows = dict(synopsis.rows)
    for label, body in (("Efficacy results", "11.4.1"), ("Safety results", "12.2")):
        stated = set(language.numbers_in(rows[label]))
        assert stated, label
        assert stated <= numbers_of(drafts[body]), (label, stated - numbers_of(drafts[body]))
    assert all(qc.verify_citation(c, sources) for c in synopsis.citations)
    # The synopsis says it in its own words: no sentence of the body is repeated.
    body = {p.text for n, d in drafts.items() if n in {"11.4.1", "12.2"} for p in d.paragraphs}
    assert not any(rows[label] in body for label in ("Efficacy results", "Safety results"))


def test_every_number_of_the_synopsis_is_in_the_body_or_a_results_table() -> None:
    drafts, _sources = draft_with_results(EFFICACY, DISPOSITION, AE_OVERVIEW)
    (synopsis,) = drafts["2"].tables
    shown: set[str] = set()
    for number, draft in drafts.items():
        if number not in {"1", "2", "4"}:
            shown |= numbers_of(draft)
    shown |= cell_numbers(EFFICACY, DISPOSITION, AE_OVERVIEW)
    stated = {n for r in synopsis.rows for c in r for n in language.numbers_in(c)}
    assert stated and stated <= shown, stated - shown


# ---------------------------------------------------------------- conclusions

EVALUATIVE = re.compile(
    r"\b(?:effective|efficacious|safe|well tolerated|superior|inferior|demonstrat\w*|"
    r"significant\w*|conclud\w*|support\w*|favou?r\w*|benefit\w*|improv\w*)\b",
    re.IGNORECASE,
)


def test_conclusions_rest_on_the_results_key_figures_and_draw_none_of_their_own() -> None:
    drafts, sources = draft_with_results(EFFICACY, DISPOSITION, AE_OVERVIEW)
    results_file = sources[2].file_path
    for number in ("11.4.7", "12.6", "13"):
        draft = drafts[number]
        assert draft.state == "generated", number
        for p in draft.paragraphs:
            # Only the outputs' figures, each from a cell, each cited to the results.
            assert p.citations and all(c.file_path == results_file for c in p.citations)
            assert all(qc.verify_citation(c, sources) for c in p.citations)
            numbers = set(language.numbers_in(p.text))
            assert numbers <= cell_numbers(EFFICACY, AE_OVERVIEW), (number, p.text)
            # No judgement the sources do not make.
            assert not EVALUATIVE.search(p.text), (number, p.text)
    # 13 states the primary efficacy output and the AE overview, and nothing else.
    assert len(drafts["13"].paragraphs) == 2
    assert "Table 14.2.1" in drafts["13"].paragraphs[0].text
    assert "Table 14.3.1" in drafts["13"].paragraphs[1].text


def test_an_interpretation_the_results_footnote_makes_is_quoted_and_cited() -> None:
    met = "The primary endpoint was met and zanotinib was superior to placebo."
    efficacy = [*EFFICACY[:-2], row(met), EFFICACY[-1]]
    drafts, sources = draft_with_results(efficacy, AE_OVERVIEW)
    discussion = drafts["13"]
    (note,) = [p for p in discussion.paragraphs if "superior" in p.text]
    assert note.text == met
    assert [c.block for c in note.citations] == [sources[2].blocks[0].block + len(efficacy) - 2]
    assert all(qc.verify_citation(c, sources) for c in note.citations)


# ---------------------------------------------------------------- output index

OTHER_OUTPUT = [
    row("Table 14.4.1 Health Economics Resource Use"),
    row("Full Analysis Set"),
    ("", "Placebo (N=60)", "Zanotinib 50 mg (N=60)"),
    ("Hospital days, mean", "2.1", "1.4"),
]
LISTING = [
    row("Listing 16.1.7 Randomisation Scheme and Codes"),
    ("Patient", "Randomisation number", "Treatment"),
    ("1001", "R0001", "Zanotinib 50 mg"),
]


def test_the_output_index_lists_the_outputs_not_shown_in_the_body() -> None:
    drafts, sources = draft_with_results(EFFICACY, AE_OVERVIEW, OTHER_OUTPUT, LISTING)
    shown = {t.title for d in drafts.values() for t in d.tables}
    assert any(title.startswith("Table 14.2.1") for title in shown)
    (index,) = drafts["14"].tables
    assert index.rows[0] == ("Output", "Title")
    assert index.rows[1:] == (("Table 14.4.1", "Health Economics Resource Use"),)
    assert index.citations and all(qc.verify_citation(c, sources) for c in index.citations)
    # Listings are indexed in 16.2: this one went to no body section.
    assert not any(title.startswith("Listing 16.1.7") for title in shown)
    (listings,) = drafts["16.2"].tables
    assert listings.rows[1:] == (("Listing 16.1.7", "Randomisation Scheme and Codes"),)


def test_the_output_index_says_so_when_every_output_is_in_the_body() -> None:
    drafts, _ = draft_with_results(EFFICACY, AE_OVERVIEW)
    index = drafts["14"]
    assert index.tables == ()
    assert [p.style for p in index.paragraphs] == ["note"]
    assert "shown in the body" in index.paragraphs[0].text


def test_a_synopsis_row_carries_the_citations_of_its_own_sentence() -> None:
    """A row states one sentence of a body paragraph; the paragraph's citations of its other
    sentences stay out of the row (LZZT: "Approximately 300 patients will be enrolled" was cited
    in the row about who was studied)."""
    from documents.pipeline.derive import _supporting
    from documents.pipeline.types import Citation

    def cite(quote: str, page: int) -> Citation:
        return Citation("o/p.pdf", "p.pdf", page, None, quote)

    enrolled = cite("Approximately 300 patients will be enrolled.", 8)
    criteria = cite(
        "At Visit 1, patients who meet the enrollment criteria of MMSE score of 10 to 23 will "
        "proceed to Visit 2.",
        11,
    )
    sentence = "At Visit 1, patients who met the enrollment criteria of MMSE score of 10 to 23 "
    sentence += "proceeded to Visit 2."
    assert _supporting(sentence, (enrolled, criteria)) == (criteria,)
    # No shared word: the paragraph's citations all stay (a row is never left uncited).
    assert _supporting("Xyz.", (enrolled, criteria)) == (enrolled, criteria)
