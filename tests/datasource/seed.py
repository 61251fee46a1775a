"""A small, hand-countable day of events (2026-03-02, UTC) for the protocol tests, stored through ingest.

    leads   L1 website_form 01:10 → a1 (north)   appointment 02:00   deal 08:00  1000 direct
            L2 website_form 01:40 → a1 (north)
            L3 referral     03:20 → a2 (south)   appointment 06:00   deal 09:00   500 assisted
            L4 website_form 05:05 → a2 (south)
            L5 referral     05:50 → a1 (north)
    calls   crm_sync 10:00-11:00: 10 calls, 8 failed (outage, 80 %)
            crm_sync 12:00-13:00: 10 calls, 2 failed (degradation, 20 %)
            crm_sync 13:00-14:00: 10 calls, 0 failed
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from success_metrics.storage import tenants
from success_metrics.ingest import intake
from success_metrics.ingest.writer import Source
from success_metrics.settings import TenantConfig
from success_metrics.storage.pool import Database

DAY = "2026-03-02"


def _at(hhmm: str) -> str:
    return f"{DAY}T{hhmm}:00Z"


def events() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    leads = [("L1", "01:10", "website_form", "a1", "north", "Alice North"),
             ("L2", "01:40", "website_form", "a1", "north", "Alice North"),
             ("L3", "03:20", "referral", "a2", "south", "Bob South"),
             ("L4", "05:05", "website_form", "a2", "south", "Bob South"),
             ("L5", "05:50", "referral", "a1", "north", "Alice North")]
    for lead, at, source, agent, team, name in leads:
        out.append({"id": f"c-{lead}", "type": "lead.created", "occurred_at": _at(at), "lead_id": lead,
                    "data": {"source": source, "location_id": "downtown"}})
        routed = f"{at[:3]}{int(at[3:]) + 5:02d}"
        out.append({"id": f"r-{lead}", "type": "lead.routed", "occurred_at": _at(routed), "lead_id": lead,
                    "agent_id": agent, "data": {"team_id": team, "agent_name": name}})
    for lead, at, agent in (("L1", "02:00", "a1"), ("L3", "06:00", "a2")):
        out.append({"id": f"a-{lead}", "type": "appointment.scheduled", "occurred_at": _at(at), "lead_id": lead,
                    "agent_id": agent, "data": {"scheduled_for": f"{DAY}T15:00:00Z"}})
    for lead, at, agent, value, cls in (("L1", "08:00", "a1", 1000, "direct"), ("L3", "09:00", "a2", 500, "assisted")):
        out.append({"id": f"d-{lead}", "type": "deal.closed", "occurred_at": _at(at), "lead_id": lead,
                    "agent_id": agent, "data": {"value": value, "attribution_class": cls}})
    for hour, failed in ((10, 8), (12, 2), (13, 0)):
        for i in range(10):
            ok = i >= failed
            data: dict[str, Any] = {"component": "crm_sync", "latency_ms": 100 + i, "ok": ok}
            if not ok:
                data["error_category"] = "timeout"
            out.append({"id": f"k-{hour}-{i}", "type": "component.call", "occurred_at": _at(f"{hour}:{i * 5:02d}"),
                        "data": data})
    return out


async def load(db: Database, tenant_id: str) -> None:
    async with db.system() as conn:
        await tenants.upsert(conn, TenantConfig(id=tenant_id, name=tenant_id.title()))
    report = await intake.ingest(db, tenant_id, events(), source=Source("api"))
    assert not report.rejected, report.rejected


@pytest.fixture
async def tenant(db: Database, new_tenant_id: Callable[[str], str]) -> str:
    """A fresh tenant holding the seed day (import this fixture, with ``client``, into a test module)."""
    tid = new_tenant_id("seed")
    await load(db, tid)
    return tid


@pytest.fixture
async def client(make_client: Callable[..., Awaitable[httpx.AsyncClient]], tenant: str) -> httpx.AsyncClient:
    return await make_client(TenantConfig(id=tenant, name=tenant.title()))
