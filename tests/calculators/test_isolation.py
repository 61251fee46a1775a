"""Tenant B reuses tenant A's event, lead and agent ids at the same times: neither sees the other's figures."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from success_metrics.storage.pool import Database
from tests.calculators.fixture import FEB, by, col, run


async def test_same_ids_other_tenant(db: Database, tenants: tuple[str, str]) -> None:
    a, b = tenants
    feb_utc = (datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC))  # B runs in UTC
    revenue_b = await run(db, b, "revenue.attributed", *feb_utc)
    assert col(revenue_b, "value") == [pytest.approx(99999 * 0.9)]  # B's one direct deal
    revenue_a = await run(db, a, "revenue.attributed", *FEB)
    assert col(revenue_a, "value") == [pytest.approx(1000 * 0.9 + 2000 * 0.5 + 400 * 0.25)]
    crm_b = by(await run(db, b, "components.health", *FEB), "component")["crm_sync"]
    assert (crm_b["volume"], crm_b["success_rate"]) == (1, 0)
    assert by(await run(db, a, "components.health", *FEB), "component")["crm_sync"]["volume"] == 5
    assert col(await run(db, b, "agents.scorecard", *FEB), "agent") == ["Zed"]
