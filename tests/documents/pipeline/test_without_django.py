"""The pipeline needs no Django: it runs in a process where importing Django is impossible.

Everything a run depends on (limits, the LLM configuration, the outline) arrives in its
``PipelineInput``; this runs ``documents.pipeline.run`` in a fresh interpreter with no settings
module and with ``django`` blocked from import, on a small protocol built here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import docx

from tests.fixtures.builders import build_protocol_pdf

PROJECT_ROOT = Path(__file__).resolve().parents[3]

SCRIPT = r"""
import json, sys
sys.modules["django"] = None  # any "import django..." now raises ImportError

from documents.pipeline.run import run_pipeline
from documents.pipeline.types import Limits, PipelineInput, SourceDescriptor

source, output = sys.argv[1], sys.argv[2]
outline = [
    {"section_id": "s1", "number": "1", "title": "Title Page", "level": 1},
    {"section_id": "s2", "number": "2", "title": "Synopsis", "level": 1},
    {"section_id": "s3", "number": "9", "title": "Investigational Plan", "level": 1},
]
inp = PipelineInput(
    sources=(SourceDescriptor(source, "protocol.pdf", "0" * 64, "pdf", source),),
    outline_snapshot=tuple(outline),
    selected_section_ids=("s2", "s3"),
    template_name="A test outline",
    document_type="CSR",
    output_name="no-django",
    limits=Limits(extract_timeout=60),
)
steps = []
result = run_pipeline(inp, report=lambda step, percent, *a, **k: steps.append(str(step)),
                      output_path=output)
print(json.dumps({
    "django": sorted(
        m for m, mod in sys.modules.items() if mod is not None and m.split(".")[0] == "django"
    ),
    "steps": list(dict.fromkeys(steps)),
    "sections": [[s.section_id, s.state] for s in result.sections],
}))
"""


def test_the_pipeline_runs_with_django_unimportable(tmp_path: Path) -> None:
    source = build_protocol_pdf(tmp_path / "protocol.pdf")
    output = tmp_path / "out.docx"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO")}
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(source), str(output)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["django"] == []
    assert report["steps"] == [
        "Extract",
        "Classify",
        "Ingest",
        "Outline",
        "Orchestrate",
        "Generate",
    ]
    states = dict(report["sections"])
    assert states["s1"] == "skipped"  # not selected: the Outline step applied the choice
    assert states["s3"] == "generated"
    headings = [
        p.text for p in docx.Document(str(output)).paragraphs if p.style.name.startswith("Heading")
    ]
    assert any("Investigational Plan" in h for h in headings)
