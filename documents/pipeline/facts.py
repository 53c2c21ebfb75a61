"""The study's key facts, found in the sources for the title page and the synopsis.

``attach_key_facts`` finds: protocol_number, title, acronym, sponsor, phase, product, indication,
sample_size, arms, primary_endpoint, coordinating_investigator, and the study's dates from the
results (first_patient, last_patient, data_cutoff). Each is a ``KeyFact`` whose ``quote`` is source
text that contains the value, located like a citation (``page`` for a PDF, ``block`` for
DOCX/XLSX; a table row's block is the table's block plus the row index). Protocols are searched
first, then SAPs, then the rest (the dates: results first); within a source the most explicit
form wins (a "Protocol Number:" label before a number in running text; on a PDF title page a
label line followed by its value line counts as a label). A fact that is not found is absent:
nothing is inferred. Each fact is attached to the source it was found in, so the union of
``key_facts`` over the sources has at most one fact of each name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise

from documents.pipeline.extract import alnum
from documents.pipeline.types import ExtractedSource, KeyFact

FACT_NAMES = (
    "protocol_number",
    "title",
    "acronym",
    "sponsor",
    "phase",
    "product",
    "indication",
    "sample_size",
    "arms",
    "primary_endpoint",
    "coordinating_investigator",
    "first_patient",
    "last_patient",
    "data_cutoff",
)


@dataclass(frozen=True)
class _Unit:
    """A citable piece of text: a PDF page line or block, a DOCX/XLSX block or table row."""

    text: str
    page: int | None
    block: int | None
    heading_path: tuple[str, ...] = ()
    cells: tuple[str, ...] | None = None  # a table row
    kind: str = "paragraph"
    order: int = 0


@dataclass(frozen=True)
class _Found:
    value: str
    quote: str
    unit: _Unit
    rank: int


def _units(src: ExtractedSource) -> list[_Unit]:
    out: list[_Unit] = []
    order = 0
    for b in src.blocks:
        if b.kind == "table" and b.rows:
            for k, row in enumerate(b.rows):
                order += 1
                out.append(
                    _Unit(
                        " | ".join(row),
                        b.page,
                        (b.block + k) if b.block is not None else None,
                        b.heading_path,
                        tuple(row),
                        "row",
                        order,
                    )
                )
        else:
            order += 1
            out.append(_Unit(b.text, b.page, b.block, b.heading_path, None, b.kind, order))
    return out


def _page_lines(src: ExtractedSource, max_pages: int) -> Iterator[_Unit]:
    """PDF page lines, verbatim: labels ("Sponsor: ...") live on lines, not in paragraphs."""
    order = 0
    for p, text in enumerate(src.pages[:max_pages], 1):
        for line in text.split("\n"):
            order += 1
            if line.strip():
                yield _Unit(line.strip(), p, None, (), None, "line", order)


def _clean(value: str) -> str:
    value = re.sub(r"\s+", " ", value).strip(" \t:;,")
    return value[:300]


def _sentence(text: str, start: int, end: int) -> str:
    """The sentence of ``text`` around [start, end)."""
    left = 0
    for m in re.finditer(r"[.;!?]\s+(?=[A-Z(\[\d•])", text):
        if m.end() > start:
            break
        left = m.end()
    m = re.search(r"[.;!?](?=\s+[A-Z(\[•]|\s*$)", text[end:])
    right = end + m.end() if m else len(text)
    return text[left:right].strip()


def _label_value(
    units: list[_Unit], label: re.Pattern[str], rank: int, value_ok: Callable[[str], bool]
) -> _Found | None:
    """A table row "Label | Value", a line/paragraph "Label: Value", or a label line followed
    by its value line."""
    next_line = {id(a): b for a, b in pairwise(units) if a.kind == "line" == b.kind}
    # Labels that start a line of a PDF page ("Protocol Number:"), per page: where a paragraph
    # that extraction joined from a title page's label and value lines holds the next label.
    line_labels: dict[int | None, list[str]] = {}
    for u in units:
        lm = _LINE_LABEL.match(u.text) if u.kind == "line" else None
        if lm:
            line_labels.setdefault(u.page, []).append(lm.group(1).strip())
    for u in units:
        if u.cells is not None:
            cells = [c.strip() for c in u.cells]
            for k, cell in enumerate(cells[:-1]):
                if label.fullmatch(cell.rstrip(":").strip()):
                    value = next((c for c in cells[k + 1 :] if c), "")
                    first_line = value.split("\n")[0].strip()
                    if first_line and value_ok(first_line):
                        return _Found(_clean(first_line), f"{cell} {first_line}", u, rank)
            continue
        m = re.match(r"^\s*(.{2,60}?)\s*[:：]\s*(\S.*)$", u.text)
        if m and label.fullmatch(m.group(1).strip()):
            end = _next_label(u.text, m.start(2), line_labels.get(u.page, []) if u.page else [])
            value = u.text[m.start(2) : end].strip()
            if value and value_ok(value):
                return _Found(_clean(value), u.text[:end].strip(), u, rank)
            continue
        # A PDF title page laid out in two columns: the label's line, then the value's line.
        if u.kind == "line" and label.fullmatch(u.text.strip().rstrip(":")):
            nxt = next_line.get(id(u))
            if nxt is not None and nxt.page == u.page and value_ok(nxt.text.strip()):
                return _Found(_clean(nxt.text), f"{u.text.strip()} {nxt.text.strip()}", u, rank)
    return None


_LINE_LABEL = re.compile(r"^\s*([A-Za-z][^:：]{1,58}?)\s*[:：](?:\s|$)")


def _next_label(text: str, start: int, labels: list[str]) -> int:
    """Where, after ``start``, ``text`` reaches one of a page's line labels ("... Ltd Protocol
    Number: NWB-2201" → before "Protocol Number:"); the end of ``text`` when it does not."""
    end = len(text)
    for lab in labels:
        hit = re.compile(r"\s" + re.escape(lab) + r"\s*[:：]").search(text, start)
        if hit and hit.start() < end:
            end = hit.start()
    return end


def _pattern(
    units: list[_Unit],
    pattern: re.Pattern[str],
    rank: int,
    *,
    group: int = 1,
    accept: Callable[[re.Match[str], _Unit], bool] | None = None,
    whole_line: bool = False,
) -> _Found | None:
    for u in units:
        text = u.text
        for m in pattern.finditer(text):
            if accept is not None and not accept(m, u):
                continue
            value = _clean(m.group(group))
            if not alnum(value):
                continue
            quote = (
                text.strip()
                if whole_line or u.kind == "line"
                else _sentence(text, m.start(), m.end())
            )
            return _Found(value, quote, u, rank)
    return None


def _best(*found: _Found | None) -> _Found | None:
    hits = [f for f in found if f is not None]
    if not hits:
        return None
    return min(hits, key=lambda f: (f.rank, f.unit.order))


# --- patterns -----------------------------------------------------------------------------

# "H2Q-MC-LZZT(c)", "ABC-123-45", "WA42380"
_ID_TOKEN = (
    r"[A-Z0-9][A-Za-z0-9]*(?:[-_/.][A-Za-z0-9]+)+(?:\([A-Za-z0-9]{1,3}\))?"
    r"|[A-Z]{1,6}\d{3,}[A-Z0-9]*"
)
_PROTOCOL_LABEL = re.compile(
    r"(?:sponsor\s+)?(?:protocol|study|trial)\s*(?:number|no\.?|#|id|identifier|code)(?:\(s\))?",
    re.I,
)
_PROTOCOL_INLINE = re.compile(r"\bProtocol\s+(?:No\.?\s*|Number\s*:?\s*)?(" + _ID_TOKEN + r")")
_TITLE_LABEL = re.compile(
    r"(?:full\s+|protocol\s+|study\s+|trial\s+|official\s+|scientific\s+)?title"
    r"(?:\s+of\s+(?:the\s+)?(?:study|trial|protocol|case\s+study))?",
    re.I,
)
_SPONSOR_LABEL = re.compile(
    r"(?:name\s+of\s+)?sponsor(?:\s+name)?(?:\s+(?:and|&)\s+address)?(?:\s*/\s*company)?|"
    r"sponsored\s+by|sponsor\s+company",
    re.I,
)
_COMPANY = (
    r"(?:Company|Inc\.?|Incorporated|Ltd\.?|Limited|LLC|GmbH|AG|plc|S\.A\.|SA|Corporation|"
    r"Corp\.?|Pharmaceuticals?|Pharma|Biosciences|Therapeutics|Laboratories|N\.V\.|B\.V\.)"
)
_COPYRIGHT = re.compile(
    r"(?:Copyright|\(c\)|©)\s*(?:©\s*)?(?:\d{4}\s*[,\-–]?\s*)+(?:by\s+)?"
    r"([A-Z][\w.&'’\- ]{1,80}?\b" + _COMPANY + r")(?=[\s.,;]|$)"
)
_PHASE_LABEL = re.compile(r"(?:trial|study|clinical|development)?\s*phase", re.I)
_PHASE = re.compile(
    r"\b(?:Phase|PHASE)\s+((?:IV|I{1,3}|[1-4])(?:\s*[/\-]\s*(?:IV|I{1,3}|[1-4]))?[ab]?)\b"
)
_PRODUCT_LABELS = (
    re.compile(
        r"investigational\s+(?:medicinal\s+)?product(?:\(s\)|s)?(?:\s+name)?|"
        r"(?:compound|drug|product)\s+name(?:\(s\))?|name\s+of\s+(?:the\s+)?"
        r"(?:investigational\s+)?(?:product|drug)|test\s+(?:product|drug|article)|"
        r"study\s+drug|investigational\s+(?:trial\s+)?intervention(?:\(s\))?",
        re.I,
    ),
    re.compile(r"compound\s+code(?:\(s\))?|primary\s+study\s+material|study\s+intervention", re.I),
)
# A title-page line naming the drug with its code: "Xanomeline (LY246708)".
_DRUG_WITH_CODE = re.compile(
    r"^([A-Z][a-z][A-Za-z\-]{2,40}(?:\s+[A-Za-z\-]{2,30})?)\s*"
    r"\(([A-Z]{1,4}[\- ]?\d{3,}[A-Z0-9\-]*)\)\s*$"
)
_INDICATION_LABEL = re.compile(
    r"(?:therapeutic\s+)?indication(?:\(s\))?|disease(?:\s*/\s*condition)?|"
    r"(?:medical\s+)?condition(?:\s+or\s+disease)?|population\s+diagnosis(?:\s+or\s+condition)?",
    re.I,
)
_INDICATION_IN_TITLE = re.compile(
    r"\b(?:in|for)\s+(?:(?:adult|adults|pediatric|paediatric|elderly|hospitali[sz]ed|healthy)\s+)?"
    r"(?:patients|subjects|participants|adults|children|volunteers)\s+with\s+(.+?)\s*(?:[.;]|$)",
    re.I,
)
_NUMBER_WORDS = r"\d[\d,]*"
_SAMPLE_SIZE = re.compile(
    r"(?:approximately|about|a\s+total\s+of|total\s+of|up\s+to|target\s+of|planned\s+)\s*"
    r"(" + _NUMBER_WORDS + r")\s+(?:[\w\-]+\s+){0,3}?(?:patients|subjects|participants|individuals)"
    r"\b[^.;]{0,80}?\b(?:will|are\s+planned\s+to|to)\s+be\s+(?:enrolled|randomi[sz]ed|included|"
    r"recruited|treated|dosed)",
    re.I,
)
_SAMPLE_SIZE_SIMPLE = re.compile(
    r"\b(" + _NUMBER_WORDS + r")\s+(?:patients|subjects|participants)\s+(?:will|are\s+planned\s+to)"
    r"\s+be\s+(?:enrolled|randomi[sz]ed)|sample\s+size\s+of\s+(?:approximately\s+)?("
    + _NUMBER_WORDS
    + r")",
    re.I,
)
_PER_GROUP = re.compile(r"^\s*(?:\w+\s+){0,3}(?:to\s+each|per\s+(?:arm|group)|in\s+each)", re.I)
_SAMPLE_LABEL = re.compile(
    r"(?:planned\s+)?(?:number\s+of\s+(?:participants|patients|subjects)(?:\s+planned)?|"
    r"sample\s+size|planned\s+enrol(?:l)?ment)",
    re.I,
)
_ARMS_LIST = re.compile(
    r"(?:treatment|study)\s+(?:arms|groups)\s+(?:will\s+)?(?:include|are|consist\s+of)\s*:?\s*"
    r"(.+?)(?:\.(?=\s|$)|$)",
    re.I,
)
_ARMS_COUNT = re.compile(
    r"\b((?:\d+|two|three|four|five|six)\s+(?:treatment\s+|study\s+)?(?:arms|groups))\b", re.I
)
_ARMS_LABEL = re.compile(r"number\s+of\s+(?:arms|treatment\s+arms|groups)", re.I)
_PRIMARY_ENDPOINT_PROSE = re.compile(
    r"\bprimary\s+(?:efficacy\s+|outcome\s+)?(?:endpoints?|outcome\s+measures?|"
    r"efficacy\s+(?:variables?|parameters?|measures?|endpoints?)|variables?)\s+"
    r"(?:is|are|will\s+be)\s+(?!based|described|defined|listed|summari[sz]ed|presented|analy[sz]ed|"
    r"tested|assessed|evaluated|provided|shown|given)(?:the\s+)?([^.;]{5,250})",
    re.I,
)
_PRIMARY_ENDPOINT_HEADER = re.compile(
    r"primary\s+(?:efficacy\s+)?(?:end\s*points?|outcomes?)(?:\(s\))?", re.I
)


# --- fact finders -------------------------------------------------------------------------


def _has_digit(value: str) -> bool:
    return any(ch.isdigit() for ch in value)


def _find_protocol_number(
    src: ExtractedSource, units: list[_Unit], lines: list[_Unit]
) -> _Found | None:
    id_re = re.compile(_ID_TOKEN)

    def ok(value: str) -> bool:
        return bool(id_re.search(value)) and _has_digit(value) and len(value) <= 60

    labelled = _label_value(units + lines, _PROTOCOL_LABEL, 0, ok)
    if labelled is not None:
        m = id_re.search(labelled.value)
        if m:
            labelled = replace(labelled, value=m.group(0))
    head = lines[:200] if lines else units[:80]
    inline = _pattern(
        head,
        _PROTOCOL_INLINE,
        1,
        accept=lambda m, u: _has_digit(m.group(1)) and len(m.group(1)) >= 5,
    )
    return _best(labelled, inline)


def _find_title(src: ExtractedSource, units: list[_Unit], lines: list[_Unit]) -> _Found | None:
    labelled = _label_value(
        units[:120] + lines[:200], _TITLE_LABEL, 0, lambda v: len(v.split()) >= 4
    )
    if labelled is not None:
        return labelled
    title = src.title.strip()
    if len(title.split()) >= 4:
        key = alnum(title)
        for u in units[:150]:
            if key and key in alnum(u.text):
                return _Found(_clean(title), title, u, 1)
    return None


def _find_sponsor(src: ExtractedSource, units: list[_Unit], lines: list[_Unit]) -> _Found | None:
    labelled = _label_value(
        units[:200] + lines[:300],
        _SPONSOR_LABEL,
        0,
        lambda v: bool(re.search(r"[A-Za-z]{2,}", v)) and len(v) <= 150,
    )
    copyright_ = _pattern(lines[:300] or units[:150], _COPYRIGHT, 1)
    return _best(labelled, copyright_)


def _find_phase(src: ExtractedSource, units: list[_Unit], lines: list[_Unit]) -> _Found | None:
    labelled = _label_value(
        units[:200] + lines[:200],
        _PHASE_LABEL,
        0,
        lambda v: bool(_PHASE.search(v) or re.fullmatch(r"(?:IV|I{1,3}|[1-4])[ab]?", v.strip())),
    )
    if labelled is not None:
        m = _PHASE.search(labelled.value)
        if m:
            labelled = replace(labelled, value=m.group(0))
    inline = _pattern(units[:400], _PHASE, 1, group=0)
    return _best(labelled, inline)


def _find_product(src: ExtractedSource, units: list[_Unit], lines: list[_Unit]) -> _Found | None:
    def ok(value: str) -> bool:
        return bool(re.search(r"[A-Za-z]{3,}", value)) and len(value) <= 150

    found = [
        _label_value(units + lines, label, rank, ok) for rank, label in enumerate(_PRODUCT_LABELS)
    ]
    title_page = [u for u in (lines[:80] if lines else units[:40])]
    drug = _pattern(title_page, _DRUG_WITH_CODE, 1, group=0, whole_line=True)
    if drug is not None:
        m = _DRUG_WITH_CODE.match(drug.value)
        drug = replace(drug, value=m.group(0) if m else drug.value)
    # Rank: explicit product labels, then "Name (CODE123)" on the title page, then codes.
    ranked = [found[0], drug and replace(drug, rank=1), found[1] and replace(found[1], rank=2)]
    return _best(*ranked)


def _find_indication(
    src: ExtractedSource, units: list[_Unit], lines: list[_Unit], title: _Found | None
) -> _Found | None:
    labelled = _label_value(
        units[:250] + lines[:300],
        _INDICATION_LABEL,
        0,
        lambda v: bool(re.search(r"[A-Za-z]{3,}", v)) and len(v) <= 200,
    )
    if labelled is not None:
        return labelled
    if title is not None:
        m = _INDICATION_IN_TITLE.search(title.value)
        if m and alnum(m.group(1)):
            return _Found(_clean(m.group(1)), title.quote, title.unit, 1)
    return None


def _find_sample_size(
    src: ExtractedSource, units: list[_Unit], lines: list[_Unit]
) -> _Found | None:
    best: _Found | None = None
    for u in units:
        if u.kind in ("heading", "row"):
            continue
        in_section = any(re.search(r"sample\s+size", h, re.I) for h in u.heading_path)
        for pattern in (_SAMPLE_SIZE, _SAMPLE_SIZE_SIMPLE):
            for m in pattern.finditer(u.text):
                number = next((g for g in m.groups() if g), None)
                if not number:
                    continue
                per_group = bool(_PER_GROUP.match(u.text[m.end() : m.end() + 40])) or bool(
                    re.search(r"(?:per|each)\s+(?:arm|group)", m.group(0), re.I)
                )
                rank = (2 if per_group else 0) + (0 if in_section else 1)
                found = _Found(number, _sentence(u.text, m.start(), m.end()), u, rank)
                best = _best(best, found)
    if best is None or best.rank >= 2:
        labelled = _label_value(units, _SAMPLE_LABEL, 1, lambda v: bool(re.search(r"\d", v)))
        if labelled is not None:
            m = re.search(r"\d[\d,]*", labelled.value)
            if m:
                best = _best(best, replace(labelled, value=m.group(0)))
    return best


def _find_arms(src: ExtractedSource, units: list[_Unit], lines: list[_Unit]) -> _Found | None:
    listed = _pattern(
        [u for u in units if u.kind not in ("heading", "row")],
        _ARMS_LIST,
        0,
        accept=lambda m, u: len(m.group(1)) >= 10,
    )
    labelled = _label_value(
        units, _ARMS_LABEL, 1, lambda v: bool(re.search(r"\d|two|three|four", v, re.I))
    )
    if labelled is not None:
        labelled = replace(labelled, value=labelled.value.strip("[] "))
    count = _pattern([u for u in units if u.kind not in ("heading", "row")], _ARMS_COUNT, 2)
    return _best(listed, labelled, count)


def _find_primary_endpoint(
    src: ExtractedSource, units: list[_Unit], lines: list[_Unit]
) -> _Found | None:
    # A table with a "Primary Endpoint(s)" column: the cell below the header.
    table_hit: _Found | None = None
    for i, u in enumerate(units):
        if u.cells is None or i + 1 >= len(units) or units[i + 1].cells is None:
            continue
        for k, cell in enumerate(u.cells):
            if _PRIMARY_ENDPOINT_HEADER.fullmatch(cell.strip().rstrip(":")):
                below = units[i + 1]
                if below.cells is not None and k < len(below.cells) and alnum(below.cells[k]):
                    value = below.cells[k].strip()
                    first = value.split("\n")[0]
                    table_hit = _Found(_clean(first), first, below, 0)
                    break
        if table_hit:
            break
    # The first paragraph or list item under a "Primary Endpoint" heading.
    section_hit: _Found | None = None
    for u in units:
        if u.kind in ("heading", "row") or not u.heading_path:
            continue
        # alnum(): extracted headings can be split inside words ("3.2.1. Primar y").
        tail = alnum(" ".join(u.heading_path[-2:]))
        if "primary" in alnum(u.heading_path[-1]) and ("endpoint" in tail or "outcome" in tail):
            sentence = _sentence(u.text, 0, min(len(u.text), 1))
            m = _PRIMARY_ENDPOINT_PROSE.search(sentence)
            section_hit = _Found(_clean(m.group(1) if m else sentence), sentence, u, 1)
            break
    prose = _pattern([u for u in units if u.kind not in ("heading",)], _PRIMARY_ENDPOINT_PROSE, 2)
    return _best(table_hit, section_hit, prose)


_ACRONYM_LABEL = re.compile(r"(?:trial|study|protocol)?\s*acronym|short\s+name", re.I)
_ACRONYM = re.compile(r"^[A-Z][A-Z0-9]{2,}(?:[-\s][A-Z0-9]+){0,2}$")
_INVESTIGATOR = re.compile(
    r"\b(?:coordinating|principal|lead|national\s+coordinating)\s+investigator\s+"
    r"(?:is|was|will\s+be)\s+((?:Professor|Prof\.|Dr\.?|Doctor)?\s*"
    r"[A-Z][\w'’\-]+\.?(?:\s+[A-Z]\.)?(?:\s+[A-Z][\w'’\-]+){1,3})",
)
_INVESTIGATOR_LABEL = re.compile(
    r"(?:coordinating|principal|lead|signatory)\s+investigator(?:\(s\))?", re.I
)
_DATE = (
    r"(\d{1,2}\s+(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?\s+\d{4}|"
    r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?\s+\d{1,2},\s+\d{4}|"
    r"\d{4}-\d{2}-\d{2}|\d{1,2}[A-Z]{3}\d{4})"
)
_WHO = r"(?:patient|subject|participant)"
_DATE_PATTERNS = {
    "first_patient": re.compile(
        r"\b(?:first\s+" + _WHO + r"\s+(?:first\s+)?(?:randomi[sz]ed|enrolled|screened|dosed|"
        r"treated|vaccinated|visit|in)|study\s+(?:initiation|start)\s+date|"
        r"date\s+of\s+first\s+" + _WHO + r"\s+\w+)\s*(?::|on|was|date)?\s*" + _DATE,
        re.I,
    ),
    "last_patient": re.compile(
        r"\b(?:last\s+" + _WHO + r"\s+(?:completed|last\s+visit|visit|out)[\w\s]{0,20}?|"
        r"study\s+completion\s+date|date\s+of\s+last\s+" + _WHO + r"\s+\w+)\s*"
        r"(?::|on|was|date)?\s*" + _DATE,
        re.I,
    ),
    "data_cutoff": re.compile(r"\bdata\s+cut-?off(?:\s+date)?\s*(?::|of|on|was)?\s*" + _DATE, re.I),
}


def _find_acronym(src: ExtractedSource, units: list[_Unit], lines: list[_Unit]) -> _Found | None:
    return _label_value(
        units[:200] + lines[:200],
        _ACRONYM_LABEL,
        0,
        lambda v: bool(_ACRONYM.match(v.strip())) and len(v) <= 40,
    )


def _find_investigator(
    src: ExtractedSource, units: list[_Unit], lines: list[_Unit]
) -> _Found | None:
    labelled = _label_value(
        units + lines,
        _INVESTIGATOR_LABEL,
        0,
        lambda v: bool(re.match(r"(?:Professor|Prof\.|Dr\.?)?\s*[A-Z][a-z]", v)) and len(v) <= 150,
    )
    prose = _pattern([u for u in units if u.kind != "heading"], _INVESTIGATOR, 1)
    return _best(labelled, prose)


def _find_date(name: str) -> Callable[[ExtractedSource, list[_Unit], list[_Unit]], _Found | None]:
    pattern = _DATE_PATTERNS[name]

    def find(src: ExtractedSource, units: list[_Unit], lines: list[_Unit]) -> _Found | None:
        return _pattern(units + lines, pattern, 0)

    return find


def _facts_of(src: ExtractedSource) -> dict[str, _Found]:
    units = _units(src)
    lines = list(_page_lines(src, 5)) if src.file_type == "pdf" else []
    found: dict[str, _Found | None] = {}
    found["protocol_number"] = _find_protocol_number(src, units, lines)
    found["title"] = _find_title(src, units, lines)
    found["sponsor"] = _find_sponsor(src, units, lines)
    found["phase"] = _find_phase(src, units, lines)
    found["product"] = _find_product(src, units, lines)
    found["indication"] = _find_indication(src, units, lines, found["title"])
    found["sample_size"] = _find_sample_size(src, units, lines)
    found["arms"] = _find_arms(src, units, lines)
    found["primary_endpoint"] = _find_primary_endpoint(src, units, lines)
    found["acronym"] = _find_acronym(src, units, lines)
    found["coordinating_investigator"] = _find_investigator(src, units, lines)
    for name in _DATE_PATTERNS:
        found[name] = _find_date(name)(src, units, lines)
    return {name: f for name, f in found.items() if f is not None}


_PRIORITY = {"protocol": 0, "sap": 1, "results": 2, "other": 3}


def _verified(src: ExtractedSource, f: _Found) -> bool:
    """The value is in the quote and the quote is on the cited page or block (letters, digits)."""
    value, quote = alnum(f.value), alnum(f.quote)
    if not value or value not in quote:
        return False
    if f.unit.page is not None and src.pages:
        return 0 < f.unit.page <= len(src.pages) and quote in alnum(src.pages[f.unit.page - 1])
    return quote in alnum(f.unit.text)


def attach_key_facts(sources: tuple[ExtractedSource, ...]) -> tuple[ExtractedSource, ...]:
    """Each source with the key facts found in it (protocols searched first)."""
    order = sorted(range(len(sources)), key=lambda i: (_PRIORITY.get(sources[i].kind, 3), i))
    per_file: dict[int, dict[str, _Found]] = {}
    for i in order:
        try:
            per_file[i] = _facts_of(sources[i])
        except Exception:  # a surprising document must not stop the pipeline; facts are optional
            per_file[i] = {}
    chosen: dict[str, tuple[int, _Found]] = {}
    for name in FACT_NAMES:
        # What happened in the study (its dates) is best told by its results.
        ranked = order
        if name in _DATE_PATTERNS:
            ranked = sorted(order, key=lambda i: (sources[i].kind != "results", i))
        for i in ranked:
            if name in per_file[i]:
                chosen[name] = (i, per_file[i][name])
                break
    per_source: dict[int, list[KeyFact]] = {}
    for name in FACT_NAMES:
        if name not in chosen:
            continue
        i, f = chosen[name]
        src = sources[i]
        if not _verified(src, f):
            continue
        per_source.setdefault(i, []).append(
            KeyFact(
                name=name,
                value=f.value,
                quote=f.quote,
                file_path=src.file_path,
                file_name=src.file_name,
                page=f.unit.page,
                block=f.unit.block,
            )
        )
    return tuple(
        replace(src, key_facts=tuple(per_source.get(i, ()))) for i, src in enumerate(sources)
    )


def all_key_facts(sources: tuple[ExtractedSource, ...]) -> dict[str, KeyFact]:
    """The study's facts by name, gathered from the sources ``attach_key_facts`` returned."""
    out: dict[str, KeyFact] = {}
    for src in sources:
        for fact in src.key_facts:
            out.setdefault(fact.name, fact)
    return out


# --- one study? ---------------------------------------------------------------------------


def protocol_numbers(sources: Sequence[ExtractedSource]) -> list[tuple[str, str]]:
    """(file name, protocol number) for every source that names one on its own pages (each
    file searched by itself, unlike ``attach_key_facts``, which keeps one value per fact)."""
    out: list[tuple[str, str]] = []
    for src in sources:
        try:
            units = _units(src)
            lines = list(_page_lines(src, 5)) if src.file_type == "pdf" else []
            found = _find_protocol_number(src, units, lines)
        except Exception:  # facts are optional: a surprising document names none
            found = None
        if found is not None and _verified(src, found):
            out.append((src.file_name, found.value.strip()))
    return out


def _same_number(a: str, b: str) -> bool:
    x, y = alnum(a), alnum(b)
    return bool(x) and bool(y) and (x == y or x in y or y in x)


def study_mismatch(named: Sequence[tuple[str, str]]) -> list[str]:
    """A warning when the files name different studies (their protocol numbers disagree; one
    number that contains the other, "LZZT" and "H2Q-MC-LZZT", is the same study). ``named``
    is ``protocol_numbers``'s answer; the message names each file and its number."""
    groups: list[list[tuple[str, str]]] = []
    for file_name, number in named:
        for group in groups:
            if _same_number(group[0][1], number):
                group.append((file_name, number))
                break
        else:
            groups.append([(file_name, number)])
    if len(groups) < 2:
        return []
    # The same words whatever the order of the files (the page and the report agree).
    listed = "; ".join(
        sorted(f"{group[0][1]} in {', '.join(sorted(f for f, _n in group))}" for group in groups)
    )
    return [
        f"The sources name different studies (protocol numbers: {listed}). Check that every "
        "file belongs to the same study before relying on the draft."
    ]
