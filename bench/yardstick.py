"""The real CSR of the corpus study as a yardstick: word 4-grams shared per E3 section.

``../shared/corpus/reference/csr-cdiscpilot01.pdf`` is the clinical study report that people wrote
from the LZZT protocol, its SAP and the study's results. It is never a source and none of its
sentences enter the product: this module only measures, for the E3 sections that the protocol and
SAP feed (5, 6, 7, 8, 9 with its subsections, and 11.1), which share of the real section's word
4-grams the draft's section holds, and which share occurs anywhere in the sources (the extractive
ceiling). A 4-gram counts as shared when it occurs in both texts of the same unit.

    .venv/bin/python bench/yardstick.py twin.json            # a twin written by generate --json
    .venv/bin/python bench/yardstick.py                      # generate from protocol + SAP + tlf/
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import CORPUS, print_table

UNITS = ("5", "6", "7", "8", "9", "11.1")
_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")
# "9.7.1. Statistical Methods" / "5. ETHICS": a heading line of the real report.
_HEADING = re.compile(r"^\s*(\d{1,2}(?:\.\d{1,2}){0,3})\.\s+([A-Z][^\n]{2,})$")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("’", "'"))


def grams(text: str, n: int = 4) -> set[tuple[str, ...]]:
    w = words(text)
    return {tuple(w[i : i + n]) for i in range(len(w) - n + 1)}


def _unit_of(number: str) -> str | None:
    for unit in UNITS:
        if number == unit or number.startswith(unit + "."):
            return unit
    return None


def csr_sections(pdf: Path) -> dict[str, str]:
    """Text of each numbered section (any depth) of the real CSR's body, units 5-9 and 11.1."""
    return _csr_split(pdf, fine=True)


def csr_units(pdf: Path) -> dict[str, str]:
    """Text of each unit of the real CSR's body (pages after its table of contents)."""
    return _csr_split(pdf, fine=False)


def _csr_split(pdf: Path, *, fine: bool) -> dict[str, str]:
    from pypdf import PdfReader

    reader = PdfReader(str(pdf))
    pages = [p.extract_text() or "" for p in reader.pages[:60]]
    out: dict[str, list[str]] = {} if fine else {u: [] for u in UNITS}
    current: str | None = None
    started = False
    expected_order = ["5", "6", "7", "8", "9", "10", "11", "12"]
    for text in pages:
        if len(re.findall(r"\.{5,}", text)) >= 5:
            continue  # the report's own table of contents, list of tables or figures
        lines = text.splitlines()
        # Running header and footer of the report.
        lines = [ln for ln in lines if not re.match(r"^(CDISC SDTM/ADaM Pilot|FINAL CSR)", ln)]
        for line in lines:
            m = _HEADING.match(line)
            if m and "..." not in line:
                number = m.group(1)
                top = number.split(".")[0]
                if top == "5" and number in {"5", "5.1"}:
                    started = True
                if started and top in expected_order:
                    current = _unit_of(number)
                    if current is not None and fine:
                        current = number
                    continue
            if started and current is not None:
                out.setdefault(current, []).append(line)
        if started and current is None and any(ln.startswith("13.") for ln in lines):
            break
    return {u: "\n".join(v) for u, v in out.items()}


def twin_units(twin: dict) -> dict[str, str]:
    out: dict[str, list[str]] = {u: [] for u in UNITS}
    for section in twin.get("sections", []):
        if section.get("state") != "generated":
            continue
        unit = _unit_of(str(section.get("number", "")).rstrip("."))
        if unit is None:
            continue
        out[unit].extend(p.get("text", "") for p in section.get("paragraphs", []))
        for table in section.get("tables", []):
            out[unit].extend(" ".join(row) for row in table.get("rows", []))
    return {u: "\n".join(v) for u, v in out.items()}


def twin_sections(twin: dict) -> dict[str, str]:
    """Number → text of that generated section and its descendants."""
    own: dict[str, list[str]] = {}
    for section in twin.get("sections", []):
        number = str(section.get("number", "")).rstrip(".")
        texts = own.setdefault(number, [])
        if section.get("state") != "generated":
            continue
        texts.extend(p.get("text", "") for p in section.get("paragraphs", []))
        for table in section.get("tables", []):
            texts.extend(" ".join(row) for row in table.get("rows", []))
    return {
        n: "\n".join(t for m, ts in own.items() if m == n or m.startswith(n + ".") for t in ts)
        for n in own
    }


def fine_share(twin: dict, reference: Path) -> tuple[int, int]:
    """Shared 4-grams when each real section is compared with the draft's section of the same
    number (or its nearest ancestor that the draft has), and the real total."""
    drafted = twin_sections(twin)
    shared = total = 0
    for number, text in csr_sections(reference).items():
        target = number
        while target not in drafted and "." in target:
            target = target.rsplit(".", 1)[0]
        r = grams(text)
        total += len(r)
        shared += len(r & grams(drafted.get(target, "")))
    return shared, total


def source_text(paths: Iterable[Path]) -> str:
    parts = []
    for path in paths:
        if path.suffix.lower() == ".pdf":
            from pypdf import PdfReader

            parts.extend(p.extract_text() or "" for p in PdfReader(str(path)).pages)
        else:
            parts.append(path.read_text(errors="replace"))
    return "\n".join(parts)


def measure(twin: dict, reference: Path, sources: Iterable[Path]) -> list[list[object]]:
    real = csr_units(reference)
    draft = twin_units(twin)
    source_grams = grams(source_text(sources))
    rows: list[list[object]] = []
    tot_real = tot_draft = tot_ceiling = 0
    for unit in UNITS:
        r = grams(real[unit])
        d = grams(draft[unit])
        shared = len(r & d)
        ceiling = len(r & source_grams)
        tot_real += len(r)
        tot_draft += shared
        tot_ceiling += ceiling
        rows.append(
            [
                unit,
                len(r),
                f"{100 * shared / max(1, len(r)):.0f}%",
                f"{100 * ceiling / max(1, len(r)):.0f}%",
                len(words(draft[unit])),
            ]
        )
    rows.append(
        [
            "together",
            tot_real,
            f"{100 * tot_draft / max(1, tot_real):.1f}%",
            f"{100 * tot_ceiling / max(1, tot_real):.1f}%",
            sum(len(words(t)) for t in draft.values()),
        ]
    )
    return rows


def main() -> None:
    reference = CORPUS / "reference" / "csr-cdiscpilot01.pdf"
    if not reference.exists():
        print(f"SKIP: {reference} not found (the yardstick needs ../shared).")
        return
    sources = [CORPUS / "protocol-lzzt.pdf", CORPUS / "sap-cdiscpilot01.pdf"]
    twin = json.loads(Path(sys.argv[1]).read_text())
    shared, total = fine_share(twin, reference)
    print(
        f"Section by section (each real section against the same-numbered draft section): "
        f"{100 * shared / max(1, total):.1f}% of {total} 4-grams"
    )
    print_table(
        "LZZT draft against the real CSR (word 4-grams of the real section found in the draft's)",
        ["E3 unit", "real 4-grams", "in the draft", "in the sources (ceiling)", "draft words"],
        measure(twin, reference, sources),
    )


if __name__ == "__main__":
    main()
