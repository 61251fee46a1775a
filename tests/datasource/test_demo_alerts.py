"""The demo's history holds real alert firings (its rules evaluated by the alert loop's own code over past
ticks), and each demo tenant's branding carries a logo the report's HTML and PDF can both draw."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from io import BytesIO
from typing import Any

import httpx
from PIL import Image

from success_metrics.notify.alerts.state import Transition
from success_metrics.notify.reports import pdf
from success_metrics.storage.pool import Database
from success_metrics.tools import demo
from success_metrics.tools.demo.history import replay_alerts, ticks
from tests.datasource.test_pipeline import services_of


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_ticks_run_every_interval_up_to_the_end() -> None:
    end = datetime(2026, 5, 20, 14, tzinfo=UTC)
    got = list(ticks(end, days=1, every=timedelta(hours=6)))
    assert got == [end - timedelta(hours=h) for h in (24, 18, 12, 6, 0)]


async def test_demo_history_fires_alerts_that_show_as_annotations(
        db: Database, make_client: Callable[..., Awaitable[httpx.AsyncClient]],
        new_tenant_id: Callable[[str], str], token_for: Callable[..., str]) -> None:
    profile = demo.profile(new_tenant_id("demo"))
    client = await make_client(profile.config())
    end = demo.demo_end()
    # the generator always puts a 3-hour degradation of the email service in the last 20 hours
    await demo.load(db, [profile], seed=5, months=1, end=end, scale=0.5)
    answers = services_of(client).answers
    changes = await replay_alerts(answers, profile.tenant_id, end, retention_months=24, days=1)
    fired = [c for c in changes if c.transition is Transition.FIRING]
    assert fired
    async with db.tenant(profile.tenant_id) as conn:
        events = await conn.fetch("SELECT rule_id, started_at FROM alert_events ORDER BY started_at")
        evaluated = await conn.fetchval("SELECT max(evaluated_at) FROM alert_state")
    assert [e["rule_id"] for e in events] == [c.rule_id for c in fired]
    assert evaluated == end and all(end - timedelta(days=1) <= e["started_at"] <= end for e in events)
    # a second replay resumes after the last tick: nothing is evaluated twice, nothing recorded again
    assert await replay_alerts(answers, profile.tenant_id, end, retention_months=24, days=1) == []
    # a range ends before its end (half-open), and the last tick fires at ``end`` itself: look a minute past it
    body = {"range": {"from": (end - timedelta(days=2)).isoformat(), "to": (end + timedelta(minutes=1)).isoformat()},
            "annotation": {"name": "Alerts", "query": "alerts"}}
    r = await client.post("/annotations", json=body, headers=bearer(token_for(profile.tenant_id, "executive")))
    assert r.status_code == 200, r.text
    notes: list[dict[str, Any]] = r.json()
    assert len(notes) == len(events) and all("alert" in n["tags"] for n in notes)


async def test_demo_logos_are_inline_pngs_the_pdf_draws_and_the_branding_endpoint_serves(
        make_client: Callable[..., Awaitable[httpx.AsyncClient]], token_for: Callable[..., str]) -> None:
    for tenant in demo.DEMO_TENANTS:
        branding = demo.profile(tenant).settings.branding
        assert branding.logo_url is not None and branding.logo_url.startswith("data:image/png;base64,")
        drawn = pdf.logo(branding.logo_url)  # what the PDF draws; None would mean the initials fallback
        assert drawn is not None
        image = Image.open(BytesIO(drawn))
        assert image.format == "PNG" and image.size == (128, 128)
        # white at the edge (the report's band is the brand colour), the initials in the brand colour across the middle
        rgb = image.convert("RGB")
        assert rgb.getpixel((64, 4)) == (255, 255, 255)
        assert pdf.rgb(branding.primary_color) in {rgb.getpixel((x, 64)) for x in range(20, 108)}
        assert base64.b64decode(branding.logo_url.split(",", 1)[1]) == drawn
    client = await make_client(demo.profile("acme").config())
    r = await client.get("/api/branding", headers=bearer(token_for("acme", "executive")))
    assert r.status_code == 200, r.text
    assert r.json()["logo_url"] == demo.profile("acme").settings.branding.logo_url
