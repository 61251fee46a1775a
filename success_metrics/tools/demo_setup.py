"""`success-metrics demo`: configure the demo tenants, load their data once, hand out credentials.

Before serving: the settings gain the tenants ``acme`` and ``globex`` and the dev issuer (written to
``$SM_DATA_DIR/demo-config.yaml`` when SM_CONFIG is unset, so ``serve`` can reuse them); the embedded
PostgreSQL starts and migrates; a tenant without demo data gets 24 months of it through the real
ingest path (a second start finds it and skips this); each tenant gets a fresh ingest key (earlier
demo keys are revoked, since a secret cannot be shown twice); one token per role and tenant and the
Grafana data source settings are printed. Ctrl-C or SIGTERM at any point stops the database.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from success_metrics.tools import demo
from success_metrics.server.services import open_database
from success_metrics.settings import Settings
from success_metrics.storage import Database
from success_metrics.rbac import Role, dev_issuer, keys

DEMO_KEY_NAME = "demo ingest key"
TOKEN_TTL = timedelta(days=30)


@dataclass
class Prepared:
    loaded: dict[str, int]  # tenant -> events stored now (0: data was already there)
    seconds: float
    ingest_keys: dict[str, str]


def demo_settings(settings: Settings) -> Settings:
    configured = {t.id for t in settings.tenants}
    extra = tuple(demo.profile(t).config() for t in demo.DEMO_TENANTS if t not in configured)
    return settings.model_copy(update={"dev_issuer_enabled": True, "tenants": settings.tenants + extra})


def write_config(settings: Settings, path: Path) -> None:
    body = {"dev_issuer_enabled": True,
            "tenants": [t.model_dump(mode="json", exclude_defaults=True) for t in settings.tenants]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# written by `success-metrics demo`; use it with SM_CONFIG=" + str(path) + "\n"
                    + yaml.safe_dump(body, sort_keys=False), encoding="utf-8")


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # unwinds like Ctrl-C: the database is stopped on the way out


def prepare(settings: Settings, *, seed: int = 7, scale: float = 1.0, console: Console | None = None) -> Settings:
    console = console or Console()
    settings = demo_settings(settings)
    if not os.environ.get("SM_CONFIG"):
        path = settings.data_dir / "demo-config.yaml"
        write_config(settings, path)
        console.print(f"demo configuration: {path}", highlight=False)
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        prepared = asyncio.run(_prepare(settings, seed, scale, console))
    finally:
        signal.signal(signal.SIGTERM, previous)
    _announce(settings, prepared, console)
    return settings


async def _prepare(settings: Settings, seed: int, scale: float, console: Console) -> Prepared:
    db, embedded = await open_database(settings)
    try:
        started = time.perf_counter()
        loaded = await _load_missing(db, settings, seed, scale, console)
        seconds = time.perf_counter() - started
        ingest_keys = {}
        for tenant in demo.DEMO_TENANTS:
            async with db.tenant(tenant) as conn:
                for old in await keys.list_keys(conn, tenant, keys.KeyKind.INGEST):
                    if old.name == DEMO_KEY_NAME and old.revoked_at is None:
                        await keys.revoke_key(conn, tenant, old.key_id)
                _, secret = await keys.create_key(conn, tenant, keys.KeyKind.INGEST, DEMO_KEY_NAME)
            ingest_keys[tenant] = secret
        return Prepared(loaded, seconds, ingest_keys)
    finally:
        await db.close()
        if embedded is not None:
            embedded.stop()


def _marker(settings: Settings, tenant: str) -> Path:
    return settings.data_dir / f"demo-{tenant}.json"


async def _load_missing(db: Database, settings: Settings, seed: int, scale: float, console: Console) -> dict[str, int]:
    """Load each demo tenant once. A load cut short (Ctrl-C) resumes with the same seed and end next time:
    the events are the same, so those already stored count as duplicates."""
    missing = []
    loaded = {}
    end = demo.demo_end()
    for tenant in demo.DEMO_TENANTS:
        marker = _marker(settings, tenant)
        state = json.loads(marker.read_text()) if marker.exists() else None
        async with db.tenant(tenant) as conn:
            have = await conn.fetchval("SELECT coalesce(sum(accepted), 0) FROM ingest_batches WHERE source = 'demo'")
        if have and (state is None or state.get("complete")):
            console.print(f"{tenant}: demo data already loaded ({have:,} events); reusing it", highlight=False)
            loaded[tenant] = 0
            continue
        if have and state:  # resume the interrupted load exactly
            seed, scale, end = state["seed"], state["scale"], datetime.fromisoformat(state["end"])
            console.print(f"{tenant}: resuming an interrupted demo load ({have:,} events stored)", highlight=False)
        marker.write_text(json.dumps({"seed": seed, "scale": scale, "end": end.isoformat(), "complete": False}))
        missing.append(demo.profile(tenant))
    if not missing:
        return loaded
    columns = [TextColumn("[bold]{task.description:<7}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("days  {task.fields[events]:>8,} events"), TimeElapsedColumn()]
    with Progress(*columns, console=console) as progress:
        tasks = {p.tenant_id: progress.add_task(p.tenant_id, total=None, events=0) for p in missing}
        counts: dict[str, demo.LoadStats] = {}

        def report(tenant: str, done: int, total: int) -> None:
            progress.update(tasks[tenant], completed=done, total=total)

        stats = await demo.load(db, missing, seed=seed, scale=scale, end=end,
                                retention_months=settings.retention_months, progress=report)
        for s in stats:
            progress.update(tasks[s.tenant_id], events=s.accepted)
            counts[s.tenant_id] = s
    for tenant, s in counts.items():
        loaded[tenant] = s.accepted
        marker = _marker(settings, tenant)
        marker.write_text(json.dumps({**json.loads(marker.read_text()), "complete": True}))
        if s.rejected:
            console.print(f"[yellow]{tenant}: {s.rejected} generated events were rejected[/]: {s.reasons[:3]}")
    return loaded


def _tokens(settings: Settings) -> dict[str, dict[str, str]]:
    """One dev token per role and demo tenant."""
    out: dict[str, dict[str, str]] = {}
    for tenant in demo.DEMO_TENANTS:
        p = demo.profile(tenant)
        agent = p.agents[0]
        out[tenant] = {}
        for role in Role:
            extra: dict[str, Any] = {}
            if role is Role.AGENT:
                extra = {"subject": agent.name, "agent_id": agent.id, "teams": (agent.team_id,)}
            elif role is Role.MANAGER:
                extra = {"subject": f"manager@{tenant}", "teams": (p.teams[0][0],)}
            out[tenant][role.value] = dev_issuer.mint(
                settings.data_dir, tenant, role, ttl=TOKEN_TTL, issuer=settings.dev_issuer,
                audience=settings.dev_audience, **extra)
    return out


def _announce(settings: Settings, prepared: Prepared, console: Console) -> None:
    url = f"http://{settings.host}:{settings.port}"
    total = sum(prepared.loaded.values())
    if total:
        console.print(f"\nloaded {total:,} demo events in {prepared.seconds:.1f} s", highlight=False)
    try:
        tokens = _tokens(settings)
    except Exception as exc:  # e.g. the dev key under SM_DATA_DIR is unreadable: serve anyway, say how to get tokens
        console.print(f"[yellow]could not mint dev tokens ({exc.__class__.__name__}: {exc})[/]")
        tokens = None
    console.rule("success-metrics demo")
    # tokens and keys go out with print(): rich would wrap them across lines
    print(f"URL: {url}    (OpenAPI: {url}/docs)")
    for tenant in demo.DEMO_TENANTS:
        p = demo.profile(tenant)
        print(f"\n== {tenant}: {p.name} ({p.settings.branding.name}, {p.settings.timezone})")
        print(f"ingest key: {prepared.ingest_keys[tenant]}")
        for role in Role:
            if tokens:
                print(f"token {role.value:<9} {tokens[tenant][role.value]}")
            else:
                print(f"token {role.value:<9} run: success-metrics token --tenant {tenant} --role {role.value}")
    example = tokens["acme"][Role.EXECUTIVE.value] if tokens else "<token>"
    print("\nGrafana data source (Connections > Data sources > Add > JSON API, plugin simpod-json-datasource):")
    print(f"  URL:    {url}")
    print("  UID:    success-metrics (the dashboards in dashboards/ look the data source up by this uid;")
    print("          grafana-provisioning/datasources/ sets it for you)")
    print(f"  Header: Authorization = Bearer {example}")
    print("  (use the token of the tenant and role you want to see; each role sees its own masked view)")
    print(f"\nSend events: curl -H 'Authorization: Bearer <ingest key>' -H 'Content-Type: application/x-ndjson' "
          f"--data-binary @events.ndjson {url}/api/ingest/events")
    print("Ctrl-C stops the service and its database.\n", flush=True)
