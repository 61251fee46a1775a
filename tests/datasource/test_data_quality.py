"""Data-quality checks (issue 16 item 2) against planted faults, counted by hand, masked per role, per tenant.

END = 2026-03-04 12:00 UTC (a Wednesday); the range is the 24 h before it. Stored through ingest:

history (CLI backfill, sent at END - 10 d, so its tallies fall outside the range):
    lead.created      20 leads on each of the 4 Wednesdays before, 00:00-00:19 (source website_form)
    component.call    one an hour, at h:30 for h = 5..71 hours before END: stops 5.5 h ago (stale: usual gap 1 h)
    agent.activity    one an hour, at h:30 for h = 0..47 hours before END, agent a1 "Alice" (fresh: 0.5 h ago)
live (API, sent at END - 1 h):
    lead.created      3 at END-6h, Lbad at END-5h, 2 at END-90m
                      + 2 rejected (no data.source), + 1 event of an unknown type
    deal.closed       Lbad at END-8h by agent "ghost"         (closed before created)
    contact.attempted Lbad at END-7h by agent "ghost"         (contacted before created; ghost never introduced)
                      Lorphan at END-3h by a1                  (a lead whose lead.created never came: source unknown)
    resent            the 2 leads of END-90m                   (2 duplicates)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from success_metrics.ingest import intake
from success_metrics.ingest.writer import Source
from success_metrics.notify.alerts.evaluate import evaluate_tenant
from success_metrics.query.answer import Answerer
from success_metrics.query.cache import ResultCache
from success_metrics.settings import TenantConfig
from success_metrics.storage import tenants
from success_metrics.storage.pool import Database
from tests.datasource.event_samples import iso
from tests.datasource.test_pipeline import bearer

END = datetime(2026, 3, 4, 12, tzinfo=UTC)
H, D = timedelta(hours=1), timedelta(days=1)


def lead(lead_id: str, at: datetime, source: str = "website_form") -> dict[str, Any]:
    return {"id": f"c-{lead_id}", "type": "lead.created", "occurred_at": iso(at), "lead_id": lead_id,
            "data": {"source": source}}


def history() -> list[dict[str, Any]]:
    events = [lead(f"w{k}-{i}", END - 7 * k * D - 12 * H + i * timedelta(minutes=1))
              for k in (1, 2, 3, 4) for i in range(20)]
    events += [{"id": f"k-{h}", "type": "component.call", "occurred_at": iso(END - h * H - 30 * timedelta(minutes=1)),
                "data": {"component": "crm_sync", "latency_ms": 100, "ok": True}} for h in range(5, 72)]
    events += [{"id": f"act-{h}", "type": "agent.activity", "occurred_at": iso(END - h * H - 30 * timedelta(minutes=1)),
                "agent_id": "a1", "data": {"selling_minutes": 30, "admin_minutes": 5, "followup_minutes": 5,
                                           "agent_name": "Alice"}} for h in range(48)]
    return events


def live() -> list[dict[str, Any]]:
    events = [lead(f"n{i}", END - 6 * H) for i in range(3)]
    events += [lead("Lbad", END - 5 * H), lead("f1", END - 90 * timedelta(minutes=1)),
               lead("f2", END - 90 * timedelta(minutes=1))]
    events += [{"id": "d-Lbad", "type": "deal.closed", "occurred_at": iso(END - 8 * H), "lead_id": "Lbad",
                "agent_id": "ghost", "data": {"value": 100, "attribution_class": "direct"}},
               {"id": "ca-Lbad", "type": "contact.attempted", "occurred_at": iso(END - 7 * H), "lead_id": "Lbad",
                "agent_id": "ghost", "data": {"channel": "phone", "outcome": "answered", "automated": False,
                                              "consent": True}},
               {"id": "ca-orphan", "type": "contact.attempted", "occurred_at": iso(END - 3 * H), "lead_id": "Lorphan",
                "agent_id": "a1", "data": {"channel": "phone", "outcome": "answered", "automated": False,
                                           "consent": True}}]
    events += [{"id": f"bad-{i}", "type": "lead.created", "occurred_at": iso(END - 2 * H), "lead_id": f"b{i}",
                "data": {}} for i in range(2)]
    events.append({"id": "odd", "type": "lead.exploded", "occurred_at": iso(END - 2 * H), "data": {}})
    return events


async def planted(db: Database, tenant_id: str) -> None:
    async with db.system() as conn:
        await tenants.upsert(conn, TenantConfig(id=tenant_id, name=tenant_id))
    assert not (await intake.ingest(db, tenant_id, history(), source=Source.CLI, now=END - 10 * D)).rejected
    sent = live()
    report = await intake.ingest(db, tenant_id, sent, source=Source.API, now=END - H)
    assert (report.accepted, len(report.rejected)) == (9, 3)
    resent = [e for e in sent if e["id"] in ("c-f1", "c-f2")]
    assert (await intake.ingest(db, tenant_id, resent, source=Source.API, now=END - H)).duplicates == 2


@pytest.fixture
async def quality_tenant(db: Database, new_tenant_id: Callable[[str], str]) -> str:
    tid = new_tenant_id("dq")
    await planted(db, tid)
    return tid


def body(metric: str = "data.quality") -> dict[str, Any]:
    return {"range": {"from": iso(END - D), "to": iso(END)}, "intervalMs": 60_000, "maxDataPoints": 100,
            "targets": [{"refId": "A", "target": metric, "type": "table"}]}


def rows_of(item: dict[str, Any]) -> list[dict[str, Any]]:
    names = [c["text"] for c in item["columns"]]
    return [dict(zip(names, row, strict=True)) for row in item["rows"]]


def one(rows: list[dict[str, Any]], check: str, **where: Any) -> tuple[Any, Any, str, str]:
    """(value, expected, status, detail) of the one row of ``check`` matching ``where``."""
    found = [r for r in rows if r["check"] == check and all(r.get(k) == v for k, v in where.items())]
    assert len(found) == 1, (check, where, found)
    r = found[0]
    return r["value"], r["expected"], r["status"], r["detail"]


async def as_role(make_client: Callable[..., Awaitable[httpx.AsyncClient]], token_for: Any, tenant_id: str,
                  role: str, **claims: Any) -> list[dict[str, Any]]:
    client = await make_client(TenantConfig(id=tenant_id, name=tenant_id))
    answer = await client.post("/query", json=body(), headers=bearer(token_for(tenant_id, role, **claims)))
    assert answer.status_code == 200, answer.text
    return rows_of(answer.json()[0])


async def test_every_planted_fault_is_found_with_the_counts_worked_out_by_hand(
        make_client: Callable[..., Awaitable[httpx.AsyncClient]], token_for: Any, quality_tenant: str) -> None:
    rows = await as_role(make_client, token_for, quality_tenant, "admin")
    # freshness: component.call stopped 5.5 h ago, its usual gap (95th percentile between active hours) is 1 h
    assert one(rows, "freshness", type="component.call") == (5.5, 1.0, "stale", "")
    assert one(rows, "freshness", type="agent.activity") == (0.5, 1.0, "ok", "")
    # lead.created's active hours: the 4 Wednesdays at 00:00, then END-6h, END-5h, END-2h; gaps 168, 168, 168,
    # 174 (Wednesday 00:00 → the next one's 06:00), 1 and 3 h; sorted [1, 3, 168, 168, 168, 174], the 95th
    # percentile is at 0.95 × 5 = 4.75: 168 + 0.75 × (174 - 168) = 172.5 h
    assert one(rows, "freshness", type="lead.created") == (1.5, 172.5, "ok", "")
    # a single event: no gap to learn a cadence from
    assert one(rows, "freshness", type="deal.closed")[2] == "unknown"
    # volume: 6 lead.created in the last 24 h (n0-n2, Lbad, f1, f2) against 80 / 4 Wednesdays = 20: a drop
    assert one(rows, "volume", type="lead.created") == (6, 20.0, "drop", "")
    # component.call: 19 events (h = 5..23) in the last 24 h and none on a Wednesday before: too little history
    assert one(rows, "volume", type="component.call") == (19, None, "unknown", "")
    # lead.created sent in the range: accepted 6, rejected 2, duplicates 2; late 4 of the 6 sent live at END-1h
    # (n0-n2 5 h after they occurred, Lbad 4 h; f1 and f2 30 min)
    assert one(rows, "rejections", type="lead.created") == (pytest.approx(100 * 2 / 10), 5.0, "high",
                                                            "/data/source: required (2)")
    assert one(rows, "duplicates", type="lead.created")[:3] == (pytest.approx(100 * 2 / 8), 20.0, "high")
    assert one(rows, "late_arrivals", type="lead.created")[:3] == (pytest.approx(100 * 4 / 6), 10.0, "high")
    assert one(rows, "rejections", type="") == (100.0, 5.0, "high", "/type: unknown type (1)")
    assert one(rows, "late_arrivals", type="deal.closed")[:3] == (100.0, 10.0, "high")
    # the backfill's tallies (sent 10 days before) are outside the range: no rows for its types
    assert not [r for r in rows if r["check"] == "rejections" and r["type"] in ("component.call", "agent.activity")]
    # impossible sequences of the range's leads: Lbad closed 3 h and contacted 2 h before it was created
    assert one(rows, "impossible_sequence", detail="closed before created")[::2] == (1, "found")
    assert one(rows, "impossible_sequence", detail="contacted before created")[::2] == (1, "found")
    assert one(rows, "impossible_sequence", detail="appointment before created")[::2] == (0, "ok")
    # ghost is named by 2 events of the range and was never introduced; a1 (introduced with a name) is not listed
    assert one(rows, "unknown_agent", agent="ghost")[0] == 2
    assert [r["agent"] for r in rows if r["check"] == "unknown_agent"] == ["ghost"]
    assert one(rows, "unknown_source")[::2] == (1, "found")  # Lorphan


@pytest.mark.parametrize(("role", "claims", "shown"), [
    ("admin", {}, "ghost"), ("executive", {}, "ghost"),
    ("manager", {"agent_id": "m1", "teams": ["north"]}, "pseudonym"), ("agent", {"agent_id": "a1"}, "pseudonym"),
    ("auditor", {}, "hidden"),
])
async def test_each_role_sees_the_checks_with_the_unknown_agent_masked_as_its_policy_says(
        make_client: Callable[..., Awaitable[httpx.AsyncClient]], token_for: Any, quality_tenant: str, role: str,
        claims: dict[str, Any], shown: str) -> None:
    """System metrics are public: every role may query data.quality (auditors through their system globs), and
    only the agent column (an agent id: personal) is masked: pseudonymised for managers and agents, hidden from
    auditors, whose policy shows no personal values."""
    rows = await as_role(make_client, token_for, quality_tenant, role, **claims)
    unknown = [r for r in rows if r["check"] == "unknown_agent"]
    assert [r["value"] for r in unknown] == [2]
    assert one(rows, "volume", type="lead.created") == (6, 20.0, "drop", "")
    agent = unknown[0].get("agent")
    if shown == "ghost":
        assert agent == "ghost"
    elif shown == "pseudonym":
        assert agent != "ghost" and str(agent).startswith("Agent ")
    else:
        assert agent is None and "ghost" not in str(rows)


async def test_a_tenant_sees_only_its_own_faults(
        make_client: Callable[..., Awaitable[httpx.AsyncClient]], token_for: Any, db: Database, quality_tenant: str,
        new_tenant_id: Callable[[str], str]) -> None:
    other = new_tenant_id("dq-other")
    async with db.system() as conn:
        await tenants.upsert(conn, TenantConfig(id=other, name=other))
    await intake.ingest(db, other, [
        {"id": "x1", "type": "deal.closed", "occurred_at": iso(END - 3 * H), "lead_id": "X", "agent_id": "ghost2",
         "data": {"value": 1, "attribution_class": "direct"}}], source=Source.API, now=END - H)
    mine = await as_role(make_client, token_for, quality_tenant, "admin")
    theirs = await as_role(make_client, token_for, other, "admin")
    assert [r["agent"] for r in theirs if r["check"] == "unknown_agent"] == ["ghost2"]
    assert "ghost2" not in str(mine) and "ghost\"" not in str(theirs).replace("'", '"')
    # the other tenant's one deal, 2 h late, of a lead never created: nothing of the planted tenant's counts
    assert one(theirs, "late_arrivals", type="deal.closed")[0] == 100.0
    assert one(theirs, "unknown_source")[0] == 1
    assert not [r for r in theirs if r["type"] == "lead.created" and r["check"] != "unknown_source"]


async def test_data_quality_issues_raise_the_maintenance_alert(db: Database, quality_tenant: str) -> None:
    """12 issues by hand: component.call stale; lead.created volume drop; rejections of the unknown type;
    late contact.attempted and deal.closed; lead.created rejections, duplicates and late arrivals; two
    impossible sequences; the unknown agent; the lead never created. The rule holds 15 minutes, then fires."""
    answers = Answerer(db, ResultCache(0, 0), lambda tenant: b"k" * 32)
    await evaluate_tenant(answers, quality_tenant, END, retention_months=24)
    async with db.tenant(quality_tenant) as conn:
        state = await conn.fetchrow(
            "SELECT state, last_value FROM alert_state WHERE rule_id = 'maintenance.data_quality'")
    assert state is not None
    assert (state["state"], state["last_value"]) == ("pending", 12)
    changes = await evaluate_tenant(answers, quality_tenant, END + 15 * timedelta(minutes=1), retention_months=24)
    fired = [c for c in changes if c.rule_id == "maintenance.data_quality"]
    assert [c.transition.value for c in fired] == ["firing"] and fired[0].value == 12


def test_a_rejection_is_tallied_by_field_and_rule_never_by_the_value_sent() -> None:
    from success_metrics.ingest import validate

    bad = [{"id": "e1", "type": "lead.created", "occurred_at": iso(END), "lead_id": "L",
            "data": {"source": "website_form", "contact": {"phone": "call jo.secret on 555"}}},
           {"id": "e2", "type": "lead.scored", "occurred_at": iso(END), "lead_id": "L", "data": {"score": 999}},
           {"id": "e3", "type": "lead.nurtured", "occurred_at": iso(END), "lead_id": "L",
            "data": {"sequence": "warm", "step": 1, "channel": "email", "ok": True, "steps": [{"x": 1}]}}]
    found = validate.check(bad, now=END).rejected
    assert "jo.secret" in found[0].reason  # the sender is told what was wrong with what it sent ...
    assert [(r.type, r.rule) for r in found] == [  # ... the tallies keep only where and which rule
        ("lead.created", "/data/contact/phone: pattern"), ("lead.scored", "/data/score: maximum"),
        ("lead.nurtured", "/data/steps: additionalProperties")]
