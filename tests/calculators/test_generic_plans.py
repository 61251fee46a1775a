"""fetch_generic runs a statement under its generic plan and leaves the transaction's planner setting as it was."""

from __future__ import annotations

from success_metrics.calculators.sql import fetch_generic
from success_metrics.storage import Database

STATEMENT = "SELECT $1::integer + 1 AS x /* test_generic_plans */"


async def test_the_statement_runs_on_its_generic_plan_and_the_setting_is_restored(db: Database) -> None:
    async with db.tenant("generic-plans") as conn:
        rows = await fetch_generic(conn, STATEMENT, 41)
        plans = await conn.fetchrow(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = $1", STATEMENT)
        mode = await conn.fetchval("SELECT current_setting('plan_cache_mode')")
    assert rows[0]["x"] == 42
    assert plans is not None and (plans["generic_plans"], plans["custom_plans"]) == (1, 0)
    assert mode == "auto"
