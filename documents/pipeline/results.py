"""Results: TLF tables recognised, placed in the E3 results sections, and their key figures stated.

A results output (a "Table 14.2.1.1 ..." of a SAS/R table set, a sheet of a workbook, a table of a
Word or PDF results file) is one table block whose extractor set ``caption``, ``table_number``,
``population``, ``header_rows`` and ``footnotes``; older or simpler extractions carry the title
and population as single-cell leading rows and the footnotes as single-cell trailing rows, which
``parse`` reads the same way. Its *class* (disposition, analysis sets, demographics, efficacy,
AE overview, serious AEs, deaths, ...) comes from its title (``data/results.json``), else from its
number (14.1 / 14.2 / 14.3). E3 sections name the classes they take (``data/e3_sources.json``).

For each placed output the section gets a short paragraph of its key figures, each a row of the
table read as "label: group value; group value", cited to that row, then the table itself (title,
population, header rows, cells, cited row by row) and its footnotes. Nothing is computed: every
number is a cell of the table.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from documents.pipeline import language
from documents.pipeline.types import Block, ExtractedSource

DATA_DIR = Path(__file__).resolve().parent / "data"

_OUTPUT_TITLE = re.compile(
    r"^\s*(Table|Listing|Figure)\s+([0-9]{1,2}(?:[.\-][0-9A-Za-z]{1,3}){1,5})\b[\s.:\-–—]*(.*)$",
    re.IGNORECASE,
)
_POPULATION = re.compile(
    r"\b(?:analysis set|population|set\b|all (?:randomi[sz]ed|treated|screened|enrolled)|"
    r"participants|patients|subjects)",
    re.IGNORECASE,
)
_NUMERIC = re.compile(r"\d")
_N_HEADER = re.compile(r"\(\s*[Nn]\s*=\s*\d[\d,]*\s*\)|\b[Nn]\s*=\s*\d")
# Row labels in order of how much they matter to a reader of the results: the comparison
# between the groups first, then the main estimates, then the main counts.
_KEY_LABELS = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"hazard ratio|odds ratio|risk ratio|rate ratio|\bGMT ratio|\bratio\b",
        r"difference",
        r"p-?value|\bp\s*[<=]",
        r"\bmedian\b|least squares|\bLS mean",
        r"response rate|seroresponse|serocon|responder|\bGMTs?\b|geometric mean|\brate\b",
        r"^\s*(?:any|at least one|patients with any|participants with any)\b|\bany (?:TEAE|AE|adverse)",
        r"grade\s*(?:≥|>=|3|4|5)|severe",
        r"\bserious\b",
        r"discontinu|withdr",
        r"\bdeaths?\b|\bdied\b|fatal|grade 5",
        r"randomi[sz]ed|treated|vaccinated|received|completed|safety (?:analysis )?set|analysis set",
        r"\bmean\b|\bage\b|female|male|\bsex\b",
    )
]
_SUBORDINATE = re.compile(r"\b(?:treatment-related|drug-related|related)\b", re.IGNORECASE)
MAX_KEY_ROWS = 3
MAX_TABLE_ROWS = 60


@dataclass(frozen=True)
class ResultTable:
    s_idx: int
    pos: int
    block: Block
    number: str
    kind: str  # "Table", "Listing", "Figure"
    title: str  # without "Table 14.2.1.1"
    population: str
    header: tuple[tuple[str, ...], ...]  # header rows
    data: tuple[tuple[int, tuple[str, ...]], ...]  # (row index in block.rows, cells)
    footnotes: tuple[tuple[int | None, str], ...]  # (row index or None, text)
    klass: str = "other"
    caption_row: int | None = None
    population_row: int | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def caption(self) -> str:
        head = f"{self.kind} {self.number}".strip()
        return f"{head} {self.title}".strip() if self.title else head

    @property
    def is_listing(self) -> bool:
        return self.kind.lower() == "listing" or self.number.startswith("16.")

    def groups(self) -> list[str]:
        """Column labels (header rows joined per column), first column excluded."""
        if not self.header:
            return []
        width = max(len(r) for r in self.header)
        labels = []
        for c in range(1, width):
            parts = [r[c] for r in self.header if c < len(r) and r[c].strip()]
            labels.append(language.clean_text(" ".join(dict.fromkeys(parts))))
        return labels


@cache
def _classes() -> dict:
    with (DATA_DIR / "results.json").open(encoding="utf-8") as fh:
        data = json.load(fh)
    for c in data["classes"]:
        c["_re"] = [re.compile(p, re.IGNORECASE) for p in c["title"]]
    return data


def classify(kind: str, number: str, title: str) -> str:
    data = _classes()
    listing = kind.lower() == "listing" or number.startswith("16.")
    for c in data["classes"]:
        if bool(c.get("listing")) != listing:
            continue
        if any(p.search(title) for p in c["_re"]):
            return c["id"]
    for prefix, klass in data["number"].items():
        if number.startswith(prefix):
            return klass
    return "other"


def is_safety(klass: str) -> bool:
    return klass in _classes()["safety"]


def is_efficacy(klass: str) -> bool:
    return klass in _classes()["efficacy"]


_VALUE = re.compile(r"^\s*[<>≤≥]?\s*[-+−]?\d[\d,]*(?:\.\d+)?\s*(?:%|\(|/|$|\[|,|;|\s*to\b)")
_NOT_VALUE = re.compile(r"^\s*\d+\s*%\s*(?:CI|confidence)", re.IGNORECASE)


def _value_like(cell: str) -> bool:
    """A cell that holds a result ("166 (54.4)", "0.63 (0.49, 0.81)", "<0.0001"), not a column
    label ("95% CI", "Ferolasib (N=305)")."""
    return bool(_VALUE.match(cell)) and not _NOT_VALUE.match(cell) and not _N_HEADER.search(cell)


def _cells(row: Sequence[str]) -> tuple[str, ...]:
    return tuple(language.clean_text(c) for c in row)


def _single(row: Sequence[str]) -> str | None:
    filled = [c for c in row if c and c.strip()]
    return filled[0].strip() if len(filled) == 1 else None


def _is_banner(text: str) -> bool:
    """A running header row ("Sponsor | Protocol | Data cut-off ...")."""
    return text.count("|") >= 2 or bool(re.match(r"(?i)^page \d+ of \d+$", text.strip()))


def parse(src: ExtractedSource, s_idx: int, pos: int, block: Block) -> ResultTable | None:
    """A results output from one table block, or None when it is not one."""
    if block.kind != "table" or not block.rows:
        return None
    rows = [_cells(r) for r in block.rows]
    caption = getattr(block, "caption", "") or ""
    number = getattr(block, "table_number", "") or ""
    population = getattr(block, "population", "") or ""
    header_n = int(getattr(block, "header_rows", 0) or 0)
    footnotes: list[tuple[int | None, str]] = []
    caption_row = population_row = None
    i = 0
    # Leading single-cell rows: the title, the population, banners.
    while i < len(rows) and i < 6:
        text = _single(rows[i])
        if text is None:
            if not any(c.strip() for c in rows[i]):
                i += 1
                continue
            break
        if not caption and _OUTPUT_TITLE.match(text):
            caption, caption_row = text, i
        elif caption and not population and _POPULATION.search(text) and len(text.split()) <= 14:
            population, population_row = text, i
        elif not _is_banner(text) and caption:
            population = population or ""
        i += 1
    m = _OUTPUT_TITLE.match(caption or "")
    if not m:
        return None
    kind, num, title = m.group(1).title(), number or m.group(2), language.clean_text(m.group(3))
    body = rows[i:]
    # Trailing rows: footnotes (single cell) after the last data row.
    end = len(body)
    while end > 0 and (
        _single(body[end - 1]) is not None or not any(c.strip() for c in body[end - 1])
    ):
        end -= 1
    for k in range(end, len(body)):
        text = _single(body[k])
        if text:
            footnotes.append((i + k, text))
    # Footnotes the extractor kept apart from the rows (none are dropped, none doubled).
    known = {language.clean_text(t) for _k, t in footnotes}
    for f in getattr(block, "footnotes", ()) or ():
        if language.clean_text(f) not in known:
            footnotes.append((None, f))
    table_rows = [(i + k, body[k]) for k in range(end) if any(c.strip() for c in body[k])]
    if header_n:
        # The extractor counts header rows from the top of the block (title rows included).
        header_n = max(0, header_n - i)
    else:
        for _k, r in table_rows:
            if any(_value_like(c) for c in r[1:]):
                break
            header_n += 1
        header_n = min(header_n, 3)
    header = tuple(r for _k, r in table_rows[:header_n])
    data = tuple(table_rows[header_n:])
    table = ResultTable(
        s_idx=s_idx,
        pos=pos,
        block=block,
        number=num,
        kind=kind,
        title=title,
        population=language.clean_text(population),
        header=header,
        data=data,
        footnotes=tuple(footnotes),
        caption_row=caption_row,
        population_row=population_row,
    )
    return ResultTable(**{**table.__dict__, "klass": classify(kind, num, title)})


def collect(sources: Sequence[ExtractedSource]) -> list[ResultTable]:
    """Every results output of the job's sources, in source and document order."""
    out: list[ResultTable] = []
    for s_idx, src in enumerate(sources):
        if src.kind not in {"results", "other"}:
            continue
        for pos, block in enumerate(src.blocks):
            t = parse(src, s_idx, pos, block)
            if t is not None:
                out.append(t)
    return out


def key_rows(table: ResultTable, limit: int = MAX_KEY_ROWS) -> list[tuple[int, tuple[str, ...]]]:
    """The rows worth stating in words, most important first (see ``_KEY_LABELS``); rows that
    restate another with a qualifier ("treatment-related serious TEAE") come after."""
    rows = [
        (k, r) for k, r in table.data if r and r[0].strip() and any(_value_like(c) for c in r[1:])
    ]

    def rank(item: tuple[int, tuple[str, ...]]) -> tuple[int, int, int]:
        label = item[1][0]
        level = next((n for n, p in enumerate(_KEY_LABELS) if p.search(label)), len(_KEY_LABELS))
        return (int(bool(_SUBORDINATE.search(label))), level, item[0])

    return sorted(rows, key=rank)[:limit]


# ---------------------------------------------------------------- writing an output

_FURNITURE_NOTE = re.compile(
    r"^\s*(?:abbreviations?|source|sources|program|programme|output|data cut-?off|database|"
    r"path|run date|produced|listing produced|table produced|page \d+)\b",
    re.IGNORECASE,
)
_MARKER = re.compile(r"\s*\[[a-z0-9]{1,2}\]|\s*\([a-z]\)$")


def clean_label(label: str) -> str:
    return _MARKER.sub("", language.clean_text(label)).strip().rstrip(":")


def group_name(header: str) -> str:
    """ "Ferolasib 400 mg BID (N=305)" → "Ferolasib 400 mg BID"."""
    return re.sub(r"\s*\(\s*[Nn]\s*=\s*[\d,]+\s*\)\s*$", "", header).strip() or header


def figures_phrase(table: ResultTable, cells: Sequence[str], *, style: str = "list") -> str:
    """One row of an output in words; the styles differ so that the body, the synopsis and the
    conclusions never repeat one another's sentences:

    - ``list``: "Median PFS, months (95% CI): Ferolasib (N=305) 6.9 (5.7, 8.2); Docetaxel (N=151)
      4.4 (3.0, 5.6)";
    - ``with``: "median PFS, months (95% CI) 6.9 (5.7, 8.2) with Ferolasib and 4.4 (3.0, 5.6)
      with Docetaxel";
    - ``was``: "Median PFS, months (95% CI) was 6.9 (5.7, 8.2) in the Ferolasib group and 4.4
      (3.0, 5.6) in the Docetaxel group";
    - ``versus``: "median PFS, months (95% CI): 6.9 (5.7, 8.2) (Ferolasib) versus 4.4 (3.0, 5.6)
      (Docetaxel)".
    """
    label = clean_label(cells[0])
    groups = table.groups()
    values = [language.clean_text(c) for c in cells[1:]]
    pairs = [(g, v) for g, v in zip(groups + [""] * len(values), values, strict=False) if v]
    if not pairs or not label:
        return ""
    lower = label[:1].lower() + label[1:] if not re.match(r"[A-Z]{2}", label) else label
    single = len(pairs) == 1 or not any(g for g, _ in pairs)
    if single:
        value = ", ".join(v for _, v in pairs)
        if style == "was":
            return f"{label} was {value}"
        if style == "with":
            return f"{lower} {value}"
        if style == "versus":
            return f"{lower} of {value}"
        return f"{label}: {value}"
    names = [(group_name(g), v) for g, v in pairs]
    if style == "with":
        named = [f"{v} with {g}" if g else v for g, v in names]
        return f"{lower} {_and(named)}"
    if style == "was":
        named = [f"{v} in the {g} group" if g else v for g, v in names]
        return f"{label} was {_and(named)}"
    if style == "versus":
        return f"{lower} " + " versus ".join(f"{v} ({g})" if g else v for g, v in names)
    # The table below the list carries each group's N: the list names the groups only.
    return f"{label}: " + "; ".join(f"{group_name(g)} {v}".strip() for g, v in pairs)


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def output_reference(table: ResultTable) -> str:
    ref = f"{table.kind} {table.number}"
    return f"{ref}, {table.population}" if table.population else ref


def prose_footnotes(table: ResultTable) -> list[tuple[int | None, str]]:
    """Footnotes that say something about the results (not abbreviations or program lines)."""
    out = []
    for row, text in table.footnotes:
        t = language.clean_text(text)
        if not t or _FURNITURE_NOTE.match(t) or len(t.split()) < 4:
            continue
        out.append((row, t))
    return out
