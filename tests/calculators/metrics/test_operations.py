"""Operations metrics against hand-worked figures (fixture tenant A)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from success_metrics.calculators import Dimension, Filter, Operator
from success_metrics.calculators.sketches import RELATIVE_ERROR
from success_metrics.storage.pool import Database
from tests.calculators.fixture import FEB, by, col, run

# crm_sync on 2 Feb, 10:00–10:20Z: 100 ok, 200 ok, 1000 failed (timeout), 300 ok, 400 ok (ms)
CRM_AVG = (100 + 200 + 1000 + 300 + 400) / 5   # 400
CRM_MEDIAN = 300                                # sorted 100 200 300 400 1000
CRM_P95 = 400 + 0.8 * (1000 - 400)              # rank 0.95 × 4 = 3.8 → 880
HOUR_OF_CALLS = (datetime(2026, 2, 2, 10, tzinfo=UTC), datetime(2026, 2, 2, 11, tzinfo=UTC))


async def test_pipeline_stages(db: Database, tenant_a: str) -> None:
    rows = by(await run(db, tenant_a, "pipeline.stages", *FEB), "stage")
    assert rows["web_form"]["volume"] == 5 and rows["web_form"]["success_rate"] is None  # no webhook calls
    # answered within 60 s and ok: L1 (30 s), L3 (20 s), L5 (10 s); L2 took 90 s, L4 failed → 3 of 5
    assert rows["response_60s"]["success_rate"] == pytest.approx(60)
    assert rows["enrichment"]["volume"] == 2 and rows["enrichment"]["success_rate"] == pytest.approx(50)
    assert rows["scoring"]["success_rate"] == pytest.approx(100)
    assert rows["nurture"]["success_rate"] == pytest.approx(50)
    assert all(r["last_hour"] == 0 for r in rows.values())


async def test_throughput_counts_fill_zeros(db: Database, tenant_a: str) -> None:
    f = await run(db, tenant_a, "pipeline.throughput", *FEB, options=(("granularity", "day"),))
    leads = col(f, "leads")
    assert len(leads) == 28 and sum(leads) == 5
    assert leads[1] == 1 and leads[0] == 0  # L1 on 2 Feb (local)
    referral = await run(db, tenant_a, "pipeline.throughput", *FEB, interval_ms=10**12, max_points=1,
                         filters=(Filter(Dimension.SOURCE, Operator.EQ, ("referral",)),))
    assert col(referral, "leads") == [2]


async def test_components_health_from_sketch_within_bound(db: Database, tenant_a: str) -> None:
    f = await run(db, tenant_a, "components.health", *FEB)
    assert f.meta["percentiles"] == "sketch"
    rows = by(f, "component")
    crm = rows["crm_sync"]
    assert crm["volume"] == 5 and crm["success_rate"] == pytest.approx(80)
    assert crm["latency_ms"] == pytest.approx(CRM_AVG)
    assert abs(crm["p95_ms"] - CRM_P95) <= RELATIVE_ERROR * CRM_P95
    assert crm["status"] == "down"  # 80 % is more than 5 points under the 99 % SLA
    assert rows["sms_gateway"]["status"] == "healthy" and rows["sms_gateway"]["latency_ms"] == pytest.approx(60)


async def test_components_exact_percentiles_for_short_ranges(db: Database, tenant_a: str) -> None:
    f = await run(db, tenant_a, "components.health", *HOUR_OF_CALLS)
    assert f.meta["percentiles"] == "exact"
    assert by(f, "component")["crm_sync"]["p95_ms"] == pytest.approx(CRM_P95)
    lat = await run(db, tenant_a, "components.latency", HOUR_OF_CALLS[0] - timedelta(hours=5), HOUR_OF_CALLS[1],
                    interval_ms=3_600_000, filters=(Filter(Dimension.COMPONENT, Operator.EQ, ("crm_sync",)),))
    assert [c.name for c in lat.columns] == ["time", "crm_sync avg", "crm_sync median", "crm_sync p95"]
    assert col(lat, "crm_sync p95") == [None] * 5 + [pytest.approx(CRM_P95)]
    assert col(lat, "crm_sync median")[-1] == pytest.approx(CRM_MEDIAN)
    ok = await run(db, tenant_a, "components.success_rate", *HOUR_OF_CALLS, interval_ms=3_600_000)
    assert col(ok, "crm_sync") == [pytest.approx(80)] and col(ok, "sms_gateway") == [pytest.approx(100)]


async def test_errors_active_until_resolved(db: Database, tenant_a: str) -> None:
    # at 10:12 the 10:10 failure is the latest crm_sync call: active
    f = await run(db, tenant_a, "errors.active", *FEB[:1], datetime(2026, 2, 2, 10, 12, tzinfo=UTC))
    assert f.rows()[0][:4] == ("crm_sync", "gohighlevel", "timeout", 1)
    # at 10:30 the 10:15 call succeeded: nothing active
    f = await run(db, tenant_a, "errors.active", FEB[0], datetime(2026, 2, 2, 10, 30, tzinfo=UTC))
    assert f.row_count == 0


async def test_errors_by_category_and_mttr(db: Database, tenant_a: str) -> None:
    f = await run(db, tenant_a, "errors.by_category", *FEB, interval_ms=10**12, max_points=1)
    assert col(f, "timeout") == [1]
    mttr = await run(db, tenant_a, "errors.mttr", *FEB)
    assert col(mttr, "value") == [pytest.approx(5 * 60 * 1000)]  # failed 10:10, next success 10:15
    assert col(mttr, "previous") == [None]


async def test_system_resources(db: Database, tenant_a: str) -> None:
    rows = by(await run(db, tenant_a, "system.resources", *FEB), "resource")
    assert rows["database_size"]["value"] > 0 and rows["database_connections"]["value"] >= 1
    assert 0 <= rows["memory_used_percent"]["value"] <= 100
