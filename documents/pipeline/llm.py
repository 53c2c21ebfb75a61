"""The optional LLM writer: an OpenAI-compatible ``/v1/chat/completions`` endpoint rewrites a
section's prose from the passages the built-in writer selected, and every sentence must cite them.

The model receives the section's title and instructions, the style guide, the document instructions
and the passages numbered ``[1]``, ``[2]``, ...; it must end every sentence with the numbers of the
passages it used. Each returned sentence is checked against the passages it cites: the passage must
exist, every number in the sentence must occur in it, and most of the sentence's content words must
be found in it. A sentence that fails is dropped and counted (``llm_sentences_dropped`` flag, summed
by QC). A kept sentence is cited with the passage's own verified citations (the quotes of the source
sentences it overlaps most), so ``qc.verify_citation`` holds for LLM output as for built-in output.

Transport: ``urllib.request`` (no extra dependency), a per-request timeout, three attempts with
exponential back-off on connection errors, timeouts, 429 and 5xx; then ``LLMUnavailable``.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from documents.pipeline import language
from documents.pipeline.errors import LLMUnavailable
from documents.pipeline.types import (
    Citation,
    LLMConfig,
    OutlineSection,
    Paragraph,
    SectionDraft,
    StyleGuideSpec,
)

SUPPORT_THRESHOLD = 0.6
_MARKER_RE = re.compile(r"\s*\[(\d+(?:\s*[,;–-]\s*\d+)*)\]")


def require_config(config: LLMConfig | None) -> LLMConfig:
    """The configuration the caller gave in ``PipelineInput.llm``, or ``LLMUnavailable``."""
    if config is None or not config.base_url.strip():
        raise LLMUnavailable(
            "The language-model writer is not configured (FOLIO_LLM_BASE_URL is unset). "
            "Use the built-in writer or ask the operator to configure it."
        )
    return config


@dataclass(frozen=True)
class Passage:
    """A numbered source passage: the source text and its verified citations."""

    text: str
    citations: tuple[Citation, ...]


def build_messages(
    section: OutlineSection,
    passages: Sequence[Passage],
    *,
    style_guide: StyleGuideSpec | None,
    instructions: str,
) -> list[dict[str, str]]:
    tense = style_guide.tense if style_guide else "past"
    rules = [
        "You draft one section of a regulatory document (an ICH E3 clinical study report or "
        "similar).",
        "Use ONLY facts stated in the numbered source passages. Never add a fact, number, date, "
        "name or claim that is not in them.",
        "End EVERY sentence with the number(s) of the passage(s) it comes from, in square "
        "brackets, e.g. 'Patients were randomized [2].'",
        "Copy every number exactly as the passage writes it.",
        f"Write in the {tense} tense, in plain formal prose, without headings, bullet points or "
        "markdown.",
        "If the passages do not support a sentence, leave the sentence out.",
    ]
    if style_guide is not None:
        if style_guide.preferred_terms:
            pairs = "; ".join(
                f"use '{t}' instead of {', '.join(repr(v) for v in vs)}"
                for t, vs in style_guide.preferred_terms.items()
            )
            rules.append(f"Preferred terms: {pairs}.")
        if style_guide.banned_phrases:
            rules.append("Never use these phrases: " + "; ".join(style_guide.banned_phrases) + ".")
        if style_guide.instructions:
            rules.append("Style guide: " + style_guide.instructions)
    if instructions:
        rules.append("Document instructions: " + instructions)
    system = "\n".join(rules)
    numbered = "\n\n".join(f"[{n}] {p.text}" for n, p in enumerate(passages, start=1))
    user_parts = [f"Section: {section.number} {section.title}".strip()]
    if section.synopsis:
        user_parts.append(f"What the section covers: {section.synopsis}")
    if section.instructions:
        user_parts.append(f"Section instructions: {section.instructions}")
    user_parts.append("Source passages:\n" + numbered)
    user_parts.append("Write the section text now.")
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": "\n\n".join(user_parts)},
    ]


def _post(config: LLMConfig, payload: dict[str, Any]) -> dict[str, Any]:
    data = json.dumps(payload).encode("utf-8")
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if config.api_key:
        headers["Authorization"] = f"Bearer {config.api_key}"
    last_error = "no attempt was made"
    for attempt in range(max(1, config.attempts)):
        if attempt:
            time.sleep(config.backoff * (2 ** (attempt - 1)))
        request = urllib.request.Request(config.endpoint, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=config.timeout) as response:
                body = response.read()
            return json.loads(body.decode("utf-8"))
        except urllib.error.HTTPError as exc:
            last_error = f"HTTP {exc.code}"
            if exc.code not in {408, 409, 425, 429} and exc.code < 500:
                break  # a client error will not get better by retrying
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
            last_error = str(getattr(exc, "reason", exc)) or exc.__class__.__name__
        except (json.JSONDecodeError, UnicodeDecodeError):
            last_error = "an unreadable answer"
    raise LLMUnavailable(
        f"The language-model service did not answer ({last_error}). "
        "Try again later or use the built-in writer."
    )


def _content(answer: dict[str, Any]) -> str:
    try:
        content = answer["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError) as exc:
        raise LLMUnavailable(
            "The language-model service gave an answer without text. Try again later or use the "
            "built-in writer."
        ) from exc
    return content if isinstance(content, str) else ""


def _markers(raw: str) -> list[int]:
    out: list[int] = []
    for part in re.split(r"\s*[,;]\s*", raw):
        if re.fullmatch(r"\d+\s*[–-]\s*\d+", part):
            a, b = (int(x) for x in re.split(r"\s*[–-]\s*", part))
            out.extend(range(a, b + 1) if 0 < b - a < 20 else [a, b])
        elif part.strip().isdigit():
            out.append(int(part))
    return out


def supported(sentence: str, passages: Sequence[Passage], cited: Sequence[int]) -> bool:
    """The cited passages exist, contain every number of the sentence and most of its words."""
    if not cited or any(n < 1 or n > len(passages) for n in cited):
        return False
    source = " ".join(passages[n - 1].text for n in cited)
    source_numbers = set(language.numbers_in(source))
    if not set(language.numbers_in(sentence)) <= source_numbers:
        return False
    words = set(language.content_tokens(sentence))
    if not words:
        return False
    source_words = set(language.content_tokens(source))
    source_stems = {w[:5] for w in source_words}
    found = sum(1 for w in words if w in source_words or w[:5] in source_stems)
    return found / len(words) >= SUPPORT_THRESHOLD


def _best_citations(
    sentence: str, passages: Sequence[Passage], cited: Sequence[int]
) -> tuple[Citation, ...]:
    """The cited passages' citations whose quotes share the most words with the sentence."""
    words = set(language.content_tokens(sentence))
    scored: list[tuple[float, Citation]] = []
    for n in dict.fromkeys(cited):
        for c in passages[n - 1].citations:
            q = set(language.content_tokens(c.quote))
            overlap = len(words & q) / (len(q) or 1)
            scored.append((overlap, c))
    scored.sort(key=lambda x: -x[0])
    best = [c for s, c in scored if s > 0][:2]
    if not best and scored:
        best = [scored[0][1]]
    return tuple(best)


def parse_answer(text: str, passages: Sequence[Passage]) -> tuple[list[Paragraph], int]:
    """Paragraphs of supported, cited sentences, and the number of sentences dropped."""
    paragraphs: list[Paragraph] = []
    dropped = 0
    for block in re.split(r"\n\s*\n", text.strip()):
        block = re.sub(r"^\s*(#+|[-*•]|\d+[.)])\s+", "", block.strip())
        block = re.sub(r"\s+", " ", block)
        if not block:
            continue
        kept: list[str] = []
        cites: list[Citation] = []
        sources: list[str] = []
        for sentence in _split_with_markers(block):
            found = [int(n) for m in _MARKER_RE.finditer(sentence) for n in _markers(m.group(1))]
            clean = _MARKER_RE.sub("", sentence).strip()
            clean = re.sub(r"\s+([.,;:])", r"\1", clean)
            if not clean:
                continue
            if not supported(clean, passages, found):
                dropped += 1
                continue
            kept.append(clean)
            sentence_cites = _best_citations(clean, passages, found)
            cites.extend(sentence_cites)
            sources.extend(c.quote for c in sentence_cites)
        if kept:
            text_out = " ".join(kept)
            paragraphs.append(
                Paragraph(
                    text=text_out,
                    citations=tuple(dict.fromkeys(cites)),
                    source_text=" ".join(dict.fromkeys(language.clean_text(s) for s in sources)),
                )
            )
    return paragraphs, dropped


def _split_with_markers(block: str) -> list[str]:
    """Sentences, keeping a marker placed after the full stop ("placebo. [3]") with its sentence."""
    block = re.sub(r"([.!?])\s*((?:\[\d+(?:\s*[,;–-]\s*\d+)*\]\s*)+)", r" \2\1 ", block)
    return language.sentences(block)


def write_section_llm(
    section: OutlineSection,
    passages: Sequence[Passage],
    *,
    style_guide: StyleGuideSpec | None,
    instructions: str,
    config: LLMConfig,
) -> SectionDraft:
    """One section written by the model from ``passages`` (empty paragraphs when nothing held)."""
    if not passages:
        return SectionDraft(
            section.section_id, section.number, section.title, section.level, "no_source"
        )
    payload = {
        "model": config.model,
        "messages": build_messages(
            section, passages, style_guide=style_guide, instructions=instructions
        ),
        "temperature": config.temperature,
    }
    answer = _post(config, payload)
    paragraphs, dropped = parse_answer(_content(answer), passages)
    flag = (f"llm_sentences_dropped: {dropped}",) if dropped else ()
    if paragraphs:
        first = paragraphs[0]
        paragraphs[0] = Paragraph(
            text=first.text,
            citations=first.citations,
            style=first.style,
            source_text=first.source_text,
            flags=first.flags + flag,
        )
        return SectionDraft(
            section.section_id,
            section.number,
            section.title,
            section.level,
            "generated",
            tuple(paragraphs),
        )
    note = Paragraph(
        text="The language model's text for this section could not be verified against the "
        "sources.",
        style="note",
        flags=flag,
    )
    return SectionDraft(
        section.section_id, section.number, section.title, section.level, "no_source", (note,)
    )
