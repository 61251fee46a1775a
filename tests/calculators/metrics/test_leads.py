"""Lead analytics against hand-worked figures (fixture tenant A, leads created in February)."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from success_metrics.storage.pool import Database
from tests.calculators.fixture import FEB, JAN, by, contact, lead, load, run, t


async def test_sources_performance(db: Database, tenant_a: str) -> None:
    rows = by(await run(db, tenant_a, "sources.performance", *FEB), "source")
    web = rows["website_form"]  # L1, L2: both answered, both with appointments, both closed: 1000 + 2000
    assert (web["volume"], web["response_rate"], web["appointment_rate"], web["close_rate"]) == (2, 100, 100, 100)
    assert web["avg_deal_value"] == pytest.approx((1000 + 2000) / 2) and web["total_revenue"] == pytest.approx(3000)
    ref = rows["referral"]  # L3 (answered, never converts), L4 (response failed, closed 400)
    assert (ref["volume"], ref["response_rate"], ref["close_rate"]) == (2, 50, 50)
    assert ref["avg_deal_value"] == pytest.approx(400)
    paid = rows["paid_ads"]  # L5 never converts: no average deal value
    assert paid["close_rate"] == 0 and paid["avg_deal_value"] is None and paid["total_revenue"] == 0


async def test_quality_bands(db: Database, tenant_a: str) -> None:
    # scores: L1 85 hot, L4 90 hot, L2 50 warm, L5 45 warm, L3 30 cold; closes: L1, L4, L2
    rows = by(await run(db, tenant_a, "leads.quality_distribution", *FEB), "band")
    assert rows["hot"]["leads"] == 2 and rows["hot"]["share"] == pytest.approx(40)
    assert rows["hot"]["conversion_rate"] == pytest.approx(100)
    assert rows["warm"]["conversion_rate"] == pytest.approx(50)
    assert rows["cold"]["share"] == pytest.approx(20) and rows["cold"]["conversion_rate"] == 0
    assert list(rows) == ["hot", "warm", "cold"]


async def test_behaviour(db: Database, tenant_a: str) -> None:
    impact = by(await run(db, tenant_a, "behavior.response_time_impact", *FEB), "time_to_first_contact")
    # first contact after 1 h (L1), 3 h (L2), 2 h (L3), 5 h (L4); L5 never
    assert impact["1–4 h"]["leads"] == 3 and impact["1–4 h"]["conversion_rate"] == pytest.approx(100 * 2 / 3)
    assert impact["4–24 h"]["conversion_rate"] == pytest.approx(100)
    assert impact["never"]["leads"] == 1 and impact["never"]["conversion_rate"] == 0
    touches = by(await run(db, tenant_a, "behavior.followup_effectiveness", *FEB), "touches")
    # touches: L5 0; L1, L2 1 each; L3, L4 2 each (manual + automated)
    assert touches["0"]["leads"] == 1 and touches["1"]["conversion_rate"] == pytest.approx(100)
    assert touches["2"]["conversion_rate"] == pytest.approx(50)
    channels = by(await run(db, tenant_a, "behavior.channel_performance", *FEB), "channel")
    # sms: replied (L2) + failed (L4-auto); email: unsubscribed + no answer; phone: answered twice
    assert channels["sms"]["attempts"] == 2 and channels["sms"]["response_rate"] == pytest.approx(50)
    assert channels["email"]["response_rate"] == 0 and channels["phone"]["response_rate"] == pytest.approx(100)
    times = {(r[0], r[1]): r for r in (await run(db, tenant_a, "behavior.best_contact_times", *FEB)).rows()}
    # L1's call at 2 Feb 15:00Z is Monday 10:00 in New York; L4-auto at 5 Feb 23:00Z is Thursday 18:00
    assert times[(1, 10)][2:] == (1, 100)
    assert times[(4, 18)][2:] == (1, 0)
    assert sum(r[2] for r in times.values()) == 6


async def test_attribution_tree(db: Database, tenant_a: str) -> None:
    rows = by(await run(db, tenant_a, "attribution.tree", *FEB), "node")
    assert rows["leads"]["count"] == 5
    assert rows["automated_response"]["count"] == 4 and rows["automated_response"]["share"] == pytest.approx(80)
    assert rows["deals"]["share"] == pytest.approx(60)
    assert rows["revenue"]["amount"] == pytest.approx(3400)
    attributed = 1000 * 0.9 + 2000 * 0.5 + 400 * 0.25
    assert rows["automation_attribution"]["amount"] == pytest.approx(attributed)
    assert rows["automation_attribution"]["share"] == pytest.approx(100 * attributed / 3400)


async def test_weighted_attribution_never_exceeds_revenue(db: Database, tenant_a: str) -> None:
    rows = by(await run(db, tenant_a, "attribution.weighted", *FEB), "class")
    assert rows["direct"]["attributed_revenue"] == pytest.approx(900)
    assert rows["assisted"]["attributed_revenue"] == pytest.approx(1000)
    assert rows["influenced"]["weight"] == 0.25 and rows["influenced"]["attributed_revenue"] == pytest.approx(100)
    assert rows["total"]["revenue"] == pytest.approx(3400)
    assert rows["total"]["attributed_revenue"] == pytest.approx(2000)
    assert rows["total"]["attributed_revenue"] <= rows["total"]["revenue"]
    january = by(await run(db, tenant_a, "attribution.weighted", *JAN), "class")
    assert january["total"]["deals"] == 0 and january["total"]["attributed_revenue"] == 0


async def test_response_time_impact_bucket_edges(db: Database) -> None:
    # each bucket holds its lower edge and not its upper one; a contact after the range's end is "never"
    tenant = f"impact-{os.getpid()}-{os.urandom(3).hex()}"
    after = {"K1": timedelta(minutes=5) - timedelta(microseconds=1), "K2": timedelta(minutes=5),
             "K3": timedelta(minutes=30), "K4": timedelta(hours=24) - timedelta(microseconds=1),
             "K5": timedelta(hours=24), "K6": timedelta(days=30)}
    events = [e for n, delay in after.items() for e in (
        *lead(n, t(2, 14), "website_form", 50, "a1", "t1", "Ann", responded=None),
        contact(f"{n}-x", n, t(2, 14) + delay, "phone", "answered"))]
    await load(db, tenant, events, {"timezone": "UTC"})
    impact = by(await run(db, tenant, "behavior.response_time_impact", *FEB), "time_to_first_contact")
    assert {k: v["leads"] for k, v in impact.items()} == {"< 5 min": 1, "5–30 min": 1, "30–60 min": 1, "4–24 h": 1,
                                                          "> 24 h": 1, "never": 1}
