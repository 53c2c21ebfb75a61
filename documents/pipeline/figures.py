"""Results outputs in words: a row's figures as a phrase in the style of the body, the synopsis
or the conclusions (groups in columns, or in rows for tables such as an ANCOVA by group), how an
output is referred to, and which of its footnotes say something about the results.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from documents.pipeline import language, results
from documents.pipeline.results import ResultTable

_FURNITURE_NOTE = re.compile(
    r"^\s*(?:abbreviations?|source|sources|program|programme|output|data cut-?off|database|"
    r"path|run date|produced|listing produced|table produced|page \d+)\b",
    re.IGNORECASE,
)


def group_name(header: str) -> str:
    """ "Ferolasib 400 mg BID (N=305)" → "Ferolasib 400 mg BID"; "GVB-118 n/N (%)" → "GVB-118"."""
    name = re.sub(r"\s*\(\s*[Nn]\s*=\s*[\d,]+\s*\)", "", header)
    name = re.sub(r"\s+(?:n/N|n)?\s*\(%\)\s*$|\s+n/N\s*$", "", name)
    return name.strip() or header


_OVERALL = re.compile(r"\b(?:any|overall|total|all|combined|pooled)\b", re.IGNORECASE)


def row_values(
    table: ResultTable, cells: Sequence[str], *, summary: bool = False
) -> list[tuple[str, str]]:
    """(column name, value) of one row: each group's value with its statistics attached
    ("464/476 (97.5) (95% CI 95.6, 98.7)"); names are "" when the table has no groups.

    ``summary`` keeps, of a group split by dose or period, only its overall column ("Any
    dose"), when every group has one."""
    cols = table.columns()
    if summary:
        groups = {c.group for c in cols if c.group and not c.stat}
        overall = [c for c in cols if c.group and not c.stat and _OVERALL.search(c.sub)]
        if groups and {c.group for c in overall} == groups:
            keep = {c.index for c in overall}
            cols = [c for c in cols if c.index in keep or (c.stat and c.index - 1 in keep)]
    pairs: list[list[str]] = []  # [name, value]
    plain = [c for c in cols if not c.stat]
    any_group = len(plain) >= 2 or any(results.N_HEADER.search(c.label) or c.group for c in plain)
    for col in cols:
        value = language.clean_text(cells[col.index]) if col.index < len(cells) else ""
        if not value:
            continue
        if col.stat and pairs and any_group:
            pairs[-1][1] += f" ({col.sub or col.label} {value})"
        elif any_group:
            pairs.append([group_name(col.label), value])
        else:
            pairs.append(["", f"{col.label} {value}".strip() if col.label else value])
    return [(n, v) for n, v in pairs]


def figures_phrase(table: ResultTable, cells: Sequence[str], *, style: str = "list") -> str:
    """One row of an output in words; the styles differ so that the body, the synopsis and the
    conclusions never repeat one another's sentences:

    - ``list``: "Median PFS, months (95% CI): Ferolasib 6.9 (5.7, 8.2); Docetaxel 4.4 (3.0, 5.6)";
    - ``with``: "median PFS, months (95% CI) 6.9 (5.7, 8.2) with Ferolasib and 4.4 (3.0, 5.6)
      with Docetaxel";
    - ``was``: "Median PFS, months (95% CI) was 6.9 (5.7, 8.2) in the Ferolasib group and 4.4
      (3.0, 5.6) in the Docetaxel group";
    - ``versus``: "median PFS, months (95% CI) 6.9 (5.7, 8.2) (Ferolasib) versus 4.4 (3.0, 5.6)
      (Docetaxel)".

    A table without groups (estimates by visit) reads "Day 57: GMT ratio 175.8, 95% CI 159.1,
    194.3" in every style but ``was``.
    """
    label = results.clean_label(cells[0])
    if is_transposed(table):
        return _row_group_phrase(table, label, cells, style)
    pairs = row_values(table, cells, summary=style != "list")
    if not pairs or not label:
        return ""
    lower = label[:1].lower() + label[1:] if not re.match(r"[A-Z]{2}", label) else label
    single = len(pairs) == 1 or not any(g for g, _ in pairs)
    verb = _verb_for(label)
    if single:
        value = ", ".join(v for _, v in pairs)
        if style == "was":
            return f"{label} {verb} {value}"
        if style == "with":
            return f"{lower} {value}"
        if style == "versus":
            return f"{lower}, {value}"
        return f"{label}: {value}"
    if style == "with":
        named = [f"{v} with {g}" if g else v for g, v in pairs]
        return f"{lower} {_and(named)}"
    if style == "was":
        named = [f"{v} in the {g} group" if g else v for g, v in pairs]
        return f"{label} {verb} {_and(named)}"
    if style == "versus":
        return f"{lower} " + " versus ".join(f"{v} ({g})" if g else v for g, v in pairs)
    return f"{label}: " + "; ".join(f"{g} {v}".strip() for g, v in pairs)


_GROUP_LABEL = re.compile(
    r"\bplacebo\b|\bvs\.?(?:\s|$)|\bversus\b|\bcontrol\b|\bdose\b|\d\s*(?:mg|µg|mcg)\b|\barm\b",
    re.IGNORECASE,
)


def is_transposed(table: ResultTable) -> bool:
    """A table whose rows are the groups ("Placebo", "Drug 50 mg", "Drug vs. Placebo") and whose
    columns are statistics or visits, rather than the usual groups in columns (no column header
    names a group's N)."""
    labels = [results.clean_label(r[0]) for _k, r in table.data if r and r[0].strip()]
    if not labels or any(results.N_HEADER.search(" ".join(h)) for h in table.header):
        return False
    return sum(1 for x in labels if _GROUP_LABEL.search(x)) >= max(1, (len(labels) + 1) // 2)


def _row_group_phrase(table: ResultTable, group: str, cells: Sequence[str], style: str) -> str:
    """A row of a transposed table in words: the row names the group, the columns the figures
    ("Placebo: Baseline N 86, Mean (SD) 5.6 (2.14); Week 20 N 65 ..."), in each style's
    wording."""
    pairs = [(c.label, cells[c.index].strip()) for c in table.columns() if c.index < len(cells)]
    pairs = [(results.clean_label(lab), v) for lab, v in pairs if v and results.value_like(v)]
    if not pairs or not group:
        return ""
    comparison = bool(re.search(r"\bvs\.?(?:\s|$)|\bversus\b", group, re.IGNORECASE))
    if style == "was":
        lead = f"For {group}" if comparison else f"In the {group} group"
        return f"{lead}, " + ", ".join(f"{lab} was {v}" for lab, v in pairs)
    figures = ", ".join(f"{lab} {v}".strip() for lab, v in pairs)
    if style == "with":
        return f"for {group}, {figures}"
    if style == "versus":
        return f"{group}: {figures}"
    return f"{group}: " + "; ".join(f"{lab} {v}".strip() for lab, v in pairs)


def _verb_for(label: str) -> str:
    """ "was" or "were" for a row label read as a subject: "Deaths were 3 ...", "Median PFS
    was 6.9 ...", "Patients with any TEAE were 297 ..." (the noun before "with", "of", a comma
    or a parenthesis decides)."""
    head = re.split(r"\s+(?:with|of|in|by|at|from|leading|due)\b|[,(:;]", label, maxsplit=1)[0]
    words = head.split()
    return "were" if words and language.is_plural_word(words[-1]) else "was"


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def output_reference(table: ResultTable) -> str:
    return f"{table.ref}, {table.population}" if table.population else table.ref


def prose_footnotes(table: ResultTable) -> list[tuple[int | None, str]]:
    """Footnotes that say something about the results (not abbreviations or program lines)."""
    out = []
    for row, text in table.footnotes:
        t = language.clean_text(text)
        if not t or _FURNITURE_NOTE.match(t) or len(t.split()) < 4 or results.is_run_stamp(t):
            continue
        out.append((row, t))
    return out


def is_method_note(text: str) -> bool:
    """A footnote that names a method behind a marked figure ("[a] Exact Clopper-Pearson
    method.") rather than saying something about the results."""
    return bool(re.match(r"\s*(?:\[[a-z0-9]{1,2}\]|\([a-z]\))", text)) and len(text.split()) <= 20
