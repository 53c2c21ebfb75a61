"""Ingest: extracted blocks → retrievable chunks, one BM25 index and a heading tree per job.

``chunk_text`` groups each source's consecutive blocks under one heading into chunks of about
``CHUNK_WORDS`` words (a heading block opens a new chunk; every block lands in exactly one chunk, so
the sources' structure can be rebuilt from the chunks). ``build_index`` builds, once per job, a
``SourceIndex``: a bm25s index over the chunks (heading path + text; boilerplate such as tables of
contents and signature pages is not retrievable) and the heading tree of each source, which the
orchestrator uses to take "the content under a heading".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import bm25s
import numpy as np

from documents.pipeline import mapping
from documents.pipeline.language import STOPWORDS, repair_split_words, vocabulary_of
from documents.pipeline.types import Block, Chunk, ExtractedSource, SourceKind

CHUNK_WORDS = 220
APPENDIX_RE = re.compile(
    r"^\s*(?:\d+(?:\.\d+)*\.?\s+)?(?:protocol\s+)?(?:appendix|appendices|attachment|annex|supplement)\b",
    re.IGNORECASE,
)
TOC_LINE_RE = re.compile(r"(\.{4,}|…{2,}|(\s\.){4,})\s*\d+\s*$")

BlockKey = tuple[int, int]  # (source_index, block.index)


def _tokenize(text: str) -> list[str]:
    out = []
    for tok in re.findall(r"[a-z0-9]+", text.lower()):
        if tok in STOPWORDS or len(tok) < 2:
            continue
        if len(tok) > 4 and tok.endswith("ies"):
            tok = tok[:-3] + "y"
        elif len(tok) > 3 and tok.endswith("s") and not tok.endswith(("ss", "us", "is")):
            tok = tok[:-1]
        out.append(tok)
    return out


def is_toc_line(text: str) -> bool:
    return bool(TOC_LINE_RE.search(text.strip()))


def _heading_level(block: Block) -> int:
    if block.level > 0:
        return block.level
    if block.number and re.fullmatch(r"\d+(\.\d+)*\.?", block.number):
        return block.number.rstrip(".").count(".") + 1
    return 1


def chunk_text(sources: tuple[ExtractedSource, ...]) -> list[Chunk]:
    """Chunks of consecutive blocks under one heading, in source and document order."""
    chunks: list[Chunk] = []
    for s_idx, src in enumerate(sources):
        stack: list[tuple[int, str]] = []
        current: list[Block] = []
        words = 0
        for block in src.blocks:
            if block.kind == "heading":
                _flush(chunks, s_idx, src, stack, current)
                level = _heading_level(block)
                while stack and stack[-1][0] >= level:
                    stack.pop()
                label = (
                    f"{block.number.rstrip('.')} {block.text.strip()}"
                    if block.number
                    else block.text.strip()
                )
                stack.append((level, label))
                current = [block]
                words = len(block.text.split())
                continue
            n = len(block.text.split())
            if current and words + n > CHUNK_WORDS and any(b.kind != "heading" for b in current):
                _flush(chunks, s_idx, src, stack, current)
                current, words = [], 0
            current.append(block)
            words += n
        _flush(chunks, s_idx, src, stack, current)
    return chunks


def _flush(
    chunks: list[Chunk],
    s_idx: int,
    src: ExtractedSource,
    stack: list[tuple[int, str]],
    blocks: list[Block],
) -> None:
    if not blocks:
        return
    chunks.append(
        Chunk(
            id=len(chunks),
            source_index=s_idx,
            source_kind=src.kind,
            file_path=src.file_path,
            file_name=src.file_name,
            heading_path=tuple(t for _, t in stack) or blocks[0].heading_path,
            blocks=tuple(blocks),
            text="\n".join(b.text for b in blocks if b.text),
        )
    )


@dataclass
class HeadingNode:
    """A heading of one source with the span of blocks it governs."""

    id: int
    source_index: int
    source_kind: SourceKind
    pos: int  # position of the heading block in the source's block list
    level: int
    number: str
    title: str  # repaired text, without its number
    qualified: str  # "Study Endpoint(s) Primary" for a bare "Primary" under "Study Endpoint(s)"
    parent: int | None
    end_direct: int  # first position after the direct content (the next heading)
    end_subtree: int  # first position after the subtree
    children: list[int] = field(default_factory=list)
    boilerplate: bool = False
    abbreviations: bool = False
    references: bool = False
    appendix: bool = False  # back matter: an appendix/attachment, or anything after the references
    start: int = -1  # first content position (pos + 1; pos itself for a caption or sheet)


@dataclass
class SourceIndex:
    """The job's retrieval index: chunks, a bm25s model and each source's heading tree."""

    chunks: list[Chunk]
    retriever: bm25s.BM25 | None
    blocks: dict[int, list[Block]]  # source_index → blocks in document order
    kinds: dict[int, SourceKind]
    nodes: list[HeadingNode]
    chunk_of_block: dict[BlockKey, int]
    vocabulary: dict[int, dict[str, int]]
    retrievable: np.ndarray  # bool per chunk
    _vocab_ids: dict[str, int] = field(default_factory=dict)
    # Sentences and label/value rows of each block, as ``elements.units_of`` cuts them.
    units_cache: dict[tuple[int, int], tuple[Any, ...]] = field(default_factory=dict)
    # Other per-run results of the content model that do not change while a draft is written.
    memo: dict[Any, Any] = field(default_factory=dict)

    def source_blocks(self, source_index: int) -> list[Block]:
        return self.blocks.get(source_index, [])

    def node_blocks(self, node: HeadingNode, *, subtree: bool) -> list[Block]:
        blocks = self.blocks[node.source_index]
        end = node.end_subtree if subtree else node.end_direct
        return blocks[node.start : end]

    def search(
        self,
        query: str,
        *,
        kinds: Sequence[SourceKind] | None = None,
        k: int = 10,
        exclude: Iterable[int] = (),
    ) -> list[tuple[Chunk, float]]:
        """Top ``k`` retrievable chunks for ``query`` among sources of ``kinds``, best first."""
        if self.retriever is None or not self.chunks:
            return []
        tokens = [t for t in _tokenize(query) if t in self._vocab_ids]
        if not tokens:
            return []
        mask = self.retrievable.copy()
        if kinds is not None:
            allowed = set(kinds)
            mask &= np.array([c.source_kind in allowed for c in self.chunks], dtype=bool)
        for cid in exclude:
            if 0 <= cid < len(mask):
                mask[cid] = False
        if not mask.any():
            return []
        scores = self.retriever.get_scores(list(dict.fromkeys(tokens)))
        scores = np.where(mask, scores, -1.0)
        order = np.argsort(-scores, kind="stable")[:k]
        return [(self.chunks[i], float(scores[i])) for i in order if scores[i] > 0]

    def repaired(self, source_index: int, text: str) -> str:
        return repair_split_words(text, self.vocabulary.get(source_index, {}))


def build_index(chunks: list[Chunk]) -> SourceIndex:
    """One index per job: bm25s over the chunks plus every source's heading tree."""
    blocks: dict[int, list[Block]] = {}
    kinds: dict[int, SourceKind] = {}
    chunk_of_block: dict[BlockKey, int] = {}
    for chunk in chunks:
        kinds[chunk.source_index] = chunk.source_kind
        lst = blocks.setdefault(chunk.source_index, [])
        for b in chunk.blocks:
            lst.append(b)
            chunk_of_block[(chunk.source_index, b.index)] = chunk.id
    for lst in blocks.values():
        lst.sort(key=lambda b: b.index)
    vocabulary = {s: vocabulary_of(b.text for b in lst) for s, lst in blocks.items()}
    nodes = _heading_tree(blocks, kinds, vocabulary)

    # Chunks under boilerplate or abbreviation-list headings are not retrievable.
    hidden: set[BlockKey] = set()
    for node in nodes:
        if node.boilerplate or node.abbreviations:
            for b in blocks[node.source_index][node.pos : node.end_subtree]:
                hidden.add((node.source_index, b.index))
    retrievable = np.array(
        [
            not all((c.source_index, b.index) in hidden for b in c.blocks)
            and not all(is_toc_line(b.text) for b in c.blocks if b.text)
            and any(b.kind != "heading" for b in c.blocks)
            for c in chunks
        ],
        dtype=bool,
    )
    retriever: bm25s.BM25 | None = None
    vocab_ids: dict[str, int] = {}
    if chunks:
        corpus = [
            _tokenize(" ".join(c.heading_path[-2:]) + " " + c.text) or ["_empty_"] for c in chunks
        ]
        retriever = bm25s.BM25()
        retriever.index(corpus, show_progress=False)
        vocab_ids = dict(retriever.vocab_dict)
    return SourceIndex(
        chunks=chunks,
        retriever=retriever,
        blocks=blocks,
        kinds=kinds,
        nodes=nodes,
        chunk_of_block=chunk_of_block,
        vocabulary=vocabulary,
        retrievable=retrievable,
        _vocab_ids=vocab_ids,
    )


_CAPTION_PREFIX = re.compile(
    r"^\s*(?:table|figure|listing|fig\.)\s*[A-Z]?[\d.]*[A-Za-z]?\s*[:.\-–—]?\s*", re.IGNORECASE
)


def _heading_events(lst: list[Block], kind: SourceKind) -> list[tuple[int, int, str, str, bool]]:
    """(position, level, raw title, number, synthetic) of the headings of one source.

    Besides heading blocks: in a results source, each table or figure caption heads the output
    that follows it ("Table 14.1.1 Summary of Populations" → "Summary of Populations"); in a
    source with no heading at all (a spreadsheet), each change of the extractor's heading path
    (the sheet name) starts a section."""
    events: list[tuple[int, int, str, str, bool]] = []
    has_headings = any(b.kind == "heading" for b in lst)
    level = 0
    previous_path: tuple[str, ...] = ()
    for pos, block in enumerate(lst):
        if block.kind == "heading":
            raw = block.text.strip()
            if raw and not is_toc_line(raw):
                level = _heading_level(block)
                events.append((pos, level, raw, block.number, False))
            continue
        if kind == "results" and block.kind == "caption" and block.text.strip():
            title = _CAPTION_PREFIX.sub("", block.text.strip()) or block.text.strip()
            events.append((pos, level + 1, title, "", True))
            continue
        if not has_headings and block.heading_path and block.heading_path != previous_path:
            events.append((pos, len(block.heading_path), block.heading_path[-1], "", True))
        previous_path = block.heading_path or previous_path
    return events


def _heading_tree(
    blocks: dict[int, list[Block]],
    kinds: dict[int, SourceKind],
    vocabulary: dict[int, dict[str, int]],
) -> list[HeadingNode]:
    nodes: list[HeadingNode] = []
    for s_idx, lst in sorted(blocks.items()):
        stack: list[HeadingNode] = []
        source_nodes: list[HeadingNode] = []
        back_matter = False
        for pos, level, raw, number, synthetic in _heading_events(lst, kinds[s_idx]):
            title = repair_split_words(mapping.strip_number(raw), vocabulary.get(s_idx, {}))
            title = re.sub(r"\s+", " ", title).strip()
            while stack and stack[-1].level >= level:
                stack.pop()
            parent = stack[-1] if stack else None
            qualified = title
            if parent is not None and mapping.needs_parent(title):
                qualified = f"{parent.title} {title}"
            node = HeadingNode(
                id=len(nodes),
                source_index=s_idx,
                source_kind=kinds[s_idx],
                pos=pos,
                level=level,
                number=number,
                title=title,
                qualified=qualified,
                parent=parent.id if parent else None,
                end_direct=pos + 1,
                end_subtree=len(lst),
                start=pos if synthetic else pos + 1,
            )
            if parent is not None:
                parent.children.append(node.id)
            node.boilerplate = mapping.is_boilerplate_heading(title) or (
                parent is not None and parent.boilerplate
            )
            node.abbreviations = mapping.is_abbreviation_heading(title)
            node.references = mapping.is_reference_heading(title)
            node.appendix = (
                back_matter
                or bool(APPENDIX_RE.match(raw))
                or bool(APPENDIX_RE.match(number or ""))
                or (parent is not None and parent.appendix)
            )
            if node.references and level <= 1:
                back_matter = True
            nodes.append(node)
            source_nodes.append(node)
            stack.append(node)
        # Spans: direct content runs to the next heading; the subtree to the next heading of
        # the same or a higher level.
        for i, node in enumerate(source_nodes):
            node.end_direct = source_nodes[i + 1].pos if i + 1 < len(source_nodes) else len(lst)
            end = len(lst)
            for later in source_nodes[i + 1 :]:
                if later.level <= node.level:
                    end = later.pos
                    break
            node.end_subtree = end
    return nodes
