"""The demo generator: deterministic for a seed, valid by the schemas, realistic in shape, loadable twice."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from success_metrics.tools import demo
from success_metrics.storage import tenants as tenant_store
from success_metrics.ingest import validate
from success_metrics.storage.pool import Database

END = datetime(2026, 5, 20, 14, 30, tzinfo=UTC)


def _events(tenant: str = "acme", seed: int = 3, months: int = 2, scale: float = 0.3) -> list[dict[str, Any]]:
    return [e for day in demo.generate(demo.profile(tenant), seed=seed, months=months, end=END, scale=scale) for e in day]


def test_same_seed_same_events_and_another_seed_others() -> None:
    first, second = _events(), _events()
    assert first == second
    assert len(first) > 1000
    assert _events(seed=4) != first


def test_every_generated_event_validates() -> None:
    events = _events("acme") + _events("globex") + _events("partner-7")
    checked = validate.check(events, now=END)
    assert checked.rejected == []
    types = Counter(e["type"] for e in events)
    # erasure requests are rare (a few in 24 months): small samples may have none
    assert set(types) | {"erasure.requested", "erasure.completed"} == set(validate.schemas().types)
    assert max(e["occurred_at"] for e in events) < "2026-05-20T14:00:00"  # nothing after the end hour
    assert len({e["id"] for e in events if e["id"].startswith("acme")}) == len(_events("acme"))


def test_shapes_follow_the_spec() -> None:
    events = _events(months=6, scale=1.0)
    scores = [e["data"]["score"] for e in events if e["type"] == "lead.scored"]
    hot = sum(s >= 80 for s in scores) / len(scores)
    cold = sum(s < 40 for s in scores) / len(scores)
    assert 0.18 < hot < 0.32 and 0.18 < cold < 0.34
    sources = Counter(e["data"]["source"] for e in events if e["type"] == "lead.created")
    assert set(sources) == set(demo.SOURCES) and sources["website_form"] > sources["referral"]
    leads = len(scores)
    appointments = sum(e["type"] == "appointment.scheduled" for e in events)
    deals = [e for e in events if e["type"] == "deal.closed"]
    assert 0.3 < appointments / leads < 0.6 and 0.1 < len(deals) / leads < 0.35
    assert {d["data"]["attribution_class"] for d in deals} == {"direct", "assisted", "influenced"}
    failures = [e for e in events if e["type"] == "component.call" and not e["data"]["ok"]]
    assert {f["data"]["error_category"] for f in failures} >= {"timeout", "rate_limit"}
    agents = {e["agent_id"] for e in events if e["type"] == "agent.activity"}
    assert 8 <= len(agents) <= 12
    assert {e["data"]["service"] for e in events if e["type"] == "api.usage"} == {
        "apollo", "twilio", "sendgrid", "gohighlevel"}


def test_partners_differ_in_name_and_branding() -> None:
    acme, globex, other = demo.profile("acme"), demo.profile("globex"), demo.profile("bench-03")
    assert acme.name != globex.name
    assert acme.settings.branding != globex.settings.branding
    assert acme.settings.timezone != globex.settings.timezone
    assert acme.settings.hourly_rate != globex.settings.hourly_rate
    assert {len(p.teams) for p in (acme, globex)} <= {2, 3}
    assert other.tenant_id == "bench-03" and demo.profile("bench-03") == other
    assert all(a.id.startswith("bench-03") for a in other.agents)


async def test_load_goes_through_ingest_and_is_idempotent(db: Database, new_tenant_id: Callable[[str], str]) -> None:
    profile = demo.profile(new_tenant_id("demo"))
    async with db.system() as conn:
        await tenant_store.upsert(conn, profile.config())
    end = datetime.now(UTC)
    progress: list[tuple[str, int, int]] = []
    (stats,) = await demo.load(db, [profile], seed=5, months=1, end=end, scale=0.2, chunk=500,
                               progress=lambda *a: progress.append(a))
    assert stats.rejected == 0 and stats.accepted == stats.generated > 300
    assert progress[-1][1] == progress[-1][2]
    async with db.tenant(profile.tenant_id) as conn:
        assert await conn.fetchval("SELECT count(*) FROM events") == stats.accepted
        assert await conn.fetchval("SELECT count(DISTINCT source) FROM ingest_batches") == 1
        assert await conn.fetchval("SELECT count(*) FROM agents") == len(profile.agents)
    (again,) = await demo.load(db, [profile], seed=5, months=1, end=end, scale=0.2, chunk=500)
    assert again.accepted == 0 and again.duplicates == stats.generated
