"""Derived sections, written last from the rest of the draft and the key facts.

- **Title page** (E3 1): the title page itself (``title_page.py``): the study title, the key
  facts each cited (``classify.attach_key_facts``), a visible placeholder for each fact E3
  expects that the sources do not give; the renderer writes this section as the title page.
- **Synopsis** (E3 2): a two-column table in E3's order (objectives, methodology, number of
  patients, diagnosis and criteria, test product, criteria for evaluation, statistical methods,
  efficacy results, safety results, conclusions). Design rows take the protocol's own synopsis
  sentences when it has any that the body did not use, else the body's first sentences; results
  rows state the key figures of the primary efficacy outputs and of the adverse-event overview,
  cell for cell, so that every number equals the body's.
- **Efficacy / safety conclusions** (E3 11.4.7, 12.6) and **discussion and overall conclusions**
  (E3 13): the main results outputs' key figures and the sentences of their footnotes that
  interpret them ("OS data are immature"), nothing else: Folio draws no conclusion of its own.
- **Output index** (E3 14, 16.2): the results outputs by number, title and population.
- **References** (E3 15): the sources' reference lists, entries unchanged.
- **Table of contents** (E3 3): a note; the .docx carries the real table of contents.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from documents.pipeline import figures, language, mapping, outputs, results
from documents.pipeline.results import ResultTable
from documents.pipeline.state import DraftState, section_draft
from documents.pipeline.title_page import key_facts, title_lines
from documents.pipeline.types import (
    Block,
    Citation,
    OutlineSection,
    Paragraph,
    SectionDraft,
    Table,
)
from documents.pipeline.writer import write_block

ORDER = {
    "title_page": 0,
    "references": 1,
    "output_index": 2,
    "efficacy_conclusions": 3,
    "safety_conclusions": 3,
    "synopsis": 4,
    "discussion": 5,
    "toc": 6,
    "abbreviations": 9,
}


MAX_CONCLUSION_OUTPUTS = 4


def ordered(state: DraftState, indices: Iterable[int]) -> list[int]:
    return sorted(indices, key=lambda j: (ORDER.get(state.profiles[j].derived or "", 5), j))


_draft = section_draft


def _no_source(sec: OutlineSection, kind: str) -> SectionDraft:
    return _draft(
        sec, [Paragraph(text=mapping.no_source_message(kind), style="note")], state="no_source"
    )


def write(state: DraftState, i: int) -> SectionDraft:
    kind = state.profiles[i].derived
    sec = state.outline[i]
    if kind == "title_page":
        return title_page(state, sec)
    if kind == "synopsis":
        return synopsis(state, sec)
    if kind == "toc":
        note = Paragraph(
            text="The table of contents of this report is generated from its headings.",
            style="note",
        )
        return _draft(sec, [note], state="generated")
    if kind in {"discussion", "efficacy_conclusions", "safety_conclusions"}:
        return conclusions(state, sec, kind)
    if kind == "references":
        return references(state, sec)
    if kind == "output_index":
        return output_index(state, sec, i)
    return _no_source(sec, "default")


# ---------------------------------------------------------------- title page


def title_page(state: DraftState, sec: OutlineSection) -> SectionDraft:
    """The section *is* the title page (``title_page.py``): its lines as paragraphs, each flagged
    with its kind for the renderer; a fact carries its citation when the locator finds it."""
    index = {src.file_path: k for k, src in enumerate(state.sources)}
    lines = title_lines(
        key_facts(state.sources),
        document_type=state.inp.document_type or "",
        template_name=state.inp.template_name or "",
    )
    paragraphs: list[Paragraph] = []
    for line in lines:
        cites: tuple[Citation, ...] = ()
        fact = line.fact
        if fact is not None and fact.file_path in index:
            block = Block(
                index=0, kind="paragraph", text=fact.quote, page=fact.page, block=fact.block
            )
            found = state.ctx.locator.locate(index[fact.file_path], block, fact.quote)
            cites = tuple(found[:1])
        style = "body" if line.kind in {"title", "fact"} else "note"
        paragraphs.append(
            Paragraph(text=line.text, citations=cites, style=style, flags=(line.flag,))
        )
    if not any(p.citations for p in paragraphs):
        return _draft(sec, paragraphs, state="no_source")
    return _draft(sec, paragraphs)


# ---------------------------------------------------------------- synopsis

# (row label, E3 titles of the body sections that feed it, the information element that a
# sentence of the protocol's own synopsis must state to fill the row instead)
SYNOPSIS_ROWS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("Objectives", ("Study Objectives",), ("objective_statement",)),
    (
        "Methodology",
        ("Overall Study Design and Plan - Description",),
        ("design_type", "allocation_ratio"),
    ),
    (
        "Number of patients (planned)",
        ("Determination of Sample Size", "Overall Study Design and Plan - Description"),
        ("planned_size",),
    ),
    (
        "Diagnosis and main criteria for inclusion",
        ("Selection of Study Population", "Inclusion Criteria"),
        ("population_statement",),
    ),
    (
        "Test product, dose and mode of administration",
        ("Treatments Administered",),
        ("treatment_regimen",),
    ),
    ("Criteria for evaluation", ("Primary Efficacy Variable(s)",), ("primary_endpoint",)),
    ("Statistical methods", ("Statistical and Analytical Plans",), ("primary_analysis_method",)),
)
SYNOPSIS_SENTENCES = 1
SYNOPSIS_CONCEPTS = ("synopsis", "synopsis.design", "synopsis.objectives", "schema")


def _section_by_title(state: DraftState, title: str) -> SectionDraft | None:
    from documents.pipeline.profiles import e3_entry

    entry = e3_entry(title)
    for j, draft in state.generated():
        if entry is not None and e3_entry(state.outline[j].title) is entry:
            return draft
        if mapping.heading_similarity(title, state.outline[j].title) >= 0.9:
            return draft
    return None


def _first_sentences(draft: SectionDraft, n: int) -> tuple[list[str], list[Citation]]:
    texts: list[str] = []
    cites: list[Citation] = []
    for p in draft.paragraphs:
        if p.style == "note" or not p.citations:
            continue
        sentences = language.sentences(p.text) if p.style == "body" else [p.text]
        for s in sentences:
            if len(texts) >= n:
                break
            if s.rstrip().endswith(":"):
                continue
            texts.append(s)
        cites.extend(p.citations)
        if len(texts) >= n:
            break
    return texts, cites


def _meets(element_id: str, text: str) -> bool:
    from documents.pipeline import elements

    el = elements.elements().get(element_id)
    return el is not None and el.matches(text)


def _synopsis_unit(state: DraftState, element_id: str) -> tuple[str, list[Citation]] | None:
    """An unused sentence (or label/value row) of the protocol's own synopsis for a row."""
    from documents.pipeline import elements

    found = elements.find_units(
        index=state.index,
        found=state.assignment.node_concepts,
        element_ids=[element_id],
        section_concepts=SYNOPSIS_CONCEPTS,
        present_text="",
        kinds_of={s: src.kind for s, src in enumerate(state.sources)},
        used=set(),
        is_taken=lambda u: state.ctx.is_duplicate(u.text),
        only_preferred=True,
        max_repeats=0,
    )
    for _eid, unit in found:
        if unit.row is not None:
            cites = state.ctx.locator.locate_row(unit.s_idx, unit.block, unit.row)
            text = state.ctx.rewrite(unit.text.rstrip(".") + ".")
        else:
            cites = state.ctx.locator.locate(unit.s_idx, unit.block, unit.text)
            text = state.ctx.rewrite(unit.text)
        if cites:
            state.ctx.remember(unit.text)
            return text, list(cites)
    return None


def _stating(
    drafts: Sequence[SectionDraft], element_id: str, taken: set[str]
) -> tuple[str, tuple[Citation, ...]] | None:
    """The sentence (or list item) of the written sections that states the element best: the
    one its strongest pattern matches, a sentence of prose before a list item or table line,
    then the earliest."""
    from documents.pipeline import elements

    el = elements.elements().get(element_id)
    if el is None:
        return None
    best: tuple[tuple[int, int, int], str, tuple[Citation, ...]] | None = None
    order = 0
    for draft in drafts:
        for p in draft.paragraphs:
            if p.style == "note" or not p.citations:
                continue
            for sentence in language.sentences(p.text) if p.style == "body" else [p.text]:
                order += 1
                if sentence in taken or sentence.rstrip().endswith(":"):
                    continue
                if not el.allows(sentence):
                    continue
                level = next((k for k, pat in enumerate(el.any) if pat.search(sentence)), None)
                if level is None:
                    continue
                prose = p.style == "body" and sentence.rstrip().endswith((".", "!", "?"))
                key = (level, 0 if prose else 1, order)
                if best is None or key < best[0]:
                    best = (key, sentence, p.citations)
    return (best[1], _supporting(best[1], best[2])) if best else None


def _supporting(sentence: str, citations: tuple[Citation, ...]) -> tuple[Citation, ...]:
    """The citations of a paragraph that support one of its sentences: those whose quote shares
    the most words with it (a synopsis row states one sentence; the paragraph's other citations
    belong to its other sentences). All of them when none shares a word."""
    wanted = set(re.findall(r"[a-z0-9]{3,}", sentence.lower()))
    scored = [
        (len(wanted & set(re.findall(r"[a-z0-9]{3,}", c.quote.lower()))), c) for c in citations
    ]
    top = max((score for score, _c in scored), default=0)
    if top == 0:
        return citations
    return tuple(c for score, c in scored if score * 2 >= top)


def synopsis(state: DraftState, sec: OutlineSection) -> SectionDraft:
    """E3's synopsis table: each design row states its elements with the body's own sentence
    (else an unused sentence of the protocol's synopsis, else the body section's first one);
    the results rows state the main outputs' figures in their own words."""
    rows: list[tuple[str, str]] = []
    citations: list[Citation] = []
    taken: set[str] = set()
    for label, titles, element_ids in SYNOPSIS_ROWS:
        drafts = [d for d in (_section_by_title(state, t) for t in titles) if d is not None]
        texts: list[str] = []
        cites: list[Citation] = []
        for element_id in element_ids:
            if any(_meets(element_id, t) for t in texts):
                continue
            found = _stating(drafts, element_id, taken)
            if found is None:
                found = _synopsis_unit(state, element_id)
            if found is not None:
                texts.append(found[0])
                cites.extend(found[1])
                taken.add(found[0])
        if not texts and drafts:
            first, first_cites = _first_sentences(drafts[0], SYNOPSIS_SENTENCES)
            texts, cites = first, first_cites
        if texts:
            rows.append((label, " ".join(texts)))
            citations.extend(cites)
    for label, tables in (
        ("Efficacy results", _main_efficacy(state)[:2]),
        ("Safety results", _main_safety(state)),
    ):
        text, cites = _figures_text(state, tables, style="with")
        if text:
            rows.append((label, text))
            citations.extend(cites)
    conclusions_text, cites = _interpretive_notes(
        state, _main_efficacy(state) + _main_safety(state)
    )
    if conclusions_text:
        rows.append(("Conclusions", conclusions_text))
        citations.extend(cites)
    if not rows:
        return _no_source(sec, "synopsis")
    table = Table(
        title="Synopsis",
        rows=tuple(rows),
        citations=tuple(dict.fromkeys(citations)),
        header_rows=0,
    )
    return _draft(sec, [], [table])


# ---------------------------------------------------------------- results-based sections


def _placed(state: DraftState) -> list[ResultTable]:
    out = [t for lst in state.placed.values() for t in lst]
    return sorted(out, key=lambda t: (t.s_idx, t.pos))


def _main_efficacy(state: DraftState) -> list[ResultTable]:
    """The primary efficacy outputs: the first efficacy tables by number (no sensitivity or
    subgroup analyses), one per endpoint family."""
    effic = [
        t
        for t in state.outputs
        if t.klass == "efficacy"
        and not t.is_listing
        and not re.search(r"sensitivity|subgroup|supplementary|by visit|per visit", t.title, re.I)
    ]
    effic.sort(key=_number_key)
    # One output per endpoint (the first of each "14.2.1", "14.2.2" family).
    families: dict[str, ResultTable] = {}
    for t in effic:
        families.setdefault(".".join(re.split(r"[.\-]", t.number)[:3]), t)
    return list(families.values())[:MAX_CONCLUSION_OUTPUTS]


def _number_key(t: ResultTable) -> tuple[int, ...]:
    return tuple(int(x) if x.isdigit() else 0 for x in re.split(r"[.\-]", t.number))


def _main_safety(state: DraftState) -> list[ResultTable]:
    """The adverse-event overview, and the summary of solicited reactions (vaccines) whose
    "any" row is the broadest ("any solicited reaction" before "any local reaction")."""
    out = [t for t in state.outputs if t.klass == "ae_overview"][:1]
    solicited = [t for t in state.outputs if t.klass == "ae_solicited"]
    solicited.sort(
        key=lambda t: not any(re.match(r"(?i)\s*any solicited", r[0]) for _k, r in t.data)
    )
    out += solicited[:1]
    if not out:
        out = [t for t in state.outputs if t.klass == "ae_common"][:1]
    return out


def _figures_text(
    state: DraftState, tables: Sequence[ResultTable], *, style: str
) -> tuple[str, list[Citation]]:
    parts: list[str] = []
    cites: list[Citation] = []
    for table in tables:
        rows = results.key_rows(table, 4 if results.is_safety(table.klass) else 3)
        phrases = []
        for row_index, cells in rows:
            phrase = figures.figures_phrase(table, cells, style=style)
            row_cites = [
                c
                for k in results.rows_read(table, row_index)
                for c in state.ctx.locator.locate_row(table.s_idx, table.block, k)
            ]
            if phrase and row_cites:
                phrases.append(phrase)
                cites.extend(row_cites)
        if phrases:
            ref = figures.output_reference(table)
            if style == "was":
                parts.append(f"In {ref}, " + "; ".join(phrases) + ".")
            elif style == "versus":
                joined = "; ".join(phrases)
                parts.append(f"{joined[:1].upper()}{joined[1:]} ({table.ref}).")
            else:
                parts.append(f"{ref[:1].upper()}{ref[1:]}: " + "; ".join(phrases) + ".")
    return " ".join(parts), cites


_INTERPRETIVE = re.compile(
    r"\b(?:immature|not (?:statistically )?significant|statistically significant|was met|"
    r"were met|not met|demonstrated|superior|"
    r"non-?inferior(?:ity)? (?:was )?(?:shown|demonstrated|concluded))\b",
    re.IGNORECASE,
)


def _interpretive_notes(
    state: DraftState, tables: Sequence[ResultTable]
) -> tuple[str, list[Citation]]:
    """The clauses of the outputs' footnotes that interpret the results ("OS data are
    immature"), each cited; footnotes that explain a method ("[a] Kaplan-Meier estimate") are
    not conclusions."""
    texts: list[str] = []
    cites: list[Citation] = []
    for table in tables:
        for row_index, text in figures.prose_footnotes(table):
            if re.match(r"\s*(?:\[[a-z0-9]{1,2}\]|\([a-z]\)|[a-z]\s)", text):
                continue
            for clause in re.split(r"(?<=[.;])\s+", text):
                clause = clause.strip().rstrip(";")
                if not _INTERPRETIVE.search(clause) or len(clause.split()) < 4:
                    continue
                if row_index is not None:
                    c = state.ctx.locator.locate_row(table.s_idx, table.block, row_index)
                else:
                    c = state.ctx.locator.locate(table.s_idx, table.block, clause)
                if c:
                    sentence = clause[:1].upper() + clause[1:]
                    # Results speak after the fact: their tense is kept.
                    sentence = state.ctx.rewrite(
                        sentence if sentence.endswith(".") else sentence + ".",
                        convert_tense=False,
                    )
                    texts.append(sentence)
                    cites.extend(c)
    return " ".join(dict.fromkeys(texts)), cites


def conclusions(state: DraftState, sec: OutlineSection, kind: str | None) -> SectionDraft:
    tables: list[ResultTable] = []
    if kind in {"discussion", "efficacy_conclusions"}:
        tables += _main_efficacy(state)
    if kind in {"discussion", "safety_conclusions"}:
        tables += _main_safety(state)
    paragraphs: list[Paragraph] = []
    for table in tables:
        # Each derived section states the figures in its own words (``figures_phrase``): the
        # same numbers, never the same sentence.
        text, cites = _figures_text(
            state, [table], style="versus" if kind == "discussion" else "was"
        )
        if text:
            paragraphs.append(Paragraph(text=text, citations=tuple(dict.fromkeys(cites))))
    if kind == "discussion":
        notes, cites = _interpretive_notes(state, tables)
        if notes:
            paragraphs.append(Paragraph(text=notes, citations=tuple(dict.fromkeys(cites))))
    if not paragraphs:
        return _no_source(sec, "discussion")
    return _draft(sec, paragraphs)


def _index_choice(state: DraftState, i: int) -> list[ResultTable]:
    sec = state.outline[i]
    number = sec.number
    want_listing = number.startswith("16")
    chosen = []
    for t in state.outputs:
        if t.is_listing != want_listing:
            continue
        if (
            number in {"14", "16.2"}
            or t.number.startswith(number + ".")
            or t.number == number
            or _index_family(sec.title, t)
        ):
            chosen.append(t)
    return chosen


def output_index(state: DraftState, sec: OutlineSection, i: int) -> SectionDraft:
    """E3 14 (and 16.2): the results outputs referred to but not shown in the text, by number
    and title; a part whose subsections list its outputs lists only the rest."""
    shown = {
        t.title
        for j, d in state.drafts.items()
        if state.profiles[j].derived is None
        for t in d.tables
    }
    chosen = [t for t in _index_choice(state, i) if outputs.shown_title(t) not in shown]
    below = {
        (t.s_idx, t.pos)
        for j in state.descendants(i)
        if state.profiles[j].derived == "output_index" and state.outline[j].selected
        for t in _index_choice(state, j)
    }
    chosen = [t for t in chosen if (t.s_idx, t.pos) not in below]
    if not chosen:
        if not state.outputs:
            return _no_source(sec, "results")
        if below or _index_choice(state, i):
            note = "Every results output of this part is shown in the body of the report."
            return _draft(sec, [Paragraph(text=note, style="note")], state="generated")
        note = Paragraph(text="No results output of this kind was given.", style="note")
        return _draft(sec, [note], state="no_source")
    rows = [("Output", "Title")]
    cites: list[Citation] = []
    for t in chosen:
        rows.append((f"{t.kind} {t.number}".strip(), t.title))
        if t.caption_row is not None:
            cites.extend(state.ctx.locator.locate_row(t.s_idx, t.block, t.caption_row))
        else:
            cites.extend(state.ctx.locator.locate(t.s_idx, t.block, t.caption))
    table = Table(
        title="Results outputs",
        rows=tuple(rows),
        citations=tuple(dict.fromkeys(cites)),
        header_rows=1,
    )
    return _draft(sec, [], [table])


_FAMILIES = (
    (r"narrative", {"narratives"}),
    (r"laborator", {"labs", "lab_shifts", "lab_abnormal", "lab_listing"}),
    (
        r"death|serious",
        {"deaths", "sae", "death_listing", "sae_listing", "ae_discontinuation", "aesi"},
    ),
    (
        r"adverse",
        {"ae_overview", "ae_common", "ae_solicited", "ae_related", "ae_severity", "ae_listing"},
    ),
    (r"demograph", {"demographics", "disposition", "analysis_sets", "deviations", "compliance"}),
    (r"efficacy|response", {"efficacy", "subgroups", "pk", "efficacy_listing"}),
    (r"discontinued", {"disposition"}),
    (r"compliance|concentration", {"compliance", "pk"}),
)


def _index_family(title: str, t: ResultTable) -> bool:
    for pattern, classes in _FAMILIES:
        if re.search(pattern, title, re.IGNORECASE):
            return t.klass in classes
    if re.search(r"safety", title, re.IGNORECASE):
        return results.is_safety(t.klass)
    return False


def references(state: DraftState, sec: OutlineSection) -> SectionDraft:
    paragraphs: list[Paragraph] = []
    tables: list[Table] = []
    words = 0
    claimed = state.assignment.claimed
    for node in state.index.nodes:
        if not node.references:
            continue
        blocks = state.index.blocks[node.source_index]
        for pos in range(node.start, node.end_subtree):
            if words >= 1200 or (node.source_index, pos) in claimed:
                continue
            # A reference is one entry: kept whole and unchanged.
            result = write_block(
                state.ctx, node.source_index, blocks[pos], convert_tense=False, verbatim=True
            )
            claimed.add((node.source_index, pos))
            paragraphs.extend(result.paragraphs)
            tables.extend(result.tables)
            words += result.words
    if not paragraphs and not tables:
        return _no_source(sec, "references")
    return _draft(sec, paragraphs, tables)
