"""The SQL each metric runs, committed beside the tests (tests/snapshots/sql/<metric>.sql), in dbt MetricFlow's
manner: a change to a metric's SQL shows in review as a diff of its snapshot, and this test fails until the
snapshot is regenerated on purpose (formatted by sqlparse, so a diff shows the clause that changed): ``SM_UPDATE_SNAPSHOTS=1 pytest tests/calculators/test_sql_snapshots.py``.

Every metric is computed for one closed month of a fixed tenant, so the statements depend on nothing but the
code (no clock, no data)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlparse

from success_metrics.calculators import MetricName, MetricQuery, ScopedQuery, TenantId, all_metrics, explain
from success_metrics.storage import Database

SNAPSHOTS = Path(__file__).resolve().parent.parent / "snapshots" / "sql"
TENANT = "sql-snapshot"
START, END = datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC)
UPDATE = os.environ.get("SM_UPDATE_SNAPSHOTS") == "1"


def _render(statements: list[tuple[str, tuple[object, ...]]]) -> str:
    parts = []
    for number, (sql, args) in enumerate(statements, 1):
        pretty = sqlparse.format(sql, reindent=True, keyword_case="upper", indent_width=2)
        lines = [line.rstrip() for line in pretty.strip("\n").splitlines()]
        params = "\n".join(f"-- ${i} = {arg!r}" for i, arg in enumerate(args, 1))
        parts.append(f"-- statement {number}\n{params}\n" + "\n".join(lines) + ";\n")
    return "\n".join(parts)


@pytest.fixture(scope="module")
async def snapshot_tenant(db: Database) -> str:
    async with db.system() as conn:
        await conn.execute("INSERT INTO tenants (tenant_id, name, settings) VALUES ($1, $1, $2) "
                           "ON CONFLICT (tenant_id) DO NOTHING", TENANT, {"timezone": "UTC", "currency": "USD"})
    return TENANT


@pytest.mark.parametrize("name", sorted(m.name for m in all_metrics()))
async def test_metric_sql_matches_its_snapshot(db: Database, snapshot_tenant: str, name: str) -> None:
    sq = ScopedQuery(TenantId(snapshot_tenant), MetricQuery(MetricName(name), START, END, interval_ms=86_400_000))
    async with db.tenant(snapshot_tenant) as conn:
        _, statements = await explain(conn, sq)
    rendered = _render(statements)
    path = SNAPSHOTS / f"{name}.sql"
    if UPDATE:
        path.write_text(rendered, encoding="utf-8")
    assert path.exists(), f"no SQL snapshot for {name}: run SM_UPDATE_SNAPSHOTS=1 pytest {__file__}"
    assert rendered == path.read_text(encoding="utf-8"), (
        f"{name}'s SQL changed: if on purpose, regenerate with SM_UPDATE_SNAPSHOTS=1 and review the diff")


def test_every_snapshot_belongs_to_a_metric() -> None:
    names = {m.name for m in all_metrics()}
    stale = sorted(p.stem for p in SNAPSHOTS.glob("*.sql") if p.stem not in names)
    assert not stale, f"snapshots of metrics that no longer exist: {stale}; delete them"
