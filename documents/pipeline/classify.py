"""Step 2 of the pipeline: what each source is, and the study's key facts.

``classify_source`` decides ``kind`` (protocol, sap, results, other) from the title page and
first pages (a title naming a "Statistical Analysis Plan", a "Clinical Study Protocol" or a
protocol number, a "Clinical Study Report"), from the headings (inclusion and exclusion criteria
→ protocol) and from the body (many "Table 14.x" outputs, or a spreadsheet of numbers →
results).

The study's key facts (title, sponsor, protocol number, dates, ...) are found by ``facts``; its
public names are re-exported here, since the Classify step runs both.
"""

from __future__ import annotations

import re
from dataclasses import replace

from documents.pipeline.facts import FACT_NAMES, all_key_facts, attach_key_facts
from documents.pipeline.types import ExtractedSource, SourceKind

__all__ = [
    "FACT_NAMES",
    "all_key_facts",
    "attach_key_facts",
    "classification_scores",
    "classify_source",
]

# ============================================================================================
# Classification


def _title_region(src: ExtractedSource) -> str:
    """The first pages (PDF) or first blocks (DOCX/XLSX), where a document says what it is."""
    if src.file_type == "pdf" and src.pages:
        return "\n".join(src.pages[:3])
    parts: list[str] = []
    for b in src.blocks[:80]:
        parts.append(b.text)
    return "\n".join(parts)


_SAP_TITLE = re.compile(r"statistical\s+analysis\s+plan|\bSAP\b(?!\s*-\s*\d)", re.I)
_PROTOCOL_TITLE = re.compile(
    r"clinical\s+(?:study|trial)\s+protocol|(?:study|trial)\s+protocol\b|protocol\s+amendment|"
    r"protocol\s+(?:number|no\.?|identifier|id)\b|structured\s+harmoni[sz]ed\s+protocol|"
    r"\bprotocol\s+[A-Z0-9]{1,6}(?:-[A-Z0-9]{1,10})+",
    re.I,
)
_RESULTS_TITLE = re.compile(
    r"clinical\s+(?:study|trial)\s+report|tables,?\s+figures,?\s+(?:and\s+)?listings|\bTLFs?\b|"
    r"results\s+(?:tables|summary)|topline\s+results",
    re.I,
)
_TLF_REF = re.compile(r"\b(?:Table|Figure|Listing)\s+1[456][.\-]\d+(?:[.\-]\d+)*", re.I)
_CSR_RESULTS_HEADING = re.compile(
    r"efficacy\s+results|safety\s+results|disposition\s+of\s+(?:patients|subjects|participants)|"
    r"demographic\s+and\s+(?:other\s+)?baseline\s+characteristics|adverse\s+events?\s+summary",
    re.I,
)


def _numeric_share(src: ExtractedSource) -> float:
    cells = numbers = 0
    for b in src.blocks:
        for row in b.rows:
            for cell in row:
                c = cell.strip()
                if not c:
                    continue
                cells += 1
                if re.fullmatch(r"[-+(]?\d[\d,]*(?:\.\d+)?%?\)?(?:\s*\(\d[\d.,]*%?\))?", c):
                    numbers += 1
    return numbers / cells if cells else 0.0


def classification_scores(src: ExtractedSource) -> dict[str, int]:
    """Evidence for each kind; exposed for tests and for explaining a decision in logs."""
    region = _title_region(src)
    headings = [" ".join(b.heading_path[-1:]) for b in src.blocks if b.kind == "heading"]
    heading_text = "\n".join(headings).lower()
    scores = {"protocol": 0, "sap": 0, "results": 0}
    if _SAP_TITLE.search(region):
        scores["sap"] += 6
        # A SAP's cover names its protocol ("Protocol number", "Protocol version"): the words
        # at the very top of the document say what it is.
        if _SAP_TITLE.search(region[:400]) and not _PROTOCOL_TITLE.search(region[:120]):
            scores["sap"] += 6
    protocol_hits = len(_PROTOCOL_TITLE.findall(region))
    scores["protocol"] += min(protocol_hits, 2) * 3
    if re.search(r"\bprotocol\b", region, re.I):
        scores["protocol"] += 1
    if "inclusion criteria" in heading_text and "exclusion criteria" in heading_text:
        scores["protocol"] += 3
    if re.search(r"schedule\s+of\s+(?:activities|events|assessments)", heading_text):
        scores["protocol"] += 1
    if re.search(r"analysis\s+populations?|sample\s+size\s+considerations", heading_text):
        scores["sap"] += 1
    if _RESULTS_TITLE.search(region):
        scores["results"] += 4
    if len(_CSR_RESULTS_HEADING.findall(heading_text)) >= 2:
        scores["results"] += 2
    body = "\n".join(src.pages) if src.pages else "\n".join(b.text for b in src.blocks)
    tlf = len(_TLF_REF.findall(body))
    if tlf >= 5 and not scores["sap"]:
        scores["results"] += 3
    if src.file_type == "xlsx" and _numeric_share(src) >= 0.2:
        scores["results"] += 5
    # Results tables the extractor recognised (a TLF number or an analysis-set line).
    recognised = sum(
        1 for b in src.blocks if b.kind == "table" and (b.table_number or b.population)
    )
    if recognised and not scores["sap"]:
        scores["results"] += 3 + min(recognised, 3)
    return scores


def classify_source(src: ExtractedSource) -> ExtractedSource:
    """The same record with ``kind`` set to protocol, sap, results or other."""
    scores = classification_scores(src)
    best = max(scores.values())
    kind: SourceKind = "other"
    if best >= 3:
        # Ties go to the more specific kind: a SAP names its protocol, a protocol rarely its SAP.
        for candidate in ("sap", "results", "protocol"):
            if scores[candidate] == best:
                kind = candidate  # type: ignore[assignment]
                break
    return replace(src, kind=kind)
