"""How good the drafts are, measured independently of the pipeline.

With no sources (the suite; what the README's quality table shows):

1. each study of ``../shared/devset/`` through ``manage.py generate`` and the set's own ``score.py``
   (checks found of 40, unsupported numbers, citations verified, repeated sentences, size, "will");
2. the LZZT protocol + SAP + ``tlf/`` against the real CSR people wrote (``bench/yardstick.py``):
   the share of the real text's word 4-grams in the draft's sections 5-9 and 11.1, with the
   extractive ceiling, and the precision limits (draft words against the protocol's and SAP's,
   repeated sentences);
3. lines of a table of contents or page furniture in every draft (must be 0).

With source files, one source set: the pipeline's QC report beside the judged measures (citations
whose quote is on the cited page/block, numbers found in no source, repeated sentences, size,
"will" left in sections 9-12).

    .venv/bin/python bench/quality.py                      # the suite (needs ../shared)
    .venv/bin/python bench/quality.py a.pdf b.docx c.xlsx  # any source set
    .venv/bin/python bench/quality.py a.pdf --json twin.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import CORPUS, ROOT, migrate_quietly, print_table, setup_django
from _quality_suite import run_suite

NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*(?:%|\b)")
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z(])")


def source_text(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        from pypdf import PdfReader

        return "\n".join(p.extract_text() or "" for p in PdfReader(str(path)).pages)
    if suffix == ".docx":
        from docx import Document

        doc = Document(str(path))
        parts = [p.text for p in doc.paragraphs]
        for table in doc.tables:
            for row in table.rows:
                parts.append(" ".join(c.text for c in row.cells))
        return "\n".join(parts)
    from openpyxl import load_workbook

    wb = load_workbook(str(path), read_only=True, data_only=True)
    return "\n".join(
        " ".join("" if v is None else str(v) for v in row)
        for ws in wb.worksheets
        for row in ws.iter_rows(values_only=True)
    )


def judge(twin: dict, files: dict[str, Path]) -> dict:
    sys.path.insert(0, str(ROOT))
    from tests.helpers.citations import all_citations, citation_verifies

    sources = {name: source_text(p) for name, p in files.items()}
    source_digits = re.sub(r"\s+", " ", " ".join(sources.values()))
    citations = all_citations(twin)
    verified = sum(1 for c in citations if citation_verifies(c, files))
    generated = [s for s in twin["sections"] if s["state"] == "generated"]
    unsupported = []
    sentences_by_section: list[list[str]] = []
    will_total = will_left = 0
    draft_chars = 0
    for section in generated:
        texts = [p["text"] for p in section["paragraphs"]]
        for t in section.get("tables", []):
            draft_chars += sum(len(c) for row in t["rows"] for c in row)
        draft_chars += sum(len(t) for t in texts)
        sentences = [s.strip() for t in texts for s in SENTENCE.split(t) if s.strip()]
        sentences_by_section.append(sentences)
        for number in NUMBER.findall(" ".join(texts)):
            if number not in source_digits:
                unsupported.append(number)
        top = section["number"].split(".")[0]
        if top in {"9", "10", "11", "12"}:
            will_total += len(sentences)
            will_left += sum(1 for s in sentences if re.search(r"\bwill\b", s, re.I))
    counts = Counter(s for sentences in sentences_by_section for s in set(sentences) if len(s) > 30)
    total_sentences = sum(len(set(s)) for s in sentences_by_section) or 1
    repeated = sum(n - 1 for n in counts.values() if n > 1)
    source_chars = sum(len(t) for t in sources.values()) or 1
    return {
        "citations verified (independent checker)": f"{verified}/{len(citations)}",
        "numbers in the text found in no source": len(unsupported),
        "sentences repeated across sections": f"{100 * repeated / total_sentences:.1f}%",
        "draft size / sources size": f"{draft_chars / source_chars:.2f}",
        "sentences with 'will' in sections 9–12": f"{will_left}/{will_total}"
        + (f" ({100 * will_left / will_total:.1f}%)" if will_total else ""),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="*")
    parser.add_argument("--template", default="ich-e3-csr")
    parser.add_argument("--json", dest="json_path")
    args = parser.parse_args()
    paths = [Path(p).resolve() for p in args.sources]
    if not paths:
        if not CORPUS.exists():
            print(f"SKIP: {CORPUS} not found and no sources given.")
            return
        sys.exit(run_suite())
    setup_django()
    migrate_quietly()
    from documents.pipeline.outline import build_outline
    from documents.pipeline.run import run_pipeline
    from documents.pipeline.twin import section_to_dict
    from documents.pipeline.types import PipelineInput, SourceDescriptor
    from templates_app.models import Template
    from templates_app.selectors import template_outline

    template = Template.objects.get(key=args.template)
    outline = build_outline(template_outline(template).sections)
    descs = tuple(
        SourceDescriptor(
            str(p),
            p.name,
            hashlib.sha256(p.read_bytes()).hexdigest(),
            p.suffix.lower().lstrip("."),
            str(p),
        )
        for p in paths
    )
    inp = PipelineInput(
        sources=descs,
        outline=outline,
        template_name=template.name,
        document_type=template.document_type,
        output_name="quality",
        tense=template.tense,
    )
    out = Path(tempfile.mkdtemp()) / "quality.docx"
    started = time.perf_counter()
    result = run_pipeline(inp, report=lambda *a, **k: None, output_path=str(out))
    seconds = time.perf_counter() - started
    twin = {"sections": [section_to_dict(s) for s in result.sections], "qc": result.qc}
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(twin, indent=2, ensure_ascii=False))
    qc_rows = [
        [k, json.dumps(v) if isinstance(v, dict | list) else v]
        for k, v in result.qc.items()
        if not isinstance(v, list | dict)
    ]
    print_table(
        f"QC report: {', '.join(p.name for p in paths)} → {template.name} ({seconds:.1f}s)",
        ["measure", "value"],
        qc_rows,
    )
    print_table(
        "Judged measures (independent of the pipeline)",
        ["measure", "value"],
        [[k, v] for k, v in judge(twin, {p.name: p for p in paths}).items()],
    )
    rows = [
        [s.number, s.title[:60], s.state, len(s.paragraphs), len(s.tables)] for s in result.sections
    ]
    print_table("Sections", ["number", "title", "state", "paragraphs", "tables"], rows)


if __name__ == "__main__":
    main()
