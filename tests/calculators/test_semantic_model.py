"""The semantic model (success_metrics/calculators/semantic): the schemas and the rollup SQL are what it generates, its names
point at real catalog measures, and the named views give the sums worked out by hand."""

from __future__ import annotations

import json
import os
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from success_metrics.calculators.events import EventType
from success_metrics.calculators.measures import MEASURES
from success_metrics.calculators.semantic import EVENT_MODELS, MODELS, Slot
from success_metrics.calculators.semantic.generate import generated_block, schema_files
from success_metrics.storage import model_files
from success_metrics.storage.pool import Database
from tests.calculators.fixture import ev, load
from tests.datasource.event_samples import one_of_each

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / model_files.SCHEMAS


def test_committed_schemas_are_what_the_model_generates() -> None:
    """Drift: editing a schema by hand, or the model without `success-metrics model generate`."""
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in SCHEMAS.glob("*.json") if p.name != "envelope.json"}
    assert on_disk == schema_files(), "event schemas are stale: run `success-metrics model generate`"


def test_every_event_type_has_one_model_and_the_enum_follows_it() -> None:
    assert len(MODELS) == len(EVENT_MODELS) == 16
    assert EventType.DEAL_CLOSED == "deal.closed" and [t.value for t in EventType] == list(MODELS)


def test_the_newest_model_migration_is_what_the_model_generates() -> None:
    latest = model_files.latest_model_migration(ROOT)
    assert latest is not None and latest[0].name.endswith("_semantic_model.sql")  # first: 0011
    assert latest[1] == generated_block(), "rollup SQL is stale: run `success-metrics model generate`"


def test_generate_rewrites_a_hand_edited_schema_and_adds_a_migration_for_a_changed_model(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(ROOT / model_files.SCHEMAS, tmp_path / model_files.SCHEMAS)
    shutil.copytree(ROOT / model_files.MIGRATIONS, tmp_path / model_files.MIGRATIONS)
    assert model_files.generate(tmp_path) == []
    edited = tmp_path / model_files.SCHEMAS / "deal.closed.json"
    edited.write_text(edited.read_text().replace('"value"', '"amount"'))
    assert model_files.generate(tmp_path) == [edited]
    assert edited.read_text() == schema_files()["deal.closed.json"]
    newest = max(int(p.name[:4]) for p in (tmp_path / model_files.MIGRATIONS).glob("*.sql"))
    monkeypatch.setattr(model_files, "generated_block", lambda: generated_block() + "-- changed\n")
    [added] = model_files.generate(tmp_path)
    assert added.name == f"{newest + 1:04d}_semantic_model.sql" and added.read_text().endswith("-- changed\n")
    assert model_files.generate(tmp_path) == []  # the new migration is now the newest model migration


def test_names_are_unique_slots_are_used_once_and_measures_are_in_the_catalog() -> None:
    for m in EVENT_MODELS:
        parts = (*m.dimensions, *m.measures)
        assert len({x.name for x in parts}) == len(parts), m.type
        assert len({x.slot for x in parts}) == len(parts), m.type
        assert not {x.name for x in parts} & {"tenant_id", "grain", "bucket"}, m.type
        assert all(x.slot in (Slot.K1, Slot.K2, Slot.K3) for x in m.dimensions), m.type
        assert [x.slot for x in m.measures].count(Slot.N) == 1, m.type
        for x in m.measures:
            assert x.measure in MEASURES, (m.type, x.name)
    assert MODELS["deal.closed"].measures[1].sensitivity == MEASURES["deal_revenue"].sensitivity == "financial"
    assert MODELS["component.call"].column("latency_ms_bins") == Slot.H
    with pytest.raises(KeyError, match="known"):
        MODELS["deal.closed"].column("revenue")


def _legacy_and_edge_events(at: datetime) -> list[dict]:
    """Events whose slot values depend on defaults and older spellings."""
    return [
        {"type": "component.call", "data": {"component": "x", "latency_ms": 5, "ok": False}},
        {"type": "component.call", "data": {"component": "x", "latency_ms": 0, "ok": True}},
        {"type": "contact.attempted", "data": {"channel": "sms", "outcome": "failed", "manual": True}},
        {"type": "lead.responded", "data": {"channel": "sms", "ok": False, "automated": False}},
        {"type": "lead.routed", "data": {"team": "old-team"}},
        {"type": "deal.closed", "data": {"data": "not an object", "value": 5, "attribution": "direct"}},
        {"type": "lead.created", "data": {"data": {"source": "referral", "location": "old-loc", "priority": "low"}}},
        {"type": "error.prevented", "data": {"category": "legacy", "count": 3}},
        {"type": "lead.scored", "data": {"score": 40}},
    ]


async def test_generated_rollup_key_equals_the_hand_written_one_of_0009(db: Database) -> None:
    """Numbers do not change: 0009's CASE, created under another name, gives every event the same slots."""
    text = (ROOT / model_files.MIGRATIONS / "0009_definitions.sql").read_text()
    old = re.search(r"CREATE OR REPLACE FUNCTION sm_rollup_key\(.*?\n\$\$;", text, re.S)
    assert old is not None
    at = datetime(2026, 3, 1, tzinfo=UTC)
    events = [*one_of_each(at=at), *_legacy_and_edge_events(at)]
    async with db.system() as conn, conn.transaction():
        await conn.execute(old.group(0).replace("FUNCTION sm_rollup_key(", "FUNCTION pg_temp.rollup_key_0009("))
        for e in events:
            payload = json.dumps(e["data"])
            args = (e["type"], payload, e.get("agent_id"))
            new = await conn.fetchrow("SELECT * FROM sm_rollup_key($1, $2::jsonb, $3)", *args)
            was = await conn.fetchrow("SELECT * FROM pg_temp.rollup_key_0009($1, $2::jsonb, $3)", *args)
            assert dict(new) == dict(was), e


async def test_named_views_give_the_hand_worked_sums_and_only_the_own_tenant(db: Database) -> None:
    """Two deals of one agent in one day (100 + 250.5 direct) and one assisted deal; another tenant's deal."""
    at = datetime(2026, 3, 2, 10, tzinfo=UTC)
    mine, other = f"model-a-{os.getpid()}", f"model-b-{os.getpid()}"
    await load(db, mine, [
        ev("d1", "deal.closed", at, "L1", "ag1", value=100, attribution_class="direct"),
        ev("d2", "deal.closed", at + timedelta(hours=2), "L2", "ag1", value=250.5, attribution_class="direct"),
        ev("d3", "deal.closed", at, "L3", value=40, attribution_class="assisted"),
        ev("c1", "component.call", at, component="crm_sync", latency_ms=100, ok=True),
        ev("c2", "component.call", at, component="crm_sync", latency_ms=300, ok=False, error_category="timeout"),
    ], {"timezone": "UTC"})
    await load(db, other, [ev("d9", "deal.closed", at, "L9", "ag9", value=7, attribution_class="direct")],
               {"timezone": "UTC"})
    async with db.tenant(mine) as conn:
        deals = await conn.fetch("SELECT attribution_class, agent_id, deals, deal_revenue FROM rollup_deal_closed "
                                 "WHERE grain = 'day' ORDER BY 1")
        calls = await conn.fetch("SELECT error_category, calls, ok_calls, latency_ms_sum, latency_ms_max "
                                 "FROM rollup_component_call WHERE grain = 'day' ORDER BY 1")
    assert [tuple(r) for r in deals] == [("assisted", "", 1, 40), ("direct", "ag1", 2, 350.5)]
    assert [tuple(r) for r in calls] == [("", 1, 1, 100, 100), ("timeout", 1, 0, 300, 300)]
