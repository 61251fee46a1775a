"""Definitions as the catalog states them (issue 12, item 4), each against figures worked out by hand.

Tenant D (UTC, currency EUR, one hour saved per automated task) has three leads in February 2026:

- D1 (a1, team t1), created 2 Feb 10:00: the automation answers after 20 s and sends an automated SMS after
  1 min; agent a1 calls by hand after 2 h. Scored twice. Its deal.closed arrives twice with different ids
  (10 and 12 Feb, 1000 direct each): one deal.
- D2 (a2, team t2), created 3 Feb 10:00: an agent answers by hand after 30 min (a lead.responded with
  automated false), then calls after 1 h. Two deal.closed at the same moment (15 Feb 12:00) with ids d2-x
  (300 assisted) and d2-y (700 influenced), in two batches, the later id first: d2-x wins (smaller id).
- D3 (a1), created 4 Feb 10:00: a response sent by hand that failed. An erasure request on 1 Feb, completed
  10 March (37 days later).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from success_metrics.ingest import validate, writer
from success_metrics.query.protocol import serialize
from success_metrics.storage.pool import Database
from tests.calculators.fixture import NOW, by, col, ev, load, run

FEB = (datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC))
D1, D2, D3 = (datetime(2026, 2, d, 10, tzinfo=UTC) for d in (2, 3, 4))
SETTINGS = {"timezone": "UTC", "currency": "EUR", "hours_saved_per_task": 1, "hourly_rate": 10,
            "efficiency_weights": {"response_time": 0, "appointment_rate": 0, "close_rate": 0, "revenue": 1}}


def _lead(n: str, at: datetime, agent: str, team: str) -> list[dict]:
    return [ev(f"{n}-c", "lead.created", at, n, source="referral"),
            ev(f"{n}-r", "lead.routed", at + timedelta(minutes=3), n, agent, team_id=team)]


EVENTS = [
    *_lead("D1", D1, "a1", "t1"),
    ev("D1-resp", "lead.responded", D1 + timedelta(seconds=20), "D1", channel="sms", ok=True),  # automated (default)
    ev("D1-auto", "contact.attempted", D1 + timedelta(minutes=1), "D1", channel="sms", outcome="delivered",
       automated=True, consent=True),
    ev("D1-call", "contact.attempted", D1 + timedelta(hours=2), "D1", "a1", channel="phone", outcome="answered",
       automated=False, consent=True),
    ev("D1-s1", "lead.scored", D1 + timedelta(minutes=2), "D1", score=50),
    ev("D1-s2", "lead.scored", D1 + timedelta(days=1), "D1", score=85),
    ev("d1-a", "deal.closed", datetime(2026, 2, 10, 12, tzinfo=UTC), "D1", "a1", value=1000,
       attribution_class="direct"),
    ev("d1-b", "deal.closed", datetime(2026, 2, 12, 12, tzinfo=UTC), "D1", "a1", value=1000,
       attribution_class="direct"),
    *_lead("D2", D2, "a2", "t2"),
    ev("D2-hand", "lead.responded", D2 + timedelta(minutes=30), "D2", "a2", channel="email", ok=True, automated=False),
    ev("D2-call", "contact.attempted", D2 + timedelta(hours=1), "D2", "a2", channel="phone", outcome="answered",
       automated=False, consent=True),
    ev("d2-y", "deal.closed", datetime(2026, 2, 15, 12, tzinfo=UTC), "D2", "a2", value=700,
       attribution_class="influenced"),
    *_lead("D3", D3, "a1", "t1"),
    ev("D3-hand", "lead.responded", D3 + timedelta(minutes=5), "D3", "a1", channel="sms", ok=False, automated=False),
    ev("D3-erq", "erasure.requested", datetime(2026, 2, 1, tzinfo=UTC), "D3"),
    ev("D3-erd", "erasure.completed", datetime(2026, 3, 10, tzinfo=UTC), "D3"),
]
LATE = [ev("d2-x", "deal.closed", datetime(2026, 2, 15, 12, tzinfo=UTC), "D2", "a2", value=300,
           attribution_class="assisted")]


@pytest.fixture(scope="module")
async def tenant_d(db: Database) -> str:
    import os

    tid = f"defs-{os.getpid()}"
    await load(db, tid, EVENTS, SETTINGS)
    checked = validate.check(LATE, now=NOW)
    await writer.write(db, tid, checked.valid, source=writer.Source.API)  # a second batch
    return tid


async def test_agent_first_contact_and_automated_first_response_are_two_figures(db: Database, tenant_d: str) -> None:
    # agent's first contact: D1 the call after 2 h (the automated SMS after 1 min does not count), D2 the
    # response sent by hand after 0.5 h, D3 none (its response by hand failed) → avg (2 + 0.5) / 2 = 1.25 h
    agent = await run(db, tenant_d, "response_time.first_contact", *FEB, interval_ms=28 * 86_400_000)
    assert [v for v in col(agent, "avg") if v is not None] == [pytest.approx(1.25)]
    # the automation's first response: D1 after 20 s only (D2's was sent by hand) → 20 s
    automated = await run(db, tenant_d, "response_time.automated", *FEB, interval_ms=28 * 86_400_000)
    assert [v for v in col(automated, "avg") if v is not None] == [pytest.approx(20)]
    assert automated.column("avg").unit == "seconds"


async def test_only_what_the_automation_did_saves_time(db: Database, tenant_d: str) -> None:
    # automated tasks: D1's response (ok) 1 + D1's automated SMS 1 + scorings 2 + routings 3 = 7 → 7 h (1 h each);
    # D2's response by hand and the calls are an agent's work
    hours = await run(db, tenant_d, "time_savings.hours", *FEB)
    assert hours.meta["tasks"] == 7 and col(hours, "value") == [pytest.approx(7)]
    # processing failures: automated steps D1 response ok + routings 3 ok = 4, none failed (D3's failed response
    # was sent by hand) → 0 %
    rate = await run(db, tenant_d, "errors.rate", *FEB, interval_ms=28 * 86_400_000)
    assert [v for v in col(rate, "processing_failures") if v is not None] == [0]
    # response rate: of 3 leads the automation answered D1 → 33.3 %
    assert by(await run(db, tenant_d, "sources.performance", *FEB), "source")["referral"]["response_rate"] == \
        pytest.approx(100 / 3)


async def test_one_deal_per_lead_in_state_and_in_revenue(db: Database, tenant_d: str) -> None:
    # D1: d1-a (10 Feb) wins over d1-b (12 Feb); D2: d2-x wins over d2-y (same moment, smaller id) although it
    # arrived later → revenue 1000 + 300 = 1300; attributed 1000 × 0.9 + 300 × 0.5 = 1050
    async with db.tenant(tenant_d) as conn:
        state = {r["lead_id"]: (r["deal_event_id"], float(r["deal_value"])) for r in await conn.fetch(
            "SELECT lead_id, deal_event_id, deal_value FROM leads WHERE closed_at IS NOT NULL")}
    assert state == {"D1": ("d1-a", 1000), "D2": ("d2-x", 300)}
    weighted = by(await run(db, tenant_d, "attribution.weighted", *FEB), "class")
    assert weighted["total"]["deals"] == 2 and weighted["total"]["revenue"] == pytest.approx(1300)
    assert weighted["total"]["attributed_revenue"] == pytest.approx(1050) and weighted["influenced"]["deals"] == 0
    revenue = await run(db, tenant_d, "revenue.attributed", *FEB)
    assert col(revenue, "value") == [pytest.approx(1050)] and revenue.meta["deals"] == 2
    assert revenue.meta["total_revenue"] == pytest.approx(1300)
    trend = await run(db, tenant_d, "revenue.monthly_trend", *FEB)
    assert col(trend, "total") == [pytest.approx(1300)]


async def test_a_stage_counting_leads_counts_leads(db: Database, tenant_d: str) -> None:
    # scoring: of 3 leads created, 1 (D1) was scored — twice, which is still one lead → 33.3 %
    stages = by(await run(db, tenant_d, "pipeline.stages", *FEB), "stage")
    assert stages["scoring"]["success_rate"] == pytest.approx(100 / 3)
    # 60 s response: D1 answered by the automation after 20 s; D2's answer by hand is no automated response → 1 / 3
    assert stages["response_60s"]["success_rate"] == pytest.approx(100 / 3)
    assert stages["response_60s"]["volume"] == 1  # automated responses only


async def test_nothing_after_the_range_end_counts(db: Database, tenant_d: str) -> None:
    early = (FEB[0], datetime(2026, 2, 11, tzinfo=UTC))
    # leads created by 11 Feb: D1, D2, D3; closed by then: D1 (10 Feb); D2 closes on the 15th → 1 / 3
    close = await run(db, tenant_d, "conversion.lead_to_close", *early)
    assert col(close, "value") == [pytest.approx(100 / 3)]
    # the erasure requested on 1 Feb is 10 days old on 11 Feb and 19 on 20 Feb: not late at either end, although
    # its completion (10 March, after the range) took 37 days
    checks = by(await run(db, tenant_d, "compliance.checks", FEB[0], datetime(2026, 2, 20, tzinfo=UTC)), "check")
    assert checks["erasure_within_30_days"]["checked"] == 1
    assert checks["erasure_within_30_days"]["violations"] == 0


async def test_a_tenant_wide_reference_stays_tenant_wide_under_a_team_filter(db: Database, tenant_d: str) -> None:
    from success_metrics.calculators import Dimension, Filter, Operator

    # revenue by agent: a1 1000 (D1), a2 300 (D2) → tenant mean 650; with only the revenue weight the score is
    # 100 × v / (v + 650): a1 100 × 1000 / 1650 = 60.6, whether or not the panel is filtered to team t1
    for filters in ((), (Filter(Dimension.TEAM, Operator.EQ, ("t1",)),)):
        rows = by(await run(db, tenant_d, "agents.scorecard", *FEB, filters=filters), "agent_id")
        assert rows["a1"]["efficiency_score"] == pytest.approx(round(100 * 1000 / 1650, 1))
    assert set(rows) == {"a1"}


async def test_money_is_labelled_in_the_tenants_currency(db: Database, tenant_d: str) -> None:
    table = serialize.table("A", await run(db, tenant_d, "attribution.weighted", *FEB))
    units = {c.text: c.unit for c in table.columns}
    assert units["revenue"] == "currencyEUR" and units["attributed_revenue"] == "currencyEUR"
    kpis = serialize.table("A", await run(db, tenant_d, "executive.kpi_summary", *FEB))
    assert {c.text: c.unit for c in kpis.columns if c.unit} == {
        "roi": "percent", "savings": "currencyEUR", "revenue_attribution": "currencyEUR", "hours_saved": "h"}


async def test_a_lead_waiting_at_the_range_end_is_waiting(db: Database, new_tenant_id) -> None:
    # W1, high priority, created 5 Feb 10:00: only an automated SMS (5 min later) before the range's end (10 Feb
    # 00:00), closed on the 20th. At the range's end it had waited 4 days 14 h = 110 h for an agent.
    tenant = new_tenant_id("wait")
    w1 = datetime(2026, 2, 5, 10, tzinfo=UTC)
    await load(db, tenant, [
        ev("W1-c", "lead.created", w1, "W1", source="referral", priority="high"),
        ev("W1-auto", "contact.attempted", w1 + timedelta(minutes=5), "W1", channel="sms", outcome="delivered",
           automated=True, consent=True),
        ev("W1-d", "deal.closed", datetime(2026, 2, 20, tzinfo=UTC), "W1", value=100, attribution_class="direct"),
    ], {"timezone": "UTC"})
    f = await run(db, tenant, "alerts.action_items", FEB[0], datetime(2026, 2, 10, tzinfo=UTC))
    waiting = [r for r in by(f, "kind").values() if r["kind"] == "lead_waiting"]
    assert [(r["lead_id"], r["value"]) for r in waiting] == [("W1", pytest.approx(110))]
