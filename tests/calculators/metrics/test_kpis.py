"""KPI metrics against hand-worked figures (fixture tenant A)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from success_metrics.calculators import Dimension, Filter, Operator
from success_metrics.storage.pool import Database
from tests.calculators.fixture import FEB, col, run, t


async def test_response_time_avg_median_p95(db: Database, tenant_a: str) -> None:
    # hours to first contact of L1..L4: 1, 3, 2, 5 (L5 never contacted) → sorted 1, 2, 3, 5
    f = await run(db, tenant_a, "response_time.first_contact", *FEB, interval_ms=10**12, max_points=1)
    assert col(f, "avg") == [pytest.approx((1 + 2 + 3 + 5) / 4)]          # 2.75
    assert col(f, "median") == [pytest.approx((2 + 3) / 2)]               # 2.5
    # percentile_cont rank 0.95 × (4 − 1) = 2.85 → 3 + 0.85 × (5 − 3) = 4.7
    assert col(f, "p95") == [pytest.approx(3 + 0.85 * (5 - 3))]


async def test_response_time_by_day_has_gaps(db: Database, tenant_a: str) -> None:
    f = await run(db, tenant_a, "response_time.first_contact", *FEB, interval_ms=86_400_000)
    assert len(col(f, "time")) == 28
    values = col(f, "avg")
    # local days: L1 on 2 Feb (index 1), L2 on 3 Feb, L3 on 4 Feb, L4 on 5 Feb
    assert values[1] == pytest.approx(1) and values[4] == pytest.approx(5)
    assert values[0] is None and values[20] is None


async def test_conversion_rates(db: Database, tenant_a: str) -> None:
    appt = await run(db, tenant_a, "conversion.lead_to_appointment", *FEB)
    # 3 of 5 February leads have appointments (L1, L2, L4) = 60 %; previous 28 days: L0 without one = 0 %
    assert col(appt, "value") == [pytest.approx(100 * 3 / 5)] and col(appt, "previous") == [0]
    assert col(appt, "status") == ["above_target"]  # target 50
    close = await run(db, tenant_a, "conversion.lead_to_close", *FEB)
    assert col(close, "value") == [pytest.approx(100 * 3 / 5)]
    referral = await run(db, tenant_a, "conversion.lead_to_close", *FEB,
                         filters=(Filter(Dimension.SOURCE, Operator.EQ, ("referral",)),))
    assert col(referral, "value") == [pytest.approx(100 * 1 / 2)]  # L3 never converts, L4 closes


async def test_each_period_counts_its_outcomes_up_to_its_own_end(db: Database, tenant_a: str) -> None:
    # 4–8 Feb: L3, L4; L4's appointment on the 6th → 50 %. The period before, 31 Jan–4 Feb: L1 (appointment on
    # the 3rd) and L2 (appointment on the 4th, after that period's end) → 50 %, not 100 %
    f = await run(db, tenant_a, "conversion.lead_to_appointment", t(4, 0), t(8, 0))
    assert (col(f, "value"), col(f, "previous")) == ([pytest.approx(50)], [pytest.approx(50)])


async def test_empty_range_has_no_rate(db: Database, tenant_a: str) -> None:
    lo = FEB[0] + timedelta(days=15)  # 16–17 Feb: no leads
    f = await run(db, tenant_a, "conversion.lead_to_close", lo, lo + timedelta(days=1))
    assert col(f, "value") == [None] and col(f, "status") == ["no_target"]
    assert f.notices


async def test_uptime(db: Database, tenant_a: str) -> None:
    # 2 Feb 10:00–11:00Z: crm_sync 4 of 5 ok and sms_gateway 2 of 2 → 6 of 7 ok ≥ 50 %: the hour is up
    f = await run(db, tenant_a, "uptime.system", *FEB)
    assert col(f, "value") == [100.0]
    assert col(f, "avg_12_months") == [100.0]


async def test_error_rate(db: Database, tenant_a: str) -> None:
    f = await run(db, tenant_a, "errors.rate", *FEB, interval_ms=10**12, max_points=1)
    # pipeline steps in February: responses 5 (L4 failed), enrichments 2 (L2 failed), routings 5, nurtures 2 (L5
    # failed) = 14 steps, 3 failed
    assert col(f, "processing_failures") == [pytest.approx(100 * 3 / 14)]
    # no component call failed validation: accuracy 100 %
    assert col(f, "data_accuracy") == [pytest.approx(100)]
