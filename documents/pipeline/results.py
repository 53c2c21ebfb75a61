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
N_HEADER = re.compile(r"\(\s*[Nn]\s*=\s*\d[\d,]*\s*\)|\b[Nn]\s*=\s*\d")
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
        r"^\s*(?:any|at least one|(?:patients|participants) with any)\b|\bany (?:TEAE|AE|adverse)",
        r"grade\s*(?:≥|>=)\s*3|grade 3 or (?:higher|above|more|worse)|grade [34]\b|severe",
        r"\bserious\b",
        r"discontinu|withdr",
        r"\bdeaths?\b|\bdied\b|fatal|grade 5",
        r"randomi[sz]ed|treated|vaccinated|received|completed|(?:safety|analysis) (?:\w+ )?set",
        r"\bmean\b|\bage\b|female|male|\bsex\b",
    )
]
# What the key figures of a patient-flow or baseline table are: how many were randomised,
# treated and completed or discontinued; age, sex and race (ICH E3 10.1, 11.2).
_CLASS_KEY_LABELS = {
    "disposition": [
        re.compile(p, re.IGNORECASE)
        for p in (
            r"^(?!.*\bnot\b).*(?:randomi[sz]ed|enrolled|vaccinated)",
            r"^(?!.*\bnot\b).*(?:\btreated\b|received|safety (?:analysis )?set)",
            r"completed",
            r"discontinu|withdr|early termination|did not complete",
        )
    ],
    "demographics": [
        re.compile(p, re.IGNORECASE)
        for p in (r"\bage\b.*(?:median|mean)|^age\b", r"\bsex\b|female|\bmale\b", r"race|white")
    ],
}
# A row label that means little without the label-only row above it: a statistic ("Mean (SD)"),
# a category ("≥65 years", "0", "Current") or a short reason ("Progressive disease").
_NEEDS_HEADER = re.compile(
    r"^(?:n|mean|median|sd|std|min|max|range|q1|q3|iqr|geometric|[<>≤≥]|\d)\b|"
    r"^(?:n|mean|median)\b|^[<>≤≥]|^\d|^\S+(?:\s\S+)?$",
    re.IGNORECASE,
)
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
        if not self.number:
            return self.title or self.kind
        head = f"{self.kind} {self.number}"
        return f"{head} {self.title}".strip() if self.title else head

    @property
    def ref(self) -> str:
        """How the draft names the output: "Table 14.2.1", or its title when it has no
        number."""
        return f"{self.kind} {self.number}" if self.number else f"the table “{self.title}”"

    @property
    def is_listing(self) -> bool:
        return self.kind.lower() == "listing" or _under(self.number, "16")

    def groups(self) -> list[str]:
        """Column labels, first column excluded (see ``columns``)."""
        return [c.label for c in self.columns()]

    def columns(self) -> list[Column]:
        """The value columns: which group each belongs to and whether it is a statistic of the
        column before it ("95% CI" beside "n/N (%)").

        A label of an upper header row (a treatment group over its "Dose 1 / Dose 2 / Any
        dose" columns) belongs to the columns nearest to it; N= in a label marks a group."""
        if not self.header:
            width = max((len(r) for _k, r in self.data), default=1)
            return [Column(c, "", "", False) for c in range(1, width)]
        width = max(len(r) for r in self.header)
        grid = [tuple(r) + ("",) * (width - len(r)) for r in self.header]
        tops: list[str] = [""] * width
        if len(grid) >= 2:
            anchors = [(c, grid[0][c].strip()) for c in range(1, width) if grid[0][c].strip()]
            for c in range(1, width):
                if anchors:
                    # The nearest anchor; on a tie, the one to the left (a label sits over the
                    # first or the middle of its columns).
                    tops[c] = min(anchors, key=lambda a: (abs(a[0] - c), a[0] > c))[1]
        out: list[Column] = []
        for c in range(1, width):
            lower = [grid[r][c].strip() for r in range(1 if len(grid) >= 2 else 0, len(grid))]
            sub = language.clean_text(" ".join(x for x in lower if x))
            top = language.clean_text(tops[c])
            label = language.clean_text(" ".join(x for x in (top, sub) if x))
            stat = bool(_STAT_HEADER.search(sub or top)) and not N_HEADER.search(label)
            out.append(Column(c, top, sub, stat, label))
        return out


@dataclass(frozen=True)
class Column:
    index: int  # position in the row
    group: str  # the upper header's label over it ("GVB-118"), or ""
    sub: str  # its own header text ("Dose 1 (N=2396)", "95% CI")
    stat: bool  # a statistic of the column before it, not a group
    label: str = ""


_STAT_HEADER = re.compile(
    r"^(?:\d+\s*%\s*)?(?:CI|confidence interval)\b|\bratio\b|^p-?value|^n/N|^n \(%\)$|^%$|"
    r"^(?:mean|median|SD|SE|range|min|max|estimate|difference|LS mean|GMT|GMFR|HR|OR)\b",
    re.IGNORECASE,
)


@cache
def _classes() -> dict:
    with (DATA_DIR / "results.json").open(encoding="utf-8") as fh:
        data = json.load(fh)
    for c in data["classes"]:
        c["_re"] = [re.compile(p, re.IGNORECASE) for p in c["title"]]
    return data


def _number_parts(number: str) -> list[str]:
    """ "14.3.1", "14-3.01" and "14_3_1" → ["14", "3", ...]: output numbers are written with
    dots, hyphens or underscores between their parts."""
    return [p for p in re.split(r"[.\-_]", number.strip()) if p]


def _under(number: str, prefix: str) -> bool:
    """Whether output ``number`` lies in the E3 section ``prefix`` ("14.3", "16.2")."""
    parts, head = _number_parts(number), _number_parts(prefix)
    return len(parts) >= len(head) and [p.lstrip("0") or "0" for p in parts[: len(head)]] == [
        p.lstrip("0") or "0" for p in head
    ]


def classify(kind: str, number: str, title: str) -> str:
    data = _classes()
    listing = kind.lower() == "listing" or _under(number, "16")
    for c in data["classes"]:
        if bool(c.get("listing")) != listing:
            continue
        if any(p.search(title) for p in c["_re"]):
            return c["id"]
    for prefix, klass in data["number"].items():
        if _under(number, prefix):
            return klass
    return "other"


def is_safety(klass: str) -> bool:
    return klass in _classes()["safety"]


def is_efficacy(klass: str) -> bool:
    return klass in _classes()["efficacy"]


_VALUE = re.compile(r"^\s*[<>≤≥]?\s*[-+−]?\d[\d,]*(?:\.\d+)?\s*(?:%|\(|/|$|\[|,|;|\s*to\b)")
_NOT_VALUE = re.compile(r"^\s*\d+\s*%\s*(?:CI|confidence)", re.IGNORECASE)


def value_like(cell: str) -> bool:
    """A cell that holds a result ("166 (54.4)", "0.63 (0.49, 0.81)", "<0.0001"), not a column
    label ("95% CI", "Ferolasib (N=305)")."""
    return bool(_VALUE.match(cell)) and not _NOT_VALUE.match(cell) and not N_HEADER.search(cell)


def _cells(row: Sequence[str]) -> tuple[str, ...]:
    return tuple(language.clean_text(c) for c in row)


def _single(row: Sequence[str]) -> str | None:
    """The text of a row of one cell: one filled cell, or one cell merged over every column (a
    Word table repeats a merged cell's text in each grid column it spans)."""
    filled = [c.strip() for c in row if c and c.strip()]
    if len(filled) == 1 or (len(filled) == len(row) > 1 and len(set(filled)) == 1):
        return filled[0]
    return None


def _is_banner(text: str) -> bool:
    """A running header row ("Sponsor | Protocol | Data cut-off ...")."""
    return text.count("|") >= 2 or bool(re.match(r"(?i)^page \d+ of \d+$", text.strip()))


def parse(
    src: ExtractedSource, s_idx: int, pos: int, block: Block, follows: ResultTable | None = None
) -> ResultTable | None:
    """A results output from one table block, or None when it is not one. ``follows``: the
    output of the block just before it in the same source, which an untitled table of another
    layout continues ("Pairwise comparison | Difference | p-value" under an ANCOVA table)."""
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
    plain_title = ""  # a title without an output number ("ANCOVA of Change from Baseline")
    plain_row = None
    while i < len(rows) and i < 6:
        text = _single(rows[i])
        if text is None:
            if not any(c.strip() for c in rows[i]):
                i += 1
                continue
            break
        if not caption and _OUTPUT_TITLE.match(text):
            caption, caption_row = text, i
        elif _POPULATION_LINE.match(text) and language.clean_text(text) == language.clean_text(
            population
        ):
            population_row = i  # the extractor's population line
        elif not population and (
            _POPULATION_LINE.match(text)
            or (caption and _POPULATION.search(text) and len(text.split()) <= 14)
        ):
            population, population_row = text, i
        elif not caption and not plain_title and not _is_banner(text) and _plain_title(text):
            plain_title, plain_row = text, i
        i += 1
    m = _OUTPUT_TITLE.match(caption or "")
    if m:
        kind, num, title = m.group(1).title(), number or m.group(2), language.clean_text(m.group(3))
    elif _unnumbered_output(src, rows[i:], continues=follows is not None and not population):
        # A results table that its program did not number (R and SAS outputs often are not):
        # its title row, or the extractor's caption, or the output it continues, or else the
        # file it came from names it.
        kind, num = "Table", ""
        named = plain_title or ("" if _POPULATION_LINE.match(caption) else caption)
        if not named and follows is not None and not population:
            named = follows.caption
            named += "" if named.endswith("(continued)") else " (continued)"
            population = population or follows.population
            kind, num = follows.kind, follows.number
        title = language.clean_text(named) or src.file_name
        caption_row = plain_row if plain_title else None
        if population.lower().startswith("population"):
            population = population.split(":", 1)[-1]
    else:
        return None
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
            if any(value_like(c) for c in r[1:]):
                break
            if header_n and r[0].strip() and not any(c.strip() for c in r[1:]):
                break  # "Age (years)" under the column headers: the first group's label
            header_n += 1
        header_n = min(header_n, 3)
    header = tuple(r for _k, r in table_rows[:header_n])
    data = tuple(_joined_rows(table_rows[header_n:]))
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
    klass = classify(kind, num, title)
    if klass == "other":
        klass = _classify_by_rows(kind, num, [r[0] for _k, r in data if r])
    if not num and (klass == "other" or (title == src.file_name and block.heading_path)):
        # An unnumbered table that neither its title nor its rows place, or an untitled one
        # under a heading of a structured document, is left to the passages around it.
        return None
    return ResultTable(**{**table.__dict__, "klass": klass})


_POPULATION_LINE = re.compile(r"^\s*(?:analysis\s+)?(?:population|analysis set)\s*:", re.IGNORECASE)
_NOT_TITLE = re.compile(r"^\s*(?:protocol|study|sponsor|program|page|source|date)\b", re.IGNORECASE)


def _plain_title(text: str) -> bool:
    """A line that can title an unnumbered output: words, not a banner, a protocol line or a
    run stamp."""
    return (
        bool(re.search(r"[A-Za-z]{3,}", text))
        and len(text.split()) <= 30
        and not _NOT_TITLE.match(text)
        and not _POPULATION_LINE.match(text)
        and not is_run_stamp(text)
    )


def _unnumbered_output(
    src: ExtractedSource, body: Sequence[tuple[str, ...]], *, continues: bool = False
) -> bool:
    """Whether a table without an output number is a results output: it comes from a results
    file, or its header names the groups' N or statistics; and it holds at least two rows of
    results."""
    head = [c for r in body[:4] for c in r]
    statistical = any(N_HEADER.search(c) or _STAT_HEADER.search(c.strip()) for c in head)
    valued = sum(1 for r in body if sum(value_like(c) for c in r[1:]) >= 1)
    if continues and statistical and valued >= 1:
        return True
    return valued >= 2 and (src.kind == "results" or statistical)


def _classify_by_rows(kind: str, number: str, labels: Sequence[str]) -> str:
    """An output whose title says nothing of its class (or that has none) by its row labels:
    age with sex, race or body size is a demographics table; otherwise the labels as a title."""
    low = " ".join(language.clean_text(x) for x in labels).lower()
    if re.search(r"\bage\b", low) and re.search(r"\b(?:sex|gender|race|ethnic|weight|height)", low):
        return "demographics"
    return classify(kind, number, low[:400])


_P_ROW = re.compile(r"p-?value|\bp\s*[<=]|\btest\b", re.IGNORECASE)
_COMPARISON = re.compile(r"ratio|difference", re.IGNORECASE)
_CI_ROW = re.compile(r"^\s*\d{2}\s*%\s*(?:CI|confidence interval)\b", re.IGNORECASE)


def _joined_rows(
    rows: list[tuple[int, tuple[str, ...]]],
) -> list[tuple[int, tuple[str, ...]]]:
    """A row label that a PDF wrapped over two rows ("Any solicited reaction (local or" +
    "systemic)") is joined; the second row keeps its index, where the values are."""
    out: list[tuple[int, tuple[str, ...]]] = []
    for k, r in rows:
        if (
            out
            and r
            and r[0][:1].islower()
            and not any(c.strip() for c in out[-1][1][1:])
            and not out[-1][1][0].rstrip().endswith((":", "."))
        ):
            prev = out.pop()[1]
            r = (f"{prev[0].rstrip()} {r[0].lstrip()}", *r[1:])
        out.append((k, r))
    return out


def collect(sources: Sequence[ExtractedSource]) -> list[ResultTable]:
    """Every results output of the job's sources, in source and document order."""
    out: list[ResultTable] = []
    for s_idx, src in enumerate(sources):
        if src.kind not in {"results", "other"}:
            continue
        previous: ResultTable | None = None
        for pos, block in enumerate(src.blocks):
            follows = previous if previous is not None and previous.pos == pos - 1 else None
            t = parse(src, s_idx, pos, block, follows)
            if t is not None:
                out.append(t)
            previous = t
    return out


def _reading(table: ResultTable) -> list[tuple[int, tuple[str, ...], tuple[int, ...]]]:
    """The data rows that hold values, in order, each with the block rows read into it: a
    "95% CI" row is read with the row above it, and a p-value row with the comparison above it
    ("Difference", "95% CI", "p-value": both statistic rows belong to the estimate); a
    statistic or category row is named with the label-only row above it ("Age (years), mean
    (SD)"), which is read too."""
    rows: list[tuple[int, tuple[str, ...], tuple[int, ...]]] = []
    last: int | None = None  # the data row read last into rows[-1] (itself or one attached)
    header = ""
    header_k: int | None = None
    for k, r in table.data:
        if r and r[0].strip() and not any(c.strip() for c in r[1:]):
            header, header_k = clean_label(r[0]), k  # "Age (years)" over "Mean (SD)"
            continue
        if not r or not r[0].strip() or not any(value_like(c) for c in r[1:]):
            continue
        named = bool(header) and bool(_NEEDS_HEADER.search(clean_label(r[0])))
        attach = _CI_ROW.match(r[0]) or (
            _P_ROW.search(r[0]) and rows and _COMPARISON.search(rows[-1][1][0])
        )
        if attach and rows and last == _previous_index(table, k):
            pk, pr, read = rows[-1]
            merged = tuple(
                f"{a} ({clean_label(r[0])} {b})" if a and b else (a or b)
                for a, b in zip(pr, (*r, *[""] * max(0, len(pr) - len(r))), strict=False)
            )
            rows[-1] = (pk, (pr[0], *merged[1:]), (*read, k))
            last = k
            continue
        if named and header_k is not None:
            r = (f"{header}, {_in_sentence(clean_label(r[0]))}", *r[1:])
            rows.append((k, r, (header_k, k)))
        else:
            rows.append((k, r, (k,)))
        last = k
    return rows


def key_rows(table: ResultTable, limit: int = MAX_KEY_ROWS) -> list[tuple[int, tuple[str, ...]]]:
    """The rows worth stating in words, most important first (see ``_KEY_LABELS``, or the
    class's own order for disposition and demographics); rows that restate another with a
    qualifier ("treatment-related serious TEAE") come after, and a label is stated once. A
    "95% CI" row (and a p-value row after a comparison) is read with the row above it:
    ``rows_read`` says which block rows a key row's figures come from."""
    order = _CLASS_KEY_LABELS.get(table.klass, _KEY_LABELS)

    def rank(item: tuple[int, tuple[str, ...], tuple[int, ...]]) -> tuple[int, int, int]:
        label = item[1][0]
        level = next((n for n, p in enumerate(order) if p.search(label)), len(order))
        return (int(bool(_SUBORDINATE.search(label))), level, item[0])

    chosen: list[tuple[int, tuple[str, ...]]] = []
    for k, cells, _read in sorted(_reading(table), key=rank):
        if any(clean_label(cells[0]) == clean_label(c[1][0]) for c in chosen):
            continue  # "Withdrew consent" twice (screening and treatment) reads as one
        chosen.append((k, cells))
    return chosen[:limit]


def rows_read(table: ResultTable, row_index: int) -> tuple[int, ...]:
    """The block rows whose cells a key row (``key_rows``) states: the row itself, the
    statistic rows read with it and the label row that names it. Each is cited."""
    for k, _cells, read in _reading(table):
        if k == row_index:
            return read
    return (row_index,)


def _in_sentence(label: str) -> str:
    """A row label after a comma: a statistic or a sentence-case phrase loses its capital
    ("Mean (SD)" → "mean (SD)", "Progressive disease" → "progressive disease"); names and
    single categories keep theirs ("United States", "White", "IIIB")."""
    words = label.split()
    if not words or re.match(r"[A-Z]{2}", words[0]):
        return label
    stat = re.match(r"(?:n|mean|median|min|max|range|geometric)\b", label, re.IGNORECASE)
    sentence_case = len(words) > 1 and all(not w[:1].isupper() for w in words[1:])
    return label[:1].lower() + label[1:] if stat or sentence_case else label


def _previous_index(table: ResultTable, k: int) -> int | None:
    prev = None
    for kk, _r in table.data:
        if kk == k:
            return prev
        prev = kk
    return None


# ---------------------------------------------------------------- writing an output

_MARKER = re.compile(r"\s*\[[a-z0-9]{1,2}\]|\s*\([a-z]\)$")


_CALENDAR = frozenset(
    [
        "jan",
        "feb",
        "mar",
        "apr",
        "may",
        "jun",
        "jul",
        "aug",
        "sep",
        "oct",
        "nov",
        "dec",
        "mon",
        "tue",
        "wed",
        "thu",
        "fri",
        "sat",
        "sun",
        "am",
        "pm",
    ]
)


def is_run_stamp(text: str) -> bool:
    """The date and time a program ran ("20:43 Tuesday, July 25, 2023", "2023-07-25 20:42:50"):
    page furniture of an output, not a result."""
    words = re.findall(r"[A-Za-z]+", text)
    return (
        bool(re.search(r"\d", text))
        and all(w.lower()[:3] in _CALENDAR for w in words)
        and (bool(words) or bool(re.fullmatch(r"[\d\s:/.T-]+", text.strip())))
    )


def clean_label(label: str) -> str:
    return _MARKER.sub("", language.clean_text(label)).strip().rstrip(":")
