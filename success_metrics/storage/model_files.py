"""Write what the semantic model generates into the repository: the event types' JSON Schemas and, when the
model's rollup SQL changed, a new migration (applied migrations never change; a new one redefines).

Run by ``success-metrics model generate``; tests/calculators/test_semantic_model.py fails while either is stale.
"""

from __future__ import annotations

from pathlib import Path

from success_metrics.calculators import GENERATED, generated_block, schema_files

SCHEMAS = Path("success_metrics/ingest/schemas")
MIGRATIONS = Path("success_metrics/storage/migrations")
HEADER = ("-- The semantic model changed (success_metrics/calculators/semantic): sm_rollup_key and the rollup_<type> views redefined.\n"
          "-- If a type's slot expression changed, add below the rebuild of that type's rollups from its events.\n")


def latest_model_migration(root: Path) -> tuple[Path, str] | None:
    """The newest migration holding a generated block, and that block."""
    for path in sorted((root / MIGRATIONS).glob("*.sql"), reverse=True):
        text = path.read_text(encoding="utf-8")
        if GENERATED in text:
            return path, text[text.index(GENERATED):]
    return None


def generate(root: Path) -> list[Path]:
    """Rewrite stale schema files and add a migration if the generated SQL differs; the paths written."""
    written = []
    for name, text in schema_files().items():
        path = root / SCHEMAS / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written.append(path)
    latest = latest_model_migration(root)
    if latest is None or latest[1] != generated_block():
        number = max(int(p.name[:4]) for p in (root / MIGRATIONS).glob("*.sql")) + 1
        path = root / MIGRATIONS / f"{number:04d}_semantic_model.sql"
        path.write_text(f"{HEADER}\n{generated_block()}", encoding="utf-8")
        written.append(path)
    return written
