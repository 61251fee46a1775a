"""The library packages' public names are their ``__init__``'s ``__all__``, in HTTPX's manner: every other
package of the product imports them from the package, never from a module inside it, so a package can
rearrange its modules without touching its users. (Tests may reach inside: they test the modules.)"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "success_metrics"
LIBRARIES = ("calculators", "rbac", "storage", "guard")


@pytest.mark.parametrize("name", LIBRARIES)
def test_all_is_sorted_and_every_name_exists(name: str) -> None:
    package = importlib.import_module(f"success_metrics.{name}")
    exported = package.__all__
    assert exported == sorted(set(exported)), f"success_metrics.{name}.__all__: keep it sorted, once each"
    missing = [member for member in exported if not hasattr(package, member)]
    assert not missing, f"success_metrics.{name}.__all__ names what it does not define: {missing}"


def _imports_from_libraries() -> list[tuple[str, int, str, str]]:
    """(file, line, library, module or name) of every import of a library from outside it."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        home = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                parts = node.module.split(".")
                if parts[0] == "success_metrics" and len(parts) > 1 and parts[1] in LIBRARIES and parts[1] != home:
                    where = str(path.relative_to(PACKAGE.parent))
                    if len(parts) > 2:
                        found.append((where, node.lineno, parts[1], node.module))
                    else:
                        found.extend((where, node.lineno, parts[1], alias.name) for alias in node.names)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    parts = alias.name.split(".")
                    if parts[0] == "success_metrics" and len(parts) > 2 and parts[1] in LIBRARIES \
                            and parts[1] != home:
                        found.append((str(path.relative_to(PACKAGE.parent)), node.lineno, parts[1], alias.name))
    return found


def test_no_import_reaches_past_a_library_package() -> None:
    reaching = [f"{where}:{line} imports {what}" for where, line, _, what in _imports_from_libraries() if "." in what]
    assert not reaching, "import these from the package instead (add the name to its __all__):\n" + "\n".join(reaching)


def test_every_name_imported_from_a_library_is_exported() -> None:
    unexported = [f"{where}:{line} imports {lib}.{what}" for where, line, lib, what in _imports_from_libraries()
                  if "." not in what and what not in importlib.import_module(f"success_metrics.{lib}").__all__]
    assert not unexported, "add these to the package's __all__ (or import what it exports):\n" + "\n".join(unexported)
