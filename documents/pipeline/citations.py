"""Citations: finding where a sentence lies in its source, and checking that a quote lies there.

A citation names a PDF page (``page``) or a DOCX/XLSX location (``block``: the 1-based index of a
paragraph, table row or sheet row; a table's rows are at its block, block + 1, ...). Quotes and
sources are compared on letters and digits only, case-folded (``language.normalize_alnum``, the
one normaliser the writer, the QC report and the checkers share), so whitespace, hyphenation at
line ends and removed running headers do not matter but the words must be the source's, in order.

``QuoteLocator`` finds the exact source text of a sentence the writer took (and the second page
when it crosses a page break); ``verify_citation`` is the check the QC report and the tests run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from documents.pipeline import language
from documents.pipeline.language import normalize_alnum
from documents.pipeline.types import Block, Citation, ExtractedSource


def location_texts(src: ExtractedSource) -> dict[int, list[str]]:
    """DOCX/XLSX location (1-based block index) → the texts a quote at that location may lie in.

    A paragraph's location holds its text. A table block whose ``block`` is b holds its rows at
    b, b+1, ... (one location per row, docs/api.md "locations"), each row's cells joined; the
    whole table text is accepted at b as well, whichever way an extractor numbered it.
    """
    texts: dict[int, list[str]] = {}
    for b in src.blocks:
        if b.block is None:
            continue
        if b.kind == "table" and b.rows:
            for i, row in enumerate(b.rows):
                texts.setdefault(b.block + i, []).append(" ".join(row))
            texts.setdefault(b.block, []).append(b.text)
        else:
            texts.setdefault(b.block, []).append(b.text)
    return texts


def _widen(source: str, start: int, end: int, sentence: str) -> str:
    """``source[start:end]`` (first to last letter or digit of the match) extended over the
    sentence's own leading and trailing punctuation ("(", "“", ".", ")."), as the source has it."""
    stripped = sentence.strip()
    head = stripped[: len(stripped) - len(stripped.lstrip("([{\"'“‘"))]
    tail = stripped[len(stripped.rstrip(".!?:;,)]}\"'”’%")) :]
    for ch in reversed(head):
        if start > 0 and source[start - 1] == ch:
            start -= 1
        else:
            break
    for ch in tail:
        if end < len(source) and source[end] == ch:
            end += 1
        else:
            break
    return source[start:end]


class QuoteLocator:
    """Finds where a sentence lies in its source and returns verifiable citations for it."""

    def __init__(self, sources: Sequence[ExtractedSource]) -> None:
        self.sources = list(sources)
        self._pages: dict[tuple[int, int], tuple[str, list[int]]] = {}
        self._locs: dict[int, dict[int, list[str]]] = {}
        self._anchors: dict[tuple[int, int, int], int] = {}

    def _page(self, s_idx: int, page: int) -> tuple[str, list[int]] | None:
        src = self.sources[s_idx]
        if page < 1 or page > len(src.pages):
            return None
        key = (s_idx, page)
        if key not in self._pages:
            self._pages[key] = language.alnum_with_map(src.pages[page - 1])
        return self._pages[key]

    def _cite(self, s_idx: int, page: int | None, block: int | None, quote: str) -> Citation:
        src = self.sources[s_idx]
        return Citation(
            file_path=src.file_path,
            file_name=src.file_name,
            page=page,
            block=block,
            quote=quote.strip(),
        )

    def locate(self, s_idx: int, block: Block, text: str) -> list[Citation]:
        """Citations (usually one; two when the text crosses a page break) or [] if not found."""
        src = self.sources[s_idx]
        norm = normalize_alnum(text)
        if not norm:
            return []
        if src.pages:
            return self._locate_pdf(s_idx, block, text, norm)
        return self._locate_blocks(s_idx, block, text, norm)

    def _locate_pdf(self, s_idx: int, block: Block, text: str, norm: str) -> list[Citation]:
        src = self.sources[s_idx]
        start_page = block.page or 1
        candidates = [start_page, start_page + 1, start_page - 1]
        if block.page is None:
            candidates = list(range(1, len(src.pages) + 1))
        for page in candidates:
            data = self._page(s_idx, page)
            if data is None:
                continue
            pnorm, pmap = data
            # Prefer the occurrence inside the block itself over an earlier one on the page.
            i = -1
            if page == start_page:
                anchor = self._anchor(s_idx, page, block)
                if anchor >= 0:
                    i = pnorm.find(norm, anchor)
            if i < 0:
                i = pnorm.find(norm)
            if i >= 0:
                quote = _widen(src.pages[page - 1], pmap[i], pmap[i + len(norm) - 1] + 1, text)
                return [self._cite(s_idx, page, None, quote)]
        # Across a page break: the longest prefix on the page, the rest on the next page(s).
        for page in candidates[:2]:
            cites = self._locate_across(s_idx, page, norm)
            if cites:
                return cites
        return []

    def _anchor(self, s_idx: int, page: int, block: Block) -> int:
        key = (s_idx, page, block.index)
        if key not in self._anchors:
            data = self._page(s_idx, page)
            head = normalize_alnum(block.text)[:40]
            self._anchors[key] = data[0].find(head) if data is not None and len(head) >= 8 else -1
        return self._anchors[key]

    def _locate_across(self, s_idx: int, page: int, norm: str) -> list[Citation]:
        src = self.sources[s_idx]
        data = self._page(s_idx, page)
        if data is None:
            return []
        pnorm, pmap = data
        anchor = norm[: min(24, len(norm))]
        if len(anchor) < 12:
            return []
        best_len, best_at = 0, -1
        at = pnorm.find(anchor)
        while at >= 0:
            n = len(anchor)
            while at + n < len(pnorm) and n < len(norm) and pnorm[at + n] == norm[n]:
                n += 1
            if n > best_len:
                best_len, best_at = n, at
            at = pnorm.find(anchor, at + 1)
        if best_at < 0 or best_len >= len(norm):
            return []
        first = src.pages[page - 1][pmap[best_at] : pmap[best_at + best_len - 1] + 1]
        rest = norm[best_len:]
        cites = [self._cite(s_idx, page, None, first)]
        nxt = page + 1
        while rest and nxt <= len(src.pages):
            ndata = self._page(s_idx, nxt)
            if ndata is None:
                return []
            nnorm, nmap = ndata
            j = nnorm.find(rest)
            if j >= 0:
                cites.append(
                    self._cite(
                        s_idx, nxt, None, src.pages[nxt - 1][nmap[j] : nmap[j + len(rest) - 1] + 1]
                    )
                )
                return cites
            # The rest may itself continue over another break.
            sub = rest[: min(24, len(rest))]
            j = nnorm.find(sub)
            if j < 0:
                return []
            n = len(sub)
            while j + n < len(nnorm) and n < len(rest) and nnorm[j + n] == rest[n]:
                n += 1
            cites.append(
                self._cite(s_idx, nxt, None, src.pages[nxt - 1][nmap[j] : nmap[j + n - 1] + 1])
            )
            rest = rest[n:]
            nxt += 1
        return cites if not rest else []

    def _locate_blocks(self, s_idx: int, block: Block, text: str, norm: str) -> list[Citation]:
        if s_idx not in self._locs:
            self._locs[s_idx] = location_texts(self.sources[s_idx])
        locs = self._locs[s_idx]
        if block.block is None:
            return []
        order = [block.block]
        if block.kind == "table" and block.rows:
            order = [block.block + i for i in range(len(block.rows))] + [block.block]
        for loc in order:
            found = self._quote_in(s_idx, loc, locs.get(loc, []), text, norm)
            if found:
                return found
        return []

    def _quote_in(
        self, s_idx: int, loc: int, candidates: list[str], text: str, norm: str
    ) -> list[Citation]:
        """A citation of ``text`` at block ``loc`` when one of its texts holds it."""
        for candidate in candidates:
            cnorm, cmap = language.alnum_with_map(candidate)
            i = cnorm.find(norm)
            if i >= 0:
                quote = _widen(candidate, cmap[i], cmap[i + len(norm) - 1] + 1, text)
                return [self._cite(s_idx, None, loc, quote)]
        return []

    def locate_row(self, s_idx: int, block: Block, row_index: int) -> list[Citation]:
        """A citation for one table row (its cells joined), or [] when it cannot be verified."""
        row = block.rows[row_index]
        text = " ".join(c for c in row if c)
        if not normalize_alnum(text):
            return []
        src = self.sources[s_idx]
        if src.pages:
            return self._locate_pdf(s_idx, block, text, normalize_alnum(text))
        if block.block is None:
            return []
        if s_idx not in self._locs:
            self._locs[s_idx] = location_texts(src)
        loc = block.block + row_index
        return self._quote_in(
            s_idx, loc, self._locs[s_idx].get(loc, []), text, normalize_alnum(text)
        )


# ---------------------------------------------------------------- verification

_cache: dict[int, tuple[ExtractedSource, dict[str, Any]]] = {}


def _prepared(src: ExtractedSource) -> dict[str, Any]:
    """Normalised page and location texts of a source, computed once per source object."""
    hit = _cache.get(id(src))
    if hit is not None and hit[0] is src:
        return hit[1]
    data: dict[str, Any] = {
        "pages": [language.normalize_alnum(p) for p in src.pages],
        "locations": {
            loc: [language.normalize_alnum(t) for t in texts]
            for loc, texts in location_texts(src).items()
        },
    }
    if len(_cache) > 64:
        _cache.clear()
    _cache[id(src)] = (src, data)
    return data


def _source_for(citation: Citation, sources: Sequence[ExtractedSource]) -> ExtractedSource | None:
    for src in sources:
        if src.file_path == citation.file_path:
            return src
    for src in sources:
        if src.file_name == citation.file_name:
            return src
    return None


def verify_citation(citation: Citation, sources: Sequence[ExtractedSource]) -> bool:
    """True when the quote lies on the cited page or in the cited block (letters, digits only)."""
    src = _source_for(citation, sources)
    if src is None:
        return False
    quote = language.normalize_alnum(citation.quote)
    if not quote:
        return False
    data = _prepared(src)
    if citation.page is not None:
        pages = data["pages"]
        if pages:
            return 1 <= citation.page <= len(pages) and quote in pages[citation.page - 1]
        # A paged source without page texts: the blocks of that page.
        return any(
            quote in language.normalize_alnum(b.text) for b in src.blocks if b.page == citation.page
        )
    if citation.block is not None:
        return any(quote in t for t in data["locations"].get(citation.block, []))
    return False
