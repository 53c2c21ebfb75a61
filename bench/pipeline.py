"""End-to-end pipeline benchmark (issue: the grounded writer, "Benchmarks").

For the corpus protocol + SAP → ich-e3-csr, measured in one run, each case in a fresh process
three times (``--repeat``; the median is reported):
- plain pypdf text extraction of the same files (the yardstick),
- our whole pipeline (wall time and peak RSS of the worker process and its extraction child),
- the same sources repeated to 4× and 10× the pages (scaling),
- a second generation over unchanged files (extraction cache hit),
- our Extract step alone, plain pypdf and pypdfium2 (if installed).

    .venv/bin/python bench/pipeline.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import CORPUS, ROOT, peak_rss_mb, print_table, require_corpus

SOURCES = ["protocol-lzzt.pdf", "sap-cdiscpilot01.pdf"]


def _child(case: str, paths: list[str], data_dir: str) -> dict:
    """Run one case in this (fresh) process and return its figures."""
    from _common import migrate_quietly, setup_django

    setup_django(data_dir)
    started = time.perf_counter()
    if case == "pypdf":
        from pypdf import PdfReader

        pages = 0
        for p in paths:
            for page in PdfReader(p).pages:
                page.extract_text()
                pages += 1
        return {"seconds": time.perf_counter() - started, "rss_mb": peak_rss_mb(), "pages": pages}
    if case == "pypdfium2":
        import pypdfium2 as pdfium

        for p in paths:
            pdf = pdfium.PdfDocument(p)
            for i in range(len(pdf)):
                pdf[i].get_textpage().get_text_range()
        return {"seconds": time.perf_counter() - started, "rss_mb": peak_rss_mb()}
    if case == "extract":
        import hashlib

        from documents.pipeline import extract
        from documents.pipeline.types import SourceDescriptor

        for p in paths:
            extract.extract_text(
                SourceDescriptor(
                    p, Path(p).name, hashlib.sha256(Path(p).read_bytes()).hexdigest(), "pdf", p
                )
            )
        return {"seconds": time.perf_counter() - started, "rss_mb": peak_rss_mb()}
    # "pipeline" and "reuse": the job's own path, with the database extraction cache.
    migrate_quietly()
    import hashlib

    from documents.pipeline.outline import build_outline
    from documents.pipeline.run import run_pipeline
    from documents.pipeline.types import PipelineInput, SourceDescriptor
    from documents.services.job_state import DatabaseExtractionCache
    from templates_app.models import Template
    from templates_app.selectors import template_outline

    template = Template.objects.get(key="ich-e3-csr")
    outline = build_outline(template_outline(template).sections)
    descs = tuple(
        SourceDescriptor(
            p, Path(p).name, hashlib.sha256(Path(p).read_bytes()).hexdigest(), "pdf", p
        )
        for p in paths
    )
    inp = PipelineInput(
        sources=descs,
        outline=outline,
        template_name=template.name,
        document_type="CSR",
        output_name="bench",
    )
    cache = DatabaseExtractionCache({})
    runs = 2 if case == "reuse" else 1
    times = []
    result = None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = run_pipeline(
            inp,
            report=lambda *a, **k: None,
            cache=cache,
            output_path=str(Path(data_dir) / "out.docx"),
        )
        times.append(time.perf_counter() - t0)
    qc = result.qc if result else {}
    return {
        "seconds": times[-1],
        "first_seconds": times[0],
        "rss_mb": peak_rss_mb(),
        "generated": qc.get("sections_generated"),
        "no_source": qc.get("sections_no_source"),
    }


def run_case(case: str, paths: list[str], repeat: int = 1) -> dict:
    """The case ``repeat`` times, each in a fresh process: the run of median seconds (one run
    of a loaded machine's noise can double a figure; the median of three cannot)."""
    runs = sorted(
        (_run_once(case, paths) for _ in range(max(1, repeat))), key=lambda r: r["seconds"]
    )
    return runs[len(runs) // 2]


def _run_once(case: str, paths: list[str]) -> dict:
    data_dir = tempfile.mkdtemp(prefix="folio-bench-")
    out = subprocess.run(
        [sys.executable, __file__, "--child", case, "--data-dir", data_dir, *paths],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"case {case} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def repeated(paths: list[str], times: int, workdir: Path) -> list[str]:
    from pypdf import PdfWriter

    out = []
    for p in paths:
        writer = PdfWriter()
        for _ in range(times):
            writer.append(p)
        target = workdir / f"x{times}-{Path(p).name}"
        with target.open("wb") as fh:
            writer.write(fh)
        out.append(str(target))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child")
    parser.add_argument("--data-dir")
    parser.add_argument("--quick", action="store_true", help="skip the 10x scaling case")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per case; the median is reported (default 3)"
    )
    parser.add_argument("paths", nargs="*")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.paths, args.data_dir)))
        return
    if not require_corpus():
        return
    paths = [str(CORPUS / name) for name in SOURCES]
    base = run_case("pypdf", paths, args.repeat)
    pipe = run_case("pipeline", paths, args.repeat)
    reuse = run_case("reuse", paths, args.repeat)
    ours = run_case("extract", paths, args.repeat)
    rows = [
        ["plain pypdf extract_text", f"{base['seconds']:.2f}", "1.00", f"{base['rss_mb']:.0f}", ""],
        [
            "Extract step alone",
            f"{ours['seconds']:.2f}",
            f"{ours['seconds'] / base['seconds']:.2f}",
            f"{ours['rss_mb']:.0f}",
            "",
        ],
    ]
    try:
        import pypdfium2  # noqa: F401

        fium = run_case("pypdfium2", paths, args.repeat)
        rows.append(
            [
                "pypdfium2 get_text_range",
                f"{fium['seconds']:.2f}",
                f"{fium['seconds'] / base['seconds']:.2f}",
                f"{fium['rss_mb']:.0f}",
                "",
            ]
        )
    except ImportError:
        pass
    rows += [
        [
            "whole pipeline → ich-e3-csr",
            f"{pipe['seconds']:.2f}",
            f"{pipe['seconds'] / base['seconds']:.2f} (target ≤ 2)",
            f"{pipe['rss_mb']:.0f} (≤ 300)",
            f"{pipe['generated']} generated / {pipe['no_source']} no_source",
        ],
        [
            "second run, unchanged files",
            f"{reuse['seconds']:.2f}",
            f"{reuse['seconds'] / reuse['first_seconds']:.2f} of first (≤ 0.3)",
            f"{reuse['rss_mb']:.0f}",
            "",
        ],
    ]
    with tempfile.TemporaryDirectory() as tmp:
        factors = [4] if args.quick else [4, 10]
        for factor in factors:
            big = repeated(paths, factor, Path(tmp))
            r = run_case("pipeline", big, 1 if factor == 10 else args.repeat)
            rows.append(
                [
                    f"whole pipeline, {factor}× pages",
                    f"{r['seconds']:.2f}",
                    f"{r['seconds'] / pipe['seconds']:.2f} of 1× (≤ {factor * 1.1:.0f})",
                    f"{r['rss_mb']:.0f}",
                    f"{base['pages'] * factor} pages",
                ]
            )
    print_table(
        f"Pipeline benchmark: {', '.join(SOURCES)} ({base['pages']} pages), one run, "
        f"median of {args.repeat} per case",
        ["case", "seconds", "ratio", "peak RSS MB", "notes"],
        rows,
    )


if __name__ == "__main__":
    main()
