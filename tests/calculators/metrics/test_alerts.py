"""Action items at the range's end (fixture tenant A)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from success_metrics.calculators import RowScope, ScopeKind
from success_metrics.storage.pool import Database
from tests.calculators.fixture import FEB, col, run


async def test_action_items_at_month_end(db: Database, tenant_a: str) -> None:
    f = await run(db, tenant_a, "alerts.action_items", *FEB)
    assert col(f, "kind") == ["lead_waiting", "target_at_risk", "target_at_risk"]
    # L5 (high priority) created 10 Feb 12:00Z, never contacted, by 1 Mar 05:00Z: 18 days 17 h = 449 h
    assert col(f, "lead_id")[0] == "L5" and col(f, "value")[0] == pytest.approx(18 * 24 + 17)
    # the month is over: projection = value; attributed revenue 2000 < 5000, hours saved 9 < 10
    assert col(f, "value")[1:] == [pytest.approx(2000), pytest.approx(9)]
    team = await run(db, tenant_a, "alerts.action_items", *FEB, scope=RowScope(ScopeKind.TEAM, teams=("t1",)))
    assert "lead_waiting" not in col(team, "kind")  # L5 is team t2's


async def test_degradation_in_the_last_hour(db: Database, tenant_a: str) -> None:
    f = await run(db, tenant_a, "alerts.action_items", FEB[0], datetime(2026, 2, 2, 10, 30, tzinfo=UTC))
    rows = [r for r in f.rows() if r[1] == "degradation"]
    # crm_sync 4 of 5 ok in 09:30–10:30 = 80 %, more than 5 points under the 99 % SLA
    assert len(rows) == 1 and rows[0][0] == "high" and rows[0][4] == pytest.approx(80)
    assert "crm_sync" in rows[0][2]


async def test_firing_alert_rules_are_action_items(db: Database, new_tenant_id) -> None:
    from datetime import timedelta

    from tests.calculators.fixture import create_tenant

    tenant = new_tenant_id("alerts")
    await create_tenant(db, tenant, {"timezone": "UTC"})
    end = datetime(2026, 2, 10, tzinfo=UTC)
    async with db.system() as conn:
        for rule, started, resolved in (("open", end - timedelta(hours=3), None),
                                        ("resolved", end - timedelta(hours=5), end - timedelta(hours=1)),
                                        ("later", end + timedelta(hours=1), None)):
            await conn.execute(
                "INSERT INTO alert_events (tenant_id, rule_id, family, severity, state, started_at, resolved_at, "
                "title, summary, value) VALUES ($1, $2, 'performance', 'critical', 'firing', $3, $4, $2, 'slow', 9)",
                tenant, rule, started, resolved)
    f = await run(db, tenant, "alerts.action_items", end - timedelta(days=1), end)
    assert [(r[0], r[1], r[2]) for r in f.rows()] == [("high", "alert", "open: slow")]
