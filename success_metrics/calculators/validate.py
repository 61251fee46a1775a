"""Whole-catalog checks that report every issue at once (run in the test suite, and by ``check`` at start-up).

Lineage: every metric names its inputs, each a measure (success_metrics/calculators/measures.py) or another metric, with no
cycle; a column it narrows names only some of those inputs; a declassified column says why; and the class
that gates the metric is one its inputs give (or public), so every column's sensitivity is derivable.
"""

from __future__ import annotations

import re

from success_metrics.calculators import lineage
from success_metrics.calculators.catalog import MetricDef, all_metrics, get
from success_metrics.calculators.vocabulary import Dimension, Kind, Sensitivity

NAME = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")


def issues(metrics: list[MetricDef] | None = None) -> list[str]:
    found: list[str] = []
    catalog = metrics if metrics is not None else all_metrics()
    names = [m.name for m in catalog]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        found.append(f"{dup}: registered more than once")
    by_name = {m.name: m for m in catalog}
    for m in catalog:
        if not NAME.match(m.name):
            found.append(f"{m.name}: name is not 'area.metric' in lower case")
        if not m.title.strip() or not m.description.strip():
            found.append(f"{m.name}: title and description are required")
        for d in m.dimensions:
            if not isinstance(d, Dimension):
                found.append(f"{m.name}: unknown dimension {d!r}")
        found.extend(lineage_issues(m, by_name.__getitem__))
        if m.kind not in Kind:
            found.append(f"{m.name}: unknown kind {m.kind!r}")
        option_names = [o.name for o in m.options]
        if len(option_names) != len(set(option_names)):
            found.append(f"{m.name}: duplicate option names {option_names}")
        for o in m.options:
            if not o.values and o.dimension is None:
                found.append(f"{m.name}: option {o.name!r} has neither values nor a dimension")
    return found


def lineage_issues(entry: lineage.Declared, lookup: lineage.Lookup, gate: Sensitivity | None = None) -> list[str]:
    """What is wrong with one catalog entry's lineage (metric or annotation kind)."""
    if not entry.inputs:
        return [f"{entry.name}: names no inputs (measures or metrics), so its columns' sensitivity is not derivable"]
    try:
        resolved = lineage.resolve(entry, lookup)
    except lineage.LineageError as exc:
        return [f"{entry.name}: {exc}"]
    found = [f"{entry.name}: column {c!r} is declassified without a reason" for c, why in entry.declassify.items()
             if not why.strip()]
    classes = {o.sensitivity for o in resolved.whole} | {Sensitivity.PUBLIC}
    gate = gate if gate is not None else getattr(entry, "sensitivity", None)
    if gate is not None and gate not in classes:
        found.append(f"{entry.name}: is gated as {gate.value} but none of its inputs is {gate.value} "
                     f"(its inputs give {sorted(c.value for c in classes)})")
    return found


def annotation_issues() -> list[str]:
    from success_metrics.calculators.annotations import KINDS

    return [i for k in KINDS.values() for i in lineage_issues(k, get)]


def check() -> None:
    problems = issues() + annotation_issues()
    if problems:
        raise ValueError("metric catalog has problems:\n  " + "\n  ".join(problems))
