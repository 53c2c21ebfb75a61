"""The extraction cache's JSON form of an ``ExtractedSource`` (compact keys for blocks)."""

from __future__ import annotations

from typing import Any

from documents.pipeline.extract.common import EXTRACTOR_VERSION
from documents.pipeline.types import Block, ExtractedSource, KeyFact


def _block_to_json(b: Block) -> dict[str, Any]:
    out: dict[str, Any] = {"i": b.index, "k": b.kind, "t": b.text}
    if b.page is not None:
        out["p"] = b.page
    if b.block is not None:
        out["b"] = b.block
    if b.level:
        out["l"] = b.level
    if b.number:
        out["n"] = b.number
    if b.heading_path:
        out["h"] = list(b.heading_path)
    if b.rows:
        out["r"] = [list(r) for r in b.rows]
    if b.bold:
        out["bo"] = True
    if b.font_size:
        out["fs"] = b.font_size
    if b.caption:
        out["cap"] = b.caption
    if b.table_number:
        out["tn"] = b.table_number
    if b.population:
        out["pop"] = b.population
    if b.header_rows:
        out["hr"] = b.header_rows
    if b.footnotes:
        out["fn"] = list(b.footnotes)
    if b.row_pages:
        out["rp"] = list(b.row_pages)
    return out


def _block_from_json(d: dict[str, Any]) -> Block:
    return Block(
        index=int(d["i"]),
        kind=d["k"],
        text=str(d["t"]),
        page=d.get("p"),
        block=d.get("b"),
        level=int(d.get("l", 0)),
        number=str(d.get("n", "")),
        heading_path=tuple(str(h) for h in d.get("h", ())),
        rows=tuple(tuple(str(c) for c in r) for r in d.get("r", ())),
        bold=bool(d.get("bo", False)),
        font_size=float(d.get("fs", 0.0)),
        caption=str(d.get("cap", "")),
        table_number=str(d.get("tn", "")),
        population=str(d.get("pop", "")),
        header_rows=int(d.get("hr", 0)),
        footnotes=tuple(str(f) for f in d.get("fn", ())),
        row_pages=tuple(int(p) for p in d.get("rp", ())),
    )


def source_to_json(src: ExtractedSource) -> dict[str, Any]:
    """A JSON-safe dict of the whole record (compact keys for blocks)."""
    return {
        "extractor_version": EXTRACTOR_VERSION,
        "file_path": src.file_path,
        "file_name": src.file_name,
        "sha256": src.sha256,
        "file_type": src.file_type,
        "page_count": src.page_count,
        "title": src.title,
        "kind": src.kind,
        "pages": list(src.pages),
        "warnings": list(src.warnings),
        "blocks": [_block_to_json(b) for b in src.blocks],
        "key_facts": [
            {
                "name": f.name,
                "value": f.value,
                "quote": f.quote,
                "file_path": f.file_path,
                "file_name": f.file_name,
                "page": f.page,
                "block": f.block,
            }
            for f in src.key_facts
        ],
    }


def source_from_json(data: dict[str, Any]) -> ExtractedSource:
    """The inverse of ``source_to_json``."""
    return ExtractedSource(
        file_path=data["file_path"],
        file_name=data["file_name"],
        sha256=data["sha256"],
        file_type=data["file_type"],
        page_count=data.get("page_count"),
        blocks=tuple(_block_from_json(b) for b in data.get("blocks", ())),
        pages=tuple(data.get("pages", ())),
        title=data.get("title", ""),
        kind=data.get("kind", "other"),
        key_facts=tuple(KeyFact(**f) for f in data.get("key_facts", ())),
        warnings=tuple(str(w) for w in data.get("warnings", ())),
    )
