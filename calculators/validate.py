"""Whole-catalog checks that report every issue at once (run in the test suite, and by ``check`` at start-up)."""

from __future__ import annotations

import re

from calculators.catalog import MetricDef, all_metrics
from calculators.vocabulary import Dimension, Kind

NAME = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")


def issues(metrics: list[MetricDef] | None = None) -> list[str]:
    found: list[str] = []
    catalog = metrics if metrics is not None else all_metrics()
    names = [m.name for m in catalog]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        found.append(f"{dup}: registered more than once")
    known = set(names)
    for m in catalog:
        if not NAME.match(m.name):
            found.append(f"{m.name}: name is not 'area.metric' in lower case")
        if not m.title.strip() or not m.description.strip():
            found.append(f"{m.name}: title and description are required")
        for d in m.dimensions:
            if not isinstance(d, Dimension):
                found.append(f"{m.name}: unknown dimension {d!r}")
        for i in m.inputs:
            if i not in known:
                found.append(f"{m.name}: input {i!r} is not in the catalog")
        if m.kind not in Kind:
            found.append(f"{m.name}: unknown kind {m.kind!r}")
        option_names = [o.name for o in m.options]
        if len(option_names) != len(set(option_names)):
            found.append(f"{m.name}: duplicate option names {option_names}")
        for o in m.options:
            if not o.values and o.dimension is None:
                found.append(f"{m.name}: option {o.name!r} has neither values nor a dimension")
    return found


def check() -> None:
    problems = issues()
    if problems:
        raise ValueError("metric catalog has problems:\n  " + "\n  ".join(problems))
