"""POST /api/ingest/events through the real app on the session's PostgreSQL, plus the writer's lead state.

After every bad request the service must still answer and the tenant's row counts must be exactly
what was accepted so far; ``Ledger`` keeps that tally and checks it.
"""

from __future__ import annotations

import json
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from success_metrics.calculators.sql import fetch_one
from success_metrics.ingest import backfill as backfill_module
from success_metrics.ingest.intake import ingest
from success_metrics.ingest.writer import Source
from success_metrics.rbac import keys
from success_metrics.settings import Limits, Settings, TenantConfig
from success_metrics.storage import partitions
from success_metrics.storage.pool import Database
from tests.datasource.event_samples import iso, one_of_each

URL = "/api/ingest/events"


class Ledger:
    """A tenant with an ingest key, and the number of events it must hold."""

    def __init__(self, client: httpx.AsyncClient, db: Database, tenant: str, secret: str, key_id: str) -> None:
        self.client, self.db, self.tenant, self.secret, self.key_id = client, db, tenant, secret, key_id
        self.expected = 0

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}"}

    async def post(self, body: Any, headers: dict[str, str] | None = None, **kw: Any) -> httpx.Response:
        content = body if isinstance(body, bytes | str) else json.dumps(body)
        return await self.client.post(URL, content=content, headers={**self.auth, **(headers or {})}, **kw)

    async def still_consistent(self) -> None:
        assert (await self.client.get("/healthz")).status_code == 200
        async with self.db.tenant(self.tenant) as conn:
            assert await conn.fetchval("SELECT count(*) FROM events") == self.expected
            assert await conn.fetchval("SELECT count(*) FROM event_ids") == self.expected


@pytest.fixture
async def ledger(
    make_client: Callable[..., Awaitable[httpx.AsyncClient]], db: Database, new_tenant_id: Callable[[str], str]
) -> Ledger:
    tid = new_tenant_id("ing")
    client = await make_client(TenantConfig(id=tid, name="Ingest Co"),
                               limits=Limits(max_batch_events=50, max_body_bytes=64 * 1024))
    async with db.tenant(tid) as conn:
        info, secret = await keys.create_key(conn, tid, "ingest", "engine")
    return Ledger(client, db, tid, secret, info.key_id)


async def test_every_event_type_accepted_and_stored(ledger: Ledger) -> None:
    events = one_of_each("all")
    response = await ledger.post(events)
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": len(events), "duplicates": 0, "rejected": []}
    ledger.expected = len(events)
    await ledger.still_consistent()
    async with ledger.db.tenant(ledger.tenant) as conn:
        types = {r["type"] for r in await conn.fetch("SELECT type FROM events")}
        assert types == {e["type"] for e in events}
        stored = await conn.fetchval("SELECT payload FROM events WHERE event_id = 'all-3'")
        assert stored == {"score": 86}
        batch = await conn.fetchrow("SELECT * FROM ingest_batches ORDER BY batch_id DESC LIMIT 1")
        assert batch is not None
        assert (batch["source"], batch["accepted"], batch["duplicates"], batch["rejected"]) == ("api", 16, 0, 0)
        assert batch["key_id"] == ledger.key_id
        assert batch["first_occurred_at"] == min(datetime.fromisoformat(e["occurred_at"]) for e in events)
        assert await conn.fetchval("SELECT name FROM agents WHERE agent_id = 'agent-1'") == "Sarah M."
        assert await conn.fetchval("SELECT name FROM teams WHERE team_id = 'team-1'") == "North"
        assert await conn.fetchval("SELECT name FROM locations WHERE location_id = 'loc-1'") == "Austin"


async def test_a_team_or_location_named_once_keeps_its_name_when_later_events_give_only_the_id(ledger: Ledger) -> None:
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    named = [
        {"id": "nm-1", "type": "lead.created", "occurred_at": iso(at), "lead_id": "lead-n",
         "data": {"source": "referral", "location_id": "loc-9", "location_name": "Boise"}},
        {"id": "nm-2", "type": "lead.routed", "occurred_at": iso(at + timedelta(minutes=1)), "lead_id": "lead-n",
         "agent_id": "agent-9", "data": {"team_id": "team-9", "team_name": "Nine"}},
    ]
    id_only = [  # a later batch: the same ids, no names (agent.activity may name a team and location by id)
        {"id": "nm-3", "type": "agent.activity", "occurred_at": iso(at + timedelta(hours=8)), "agent_id": "agent-9",
         "data": {"selling_minutes": 1, "admin_minutes": 1, "followup_minutes": 1, "team_id": "team-9",
                  "location_id": "loc-9"}},
        {"id": "nm-4", "type": "lead.routed", "occurred_at": iso(at + timedelta(hours=9)), "lead_id": "lead-n",
         "agent_id": "agent-9", "data": {"team_id": "team-8"}},
    ]
    for batch in (named, id_only):
        assert (await ledger.post(batch)).json()["accepted"] == 2
    async with ledger.db.tenant(ledger.tenant) as conn:
        teams = {r["team_id"]: r["name"] for r in await conn.fetch("SELECT team_id, name FROM teams")}
        places = {r["location_id"]: r["name"] for r in await conn.fetch("SELECT location_id, name FROM locations")}
    assert teams == {"team-9": "Nine", "team-8": "team-8"}  # never named: its id stands in
    assert places == {"loc-9": "Boise"}


async def test_duplicates_in_a_batch_and_a_resent_batch_change_nothing(ledger: Ledger) -> None:
    events = one_of_each("dup")
    twice = [*events[:5], events[0], events[1]]
    first = await ledger.post(twice)
    assert first.json() == {"accepted": 5, "duplicates": 2, "rejected": []}
    ledger.expected = 5
    again = await ledger.post(events)
    assert again.json() == {"accepted": len(events) - 5, "duplicates": 5, "rejected": []}
    ledger.expected = len(events)
    async with ledger.db.tenant(ledger.tenant) as conn:
        lead_before = dict(await fetch_one(conn, "SELECT * FROM leads WHERE lead_id = 'lead-1'"))
    resent = await ledger.post(events)
    assert resent.json() == {"accepted": 0, "duplicates": len(events), "rejected": []}
    await ledger.still_consistent()
    async with ledger.db.tenant(ledger.tenant) as conn:
        lead_after = dict(await fetch_one(conn, "SELECT * FROM leads WHERE lead_id = 'lead-1'"))
    assert lead_after == lead_before  # not even updated_at moved: nothing new reached the lead
    assert lead_after["touches"] == 1


async def test_same_id_with_another_time_is_still_a_duplicate(ledger: Ledger) -> None:
    (event,) = one_of_each("moved")[:1]
    assert (await ledger.post([event])).json()["accepted"] == 1
    moved = {**event, "occurred_at": iso(datetime.now(UTC) - timedelta(days=200))}
    assert (await ledger.post([moved])).json() == {"accepted": 0, "duplicates": 1, "rejected": []}
    ledger.expected = 1
    await ledger.still_consistent()


async def test_mixed_batch_lands_the_good_and_lists_the_bad(ledger: Ledger) -> None:
    good = one_of_each("mix")[:4]
    bad_score = {**good[3], "id": "mix-bad-1", "data": {"score": 101}}
    unknown = {"id": "mix-bad-2", "type": "lead.vanished", "occurred_at": good[0]["occurred_at"], "data": {}}
    missing = {"id": "mix-bad-3", "type": "lead.created", "occurred_at": good[0]["occurred_at"], "lead_id": "x",
               "data": {}}
    response = await ledger.post([good[0], bad_score, good[1], unknown, good[2], missing, good[3]])
    assert response.status_code == 207
    body = response.json()
    assert body["accepted"] == 4 and body["duplicates"] == 0
    assert body["rejected"] == [
        {"index": 1, "id": "mix-bad-1", "pointer": "/1/data/score", "reason": "101 is greater than the maximum of 100"},
        {"index": 3, "id": "mix-bad-2", "pointer": "/3/type", "reason": body["rejected"][1]["reason"]},
        {"index": 5, "id": "mix-bad-3", "pointer": "/5/data/source", "reason": "missing required field 'source'"},
    ]
    assert "unknown event type 'lead.vanished'" in body["rejected"][1]["reason"]
    ledger.expected = 4
    await ledger.still_consistent()
    async with ledger.db.tenant(ledger.tenant) as conn:
        assert await conn.fetchval("SELECT rejected FROM ingest_batches ORDER BY batch_id DESC LIMIT 1") == 3


async def test_ndjson_batches(ledger: Ledger) -> None:
    events = one_of_each("nd")[:6]
    body = "\n".join(json.dumps(e) for e in events[:3]) + "\n\n" + "\n".join(json.dumps(e) for e in events[3:]) + "\n"
    response = await ledger.post(body, {"Content-Type": "application/x-ndjson"})
    assert response.status_code == 200 and response.json()["accepted"] == 6
    ledger.expected = 6
    bad = json.dumps(events[0]) + "\n" + '{"id": "nd-x", "type": ' + "\n"
    response = await ledger.post(bad, {"Content-Type": "application/x-ndjson"})
    assert response.status_code == 400
    assert "Line 2 is not valid JSON" in response.json()["message"]
    assert response.json()["errors"][0]["line"] == 2
    await ledger.still_consistent()


async def test_ndjson_lines_end_at_newline_only(ledger: Ledger) -> None:
    # JSON allows U+2028 and U+0085 unescaped inside strings: they do not end an NDJSON line
    created = one_of_each("sep")[0]
    created["data"]["contact"]["name"] = "Jo\u2028Do\u0085e"
    scored = one_of_each("sep")[3]
    body = json.dumps(created, ensure_ascii=False) + "\r\n" + json.dumps(scored) + "\r\n"
    response = await ledger.post(body.encode(), {"Content-Type": "application/x-ndjson"})
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 2
    ledger.expected = 2
    await ledger.still_consistent()


@pytest.mark.parametrize(("body", "words"), [
    (b'[{"id": "a", "type": "lead.created",', "line 1, column 37"),
    (b'[\n  {"id": 1}\n  {"id": 2}\n]', "line 3, column 3"),
    (b"", "The body is empty"),
    (b'"just a string"', "must be a JSON array"),
    (b'[{"id": NaN}]', "NaN is not a JSON number"),
    (b"\xff\xfe[]", "not UTF-8"),
    (b"[" * 50_000, "nested too deeply"),
])
async def test_malformed_json_is_400_with_position(ledger: Ledger, body: bytes, words: str) -> None:
    response = await ledger.post(body, {"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert words in response.json()["message"]
    await ledger.still_consistent()


async def test_oversized_batches_are_413_naming_the_limit(ledger: Ledger) -> None:
    template = one_of_each("big")[13]  # error.prevented: small and lead-less
    many = [{**template, "id": f"big-{i}"} for i in range(51)]
    response = await ledger.post(many)
    assert response.status_code == 413
    assert "limit is 50 events" in response.json()["message"] and "max_batch_events" in response.json()["message"]
    ndjson = "\n".join(json.dumps(e) for e in many)
    response = await ledger.post(ndjson, {"Content-Type": "application/x-ndjson"})
    assert response.status_code == 413 and "limit is 50 events" in response.json()["message"]
    padded = [{**template, "id": "pad-" + "x" * 100 + str(i)} for i in range(50)]
    huge = json.dumps(padded).encode() + b" " * (64 * 1024)
    response = await ledger.post(huge)
    assert response.status_code == 413
    assert f"limit is {64 * 1024} bytes" in response.json()["message"]
    await ledger.still_consistent()
    exactly = await ledger.post(many[:50])
    assert exactly.status_code == 200 and exactly.json()["accepted"] == 50
    ledger.expected = 50
    await ledger.still_consistent()


async def test_credentials(ledger: Ledger, make_client: Callable[..., Awaitable[httpx.AsyncClient]],
                           new_tenant_id: Callable[[str], str]) -> None:
    events = one_of_each("cred")[:2]
    client, db = ledger.client, ledger.db

    async def refused(status: int, words: str, **kw: Any) -> None:
        response = await client.post(URL, **kw)
        assert response.status_code == status, response.text
        assert words in response.json()["message"]
        if status == 401:
            assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
        await ledger.still_consistent()

    body = json.dumps(events)
    await refused(401, "Send an ingest key", content=body)
    await refused(401, "Authorization must be 'Bearer", content=body, headers={"Authorization": "Basic dTpw"})
    await refused(401, "Not an API key", content=body, headers={"Authorization": "Bearer eyJ.not.akey"})
    await refused(401, "Unknown API key", content=body, headers={"Authorization": f"Bearer {ledger.secret[:-2]}zz"})

    async with db.tenant(ledger.tenant) as conn:
        _, service_secret = await keys.create_key(conn, ledger.tenant, "service", "grafana", role="executive")
        old, old_secret = await keys.create_key(conn, ledger.tenant, "ingest", "old")
        await keys.revoke_key(conn, ledger.tenant, old.key_id)
        _, expired_secret = await keys.create_key(conn, ledger.tenant, "ingest", "temp",
                                                   expires_at=datetime.now(UTC) - timedelta(minutes=1))
    await refused(403, "sending events needs an ingest key", content=body,
                  headers={"Authorization": f"Bearer {service_secret}"})
    await refused(401, "was revoked", content=body, headers={"Authorization": f"Bearer {old_secret}"})
    await refused(401, "expired", content=body, headers={"Authorization": f"Bearer {expired_secret}"})

    # another tenant's key: it can only ever write to its own tenant
    other = new_tenant_id("other")
    await make_client(TenantConfig(id=other, name="Other"))
    async with db.tenant(other) as conn:
        _, other_secret = await keys.create_key(conn, other, "ingest", "theirs")
    await refused(403, "belongs to another tenant", content=body, params={"tenant": ledger.tenant},
                  headers={"Authorization": f"Bearer {other_secret}"})
    naming = json.dumps([{**e, "tenant_id": ledger.tenant} for e in events])
    await refused(403, f"names tenant {ledger.tenant!r}", content=naming,
                  headers={"Authorization": f"Bearer {other_secret}"})
    async with db.tenant(other) as conn:
        assert await conn.fetchval("SELECT count(*) FROM events") == 0

    # the right key, naming its own tenant in the query and the body, is fine
    own = json.dumps([{**e, "tenant_id": ledger.tenant} for e in events])
    response = await client.post(URL, content=own, params={"tenant": ledger.tenant}, headers=ledger.auth)
    assert response.status_code == 200 and response.json()["accepted"] == 2
    ledger.expected = 2
    await ledger.still_consistent()


async def test_a_tenant_id_that_is_not_a_string_is_rejected_per_event(ledger: Ledger) -> None:
    good, odd_list, odd_number = one_of_each("tid")[:3]
    body = [good, {**odd_list, "tenant_id": [ledger.tenant]}, {**odd_number, "tenant_id": 7}]
    response = await ledger.post(body)
    assert response.status_code == 207, response.text
    assert response.json()["accepted"] == 1
    assert [(r["index"], r["pointer"]) for r in response.json()["rejected"]] == [(1, "/1/tenant_id"),
                                                                               (2, "/2/tenant_id")]
    assert "expected a string" in response.json()["rejected"][0]["reason"]
    ledger.expected = 1
    await ledger.still_consistent()


async def test_a_nul_character_is_rejected_per_event(ledger: Ledger) -> None:
    # PostgreSQL text and jsonb cannot hold U+0000: such an event is refused on its own, the others land
    good, in_id, in_data = one_of_each("nul")[:3]
    body = [good, {**in_id, "id": "nul-\u0000"}, {**in_data, "data": {**in_data["data"], "provider": "a\u0000b"}}]
    response = await ledger.post(body)
    assert response.status_code == 207, response.text
    assert response.json()["accepted"] == 1
    rejected = response.json()["rejected"]
    assert [(r["index"], r["pointer"]) for r in rejected] == [(1, "/1/id"), (2, "/2/data/provider")]
    assert "NUL character" in rejected[0]["reason"]
    ledger.expected = 1
    await ledger.still_consistent()


async def test_hmac_signed_bodies(ledger: Ledger) -> None:
    raw = json.dumps(one_of_each("sig")[:3]).encode()
    signed = {"X-SM-Key-Id": ledger.key_id, "X-SM-Signature": keys.sign(ledger.secret, raw),
              "Content-Type": "application/json"}
    bad = {**signed, "X-SM-Signature": keys.sign(ledger.secret, raw + b"\n")}
    response = await ledger.client.post(URL, content=raw, headers=bad)
    assert response.status_code == 401 and "does not match the body" in response.json()["message"]
    response = await ledger.client.post(URL, content=raw, headers={**signed, "X-SM-Key-Id": "0123456789abcdef"})
    assert response.status_code == 401 and "Unknown API key id" in response.json()["message"]
    await ledger.still_consistent()
    response = await ledger.client.post(URL, content=raw, headers=signed)
    assert response.status_code == 200 and response.json()["accepted"] == 3
    ledger.expected = 3
    await ledger.still_consistent()
    async with ledger.db.tenant(ledger.tenant) as conn:
        assert await conn.fetchval("SELECT key_id FROM ingest_batches ORDER BY batch_id DESC LIMIT 1") == ledger.key_id


async def test_late_and_early_events_land_in_their_month(ledger: Ledger) -> None:
    now = datetime.now(UTC)
    template = one_of_each("when")[13]
    late = partitions.add_months(partitions.month_start(now), -22)
    early = partitions.add_months(partitions.month_start(now), 11)
    too_old = partitions.add_months(partitions.month_start(now), -30)
    moments = {"late": datetime(late.year, late.month, 15, 8, tzinfo=UTC),
               "early": datetime(early.year, early.month, 2, 8, tzinfo=UTC),
               "old": datetime(too_old.year, too_old.month, 2, 8, tzinfo=UTC)}
    events = [{**template, "id": f"when-{k}", "occurred_at": iso(v)} for k, v in moments.items()]
    response = await ledger.post(events)
    assert response.status_code == 207
    body = response.json()
    assert body["accepted"] == 2
    assert body["rejected"][0]["pointer"] == "/2/occurred_at"
    assert "older than the retention horizon" in body["rejected"][0]["reason"]
    ledger.expected = 2
    await ledger.still_consistent()
    async with ledger.db.tenant(ledger.tenant) as conn:
        rows = await conn.fetch("SELECT event_id, tableoid::regclass::text AS part FROM events")
    where = {r["event_id"]: r["part"] for r in rows}
    assert where == {"when-late": partitions.partition_name(late), "when-early": partitions.partition_name(early)}


async def test_schemas_are_served(ledger: Ledger) -> None:
    index = (await ledger.client.get("/api/ingest/schemas")).json()
    assert index["envelope"] == "/api/ingest/schemas/envelope"
    assert len(index["types"]) == 16
    for entry in index["types"]:
        response = await ledger.client.get(entry["url"])
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/schema+json")
        assert response.json()["title"] == entry["type"]
    assert (await ledger.client.get("/api/ingest/schemas/lead.scored.json")).json()["title"] == "lead.scored"
    missing = await ledger.client.get("/api/ingest/schemas/lead.teleported")
    assert missing.status_code == 404 and "known: envelope, agent.activity" in missing.json()["message"]


# --- lead state -------------------------------------------------------------------------------------

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=40)


def _at(**delta: float) -> str:
    return iso(T0 + timedelta(**delta))


def _lead_story() -> list[dict[str, Any]]:
    lead = {"lead_id": "L"}
    story = [
        {"type": "lead.created", "occurred_at": _at(), **lead,
         "data": {"source": "referral", "location_id": "loc-A", "priority": "high", "consent": {"sms": False},
                  "contact": {"name": "Ann Lee", "email": "ann@example.com", "phone": "+1 555 000 1111"}}},
        {"type": "lead.responded", "occurred_at": _at(seconds=40), **lead, "data": {"channel": "sms", "ok": False}},
        {"type": "lead.responded", "occurred_at": _at(seconds=70), **lead, "data": {"channel": "email", "ok": True}},
        {"type": "lead.enriched", "occurred_at": _at(seconds=80), **lead, "data": {"ok": True}},
        {"type": "lead.scored", "occurred_at": _at(seconds=90), **lead, "data": {"score": 55}},
        {"type": "lead.scored", "occurred_at": _at(days=1), **lead, "data": {"score": 88}},
        {"type": "lead.routed", "occurred_at": _at(seconds=100), **lead, "agent_id": "a1", "data": {"team_id": "tA"}},
        {"type": "lead.routed", "occurred_at": _at(hours=2), **lead, "agent_id": "a2", "data": {"team_id": "tB"}},
        {"type": "contact.attempted", "occurred_at": _at(hours=3), **lead, "agent_id": "a2",
         "data": {"channel": "phone", "outcome": "no_answer", "automated": False, "consent": True}},
        {"type": "contact.attempted", "occurred_at": _at(days=1), **lead,
         "data": {"channel": "email", "outcome": "unsubscribed", "automated": True, "consent": True}},
        {"type": "contact.attempted", "occurred_at": _at(days=2), **lead, "agent_id": "a2",
         "data": {"channel": "phone", "outcome": "answered", "automated": False, "consent": True}},
        {"type": "appointment.scheduled", "occurred_at": _at(days=3), **lead, "data": {"scheduled_for": _at(days=5)}},
        {"type": "appointment.scheduled", "occurred_at": _at(days=2, hours=1), **lead,
         "data": {"scheduled_for": _at(days=4)}},
        {"type": "deal.closed", "occurred_at": _at(days=10), **lead,
         "data": {"value": 1000, "attribution_class": "direct"}},
        {"type": "deal.closed", "occurred_at": _at(days=12), **lead,
         "data": {"value": 1500.25, "attribution_class": "assisted"}},
        # an automated attempt before any agent's: a touch, never the agent's first contact
        {"type": "contact.attempted", "occurred_at": _at(minutes=30), **lead,
         "data": {"channel": "sms", "outcome": "delivered", "automated": True, "consent": True}},
        # a response an agent sent by hand: the agent's first contact, not the automation's first response
        {"type": "lead.responded", "occurred_at": _at(seconds=50), **lead,
         "data": {"channel": "email", "ok": True, "automated": False}},
    ]
    for n, e in enumerate(story):
        e["id"] = f"story-{n}"
    return story


# worked out by hand from the story: earliest creation, first *successful automated* response (70 s; the one
# sent by hand at 50 s is the agent's), latest score, latest routing, four touches, the agent's first contact
# (the response sent by hand at 50 s; the automated attempt at 30 min does not count), earliest appointment
# booking, the earliest deal (day 10: one deal per lead), the unsubscribe
EXPECTED_LEAD = {
    "created_at": T0, "source": "referral", "location_id": "loc-A", "priority": "high", "consent_sms": False,
    "contact_name": "Ann Lee", "contact_email": "ann@example.com", "contact_phone": "+1 555 000 1111",
    "first_response_at": T0 + timedelta(seconds=70), "response_ok": True,
    "enriched_at": T0 + timedelta(seconds=80), "enrichment_ok": True,
    "score": 88, "scored_at": T0 + timedelta(days=1),
    "routed_at": T0 + timedelta(hours=2), "agent_id": "a2", "team_id": "tB",
    "nurtured_at": None, "touches": 4, "first_contact_at": T0 + timedelta(seconds=50),
    "appointment_at": T0 + timedelta(days=2, hours=1),
    "closed_at": T0 + timedelta(days=10), "deal_value": Decimal("1000.00"), "attribution_class": "direct",
    "unsubscribed_at": T0 + timedelta(days=1), "erasure_requested_at": None, "erased_at": None,
}


async def _lead_state(db: Database, tenant: str, lead: str = "L") -> dict[str, Any]:
    async with db.tenant(tenant) as conn:
        row = await conn.fetchrow("SELECT * FROM leads WHERE lead_id = $1", lead)
    assert row is not None
    return {k: row[k] for k in EXPECTED_LEAD}


async def _tenant(db: Database, new_tenant_id: Callable[[str], str]) -> str:
    from success_metrics.storage import tenants as tenant_store

    tid = new_tenant_id("lead")
    async with db.system() as conn:
        await tenant_store.upsert(conn, TenantConfig(id=tid, name=tid))
    return tid


@pytest.mark.parametrize("order", ["in order", "reversed", "shuffled in batches"])
async def test_lead_state_matches_the_hand_worked_answer_in_any_order(
    db: Database, new_tenant_id: Callable[[str], str], order: str
) -> None:
    tid = await _tenant(db, new_tenant_id)
    story = _lead_story()
    if order == "in order":
        batches = [story]
    elif order == "reversed":
        batches = [[e] for e in reversed(story)]
    else:
        shuffled = story[:]
        random.Random(3).shuffle(shuffled)
        batches = [shuffled[:4], shuffled[4:9], shuffled[9:]]
    for batch in batches:
        report = await ingest(db, tid, batch, source=Source.API)
        assert report.rejected == []
    assert await _lead_state(db, tid) == EXPECTED_LEAD
    # resending the whole story changes nothing
    assert (await ingest(db, tid, story, source=Source.API)).duplicates == len(story)
    assert await _lead_state(db, tid) == EXPECTED_LEAD


def _ties() -> list[dict[str, Any]]:
    """Two creations, two scores and two routings of lead T, each pair at one time, told apart only by id."""
    lead = {"lead_id": "T"}
    return [
        {"id": "tie-c-b", "type": "lead.created", "occurred_at": _at(), **lead, "data": {"source": "other"}},
        {"id": "tie-c-a", "type": "lead.created", "occurred_at": _at(), **lead, "data": {"source": "referral"}},
        {"id": "tie-s-a", "type": "lead.scored", "occurred_at": _at(hours=1), **lead, "data": {"score": 30}},
        {"id": "tie-s-b", "type": "lead.scored", "occurred_at": _at(hours=1), **lead, "data": {"score": 70}},
        {"id": "tie-r-a", "type": "lead.routed", "occurred_at": _at(hours=2), **lead, "agent_id": "a1",
         "data": {"team_id": "tA"}},
        {"id": "tie-r-b", "type": "lead.routed", "occurred_at": _at(hours=2), **lead, "agent_id": "a2",
         "data": {"team_id": "tB"}},
    ]


@pytest.mark.parametrize("order", ["one batch", "a first, one per batch", "b first, one per batch"])
async def test_ties_at_one_time_resolve_by_event_id_whatever_the_arrival_order(
    db: Database, new_tenant_id: Callable[[str], str], order: str
) -> None:
    tid = await _tenant(db, new_tenant_id)
    events = _ties()
    batches = {"one batch": [events], "a first, one per batch": [[e] for e in sorted(events, key=lambda e: e["id"])],
               "b first, one per batch": [[e] for e in sorted(events, key=lambda e: e["id"], reverse=True)]}[order]
    for batch in batches:
        assert (await ingest(db, tid, batch, source=Source.API)).rejected == []
    async with db.tenant(tid) as conn:
        row = await fetch_one(conn, "SELECT source, score, agent_id, team_id FROM leads WHERE lead_id = 'T'")
    # the earliest creation by (time, id) is tie-c-a; the latest score and routing by (time, id) are the b's
    assert dict(row) == {"source": "referral", "score": 70, "agent_id": "a2", "team_id": "tB"}


async def test_erasure_scrubs_contact_data_now_and_later(db: Database, new_tenant_id: Callable[[str], str]) -> None:
    tid = await _tenant(db, new_tenant_id)
    created = _lead_story()[0]
    other = {**created, "id": "keep-1", "lead_id": "K"}
    assert (await ingest(db, tid, [created, other], source=Source.API)).accepted == 2
    erase = {"id": "erase-1", "type": "erasure.requested", "occurred_at": _at(days=20), "lead_id": "L",
             "data": {"request_id": "gdpr-1"}}
    assert (await ingest(db, tid, [erase], source=Source.API)).accepted == 1
    # a late copy of the creation, with contact data, arrives after the erasure
    late = {**created, "id": "late-create", "occurred_at": _at(seconds=-5)}
    assert (await ingest(db, tid, [late], source=Source.API)).accepted == 1
    state = await _lead_state(db, tid)
    assert (state["contact_name"], state["contact_email"], state["contact_phone"]) == (None, None, None)
    assert state["erasure_requested_at"] == T0 + timedelta(days=20)
    assert state["created_at"] == T0 - timedelta(seconds=5) and state["source"] == "referral"
    async with db.tenant(tid) as conn:
        payloads = {r["event_id"]: r["payload"] for r in await conn.fetch("SELECT event_id, payload FROM events")}
    assert "contact" not in payloads["story-0"] and "contact" not in payloads["late-create"]
    assert payloads["story-0"]["source"] == "referral"
    assert payloads["keep-1"]["contact"]["name"] == "Ann Lee"  # another lead keeps its data
    assert (await _lead_state(db, tid, "K"))["contact_name"] == "Ann Lee"
    done = {"id": "erase-2", "type": "erasure.completed", "occurred_at": _at(days=25), "lead_id": "L", "data": {}}
    await ingest(db, tid, [done], source=Source.API)
    assert (await _lead_state(db, tid))["erased_at"] == T0 + timedelta(days=25)


async def test_rollups_receive_only_newly_stored_events(
    db: Database, new_tenant_id: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from success_metrics.calculators import rollups

    seen: list[list[str]] = []
    original = rollups.apply_events

    async def spy(conn: Any, tenant_id: str, events: Any, payloads: Any = None) -> None:
        assert tenant_id == tid
        assert await conn.fetchval("SELECT current_setting('app.tenant_id')") == tid  # inside the tenant transaction
        seen.append([e.event_id for e in events])
        await original(conn, tenant_id, events, payloads)

    monkeypatch.setattr(rollups, "apply_events", spy)
    tid = await _tenant(db, new_tenant_id)
    story = _lead_story()
    await ingest(db, tid, story[:3], source=Source.API)
    await ingest(db, tid, story[:5], source=Source.API)
    assert seen == [["story-0", "story-1", "story-2"], ["story-3", "story-4"]]


async def test_cli_backfill_through_the_same_path(
    db: Database, base_settings: Settings, new_tenant_id: Callable[[str], str], tmp_path: Path
) -> None:
    from rich.console import Console

    tid = await _tenant(db, new_tenant_id)
    events = one_of_each("cli")
    lines = [json.dumps(e) for e in events[:8]] + ["{broken", ""] + [json.dumps(e) for e in events[8:]]
    lines.append(json.dumps({**events[3], "id": "cli-bad", "data": {"score": -1}}))
    path = tmp_path / "events.ndjson"
    path.write_text("\n".join(lines) + "\n")
    console = Console(file=open(tmp_path / "out.txt", "w"), width=200)  # noqa: SIM115, ASYNC230
    summary = await backfill_module.backfill(db, base_settings, path, tid, batch_size=5, console=console)
    assert (summary.accepted, summary.duplicates, summary.rejected) == (16, 0, 2)
    assert any(s.startswith("line 9 is not valid JSON") for s in summary.samples)
    assert any(s.startswith("line 19 /data/score (id cli-bad)") for s in summary.samples)
    again = await backfill_module.backfill(db, base_settings, path, tid, batch_size=100, console=console)
    assert (again.accepted, again.duplicates, again.rejected) == (0, 16, 2)
    async with db.tenant(tid) as conn:
        assert await conn.fetchval("SELECT count(*) FROM events") == 16
        runs = await conn.fetch("SELECT run_id, source, sum(accepted) AS n FROM ingest_batches GROUP BY 1, 2")
    assert sorted(r["n"] for r in runs) == [0, 16] and {r["source"] for r in runs} == {"cli"}


async def test_backfill_refuses_an_unknown_tenant(db: Database, base_settings: Settings, tmp_path: Path) -> None:
    from success_metrics.ingest.errors import UnknownTenant

    path = tmp_path / "e.ndjson"
    path.write_text("")
    with pytest.raises(UnknownTenant, match="not configured"):
        await backfill_module.backfill(db, base_settings, path, "no-such-tenant")


def test_partition_names_are_the_month_of_the_utc_time() -> None:
    assert partitions.partition_name(date(2026, 3, 1)) == "events_y2026m03"


# JSON text a JavaScript sender produces when it cuts a string inside an emoji: a lone UTF-16 surrogate, which
# Python decodes to a str that cannot be encoded as UTF-8 (so PostgreSQL, the compiled validator and the answer
# itself would all fail on it)
LONE = "\\ud83d"


def _poisoned(ledger_prefix: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Seven events as JSON texts: the first good, each other one poisoned in one place."""
    good, *rest = one_of_each(ledger_prefix)[:7]
    texts = [json.dumps(e) for e in (good, *rest)]
    texts[1] = texts[1].replace(f'"{rest[0]["id"]}"', f'"{rest[0]["id"]}{LONE}"')       # in the id (envelope)
    texts[2] = texts[2].replace('"apollo"', f'"apo{LONE}llo"')                         # a value in data
    texts[3] = texts[3].replace('"score"', f'"sc{LONE}ore"')                           # a key in data
    texts[4] = texts[4].replace('"North"', '"North \\udc00"')                          # a lone low surrogate
    texts[5] = texts[5].replace('"data"', f'"da{LONE}ta"', 1)                          # an envelope key
    texts[6] = texts[6].replace('"lead-1"', f'"lead{LONE}-1"')                          # in lead_id
    return [good, *rest], texts


@pytest.mark.parametrize("shape", ["array", "ndjson", "signed"])
async def test_a_lone_surrogate_rejects_only_its_own_event(ledger: Ledger, shape: str) -> None:
    events, texts = _poisoned(f"sur{shape[0]}")
    texts.append(json.dumps(one_of_each(f"sur{shape[0]}x")[10]))  # a good event after the poisoned ones
    if shape == "ndjson":
        raw, headers = "\n".join(texts).encode(), {"Content-Type": "application/x-ndjson"}
    else:
        raw, headers = ("[" + ",".join(texts) + "]").encode(), {"Content-Type": "application/json"}
    if shape == "signed":
        response = await ledger.client.post(URL, content=raw, headers={
            **headers, "X-SM-Key-Id": ledger.key_id, "X-SM-Signature": keys.sign(ledger.secret, raw)})
    else:
        response = await ledger.post(raw, headers)
    assert response.status_code == 207, response.text
    body = response.json()
    assert body["accepted"] == 2
    rejected = body["rejected"]
    assert [(r["index"], r["pointer"]) for r in rejected] == [
        (1, "/1/id"), (2, "/2/data/provider"), (3, "/3/data/sc\\ud83dore"), (4, "/4/data/team_name"),
        (5, "/5/da\\ud83dta"), (6, "/6/lead_id")]
    assert rejected[0]["id"] == events[1]["id"] + "\\ud83d"  # what the sender wrote, in the JSON escape
    assert all("lone UTF-16 surrogate" in r["reason"] for r in rejected), rejected
    assert "\\ud83d at character 3" in rejected[1]["reason"]
    assert "\\udc00 at character 6" in rejected[3]["reason"]
    ledger.expected = 2
    await ledger.still_consistent()


async def test_a_body_that_is_not_utf8_is_refused_whole_naming_the_byte(ledger: Ledger) -> None:
    raw = json.dumps(one_of_each("utf")[:2]).encode().replace(b"Austin", b"Aus\xedtin")
    bad_at = raw.index(b"\xed")
    for content_type in ("application/json", "application/x-ndjson"):
        response = await ledger.post(raw, {"Content-Type": content_type})
        assert response.status_code == 400, response.text
        assert f"bad byte at position {bad_at}" in response.json()["message"]
    await ledger.still_consistent()


async def test_a_nul_in_a_key_is_rejected_per_event(ledger: Ledger) -> None:
    good, other = one_of_each("nulk")[2:4]
    text = json.dumps(other).replace('"score"', '"sc\\u0000ore"')
    response = await ledger.post(("[" + json.dumps(good) + "," + text + "]").encode())
    assert response.status_code == 207, response.text
    assert response.json()["accepted"] == 1
    [rejected] = response.json()["rejected"]
    assert rejected["pointer"] == "/1/data/sc\u0000ore" and "NUL character" in rejected["reason"]
    ledger.expected = 1
    await ledger.still_consistent()
