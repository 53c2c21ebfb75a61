"""Tables in a PDF's prose pages rebuilt from line positions (``extract/pdf_grids.py``): a
protocol's design table is a table whose rows quote whole, two columns of prose are not."""

from __future__ import annotations

from pathlib import Path

from documents.pipeline.extract import extract_text
from documents.pipeline.types import ExtractedSource, SourceDescriptor
from tests.helpers.citations import citation_verifies

DESIGN = [
    # (label lines, value lines): a wrapped label and a wrapped value share their second line.
    (["Intervention model"], ["Parallel group"]),
    (
        ["Population"],
        ["Adults with moderate asthma who have had two or more", "exacerbations in the last year"],
    ),
    (
        ["Number of", "participants"],
        ["Approximately 240 participants will be randomised", "(120 per arm)"],
    ),
    (["Trial sites"], ["Approximately 40 sites in 6 countries"]),
]


def _pdf(path: Path, draw) -> Path:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    draw(c)
    c.showPage()
    c.save()
    return path


def _extract(path: Path) -> ExtractedSource:
    return extract_text(
        SourceDescriptor(f"org/documents/{path.name}", path.name, "0" * 64, "pdf", str(path)),
        in_process=True,
    )


def _design_page(c) -> None:
    c.setFont("Helvetica-Bold", 13)
    c.drawString(70, 780, "1.2 Overall Design")
    y = 755.0
    for labels, values in DESIGN:
        for k, text in enumerate(labels):
            c.setFont("Helvetica-Bold", 9)
            c.drawString(68, y - 11.3 * k, text)
        for k, text in enumerate(values):
            c.setFont("Helvetica", 9)
            c.drawString(175, y - 11.3 * k, text)
        y -= 11.3 * (max(len(labels), len(values)) - 1) + 15.2
    c.setFont("Helvetica", 9.5)
    # Prose under the table, indented by 2 pt from the label column: not a cell.
    c.drawString(
        70, y - 8, "Trial intervention. Study drug is taken orally once daily for 24 weeks."
    )


def test_a_label_value_table_becomes_one_table_block_with_wrapped_cells_joined(tmp_path) -> None:
    src = _extract(_pdf(tmp_path / "design.pdf", _design_page))
    tables = [b for b in src.blocks if b.kind == "table"]
    assert len(tables) == 1
    rows = tables[0].rows
    assert rows == (
        ("Intervention model", "Parallel group"),
        (
            "Population",
            "Adults with moderate asthma who have had two or more exacerbations in the last year",
        ),
        (
            "Number of participants",
            "Approximately 240 participants will be randomised (120 per arm)",
        ),
        ("Trial sites", "Approximately 40 sites in 6 countries"),
    )
    assert tables[0].header_rows == 0 and tables[0].page == 1
    after = [b.text for b in src.blocks if b.kind == "paragraph"]
    assert after == ["Trial intervention. Study drug is taken orally once daily for 24 weeks."]
    # Nothing read was lost: every label and value is in the table.
    assert not any(b.text in {"Population", "Trial sites", "Parallel group"} for b in src.blocks)


def test_each_row_quoted_whole_verifies_on_its_page(tmp_path) -> None:
    path = _pdf(tmp_path / "design.pdf", _design_page)
    src = _extract(path)
    from documents.pipeline.citations import QuoteLocator

    table = next(b for b in src.blocks if b.kind == "table")
    locator = QuoteLocator((src,))
    for r in range(len(table.rows)):
        cites = locator.locate_row(0, table, r)
        assert cites, table.rows[r]
        cite = cites[0]
        as_json = {
            "file_name": cite.file_name,
            "page": cite.page,
            "block": None,
            "quote": cite.quote,
        }
        assert citation_verifies(as_json, {src.file_name: path})


def test_a_bold_first_row_over_plain_rows_is_a_header_row(tmp_path) -> None:
    def draw(c) -> None:
        y = 760.0
        for k, (a, b, bold) in enumerate(
            [
                ("Stage", "Description", True),
                ("Screening", "Up to 28 days", False),
                ("Treatment", "24 weeks of study drug", False),
                ("Follow-up", "4 weeks", False),
            ]
        ):
            c.setFont("Helvetica-Bold" if bold else "Helvetica", 8)
            c.drawString(68, y - 14 * k, a)
            c.drawString(176, y - 14 * k, b)

    src = _extract(_pdf(tmp_path / "stages.pdf", draw))
    table = next(b for b in src.blocks if b.kind == "table")
    assert table.header_rows == 1
    assert table.rows[0] == ("Stage", "Description") and len(table.rows) == 4


def test_two_columns_of_running_prose_are_not_a_table(tmp_path) -> None:
    left = [
        "The trial enrols adults with moderate asthma",
        "who have had two or more exacerbations in",
        "the last year and use inhaled corticosteroids.",
        "Participants are randomised in a 1:1 ratio.",
    ]
    right = [
        "Spirometry is performed at every visit by",
        "trained staff following the ATS guidance, and",
        "the best of three attempts is recorded for",
        "each participant at each visit of the trial.",
    ]

    def draw(c) -> None:
        c.setFont("Helvetica", 10)
        for k, (a, b) in enumerate(zip(left, right, strict=True)):
            c.drawString(60, 760 - 12 * k, a)
            c.drawString(310, 760 - 12 * k, b)

    src = _extract(_pdf(tmp_path / "columns.pdf", draw))
    assert not any(b.kind == "table" for b in src.blocks)


def test_a_schedule_of_activities_with_wrapped_headers_and_sparse_ticks_is_one_table(
    tmp_path,
) -> None:
    visits = [(200, ["Screening", "(Day -28", "to -1)"]), (260, ["Day 1"]), (300, ["Week 4"])]
    rows = [("Informed consent", [200]), ("Vital signs", [200, 260, 300]), ("ECG", [260, 300])]

    def draw(c) -> None:
        c.setFont("Helvetica-Bold", 7)
        c.drawString(68, 720, "Procedure")
        for x, lines in visits:
            for k, text in enumerate(lines):
                c.drawString(x, 720 - 8.8 * k, text)
        c.setFont("Helvetica", 7)
        for r, (label, ticks) in enumerate(rows):
            y = 689.5 - 12.7 * r
            c.drawString(68, y, label)
            for x in ticks:
                c.drawString(x, y, "X")

    src = _extract(_pdf(tmp_path / "soa.pdf", draw))
    tables = [b for b in src.blocks if b.kind == "table"]
    assert len(tables) == 1
    assert tables[0].rows == (
        ("Procedure", "Screening (Day -28 to -1)", "Day 1", "Week 4"),
        ("Informed consent", "X", "", ""),
        ("Vital signs", "X", "X", "X"),
        ("ECG", "", "X", "X"),
    )
    assert tables[0].header_rows == 1


def test_bullets_set_apart_from_their_items_are_not_a_table(tmp_path) -> None:
    def draw(c) -> None:
        c.setFont("Helvetica", 10)
        for k, text in enumerate(["the first point", "the second point", "the third point"]):
            c.drawString(72, 700 - 18 * k, "•")
            c.drawString(96, 700 - 18 * k, text)

    src = _extract(_pdf(tmp_path / "bullets.pdf", draw))
    assert not any(b.kind == "table" for b in src.blocks)
    assert "the second point" in " ".join(b.text for b in src.blocks)
