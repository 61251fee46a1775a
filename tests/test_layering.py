"""Imports point one way, checked per module: every module of success_metrics sits in one layer below, may import
its own layer and the layers under it, never one above, and no two modules import each other, even through others.
A new module fails here until it is placed. Read every module's imports with ast (TYPE_CHECKING ones included)."""

from __future__ import annotations

import ast
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "success_metrics"

# top to bottom; names are module paths under success_metrics (fnmatch patterns)
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("tools: commands people run", ("tools", "tools.*")),
    ("the app", ("server", "server.app")),
    ("around every request, and the warmer (replays dashboards through the pipeline)",
     ("server.openapi", "server.audit_edge", "server.middleware", "query.warmer")),
    ("routes: each capability's HTTP edge", ("*.routes", "*_routes", "admin", "admin.*")),
    ("the /query pipeline and route dependencies", ("query.pipeline", "server.deps")),
    ("errors become HTTP", ("server.problems",)),
    ("wiring: the long-lived parts", ("server.services",)),
    ("readers of the answer path", ("notify", "notify.*", "dashboards", "dashboards.*")),
    ("the answer path; events in", ("query", "query.*", "ingest", "ingest.*")),
    ("per-request guards: identification, audit writes, limits", ("guard", "guard.*")),
    ("settings and storage", ("settings", "storage", "storage.*")),
    ("identity, policy, masking, audit", ("rbac", "rbac.*")),
    ("what each number means", ("calculators", "calculators.*")),
)


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _layer(module: str) -> int:
    for rank, (_, patterns) in enumerate(LAYERS):
        if any(fnmatchcase(module, p) for p in patterns):
            return rank
    raise AssertionError(f"success_metrics.{module} is in no layer: add it to LAYERS in tests/test_layering.py")


def _imports(module: str) -> set[str]:
    """The success_metrics modules this module imports (a name imported from a package counts as that package
    unless it is a submodule)."""
    found = set()
    for node in ast.walk(ast.parse(MODULES[module].read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}"[16:] in MODULES
                     else node.module for alias in node.names]
        found.update(n[len("success_metrics."):] for n in names if n.startswith("success_metrics."))
    return found & MODULES.keys()


GRAPH = {module: _imports(module) for module in MODULES if module}


def test_every_module_has_a_layer() -> None:
    for module in GRAPH:
        _layer(module)


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_point_down(module: str) -> None:
    above = sorted(t for t in GRAPH[module] if _layer(t) < _layer(module))
    assert not above, (f"success_metrics.{module} ({LAYERS[_layer(module)][0]}) imports modules of a layer above it: "
                       + ", ".join(f"{t} ({LAYERS[_layer(t)][0]})" for t in above))


def test_no_import_cycles() -> None:
    """A cycle (a → b → … → a) would make two modules one concept split in two; find one by depth-first search."""
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        stack.append(module)
        for target in sorted(GRAPH.get(module, ())):
            if target == module or target == module.rpartition(".")[0]:
                continue  # a package's __init__ re-exporting its own modules is not a cycle
            if state.get(target) == 1:
                return stack[stack.index(target):] + [target]
            if state.get(target) is None and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[module] = 2
        return None

    for module in sorted(GRAPH):
        if state.get(module) is None and (cycle := visit(module)):
            raise AssertionError("import cycle: " + " → ".join(cycle))
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
