"""Imports point one way: datasource → rbac → calculators. Read every module's imports with ast."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# package -> packages it must never import
FORBIDDEN = {
    "calculators": {"rbac", "datasource"},
    "rbac": {"datasource"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_point_down(package: str) -> None:
    offenders = []
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = _imports(path) & FORBIDDEN[package]
        if bad:
            offenders.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert not offenders, "imports must point datasource → rbac → calculators:\n" + "\n".join(offenders)


def test_every_domain_error_has_a_problem_mapping() -> None:
    import success_metrics.calculators.errors
    import success_metrics.storage.errors
    import success_metrics.rbac.errors
    from success_metrics.server import problems

    for module in (success_metrics.calculators.errors, success_metrics.rbac.errors, success_metrics.storage.errors):
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, Exception) and obj.__module__ == module.__name__:
                assert problems.status_for(_make(obj)), f"{obj.__name__} has no status in success_metrics/server/problems.py"


def _make(cls: type[Exception]) -> Exception:
    # construct with whatever positional arguments the class needs, for the lookup only
    for args in (("x",), ("x", [])):
        try:
            return cls(*args)
        except TypeError:
            continue
    raise AssertionError(f"cannot construct {cls}")
