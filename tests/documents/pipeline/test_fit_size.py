"""The size governor (``size.fit_size``): a draft that would be longer than its sources
gives up the full tables of secondary results outputs (listings first, then sensitivity,
subgroup and by-visit analyses, then the longest), keeps their key figures and the short tables,
and lists what it gave up in the output index."""

from __future__ import annotations

from documents.pipeline import ingest, orchestrate, size
from documents.pipeline.types import ExtractedSource, PipelineInput, SectionDraft, Table
from tests.documents.pipeline.test_orchestrate import all_text, by_number, docx_source, sec, write
from tests.documents.pipeline.test_results import row

GROUPS = ("", "Placebo (N=60)", "Zanotinib 50 mg (N=60)")
SHORT = [
    row("Table 14.2.1 Proportion of Patients Achieving PASI 75 at Week 12"),
    row("Full Analysis Set"),
    GROUPS,
    ("Responders, n (%)", "12 (20.0)", "33 (55.0)"),
    ("Non-responders, n (%)", "48 (80.0)", "27 (45.0)"),
]
SUBGROUP = [
    row("Table 14.2.2 PASI 75 Response at Week 12 by Subgroup"),
    row("Full Analysis Set"),
    GROUPS,
    *[
        (f"Region {k}, responders n (%)", f"{k} ({k}.0)", f"{k + 10} ({k + 10}.0)")
        for k in range(30)
    ],
]
LONG = [
    row("Table 14.3.2 Treatment-Emergent Adverse Events by System Organ Class and Preferred Term"),
    row("Safety Population"),
    GROUPS,
    ("Any TEAE", "20 (33.3)", "29 (48.3)"),
    *[(f"Preferred term {k}", f"{k % 7}", f"{k % 9}") for k in range(1, 40)],
]
LISTING = [
    row("Listing 16.2.7 Listing of Adverse Events"),
    row("Safety Population"),
    ("Patient", "Event", "Onset day"),
    *[(f"{1000 + k}", f"Event term {k}", f"{k}") for k in range(1, 41)],
]
TITLES = {
    "short": "Table 14.2.1 Proportion of Patients Achieving PASI 75 at Week 12 (Full Analysis Set)",
    "subgroup": "Table 14.2.2 PASI 75 Response at Week 12 by Subgroup (Full Analysis Set)",
    "long": (
        "Table 14.3.2 Treatment-Emergent Adverse Events by System Organ Class and Preferred "
        "Term (Safety Population)"
    ),
    "listing": "Listing 16.2.7 Listing of Adverse Events (Safety Population)",
}
OUTLINE = (
    sec("7", "Introduction"),
    sec("11", "Efficacy Evaluation"),
    sec("11.4", "Efficacy Results and Tabulations of Individual Patient Data"),
    sec("11.4.1", "Analysis of Efficacy"),
    sec("12", "Safety Evaluation"),
    sec("12.2", "Adverse Events (AEs)"),
    sec("14", "Tables, Figures and Graphs Referred to but Not Included in the Text"),
    sec("16", "Appendices"),
    sec("16.2", "Patient Data Listings"),
)


def sources(padding_words: int) -> list[ExtractedSource]:
    """A short protocol (made longer by a signature page the draft never uses) and the results."""
    protocol = docx_source(
        "protocol.docx",
        "protocol",
        [
            ("h", "1", "Introduction"),
            ("p", "Zanotinib is an oral inhibitor of TYK2 studied in plaque psoriasis."),
            ("h", "2", "Signature Page"),
            ("p", " ".join(["signed"] * padding_words) or "Signed."),
        ],
    )
    results = docx_source(
        "results.docx", "results", [("table", t) for t in (SHORT, SUBGROUP, LONG, LISTING)]
    )
    return [protocol, results]


def shown(drafts: dict[str, SectionDraft]) -> set[str]:
    return {t.title for d in drafts.values() for t in d.tables}


def test_sources_long_enough_keep_every_table() -> None:
    drafts = by_number(write(sources(20000), OUTLINE))
    assert shown(drafts) >= set(TITLES.values())
    assert drafts["14"].tables == () and drafts["16.2"].tables == ()


def test_a_draft_longer_than_its_sources_gives_up_secondary_tables_not_their_figures() -> None:
    srcs = sources(0)
    drafts = by_number(write(srcs, OUTLINE))
    # The long and secondary outputs' tables went; the short primary one stayed.
    assert shown(drafts) & set(TITLES.values()) == {TITLES["short"]}
    # Their key figures stayed in the body; the subgroup analysis, shown by its table alone
    # while it had one, gets its key figures in its place (a listing has none).
    assert "Key figures of Table 14.3.2: Any TEAE: Placebo 20 (33.3)" in all_text(drafts["12.2"])
    assert "Key figures of Table 14.2.1" in all_text(drafts["11.4.1"])
    assert "Key figures of Table 14.2.2: Region 0, responders" in all_text(drafts["11.4.1"])
    assert "Key figures of Listing" not in all_text(drafts["16.2"])
    # Nothing else is cut: the protocol passage is there.
    assert "inhibitor of TYK2" in all_text(drafts["7"])
    # Each output given up is listed in the output index.
    (index,) = drafts["14"].tables
    assert set(index.rows[1:]) == {
        ("Table 14.2.2", "PASI 75 Response at Week 12 by Subgroup"),
        (
            "Table 14.3.2",
            "Treatment-Emergent Adverse Events by System Organ Class and Preferred Term",
        ),
    }
    (listings,) = drafts["16.2"].tables
    assert listings.rows[1:] == (("Listing 16.2.7", "Listing of Adverse Events"),)


def test_tables_are_given_up_listings_first_then_secondary_analyses_then_the_longest() -> None:
    srcs = tuple(sources(3000))
    index = ingest.build_index(ingest.chunk_text(srcs))
    inp = PipelineInput(
        sources=(), outline=OUTLINE, template_name="t", document_type="CSR", output_name="o"
    )
    written = write(list(srcs), OUTLINE)
    full = {i: d for i, d in enumerate(written)}
    assert {t.title for d in full.values() for t in d.tables} >= set(TITLES.values())
    order: list[str] = []
    # Ever smaller room for the body (a growing reserve for the derived sections): the tables
    # go one after the other, in the governor's order.
    for reserve in range(0, 6000, 20):
        state = orchestrate._state(inp, srcs, index)
        state.drafts = dict(full)
        size.fit_size(state, reserve=reserve)
        kept = {t.title for d in state.drafts.values() for t in d.tables}
        for name, title in TITLES.items():
            if title not in kept and name not in order:
                order.append(name)
        # Paragraphs are never cut.
        assert all(state.drafts[i].paragraphs == full[i].paragraphs for i in full)
    assert order == ["listing", "subgroup", "long"]


def test_a_short_table_is_never_given_up() -> None:
    srcs = tuple(sources(0))
    index = ingest.build_index(ingest.chunk_text(srcs))
    inp = PipelineInput(
        sources=(), outline=OUTLINE, template_name="t", document_type="CSR", output_name="o"
    )
    state = orchestrate._state(inp, srcs, index)

    def listing(rows: int) -> Table:
        cells = tuple(("1001", f"Event term {k}", str(k)) for k in range(rows - 1))
        return Table(title="Listing 16.2.7 Listing of Adverse Events", rows=(LISTING[2], *cells))

    # A listing of 10 rows stays however far over its sources' size the draft is; one of 11
    # rows goes.
    short, longer = listing(size.SMALL_TABLE_ROWS), listing(size.SMALL_TABLE_ROWS + 1)
    state.drafts = {
        5: SectionDraft(
            "s-12.2", "12.2", "Adverse Events (AEs)", 2, "generated", (), (short, longer)
        )
    }
    size.fit_size(state, reserve=10**6)
    assert state.drafts[5].tables == (short,)


def test_prose_gives_way_last_from_the_longest_section_keeping_elements_and_a_floor() -> None:
    from dataclasses import replace

    from documents.pipeline.types import Paragraph

    srcs = tuple(sources(0))
    index = ingest.build_index(ingest.chunk_text(srcs))
    inp = PipelineInput(
        sources=(), outline=OUTLINE, template_name="t", document_type="CSR", output_name="o"
    )
    state = orchestrate._state(inp, srcs, index)
    filler = [Paragraph(text=" ".join([f"word{k}"] * 100)) for k in range(8)]
    element = Paragraph(text="Trial sites: 40 sites in 8 countries.", flags=("element: sites",))
    long = SectionDraft("s-7", "7", "Introduction", 1, "generated", (*filler, element), ())
    short = SectionDraft("s-12.2", "12.2", "Adverse Events", 2, "generated", tuple(filler[:2]), ())
    state.drafts = {0: long, 5: short}
    assert size.fit_size(state, reserve=0)
    kept = state.drafts[0].paragraphs
    # The longest section lost its last passage paragraphs, not its element, down to the floor.
    assert kept[-1] == element and kept[: len(kept) - 1] == tuple(filler[: len(kept) - 1])
    assert size.words(state.drafts[0]) >= size.PROSE_FLOOR
    assert state.drafts[5] == replace(short)
