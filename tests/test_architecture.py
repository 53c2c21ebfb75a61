"""The house plan of docs/architecture.md ("Who imports whom"), checked against the code.

- The import-linter contracts in pyproject.toml ([tool.importlinter]): templates_app never reaches
  documents; the pipeline imports no Django, models, services or jobs; views never reach the jobs
  nor import the pipeline; the site shell imports no app but in its URL conf and health check.
  Imports inside functions count; imports under ``if TYPE_CHECKING:`` do not.
- No import cycle between the project's modules.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("documents", "templates_app", "portal")


def test_the_dependency_contracts_hold() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports; "
            "sys.exit(lint_imports(no_cache=True, no_logo=True))",
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "BROKEN" not in done.stdout and "KEPT" in done.stdout


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    cycles.append(sorted(group))
    return cycles


def test_there_is_no_import_cycle() -> None:
    sys.path.insert(0, str(PROJECT_ROOT))
    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True, cache_dir=None)
    assert import_cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for module in ("a", "b", "c", "d"):
        graph.add_module(module)
    graph.add_import(importer="a", imported="b")
    graph.add_import(importer="b", imported="c")
    graph.add_import(importer="c", imported="a")
    graph.add_import(importer="c", imported="d")
    assert import_cycles(graph) == [["a", "b", "c"]]


# Where the line limit does not apply: the tests, the benchmarks, the built-in templates' data
# and the pipeline (whose modules the writer-generalisation work splits, to the same limit).
LINE_LIMIT = 700
EXEMPT = ("tests/", "bench/", "templates_app/builtin/", "documents/pipeline/", "docs/")


def test_no_source_file_is_over_700_lines() -> None:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    sources = [
        name
        for name in listed
        if name.endswith((".py", ".html", ".css", ".js", ".sh"))
        and not name.startswith(EXEMPT)
        and (PROJECT_ROOT / name).is_file()
    ]
    assert sources, "git listed no source files"
    long = {
        name: count
        for name in sources
        if (count := len((PROJECT_ROOT / name).read_text(errors="replace").splitlines()))
        > LINE_LIMIT
    }
    assert long == {}
