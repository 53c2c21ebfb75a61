"""The E3 title page (ICH E3 section 1) as lines: one source for the twin and the .docx.

The derived section "1 Title Page" (``derive.title_page``) holds these lines as its paragraphs,
each with the flag ``title_page:<kind>``, and the renderer writes that section *as* the title page
(``render_front.write_title_section``): the study title in the ``Title`` style, the subtitle
naming the kind of document, one "Label: value" line per key fact with its citation, a visible
placeholder for each fact E3 expects and the sources do not give, the report date and version,
the GCP statement to confirm and Folio's note. A reviewer therefore sees every fact once, and a
copy returned unchanged reads exactly as the twin's section 1 (``review/match.py``).

The report date and version change with every version while section 1 may be carried unchanged
into the next one: the twin's line is "Report date and version: [to be confirmed]", and the .docx
shows the date and version in it as a ``DOCPROPERTY folio_draft`` field ("2026-12-05, draft
version 2"), a computed field result that the review cycle leaves out of the text as it does a
table of contents, so it is never an edit nor a redline mark.

An outline without a title-page section (another template, or a selection of sections) gets the
same lines as a cover before the first section (``render_front.write_title_page``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from documents.pipeline import language
from documents.pipeline.types import ExtractedSource, KeyFact

# (fact name, label, expected: a missing expected fact is a visible placeholder) in E3's order.
TITLE_FIELDS: tuple[tuple[str, str, bool], ...] = (
    ("protocol_number", "Protocol number", True),
    ("acronym", "Study acronym", False),
    ("phase", "Phase of development", True),
    ("sponsor", "Sponsor", True),
    ("product", "Investigational product", True),
    ("indication", "Indication", True),
    ("coordinating_investigator", "Coordinating investigator", False),
    ("first_patient", "Study initiation date (first patient enrolled)", True),
    ("last_patient", "Study completion date (last patient completed)", True),
    ("data_cutoff", "Data cut-off", False),
)
DOCUMENT_KINDS = {"CSR": "Clinical Study Report", "PROTOCOL": "Clinical Study Protocol"}
DATE_LABEL = "Report date and version"
GCP_LABEL = "Good Clinical Practice"
TO_CONFIRM = "[to be confirmed]"
GCP_PLACEHOLDER = (
    "[To be confirmed: this study was conducted in accordance with Good Clinical Practice (GCP), "
    "including the archiving of essential documents.]"
)
FOLIO_NOTE = (
    "Draft written by Folio from the source documents listed at the end. Every value and "
    "paragraph cites its sources; bracketed values are placeholders to complete. Review "
    "before use."
)
FLAG_PREFIX = "title_page:"
# The custom document property holding the report date and version; the title page shows it as a
# DOCPROPERTY field, a computed value the review cycle does not read as text (review/reader.py).
DRAFT_PROPERTY = "folio_draft"
KINDS = ("title", "subtitle", "fact", "placeholder", "date", "gcp", "note")


def placeholder(label: str) -> str:
    return f"[{label}: not found in the sources — to be completed]"


@dataclass(frozen=True)
class TitleLine:
    kind: str  # one of KINDS
    value: str  # the line after its label (the whole line when there is no label)
    label: str = ""
    fact: KeyFact | None = None

    @property
    def text(self) -> str:
        return f"{self.label}: {self.value}" if self.label else self.value

    @property
    def flag(self) -> str:
        return FLAG_PREFIX + self.kind


def line_kind(flags: Sequence[str]) -> str | None:
    """The title-page line kind a twin paragraph's flags name, if any."""
    for flag in flags:
        if flag.startswith(FLAG_PREFIX) and flag[len(FLAG_PREFIX) :] in KINDS:
            return flag[len(FLAG_PREFIX) :]
    return None


def key_facts(sources: Sequence[ExtractedSource]) -> list[KeyFact]:
    """The study's key facts (one per name, protocols first), each with its file."""
    seen: set[str] = set()
    out: list[KeyFact] = []
    for src in sorted(sources, key=lambda s: {"protocol": 0, "sap": 1}.get(s.kind, 2)):
        for fact in src.key_facts:
            if fact.name in seen or not fact.value.strip():
                continue
            seen.add(fact.name)
            out.append(
                KeyFact(
                    name=fact.name,
                    value=fact.value,
                    quote=fact.quote,
                    file_path=src.file_path,
                    file_name=src.file_name,
                    page=fact.page,
                    block=fact.block,
                )
            )
    return out


def fact_value(fact: KeyFact) -> str:
    """The value shown: one line, and never a number its quote does not have."""
    value = language.clean_text(" ".join(fact.value.split()))
    if not set(language.numbers_in(value)) <= set(language.numbers_in(fact.quote)):
        value = language.clean_text(" ".join(fact.quote.split()))
    return value


def study_title(facts: Sequence[KeyFact]) -> str | None:
    for fact in facts:
        if fact.name == "title" and fact.value.strip():
            return " ".join(fact.value.split())
    return None


def draft_stamp(version: object, today: str) -> str:
    """The report date and version the .docx shows (``DRAFT_PROPERTY``): "2026-12-05, draft
    version 2"."""
    return f"{today}, draft version {version}" if version else f"{today}, draft"


def title_lines(
    facts: Sequence[KeyFact],
    *,
    document_type: str,
    template_name: str,
) -> list[TitleLine]:
    """The title page's lines, in order (see the module docstring)."""
    by_name = {f.name: f for f in facts}
    title = study_title(facts)
    lines = [
        TitleLine("title", title, fact=by_name.get("title"))
        if title
        else TitleLine("placeholder", placeholder("Study title"))
    ]
    subtitle = DOCUMENT_KINDS.get(
        (document_type or "").strip().upper(), document_type or template_name
    )
    if subtitle:
        lines.append(TitleLine("subtitle", subtitle))
    for name, label, expected in TITLE_FIELDS:
        fact = by_name.get(name)
        value = fact_value(fact) if fact is not None else ""
        if fact is not None and value:
            lines.append(TitleLine("fact", value, label=label, fact=fact))
        elif expected:
            lines.append(TitleLine("placeholder", placeholder(label)))
    lines.append(TitleLine("date", TO_CONFIRM, label=DATE_LABEL))
    lines.append(TitleLine("gcp", GCP_PLACEHOLDER, label=GCP_LABEL))
    lines.append(TitleLine("note", FOLIO_NOTE))
    return lines
