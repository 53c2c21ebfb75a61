"""Results outputs in the draft: which body section takes each output (by its results class,
``data/e3_sources.json`` through the section profiles), and how an output is written there: its
key figures in words, the table itself and its footnotes, each cited to the rows it was read from.
"""

from __future__ import annotations

import re

from documents.pipeline import figures, results
from documents.pipeline.results import ResultTable
from documents.pipeline.state import DraftState
from documents.pipeline.types import Citation, Paragraph, Table

# Secondary analyses: shown by their table alone, and the first to give way for size.
SECONDARY_OUTPUT = re.compile(
    r"sensitivity|supplementary|subgroup|by visit|over time|by subgroup", re.IGNORECASE
)


def takers(state: DraftState, body: list[int]) -> dict[str, int]:
    """Results class → the body section that takes it: the deepest, then the first (E3's
    "Adverse Events" takes adverse-event tables only when it has no subsections for them)."""
    return {klass: lst[0] for klass, lst in _taker_lists(state, body).items()}


def _taker_lists(state: DraftState, body: list[int]) -> dict[str, list[int]]:
    takers: dict[str, list[int]] = {}
    for i in body:
        for klass in state.profiles[i].results:
            takers.setdefault(klass, []).append(i)
    for lst in takers.values():
        lst.sort(key=lambda i: (-state.outline[i].level, i))
    return takers


def place_outputs(state: DraftState, body: list[int]) -> None:
    """Each results output to the section that takes its class (``takers``)."""
    takers = _taker_lists(state, body)
    for table in state.outputs:
        targets = takers.get(table.klass)
        if not targets:
            fallback = (
                "efficacy"
                if results.is_efficacy(table.klass)
                else ("ae_common" if results.is_safety(table.klass) else None)
            )
            targets = takers.get(fallback or "", [])
        if targets:
            state.placed.setdefault(targets[0], []).append(table)
    for lst in state.placed.values():
        lst.sort(key=lambda t: (_number_key(t.number), t.s_idx, t.pos))


def _number_key(number: str) -> tuple:
    return tuple(int(p) if p.isdigit() else 0 for p in number.replace("-", ".").split("."))


def key_figures_text(state: DraftState, table: ResultTable) -> tuple[str, list[Citation]]:
    """ "Key figures of Table 14.2.1.1: ..." and its citations ("" when nothing can be stated):
    the output's key rows in words, each figure cited to the rows it was read from."""
    loc = state.ctx.locator
    phrases: list[str] = []
    figure_cites: list[Citation] = []
    for row_index, cells in results.key_rows(table):
        phrase = figures.figures_phrase(table, cells)
        cites = [
            c
            for k in results.rows_read(table, row_index)
            for c in loc.locate_row(table.s_idx, table.block, k)
        ]
        if phrase and cites:
            phrases.append(phrase)
            figure_cites.extend(cites)
    if not phrases:
        return "", []
    text = f"Key figures of {table.ref}: " + "; ".join(phrases) + "."
    return text, [*caption_citations(state, table), *figure_cites]


def key_figures(state: DraftState, table: ResultTable) -> Paragraph | None:
    """The key-figures paragraph of an output; None when there is nothing to state or it was
    said before."""
    text, cites = key_figures_text(state, table)
    if not text or state.ctx.is_duplicate(text):
        return None
    state.ctx.remember(text)
    return Paragraph(text=text, citations=tuple(dict.fromkeys(cites)))


def write_output(state: DraftState, table: ResultTable) -> tuple[list[Paragraph], list[Table]]:
    """Key figures (a cited list), the table itself, and its footnotes."""
    loc = state.ctx.locator
    paragraphs: list[Paragraph] = []
    stated = None if shown_alone(table) or table.is_listing else key_figures(state, table)
    if stated is not None:
        paragraphs.append(stated)
    intro_cites = caption_citations(state, table)
    rows = [*table.header, *(r for _k, r in table.data)]
    cites: list[Citation] = list(intro_cites)
    for k, _r in [*((None, h) for h in table.header), *table.data]:
        if k is not None:
            cites.extend(loc.locate_row(table.s_idx, table.block, k))
    title = shown_title(table)
    out_tables = []
    if rows and len(rows) <= results.MAX_TABLE_ROWS + len(table.header):
        width = max(len(r) for r in rows)
        rows = [tuple(r) + ("",) * (width - len(r)) for r in rows]
        out_tables.append(
            Table(
                title=title,
                rows=tuple(rows),
                citations=tuple(dict.fromkeys(cites)),
                header_rows=len(table.header),
            )
        )
    for row_index, text in figures.prose_footnotes(table):
        if state.ctx.is_duplicate(text):
            continue
        if row_index is not None:
            fcites = loc.locate_row(table.s_idx, table.block, row_index)
        else:
            fcites = loc.locate(table.s_idx, table.block, text)
        if fcites:
            state.ctx.remember(text)
            new = state.ctx.rewrite(text, convert_tense=False)
            paragraphs.append(
                Paragraph(
                    text=new,
                    citations=tuple(fcites),
                    style="note",
                    source_text=text if new != text else None,
                )
            )
    return paragraphs, out_tables


def shown_alone(table: ResultTable) -> bool:
    """Secondary analyses (sensitivity, subgroups, by visit) are shown by their table alone (and
    by their key figures when the size governor gives the table up); listings by their table."""
    return bool(SECONDARY_OUTPUT.search(table.title)) and not table.is_listing


def shown_title(table: ResultTable) -> str:
    """The title a results output's table carries in the draft (``write_output``)."""
    return table.caption + (f" ({table.population})" if table.population else "")


def caption_citations(state: DraftState, table: ResultTable) -> tuple[Citation, ...]:
    loc = state.ctx.locator
    if table.caption_row is not None:
        cites = loc.locate_row(table.s_idx, table.block, table.caption_row)
        if cites:
            return tuple(cites)
    return tuple(loc.locate(table.s_idx, table.block, table.caption))
