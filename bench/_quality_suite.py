"""The quality suite of ``bench/quality.py``: dev-set scores, the real-CSR yardstick, TOC lines.

Every draft is made the way a user makes one from the command line (``manage.py generate`` in a
child process, on a throw-away data directory) and judged only by code outside the pipeline: the
dev set's own ``score.py``, ``bench/yardstick.py`` and the furniture check below.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from _common import CORPUS, ROOT, print_table
from yardstick import UNITS, csr_units, fine_share, grams, source_text, twin_units, words

DEVSET = ROOT.parent / "shared" / "devset"
REFERENCE = CORPUS / "reference" / "csr-cdiscpilot01.pdf"

# Lines that belong to a table of contents or to the page, never to a report's prose: dot leaders
# (spaced or not), "Page x of y", and a bare "number title page" line (a TOC entry that lost its
# leaders). Naming a table by its number and title inside a sentence is none of these.
_LEADERS = re.compile(r"(?:\.\s?){4,}\s*\d{0,4}\s*$|(?:\.\s){3,}")
_PAGE_OF = re.compile(r"\bPage\s+\d+\s+of\s+\d+\b", re.I)
_TOC_ENTRY = re.compile(
    r"^\s*\d{1,2}(?:\.\d{1,2}){0,4}\.?\s+[A-Z][^.;:!?]{2,90}?\s+\d{1,3}\s*$"
    r"|^\s*\d{1,3}\s+\d{1,2}(?:\.\d{1,2})+\.?\s+[A-Z][^.;:!?]{2,90}$"  # page first, wrapped
)


def furniture_lines(twin: dict) -> list[str]:
    """Paragraph lines of the draft's generated sections that are TOC or page furniture."""
    found = []
    for section in twin.get("sections", []):
        if section.get("state") != "generated":
            continue
        for paragraph in section.get("paragraphs", []):
            for line in str(paragraph.get("text", "")).splitlines():
                if _LEADERS.search(line) or _PAGE_OF.search(line) or _TOC_ENTRY.match(line):
                    found.append(f"{section.get('number')}: {line[:90]}")
    return found


def _generate(files: list[Path], out: Path, data_dir: Path) -> dict:
    env = {**os.environ, "FOLIO_DATA_DIR": str(data_dir), "DJANGO_DEBUG": "1"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, capture_output=True)
    twin_path = out.with_suffix(".json")
    done = subprocess.run(
        [
            *manage,
            "generate",
            *map(str, files),
            "--template",
            "ich-e3-csr",
            "--output",
            str(out),
            "--json",
            str(twin_path),
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"generate failed for {files}: {done.stderr[-2000:]}")
    return json.loads(twin_path.read_text())


def _devset(work: Path, data_dir: Path) -> tuple[list[list[object]], bool, list[str]]:
    truth_path = DEVSET / "truth.json"
    truth = json.loads(truth_path.read_text())
    rows: list[list[object]] = []
    passed = True
    furniture: list[str] = []
    for study, spec in sorted(truth["studies"].items()):
        files = [DEVSET / f["path"] for f in spec["files"].values()]
        twin = _generate(files, work / f"{study}.docx", data_dir)
        furniture += [f"{study} {line}" for line in furniture_lines(twin)]
        scored = subprocess.run(
            [
                sys.executable,
                str(DEVSET / "score.py"),
                str(work / f"{study}.json"),
                str(truth_path),
                study,
                str(DEVSET / study),
            ],
            capture_output=True,
            text=True,
        )
        summary = scored.stdout.strip().splitlines()
        line = next((s for s in summary if s.startswith(f"{study}:")), scored.stdout.strip())
        missed = next((s for s in summary if s.startswith("missed")), "missed: none")
        passed = passed and scored.returncode == 0
        measures = dict(
            part.strip().split(" ", 1) if " " in part.strip() else (part.strip(), "")
            for part in line.split(":", 1)[-1].split(";")
        )
        rows.append(
            [
                study,
                measures.get("checks", "?"),
                measures.get("unsupported", "?").replace("numbers ", ""),
                measures.get("citations", "?"),
                measures.get("repeated", "?").replace("sentences ", ""),
                measures.get("size", "?").replace(" sources", ""),
                measures.get("'will'", "?").replace("in 9-12 ", ""),
                "exit 0" if scored.returncode == 0 else f"exit {scored.returncode}",
                missed.replace("missed: ", "")[:60],
            ]
        )
    return rows, passed, furniture


def _repeated_share(twin: dict) -> float:
    split = re.compile(r"(?<=[.!?])\s+(?=[A-Z(])")
    per_section = [
        {
            s.strip()
            for p in section.get("paragraphs", [])
            for s in split.split(str(p.get("text", "")))
            if len(s.strip()) > 30
        }
        for section in twin.get("sections", [])
        if section.get("state") == "generated"
    ]
    counts = Counter(s for sentences in per_section for s in sentences)
    total = sum(len(s) for s in per_section) or 1
    return 100 * sum(n - 1 for n in counts.values() if n > 1) / total


def _yardstick(work: Path, data_dir: Path) -> tuple[list[list[object]], bool, list[str]]:
    protocol_sap = [CORPUS / "protocol-lzzt.pdf", CORPUS / "sap-cdiscpilot01.pdf"]
    tlf = sorted((CORPUS / "tlf").glob("tlf-*.*"))
    twin = _generate(protocol_sap + tlf, work / "lzzt.docx", data_dir)
    real = csr_units(REFERENCE)
    draft = twin_units(twin)
    source_grams = grams(source_text(protocol_sap))
    real_all = draft_all = ceiling_all = 0
    for unit in UNITS:
        r = grams(real[unit])
        real_all += len(r)
        draft_all += len(r & grams(draft[unit]))
        ceiling_all += len(r & source_grams)
    shared, total = fine_share(twin, REFERENCE)
    draft_words = sum(
        len(words(str(p.get("text", ""))))
        for s in twin.get("sections", [])
        if s.get("state") == "generated"
        for p in s.get("paragraphs", [])
    )
    source_words = len(words(source_text(protocol_sap)))
    repeated = _repeated_share(twin)
    furniture = [f"lzzt {line}" for line in furniture_lines(twin)]
    together = 100 * draft_all / max(real_all, 1)
    ok = together >= 35 and draft_words <= source_words and repeated <= 5 and not furniture
    rows = [
        ["4-grams of the real 5-9 + 11.1 in the draft's (together)", f"{together:.1f}%", "≥ 35%"],
        [
            "the same, each real section against the draft's same-numbered one",
            f"{100 * shared / max(total, 1):.1f}%",
            "",
        ],
        [
            "extractive ceiling (in the protocol or SAP anywhere)",
            f"{100 * ceiling_all / max(real_all, 1):.1f}%",
            "",
        ],
        [
            "draft words / protocol + SAP words",
            f"{draft_words / max(source_words, 1):.2f}",
            "≤ 1.0",
        ],
        ["sentences repeated across sections", f"{repeated:.1f}%", "≤ 5%"],
    ]
    return rows, ok, furniture


def run_suite() -> int:
    """Print the three tables; 0 when every target holds, 1 otherwise."""
    work = Path(tempfile.mkdtemp(prefix="folio-quality-"))
    data_dir = work / "data"
    status = 0
    furniture: list[str] = []
    if (DEVSET / "truth.json").exists():
        rows, ok, found = _devset(work, data_dir)
        furniture += found
        print_table(
            "Dev set (../shared/devset, score.py; targets: ≥ 38/40 checks, exit 0)",
            [
                "study",
                "checks",
                "unsupported numbers",
                "citations",
                "repeated",
                "size",
                "'will' 9-12",
                "score.py",
                "missed",
            ],
            rows,
        )
        status |= 0 if ok else 1
    else:
        print(f"SKIP: {DEVSET} not found: no dev-set scores.")
    rows, ok, found = _yardstick(work, data_dir)
    furniture += found
    print_table(
        "LZZT protocol + SAP + tlf/ against the real CSR (bench/yardstick.py)",
        ["measure", "value", "target"],
        rows,
    )
    status |= 0 if ok else 1
    print_table(
        "TOC or page-furniture lines in the drafts (target 0)",
        ["count", "first lines"],
        [[len(furniture), "; ".join(furniture[:5]) or "-"]],
    )
    status |= 1 if furniture else 0
    print(f"\nDrafts and twins kept in {work}")
    return status
