"""A metric's computation runs on generic plans, set with the tenant transaction and gone with it; the ROI inputs'
statement lets the planner prune the event log's month partitions itself."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest

from success_metrics.calculators import MetricName, MetricQuery, ScopedQuery, TenantId, explain
from success_metrics.query.answer import Answerer
from success_metrics.query.cache import ResultCache
from success_metrics.storage import Database, partitions

STATEMENT = "SELECT $1::integer + 1 AS x /* test_generic_plans */"
PLANS = "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = $1"


@pytest.fixture
async def one_connection(db: Database) -> AsyncIterator[Database]:
    """A database of a single pooled connection, so that its prepared statements can be read after the fact."""
    assert db.dsn is not None
    single = await Database.connect(db.dsn, min_size=1, max_size=1)
    yield single
    await single.close()


async def test_generic_plans_hold_for_their_transaction_only(one_connection: Database) -> None:
    async with one_connection.tenant("generic-plans", generic_plans=True) as conn:
        rows = await conn.fetch(STATEMENT, 41)
        plans = await conn.fetchrow(PLANS, STATEMENT)
    async with one_connection.tenant("generic-plans") as conn:  # the same connection, a later transaction
        mode = await conn.fetchval("SELECT current_setting('plan_cache_mode')")
        await conn.fetch(STATEMENT, 41)
        after = await conn.fetchrow(PLANS, STATEMENT)
    assert rows[0]["x"] == 42
    assert plans is not None and (plans["generic_plans"], plans["custom_plans"]) == (1, 0)
    assert mode == "auto"
    assert after is not None and after["custom_plans"] == 1


async def test_the_answer_path_computes_on_generic_plans(one_connection: Database) -> None:
    # errors.mttr's one statement reads the failure runs of closed days; planned anew at each call, its custom plan
    # estimated every day of the range's arrays, which cost more than running it
    answerer = Answerer(one_connection, ResultCache(0, 0), lambda tenant: b"k" * 32)
    query = MetricQuery(MetricName("errors.mttr"), datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC))
    await answerer.frame(answerer.system("generic-plans", "test"), query, keep=False)
    async with one_connection.system() as conn:
        plans = await conn.fetch("SELECT generic_plans, custom_plans FROM pg_prepared_statements "
                                 "WHERE statement LIKE '%closed_day_runs%'")
    assert plans and all(p["custom_plans"] == 0 and p["generic_plans"] >= 1 for p in plans)


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", ()):
        yield from _nodes(child)


async def test_the_roi_inputs_plan_only_the_event_months_their_cost_window_overlaps(db: Database) -> None:
    # March 2025's costs are read from events recorded 92 days either side: December 2024 to early July 2025.
    # Planned with its parameters (a custom plan), the statement must not hold the other months' partitions
    # (pruned as it starts): planning every month of a 24-month log was most of what a ROI figure cost.
    far = date(2031, 1, 1)
    async with db.system() as conn:
        await partitions.ensure_months(conn, [date(2025, 3, 1), far])
    sq = ScopedQuery(TenantId("generic-plans"), MetricQuery(
        MetricName("roi.monthly"), datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC)))
    async with db.tenant("generic-plans") as conn:
        _, statements = await explain(conn, sq)
        sql, args = next((s, a) for s, a in statements if "cost.recorded" in s)
        await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        plan = json.loads(await conn.fetchval("EXPLAIN (FORMAT JSON) " + sql, *args))[0]["Plan"]
    nodes = list(_nodes(plan))
    scanned = {n["Relation Name"] for n in nodes if n.get("Relation Name", "").startswith("events_")}
    assert partitions.partition_name(date(2025, 3, 1)) in scanned
    assert partitions.partition_name(far) not in scanned
    assert sum(n.get("Subplans Removed", 0) for n in nodes) == 0


async def test_monthly_roi_series_compare_each_row_with_the_month_starts(db: Database) -> None:
    # 12 months of rollups are ~8,000 rows per tenant; converting each row's time to local time to truncate it
    # to its month cost more than reading it. The months' starts are parameters the rows are compared with.
    for name in ("revenue.monthly_trend", "time_savings.cumulative", "cost.avoidance"):
        sq = ScopedQuery(TenantId("generic-plans"), MetricQuery(
            MetricName(name), datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)))
        async with db.tenant("generic-plans") as conn:
            _, statements = await explain(conn, sq)
        assert not [sql for sql, _ in statements if "date_trunc(" in sql], name
