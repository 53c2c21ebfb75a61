"""Tables inside a PDF's prose pages (a protocol's synopsis, design or objectives table), rebuilt
from the positions of their lines.

pypdf gives a table's cells as separate lines: "Intervention model" and "Parallel group" on the
same baseline at two horizontal positions, a wrapped cell as more lines at its column's position.
Read as prose they become alternating fragments ("Number of arms", "2"); rebuilt, they are a table
whose rows the writer can quote whole ("Number of arms: 2").

A *grid* is a run of consecutive lines of one page in which

- rows start at *anchors*: two or more lines sharing a baseline whose left edges lie more than
  20 pt apart, each at one of the grid's column positions (a row may open a column that the
  rows above left empty);
- every other line continues a cell: it starts at one of the column positions (within 2.5 pt), in
  the same font size, directly below the line before it in its cell (or its row's anchor);
- there are at least two rows, at most twelve columns, and the rows are spaced apart more widely
  than the lines inside a cell (or than 1.45 times the font size when no cell wraps): two
  columns of running prose, whose lines all share baselines at the usual spacing, are not a
  grid.

The first row is a header row when all its cells are bold and the next row's are not. The page
text (``ExtractedSource.pages``) is unchanged; each row's cells follow each other in it, so a row
quoted whole verifies on its page.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

from documents.pipeline.extract.pdf_lines import Line

MIN_COLUMN_GAP = 20.0
X_TOLERANCE = 2.5
MAX_COLUMNS = 12
ROW_PITCH = 1.4  # font sizes between rows; lines of one cell lie closer


@dataclass
class Grid:
    start: int  # first line index (inclusive)
    end: int  # last line index + 1
    rows: list[list[str]] = field(default_factory=list)
    header_rows: int = 0


def _baseline_groups(lines: list[Line], drop: set[int]) -> dict[int, list[int]]:
    groups: dict[int, list[int]] = {}
    for i, ln in enumerate(lines):
        if ln.styled and i not in drop and ln.text.strip():
            groups.setdefault(round(ln.pos * 2), []).append(i)
    return groups


def _column_of(x: float, columns: list[float]) -> int | None:
    for k, cx in enumerate(columns):
        if abs(x - cx) <= X_TOLERANCE:
            return k
    return None


def _anchor_columns(lines: list[Line], group: list[int]) -> list[float] | None:
    xs = sorted(lines[i].x for i in group)
    if len(xs) < 2 or len(xs) > MAX_COLUMNS:
        return None
    if any(b - a <= MIN_COLUMN_GAP for a, b in itertools.pairwise(xs)):
        return None
    return xs


def find_grids(lines: list[Line], drop: set[int]) -> list[Grid]:
    """The grids of one page's lines (``drop``: running headers, TOC lines and the like)."""
    groups = _baseline_groups(lines, drop)
    anchor_of: dict[int, list[int]] = {}
    for group in groups.values():
        if len(group) >= 2 and _anchor_columns(lines, group) is not None:
            for i in group:
                anchor_of[i] = group
    grids: list[Grid] = []
    i = 0
    n = len(lines)
    while i < n:
        if i not in anchor_of or i != min(anchor_of[i]):
            i += 1
            continue
        grid = _grow(lines, drop, i, anchor_of)
        if grid is None:
            i += 1
            continue
        grids.append(grid)
        i = grid.end
    return grids


def _grow(
    lines: list[Line], drop: set[int], first: int, anchor_of: dict[int, list[int]]
) -> Grid | None:
    columns = _anchor_columns(lines, anchor_of[first]) or []
    size = lines[first].size or 10.0
    rows: list[dict[float, list[str]]] = []  # column position → the cell's lines
    bold: list[dict[float, bool]] = []
    row_top: list[float] = []  # anchor baseline of each row
    row_bottom: list[float] = []  # lowest baseline in each row
    inner_gaps: list[float] = []
    last_in_col: dict[float, float] = {}
    seen_anchor: set[int] = set()
    i = first
    end = first
    n = len(lines)
    while i < n:
        ln = lines[i]
        if i in drop or not ln.text.strip() or not ln.styled:
            break
        starts_row = i in anchor_of and i not in seen_anchor
        if starts_row:
            group = anchor_of[i]
            seen_anchor.update(group)
            if rows and ln.pos > row_bottom[-1] + 0.5:
                break  # not below the row before: another layout
            if rows and row_bottom[-1] - ln.pos < ROW_PITCH * size:
                starts_row = False  # wrapped cells whose next lines share a baseline: same row
        if starts_row:
            xs = sorted(lines[j].x for j in anchor_of[i])
            if abs(xs[0] - columns[0]) > X_TOLERANCE:
                break  # a row that does not start in the first column: another layout
            # A row with cells in columns the rows above left empty (a schedule of activities
            # whose first rows tick one visit) widens the grid.
            new = [x for x in xs if _column_of(x, columns) is None]
            if any(abs(x - c) < MIN_COLUMN_GAP for x in new for c in columns):
                break
            columns = sorted([*columns, *new])
            if len(columns) > MAX_COLUMNS:
                break
        k = _column_of(ln.x, columns)
        if k is None:
            break
        col = columns[k]
        if starts_row:
            rows.append({})
            bold.append({})
            row_top.append(ln.pos)
            row_bottom.append(ln.pos)
            last_in_col = {}
        elif (
            not rows
            or ln.pos > row_top[-1] + 0.5
            or last_in_col.get(col, row_top[-1]) - ln.pos > ROW_PITCH * size
            or abs(ln.size - size) > 0.6
        ):
            break  # above its row, not the next line of its cell, another font: the grid ended
        cell = rows[-1].setdefault(col, [])
        if not cell:
            bold[-1][col] = ln.bold
        cell.append(ln.text.strip())
        if col in last_in_col:
            inner_gaps.append(last_in_col[col] - ln.pos)
        last_in_col[col] = ln.pos
        row_bottom[-1] = min(row_bottom[-1], ln.pos)
        i += 1
        end = i
    return _finish(rows, bold, row_top, row_bottom, inner_gaps, size, first, end, columns)


def _finish(
    rows: list[dict[float, list[str]]],
    bold: list[dict[float, bool]],
    row_top: list[float],
    row_bottom: list[float],
    inner_gaps: list[float],
    size: float,
    first: int,
    end: int,
    columns: list[float] | None = None,
) -> Grid | None:
    if len(rows) < 2:
        return None
    pitches = [row_bottom[r] - row_top[r + 1] for r in range(len(rows) - 1)]
    inner = min(inner_gaps) if inner_gaps else 0.0
    wanted = 1.2 * inner if inner_gaps else 1.45 * size
    if min(pitches) < wanted:
        return None  # rows at the spacing of running text: prose in columns, not a table
    cols = sorted(columns or {x for row in rows for x in row})
    cells = [[" ".join(row.get(x, [])) for x in cols] for row in rows]
    if sum(1 for row in cells if sum(1 for c in row if c) >= 2) * 2 < len(cells):
        return None  # mostly one cell per row: labels of a scale, not a table
    if all(re.fullmatch(r"[•▪◦●○■□–\-*·]|\(?[0-9a-z]{1,2}[.)]", row[0]) for row in cells):
        return None  # bullets or list numbers beside their items: a list, not a table
    first_bold = [bold[0].get(x, False) for x in cols if rows[0].get(x)]
    next_bold = [bold[1].get(x, False) for x in cols if rows[1].get(x)]
    header = 1 if first_bold and all(first_bold) and not all(next_bold) else 0
    return Grid(first, end, cells, header)
