"""Passages → paragraphs and tables: writing the blocks a section was assigned.

``write_groups`` writes groups of source blocks (one group per assigned source heading) within a
word budget: each group first gets its share, then the rest is filled in order; a numbered list
being written is finished (up to twice the budget). Tables keep their place among the paragraphs
(``Table.after_paragraphs``). Paragraphs that PDF extraction split at a page break or a font
change are joined first, so that no sentence is cut; an introductory sentence whose list or table
did not come along ("... the following criteria:") is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from documents.pipeline import language
from documents.pipeline.types import Block, Paragraph, Table
from documents.pipeline.writer import (
    WriterContext,
    ingest_toc_line,
    is_boilerplate_sentence,
    write_block,
)

Group = tuple[int, list[tuple[int, Block]]]  # (source_index, [(position, block)])


@dataclass
class Written:
    paragraphs: list[Paragraph]
    tables: list[Table]
    words: int = 0


def write_groups(
    ctx: WriterContext,
    groups: list[Group],
    budget: int,
    *,
    source_kind: Callable[[int], str],
    on_block: Callable[[int, int, Block], None] = lambda s, p, b: None,
) -> Written:
    """Write the groups' blocks in order, sharing ``budget`` words (see the module docstring)."""
    if not groups:
        return Written([], [])
    groups = [(s_idx, merge_page_splits(blocks)) for s_idx, blocks in groups]
    results: list[list[tuple[int, list[Paragraph], list[Table]]]] = [[] for _ in groups]
    cursor = [0] * len(groups)
    total = 0
    share = max(80, budget // len(groups))

    def run(g: int, limit: int, hard: int) -> None:
        nonlocal total
        s_idx, blocks = groups[g]
        written = 0
        caption = ""
        while cursor[g] < len(blocks):
            pos, block = blocks[cursor[g]]
            in_list = (
                block.kind == "list_item"
                and cursor[g] > 0
                and blocks[cursor[g] - 1][1].kind == "list_item"
            )
            if (written >= limit or total >= budget) and not (in_list and total < hard):
                return
            cursor[g] += 1
            nxt = blocks[cursor[g]][1] if cursor[g] < len(blocks) else None
            on_block(s_idx, pos, block)
            if block.kind == "caption" and nxt is not None and nxt.kind == "table":
                caption = language.clean_text(block.text)  # the next table's title
                continue
            if block.kind == "caption":
                # A caption whose table is not a table block (PDF text) is kept as a line, or
                # written as prose when it is a sentence; a figure's caption without its figure
                # is left out.
                if source_kind(s_idx) != "results" and re.match(r"(?i)\s*fig", block.text):
                    continue
                result = write_block(ctx, s_idx, replace(block, kind="paragraph"))
            else:
                result = write_block(ctx, s_idx, block, caption=caption)
            caption = ""
            if result.paragraphs or result.tables:
                results[g].append((pos, result.paragraphs, result.tables))
                written += result.words
                total += result.words

    for g in range(len(groups)):
        run(g, share, budget * 2)
    for g in range(len(groups)):
        run(g, budget, budget * 2)
    paragraphs: list[Paragraph] = []
    tables: list[Table] = []
    before_table: set[int] = set()  # ids of paragraphs directly followed by a table
    for per_group in results:
        for _pos, ps, ts in sorted(per_group, key=lambda r: r[0]):
            if ts and paragraphs:
                before_table.add(id(paragraphs[-1]))
            paragraphs.extend(ps)
            for t in ts:
                tables.append(replace(t, after_paragraphs=len(paragraphs)))
    kept = drop_dangling_intros(paragraphs, before_table)
    if len(kept) != len(paragraphs):
        tables = _reanchor(paragraphs, kept, tables)
    return Written(kept, tables, total)


def _reanchor(before: list[Paragraph], after: list[Paragraph], tables: list[Table]) -> list[Table]:
    kept_ids = {id(p) for p in after}
    out = []
    for t in tables:
        n = t.after_paragraphs if t.after_paragraphs is not None else len(before)
        out.append(replace(t, after_paragraphs=sum(1 for p in before[:n] if id(p) in kept_ids)))
    return out


def merge_page_splits(blocks: list[tuple[int, Block]]) -> list[tuple[int, Block]]:
    """Join a paragraph that extraction split in two — at a page break (PDF blocks never cross a
    page) or inside a page (a font change such as a superscript "®") — so that no sentence is cut
    in the middle; a sentence over a page break is then cited on both pages. Page furniture
    that extraction left (a page number, "Page 3 of 40", a table-of-contents line) is never
    joined to the paragraph after it. The positions of the blocks merged away stay in the list
    as empty blocks, so that they are claimed."""
    merged: list[tuple[int, Block, int, int]] = []  # (first pos, block, last pos, last page)
    for pos, block in blocks:
        if merged:
            first, prev, last, last_page = merged[-1]
            prev_text = prev.text.rstrip()
            nxt_text = block.text.lstrip()
            unfinished = not re.search(r"[.:;!?][)\]\"”’]*$", prev_text)
            continues = nxt_text[:1].islower() or nxt_text[:1] == "("
            if (
                pos == last + 1
                and prev.kind in {"paragraph", "list_item"}
                # Page furniture left on the page (a page number "- 12 -", "Page 3 of 40", a
                # table-of-contents line) starts no sentence: it is not joined to the next
                # paragraph, which would be lost with it.
                and re.search(r"[A-Za-z]{2,}", prev_text)
                and not ingest_toc_line(prev_text)
                and not is_boilerplate_sentence(prev_text)
                and block.kind == "paragraph"
                and prev.page is not None
                and block.page is not None
                and nxt_text
                and (
                    (block.page == last_page + 1 and (unfinished or continues))
                    or (
                        block.page == last_page
                        and unfinished
                        and (continues or prev_text.endswith((",", "-", "(")))
                    )
                )
            ):
                joined = replace(prev, text=prev_text + " " + nxt_text)
                merged[-1] = (first, joined, pos, block.page)
                continue
        merged.append((pos, block, pos, block.page or 0))
    out: list[tuple[int, Block]] = []
    for first, block, last, _page in merged:
        out.append((first, block))
        out.extend(
            (p, replace(block, text="", kind="paragraph")) for p in range(first + 1, last + 1)
        )
    return out


def drop_dangling_intros(paragraphs: list[Paragraph], before_table: set[int]) -> list[Paragraph]:
    """A short introductory sentence ("... the following criteria:") whose list or table did not
    come along (it went to another section, or was a duplicate)."""
    out: list[Paragraph] = []
    for k, p in enumerate(paragraphs):
        nxt = paragraphs[k + 1] if k + 1 < len(paragraphs) else None
        if (
            p.style == "body"
            and p.text.rstrip().endswith(":")
            and (nxt is None or nxt.style != "list")
            and id(p) not in before_table
            and len(p.text.split()) <= 20
            and len(language.sentences(p.text)) == 1
        ):
            continue
        out.append(p)
    return out
