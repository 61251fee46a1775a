"""Consistency properties over generated event streams (issue 12, item 5).

For a stream drawn by hypothesis (a few leads and agents; automated and manual responses and contact attempts;
deal.closed sent twice with other ids and at the same moment; calls, costs, activity), stored once in order and
once as it might arrive — shuffled, split into batches, partly late, partly sent twice:

- lead state, every rollup row (every measure: n, s1..s3, mx, histogram) and every metric's answer are the same;
- every rollup row equals sm_rollup_key summed over the stored events (the rollups are the raw answers);
- every metric answers the same from rollups and the raw tail as from the raw events alone.
"""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from success_metrics.calculators import all_metrics, buckets
from success_metrics.calculators.buckets import Segment, Source
from success_metrics.ingest import validate, writer
from success_metrics.storage.pool import Database
from tests.calculators.fixture import NOW, create_tenant, ev, run

T0 = datetime(2026, 2, 1, tzinfo=UTC)
LO, HI = T0 + timedelta(hours=7, minutes=17), T0 + timedelta(days=27, hours=19, minutes=41)
SETTINGS = {"timezone": "Asia/Kolkata", "currency": "EUR", "targets": {"time_savings.hours": 1}}
LEADS, AGENTS = ("L1", "L2", "L3"), (("a1", "t1"), ("a2", "t2"))
# reads this process (psutil) or the audit log that queries write: not a function of the events
SKIP = {"system.resources", "adoption.usage", "security.auth_events", "audit.access_log", "audit.failures",
        "audit.exports",
        # the server's own statistics (statements, index scans, pool, partition sizes): they change as the test runs
        "database.performance", "database.indexes", "database.pool", "database.growth"}
_ids = itertools.count()

minutes = st.integers(-3 * 1440, 30 * 1440)  # from 29 Jan to 3 Mar: every edge of the range is crossed
moments = st.builds(lambda m: T0 + timedelta(minutes=m), minutes)
lead_ids = st.sampled_from(LEADS)
flags = st.booleans()


def _event(kind: str, at: datetime, lead: str, agent: tuple[str, str], a: bool, b: bool, n: int) -> dict[str, Any]:
    match kind:
        case "created":
            return ev("", "lead.created", at, lead, source=["referral", "paid_ads"][n % 2], location_id="loc1",
                      priority="high" if a else "normal")
        case "responded":
            return ev("", "lead.responded", at, lead, channel="sms", ok=a, automated=b)
        case "contact":
            return ev("", "contact.attempted", at, lead, None if b else agent[0],
                      channel=["sms", "email", "phone"][n % 3],
                      outcome=["answered", "no_answer", "replied"][n % 3], automated=b, consent=a,
                      recipient_local_time=f"{(8 + n) % 24:02d}:00")
        case "scored":
            return ev("", "lead.scored", at, lead, score=(n * 37) % 101)
        case "routed":
            return ev("", "lead.routed", at, lead, agent[0], team_id=agent[1], agent_name=agent[0].upper())
        case "enriched":
            return ev("", "lead.enriched", at, lead, ok=a, provider="apollo")
        case "nurtured":
            return ev("", "lead.nurtured", at, lead, sequence="s1", step=1 + n % 3, ok=a)
        case "appointment":
            return ev("", "appointment.scheduled", at, lead, agent[0],
                      scheduled_for=(at + timedelta(days=1)).isoformat())
        case "deal":
            return ev("", "deal.closed", at, lead, agent[0], value=100 * (1 + n % 7),
                      attribution_class=["direct", "assisted", "influenced"][n % 3])
        case "call":
            return ev("", "component.call", at, component=["crm_sync", "webhook_receiver"][n % 2], service="twilio",
                      latency_ms=10 + 13 * n, ok=a, **({} if a else {"error_category": "timeout"}))
        case "activity":
            return ev("", "agent.activity", at, None, agent[0], selling_minutes=n, admin_minutes=2 * n,
                      followup_minutes=n % 5)
        case "prevented":
            return ev("", "error.prevented", at, kind="duplicate", count=1 + n % 3)
        case _:
            return ev("", "cost.recorded", at, category="api", amount=10 + n, month="2026-02")


KINDS = ("created", "created", "responded", "contact", "contact", "scored", "routed", "enriched", "nurtured",
         "appointment", "deal", "deal", "call", "call", "activity", "prevented", "cost")
events = st.builds(_event, st.sampled_from(KINDS), moments, lead_ids, st.sampled_from(AGENTS), flags, flags,
                   st.integers(0, 50))


@st.composite
def streams(draw: st.DrawFn) -> list[dict[str, Any]]:
    out = draw(st.lists(events, min_size=8, max_size=40))
    out.append(_event("deal", draw(moments), draw(lead_ids), draw(st.sampled_from(AGENTS)), True, True,
                      draw(st.integers(0, 50))))
    # each deal.closed sent again with another id: the first at the same moment (a tie the event id breaks),
    # the others a few days apart
    for i, e in enumerate([e for e in out if e["type"] == "deal.closed"][:3]):
        again = {**e, "data": {**e["data"], "value": e["data"]["value"] + 50}}
        out.append(again if i == 0 else {**again, "occurred_at": (
            datetime.fromisoformat(e["occurred_at"]) + timedelta(days=draw(st.integers(-3, 3)))).isoformat()})
    for i, e in enumerate(out):
        e["id"] = f"e{i:03d}"
    return out


@st.composite
def arrivals(draw: st.DrawFn, stream: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The stream as it might arrive: shuffled, cut into batches, some events held back to the end, some sent
    twice."""
    order = draw(st.permutations(stream))
    late = draw(st.lists(st.integers(0, len(order) - 1), max_size=5, unique=True))
    held = [order[i] for i in late]
    rest = [e for i, e in enumerate(order) if i not in set(late)]
    cuts = sorted(draw(st.lists(st.integers(0, len(rest)), max_size=4)))
    batches = [rest[a:b] for a, b in zip([0, *cuts], [*cuts, len(rest)], strict=True)]
    twice = draw(st.lists(st.sampled_from(stream), max_size=6))
    return [b for b in (*batches, held, twice) if b]


async def store(db: Database, batches: list[list[dict[str, Any]]]) -> str:
    tenant = f"cons-{next(_ids)}"
    await create_tenant(db, tenant, SETTINGS)
    for batch in batches:
        checked = validate.check(batch, now=NOW)
        assert not checked.rejected, checked.rejected
        await writer.write(db, tenant, checked.valid, source=writer.Source.API)
    return tenant


async def state(db: Database, tenant: str) -> dict[str, Any]:
    async with db.tenant(tenant) as conn:
        leads = [dict(r) for r in await conn.fetch(
            "SELECT * FROM leads WHERE tenant_id = $1 ORDER BY lead_id", tenant)]
        roll = [dict(r) for r in await conn.fetch(
            "SELECT grain, type, bucket, k1, k2, k3, n, s1, s2, s3, mx, hist FROM rollups WHERE tenant_id = $1 "
            "ORDER BY 1, 2, 3, 4, 5, 6", tenant)]
    for row in leads:
        del row["tenant_id"], row["updated_at"]
    return {"leads": leads, "rollups": roll}


async def answers(db: Database, tenant: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in all_metrics():
        if m.name not in SKIP:
            f = await run(db, tenant, m.name, LO, HI, interval_ms=86_400_000)
            out[m.name] = ([(c.name, c.unit, c.values) for c in f.columns], f.notices)
    return out


def same(a: Any, b: Any) -> bool:
    """Equal, numbers within float rounding (sums taken in another order)."""
    if isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(data=st.data())
async def test_answers_do_not_depend_on_how_events_arrive(db: Database, data: st.DataObject) -> None:
    stream = data.draw(streams())
    in_order = await store(db, [sorted(stream, key=lambda e: (e["occurred_at"], e["id"]))])
    arrived = await store(db, data.draw(arrivals(stream)))
    first, second = await state(db, in_order), await state(db, arrived)
    assert first == second
    assert same(await answers(db, in_order), await answers(db, arrived))


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(stream=streams())
async def test_rollups_are_the_raw_answers(db: Database, stream: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    tenant = await store(db, [stream])
    async with db.tenant(tenant) as conn:
        for grain in ("hour", "day", "month"):
            bucket = ("date_bin('1 hour', e.occurred_at, timestamptz '2000-01-03 00:00:00+00')" if grain == "hour"
                      else f"date_trunc('{grain}', e.occurred_at AT TIME ZONE 'Asia/Kolkata') "
                           "AT TIME ZONE 'Asia/Kolkata'")
            raw = await conn.fetch(
                f"""SELECT e.type, {bucket} AS bucket, r.k1, r.k2, r.k3, sum(r.n) AS n, sum(r.s1) AS s1,
                           sum(r.s2) AS s2, sum(r.s3) AS s3, max(r.mx) AS mx,
                           coalesce(jsonb_object_agg(r.h::text, 1) FILTER (WHERE r.h IS NOT NULL), '{{}}') AS bins
                    FROM events e CROSS JOIN LATERAL sm_rollup_key(e.type, e.payload, e.agent_id) r
                    WHERE e.tenant_id = $1 GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5""", tenant)
            rolled = await conn.fetch(
                "SELECT type, bucket, k1, k2, k3, n, s1, s2, s3, mx, hist FROM rollups WHERE tenant_id = $1 "
                "AND grain = $2 ORDER BY 1, 2, 3, 4, 5", tenant, grain)
            assert [tuple(r)[:10] for r in raw] == [tuple(r)[:10] for r in rolled]
            # the histogram holds each bin the raw events fall in, with their count
            for r, u in zip(raw, rolled, strict=True):
                assert set(r["bins"]) == set(u["hist"]) and sum(u["hist"].values()) == (r["n"] if r["bins"] else 0)
    from_rollups = await answers(db, tenant)
    monkeypatch.setattr(buckets, "plan", lambda lo, hi, zone, finest=Source.DAY: [Segment(Source.RAW, lo, hi)]
                        if lo < hi else [])
    assert same(from_rollups, await answers(db, tenant))
