"""The built-in grounded writer: source blocks → cited paragraphs, lists and tables.

It never writes a fact of its own. A paragraph is made only of whole source sentences (split with
``language.split_sentences``); each sentence is cited with the exact text it came from as it
appears on its PDF page (or in its DOCX/XLSX block), found by ``QuoteLocator`` on letters and
digits, so ``qc.verify_citation`` accepts every citation — a sentence whose quote cannot be
located is dropped rather than cited loosely. Sentences are then put into the report's register:
future → past tense (``language.to_past``), the style guide's preferred terms, cross-references to
the protocol's own sections removed; the unchanged sentence is kept in ``Paragraph.source_text`` for
the reviewer. Boilerplate (tables of contents, running headers, "please refer to ..." lines, figure
debris) is skipped, and a sentence already used anywhere in the draft (or a near-copy of one, as
when the SAP repeats the protocol) is not used again.

Document instructions (``parse_directives``) understood by the built-in writer:
  * "do not include / do not mention / exclude / omit / leave out X" — drops sentences mentioning X
    (and a whole section whose title is X: it is then skipped);
  * "use A instead of B", "replace B with A", "refer to B as A", "say A not B" — preferred terms;
  * "avoid X" / "do not use X" / "never say X" — banned phrases (flagged, as the style guide's);
  * "emphasise / focus on / more detail on X" — a larger sentence budget for sections about X;
  * "be brief / concise" — smaller budgets everywhere; "write in the present (or past) tense".
Anything else is kept in the manifest (the job records it) and passed to the LLM writer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from documents.pipeline import language, mapping
from documents.pipeline.citations import QuoteLocator
from documents.pipeline.language import normalize_alnum
from documents.pipeline.types import (
    Block,
    Citation,
    ExtractedSource,
    Paragraph,
    Table,
)

MAX_TABLE_ROWS = 80
NEAR_DUP_JACCARD = 0.8

# ---------------------------------------------------------------- directives


@dataclass(frozen=True)
class Directives:
    """What the built-in writer takes from free-text instructions (see module docstring)."""

    exclude: tuple[str, ...] = ()
    preferred_terms: dict[str, list[str]] = field(default_factory=dict)
    banned: tuple[str, ...] = ()
    emphasis: tuple[str, ...] = ()
    budget_factor: float = 1.0
    tense: str | None = None


_QUOTED = r"[\"'“‘]?([^\"'”’.;,]+?)[\"'”’]?"


def parse_directives(*texts: str) -> Directives:
    exclude: list[str] = []
    banned: list[str] = []
    emphasis: list[str] = []
    preferred: dict[str, list[str]] = {}
    factor = 1.0
    tense: str | None = None
    for text in texts:
        if not text:
            continue
        for raw in re.split(r"[.;\n]+", text):
            s = raw.strip()
            if not s:
                continue
            low = s.lower()
            m = re.search(rf"\buse {_QUOTED} instead of {_QUOTED}$", s, re.I)
            if m:
                preferred.setdefault(m.group(1).strip(), []).append(m.group(2).strip())
                continue
            m = re.search(rf"\breplace {_QUOTED} (?:with|by) {_QUOTED}$", s, re.I)
            if m:
                preferred.setdefault(m.group(2).strip(), []).append(m.group(1).strip())
                continue
            m = re.search(rf"\b(?:refer to|call) {_QUOTED} as {_QUOTED}$", s, re.I)
            if m:
                preferred.setdefault(m.group(2).strip(), []).append(m.group(1).strip())
                continue
            m = re.search(rf"\bsay {_QUOTED},? not {_QUOTED}$", s, re.I)
            if m:
                preferred.setdefault(m.group(1).strip(), []).append(m.group(2).strip())
                continue
            m = re.search(
                r"\b(?:do not|don't|never) (?:include|mention|discuss|describe|report)\s+"
                r"(?:the |any )?(.+)$",
                s,
                re.I,
            ) or re.search(
                r"^(?:please )?(?:exclude|omit|leave out|remove|skip)\s+(?:the |any )?(.+)$",
                s,
                re.I,
            )
            if m:
                exclude += [
                    t.strip(" \"'“”‘’")
                    for t in re.split(r",|\bor\b|\band\b", m.group(1))
                    if t.strip()
                ]
                continue
            m = re.search(
                r"\b(?:avoid|do not use|don't use|never use|never say)\s+"
                r"(?:the (?:word|phrase|term) )?(.+)$",
                s,
                re.I,
            )
            if m:
                banned += [
                    t.strip(" \"'“”‘’") for t in re.split(r",|\bor\b", m.group(1)) if t.strip()
                ]
                continue
            m = re.search(
                r"\b(?:emphasi[sz]e|focus on|more detail (?:on|about)|elaborate on|expand on)\s+"
                r"(?:the )?(.+)$",
                s,
                re.I,
            )
            if m:
                emphasis += [
                    t.strip(" \"'“”‘’") for t in re.split(r",|\band\b", m.group(1)) if t.strip()
                ]
                continue
            if re.search(r"\b(be |keep it |write )?(brief|concise|short)\b", low):
                factor = min(factor, 0.6)
                continue
            if re.search(r"\b(detailed|comprehensive|thorough)\b", low):
                factor = max(factor, 1.4)
                continue
            m = re.search(r"\b(past|present|future) tense\b", low)
            if m:
                tense = m.group(1)
    return Directives(
        exclude=tuple(dict.fromkeys(e for e in exclude if len(e) > 1)),
        preferred_terms=preferred,
        banned=tuple(dict.fromkeys(banned)),
        emphasis=tuple(dict.fromkeys(emphasis)),
        budget_factor=factor,
        tense=tense,
    )


def merge_directives(base: Directives, more: Directives) -> Directives:
    """``base`` with ``more`` added (a section's own instructions on top of the document's)."""
    preferred: dict[str, list[str]] = {k: list(v) for k, v in base.preferred_terms.items()}
    for term, variants in more.preferred_terms.items():
        preferred.setdefault(term, []).extend(variants)
    factor = base.budget_factor
    if more.budget_factor != 1.0:
        factor = more.budget_factor
    return Directives(
        exclude=tuple(dict.fromkeys((*base.exclude, *more.exclude))),
        preferred_terms=preferred,
        banned=tuple(dict.fromkeys((*base.banned, *more.banned))),
        emphasis=tuple(dict.fromkeys((*base.emphasis, *more.emphasis))),
        budget_factor=factor,
        tense=more.tense or base.tense,
    )


# ---------------------------------------------------------------- the writing context


@dataclass
class WriterStats:
    sentences_unlocated: int = 0
    sentences_duplicate: int = 0
    sentences_boilerplate: int = 0


@dataclass
class WriterContext:
    """State shared by every section of one job: what has been used, and how to rewrite."""

    sources: Sequence[ExtractedSource]
    locator: QuoteLocator
    tense: str = "past"
    preferred_terms: Mapping[str, Sequence[str]] = field(default_factory=dict)
    banned: Sequence[str] = ()
    exclude: Sequence[str] = ()
    vocabulary: Mapping[int, Mapping[str, int]] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    seen_tokens: dict[str, list[frozenset[str]]] = field(default_factory=dict)
    stats: WriterStats = field(default_factory=WriterStats)
    # True while writing a section that describes the conduct of the study: its present tense
    # ("Patients attend a visit") goes into the report's past too. Background sections
    # (introduction, rationale), whose present states facts, set it False.
    conduct: bool = True

    # -- duplicates

    def _tokens(self, text: str) -> frozenset[str]:
        return frozenset(language.content_tokens(text))

    @staticmethod
    def _dedupe_text(text: str) -> str:
        for pattern in mapping.strip_parenthetical_patterns():
            text = pattern.sub("", text)
        return text

    def is_duplicate(self, text: str) -> bool:
        text = self._dedupe_text(text)
        key = normalize_alnum(text)
        if key in self.seen:
            return True
        toks = self._tokens(text)
        if len(toks) < 4:
            return False
        rare = sorted(toks, key=len, reverse=True)[:3]
        for t in rare:
            for other in self.seen_tokens.get(t, ()):
                inter = len(toks & other)
                # A near copy, or a sentence all of whose words (numbers included) an earlier
                # sentence of about its length already said ("Approximately 120 patients will
                # be randomized."); a short criterion is not lost inside a long description.
                if (inter == len(toks) and len(other) <= 2 * len(toks) + 2) or (
                    len(toks) >= 6 and inter / len(toks | other) >= NEAR_DUP_JACCARD
                ):
                    return True
        return False

    def remember(self, text: str) -> None:
        text = self._dedupe_text(text)
        self.seen.add(normalize_alnum(text))
        toks = self._tokens(text)
        if len(toks) >= 4:
            for t in toks:
                self.seen_tokens.setdefault(t, []).append(toks)

    # -- rewriting

    def rewrite(self, sentence: str, *, convert_tense: bool = True) -> str:
        out = sentence
        for pattern in mapping.strip_parenthetical_patterns():
            out = pattern.sub("", out)
        if out[:1].islower() and sentence[:1].isupper():
            out = out[:1].upper() + out[1:]  # a leading "As stated in Section 3, " was removed
        if convert_tense and self.tense == "past":
            out = language.to_past(out)
            if self.conduct:
                out = language.present_to_past(out)
        if self.preferred_terms:
            out = language.apply_preferred_terms(out, self.preferred_terms)
        out = re.sub(r"\s+([,.;:])", r"\1", out)
        return re.sub(r"\s{2,}", " ", out).strip()

    def flags_for(self, text: str) -> tuple[str, ...]:
        return tuple(f"banned_phrase: {p}" for p in language.find_phrases(text, self.banned))

    def excluded(self, text: str) -> bool:
        return bool(self.exclude) and bool(language.find_phrases(text, self.exclude))


def is_boilerplate_sentence(sentence: str) -> bool:
    s = sentence.strip()
    return any(p.search(s) for p in mapping.drop_sentence_patterns())


_PLACEHOLDER_TOKEN = re.compile(r"^\(?(?:[xX]{2,}|[xX]+\.[xX]+)(?:\.[xX]+)?%?\)?[,;:]?$")


def _stutters(toks: list[str]) -> bool:
    """Three or more words repeated right after themselves."""
    low = [t.lower() for t in toks]
    return any(
        low[i : i + n] == low[i + n : i + 2 * n]
        for n in range(3, len(low) // 2 + 1)
        for i in range(len(low) - 2 * n + 1)
    )


def is_debris(sentence: str, *, list_item: bool = False) -> bool:
    """Figure labels, axis ticks and table debris that PDF extraction leaves in running text."""
    toks = sentence.split()
    if not toks:
        return True
    # A mock table shell's placeholders ("xx (xx%)", "xx.x"): a plan's template, not a fact.
    if sum(1 for t in toks if _PLACEHOLDER_TOKEN.match(t)) >= 2:
        return True
    alpha = [t for t in toks if re.search(r"[A-Za-z]{2,}", t)]
    if list_item:
        return not alpha
    if len(toks) < 3:
        return True
    # Diagram labels run together repeat themselves back to back ("Placebo interim analysis
    # (50% complete) interim analysis (50% complete)"); a sentence that does so ends like one.
    if not re.search(r"[.!?:;][)\]\"”’]*$", sentence.strip()) and _stutters(toks):
        return True
    words = sum(1 for t in toks if re.search(r"[A-Za-z]{3,}", t))
    function_words = sum(1 for t in toks if t.lower() in language.STOPWORDS)
    # A criterion full of figures ("Body mass index of 18.0 to 40.0 kg/m².") is a sentence: it
    # has words, a function word and an end.
    if words >= 3 and function_words and re.search(r"[.!?;][)\]\"”’]*$", sentence.strip()):
        return False
    if len(alpha) / len(toks) < 0.5:
        return True
    if not re.search(r"[a-z]{3,}", sentence):
        return True
    # Labels and figure text rarely end like a sentence or use function words.
    stripped = sentence.strip()
    if re.search(r"[.!?:;][)\]\"”’]*$", stripped) or len(toks) >= 8:
        return False
    return function_words < 2


# ---------------------------------------------------------------- blocks → paragraphs

_LIST_LABEL_RE = re.compile(
    r"^\s*(\[\d+[a-z]?\]|\(?\d{1,3}[.)]|\(?[A-Z]{1,2}\d{1,2}[.)]|\(?[a-zA-Z][.)]|"
    r"\(?[ivxIVX]{1,4}[.)]|[•\-–·▪●○◦*])\s+"
)
# Items of a numbered list that extraction ran together into one paragraph ("I1. Aged 18
# years or older. I2. Histologically documented ...").
_INLINE_ITEM_RE = re.compile(r"(?:^|(?<=[.;:]\s))\s*\(?([A-Z]{0,2})(\d{1,2})[.)]\s+(?=[A-Z(])")


def inline_items(text: str) -> list[tuple[str, str]] | None:
    """(label, item text) for a paragraph made of consecutively numbered items, else None."""
    found = list(_INLINE_ITEM_RE.finditer(text))
    if len(found) < 2 or found[0].start() > 0:
        return None
    prefix = found[0].group(1)
    numbers = [int(m.group(2)) for m in found]
    if any(m.group(1) != prefix for m in found) or numbers != list(
        range(numbers[0], numbers[0] + len(numbers))
    ):
        return None
    items = []
    for k, m in enumerate(found):
        end = found[k + 1].start() if k + 1 < len(found) else len(text)
        label = text[m.start() : m.end()].strip()
        items.append((label, text[m.end() : end].strip()))
    return items


def list_label(block: Block) -> tuple[str, str]:
    """The source's own list label and the item text without it."""
    text = block.text.strip()
    if block.number:
        label = block.number.strip()
        if text.startswith(label):
            text = text[len(label) :].strip()
        return label, text
    m = _LIST_LABEL_RE.match(text)
    if m:
        return m.group(1), text[m.end() :].strip()
    return "", text


@dataclass
class BlockWriteResult:
    paragraphs: list[Paragraph]
    tables: list[Table]
    words: int


def write_block(
    ctx: WriterContext,
    s_idx: int,
    block: Block,
    *,
    convert_tense: bool = True,
    caption: str = "",
    allow_duplicates: bool = False,
    verbatim: bool = False,
) -> BlockWriteResult:
    """One source block as cited paragraphs (or a table); empty when nothing in it is usable.

    ``verbatim`` keeps the block whole and unchanged (reference-list entries)."""
    if block.kind == "heading" or not block.text.strip():
        return BlockWriteResult([], [], 0)
    if block.kind == "table" and block.rows:
        table = write_table(ctx, s_idx, block, caption=caption)
        words = sum(len(c.split()) for row in table.rows for c in row) if table else 0
        return BlockWriteResult([], [table] if table else [], words)
    if block.kind == "caption":
        return BlockWriteResult([], [], 0)
    is_list = block.kind == "list_item"
    label, body = list_label(block) if is_list else ("", block.text)
    if not is_list and not verbatim:
        items = inline_items(language.clean_text(body))
        if items:
            parts = [
                write_block(
                    ctx,
                    s_idx,
                    replace(block, kind="list_item", text=item, number=item_label),
                    convert_tense=convert_tense,
                    allow_duplicates=allow_duplicates,
                )
                for item_label, item in items
            ]
            return BlockWriteResult(
                [p for r in parts for p in r.paragraphs],
                [t for r in parts for t in r.tables],
                sum(r.words for r in parts),
            )
        m = _LIST_LABEL_RE.match(body)
        if m:
            # A paragraph that starts with its own list label is a list item ("3.\tBody
            # mass index of 18.0 to 40.0 kg/m².").
            is_list, label, body = True, m.group(1), body[m.end() :]
    vocab = ctx.vocabulary.get(s_idx, {})
    cleaned = (
        language.repair_split_words(language.clean_text(body), vocab)
        if vocab
        else language.clean_text(body)
    )
    if verbatim:
        if (
            not cleaned
            or ingest_toc_line(cleaned)
            or (not allow_duplicates and ctx.is_duplicate(cleaned))
        ):
            return BlockWriteResult([], [], 0)
        cites = ctx.locator.locate(s_idx, block, cleaned)
        if not cites:
            ctx.stats.sentences_unlocated += 1
            return BlockWriteResult([], [], 0)
        ctx.remember(cleaned)
        paragraph = Paragraph(
            text=cleaned,
            citations=tuple(cites),
            style="list" if is_list else "body",
            list_label=label if is_list else "",
        )
        return BlockWriteResult([paragraph], [], len(cleaned.split()))
    if ingest_toc_line(cleaned):
        ctx.stats.sentences_boilerplate += 1
        return BlockWriteResult([], [], 0)
    spans = language.split_sentences(cleaned)
    originals: list[str] = []
    rewritten: list[str] = []
    citations: list[Citation] = []
    for start, end in spans:
        sentence = cleaned[start:end].strip()
        if not sentence or language.normalize_alnum(sentence) == "":
            continue
        if ingest_toc_line(sentence) or is_boilerplate_sentence(sentence):
            ctx.stats.sentences_boilerplate += 1
            continue
        # Results outputs are mostly figures; elsewhere number-heavy fragments are debris.
        results = ctx.sources[s_idx].kind == "results" and bool(re.search(r"\d", sentence))
        if not results and is_debris(sentence, list_item=is_list):
            ctx.stats.sentences_boilerplate += 1
            continue
        if ctx.excluded(sentence):
            continue
        if not allow_duplicates and ctx.is_duplicate(sentence):
            ctx.stats.sentences_duplicate += 1
            continue
        cites = ctx.locator.locate(s_idx, block, sentence)
        if not cites:
            ctx.stats.sentences_unlocated += 1
            continue
        # Results are written after the fact: their future ("will be tested at the final
        # analysis") is still future.
        new = ctx.rewrite(
            sentence, convert_tense=convert_tense and ctx.sources[s_idx].kind != "results"
        )
        if not new or not language.normalize_alnum(new):
            continue
        if not allow_duplicates:
            ctx.remember(sentence)
        originals.append(sentence)
        rewritten.append(new)
        citations.extend(cites)
    if not rewritten:
        return BlockWriteResult([], [], 0)
    text = " ".join(rewritten)
    original = " ".join(originals)
    paragraph = Paragraph(
        text=text,
        citations=tuple(dict.fromkeys(citations)),
        style="list" if is_list else "body",
        list_label=label if is_list else "",
        source_text=original if original != text else None,
        flags=ctx.flags_for(text),
    )
    return BlockWriteResult([paragraph], [], len(text.split()))


# A table-of-contents entry: dot leaders, spaced or not ("Inclusion Criteria . . . . 12"), up to a
# page number; a sentence split off such a line keeps its leaders without the number.
_TOC_LINE = re.compile(r"(?:\.{4,}|…{2,}|(?:\s\.){4,})\s*\d+\s*$")
_TOC_LEADERS = re.compile(r"(?:\.{4,}|…{2,}|(?:\s?\.){5,})\s*\d*\s*$")


def ingest_toc_line(text: str) -> bool:
    """A line of a table of contents (as ``ingest.is_toc_line`` reads them), or a sentence that
    ends in dot leaders."""
    text = text.strip()
    return bool(_TOC_LINE.search(text) or _TOC_LEADERS.search(text))


def write_table(ctx: WriterContext, s_idx: int, block: Block, *, caption: str = "") -> Table | None:
    """A source table kept as a table; cited row by row (rows that cannot be located are cited
    through the rows around them only if at least one row verifies)."""
    rows = [tuple(language.clean_text(c) for c in row) for row in block.rows[:MAX_TABLE_ROWS]]
    rows = [r for r in rows if any(c for c in r)]
    if not rows:
        return None
    key = normalize_alnum(" ".join(" ".join(r) for r in rows))
    if key in ctx.seen:
        return None
    citations: list[Citation] = []
    for i in range(min(len(block.rows), MAX_TABLE_ROWS)):
        citations.extend(ctx.locator.locate_row(s_idx, block, i))
    if not citations:
        return None
    ctx.seen.add(key)
    width = max(len(r) for r in rows)
    rows = [r + ("",) * (width - len(r)) for r in rows]
    return Table(title=caption, rows=tuple(rows), citations=tuple(dict.fromkeys(citations)))


# ---------------------------------------------------------------- abbreviations in the sources


@dataclass(frozen=True)
class SourceDefinition:
    abbreviation: str
    long_form: str
    citation: Citation | None


def source_definitions(
    sources: Sequence[ExtractedSource],
    locator: QuoteLocator | None = None,
    *,
    abbreviation_blocks: Iterable[tuple[int, Block]] = (),
) -> dict[str, SourceDefinition]:
    """Abbreviations the sources define: abbreviation lists first, then "long form (ABBR)"."""
    found: dict[str, SourceDefinition] = {}
    for s_idx, block in abbreviation_blocks:
        entries: list[tuple[str, str, str]] = []
        if block.kind == "table" and block.rows:
            for row in block.rows:
                cells = [c.strip() for c in row if c and c.strip()]
                if len(cells) >= 2 and language.looks_like_abbreviation(cells[0].rstrip(":")):
                    entries.append((cells[0].rstrip(":"), cells[1], " ".join(cells[:2])))
        else:
            lines = [ln for ln in block.text.split("\n") if ln.strip()]
            run = len(lines) == 1 and len(language.abbreviations_used(block.text)) > 2
            if run:
                entries.extend(language.parse_abbreviation_run(block.text))
            else:
                for line in lines:
                    parsed = language.parse_abbreviation_entry(line)
                    if parsed:
                        entries.append((parsed[0], parsed[1], line))
        for abbr, long_form, quote_text in entries:
            if abbr in found:
                continue
            cite = None
            if locator is not None:
                cites = locator.locate(s_idx, block, quote_text)
                cite = cites[0] if cites else None
                if cite is None:
                    continue
            found[abbr] = SourceDefinition(
                abbr, language.plain_case(language.clean_text(long_form)), cite
            )
    for s_idx, src in enumerate(sources):
        for block in src.blocks:
            if block.kind in {"paragraph", "list_item"} and "=" in block.text:
                _equals_definitions(found, s_idx, block, locator)
            if block.kind not in {"paragraph", "list_item"} or "(" not in block.text:
                continue
            text = language.clean_text(block.text)
            for d in language.find_definitions(text):
                if d.abbreviation in found:
                    continue
                cite = None
                if locator is not None:
                    cites = locator.locate(s_idx, block, d.text)
                    if not cites:
                        continue
                    cite = cites[0]
                found[d.abbreviation] = SourceDefinition(d.abbreviation, d.long_form, cite)
    return found


# "EOT = end of treatment; FU = follow-up; PS = performance status": the legend of a table.
_EQUALS_DEFINITION = re.compile(
    r"(?:^|[;,.]\s*)([A-Z][A-Za-z0-9\-]{1,10})\s*=\s*([a-z][a-z0-9 \-'’/]{2,60}?)\s*(?=[;,.]|$)"
)


def _equals_definitions(
    found: dict[str, SourceDefinition], s_idx: int, block: Block, locator: QuoteLocator | None
) -> None:
    text = language.clean_text(block.text)
    for m in _EQUALS_DEFINITION.finditer(text):
        abbr, long_form = m.group(1), m.group(2).strip()
        if abbr in found or not language.looks_like_abbreviation(abbr):
            continue
        cite = None
        if locator is not None:
            cites = locator.locate(s_idx, block, f"{abbr} = {long_form}")
            if not cites:
                continue
            cite = cites[0]
        found[abbr] = SourceDefinition(abbr, long_form, cite)


def with_text(paragraph: Paragraph, text: str) -> Paragraph:
    """The paragraph with new text; the first original is kept for the reviewer."""
    if text == paragraph.text:
        return paragraph
    original = paragraph.source_text if paragraph.source_text is not None else paragraph.text
    return replace(paragraph, text=text, source_text=original)
