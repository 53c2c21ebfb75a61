"""Shared helpers for the benchmarks: Django set-up on a throw-away data dir, corpus lookup,
peak-memory readings and table printing."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"


def setup_django(data_dir: str | None = None) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("FOLIO_DATA_DIR", data_dir or tempfile.mkdtemp(prefix="folio-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    import django

    django.setup()


def migrate_quietly() -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def peak_rss_mb() -> float:
    """Peak resident memory of this process and of its finished children, in MB."""
    import resource

    own = 0.0
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                own = int(line.split()[1]) / 1024
    except OSError:
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return max(own, children)


def print_table(title: str, header: list[str], rows: list[list[object]]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
    print(f"\n{title}\n")
    print("| " + " | ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=False)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)) + " |")


def require_corpus() -> bool:
    if not CORPUS.exists():
        print(f"SKIP: {CORPUS} not found: the corpus benchmarks need the shared folder.")
        return False
    return True
