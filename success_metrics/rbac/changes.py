"""Telling every replica of the service that a tenant's identity or policy settings, or its computed frames, changed.

A change is announced with ``pg_notify`` on one channel inside the transaction that makes it, so the notice is
delivered when, and only if, the change commits. The payload names the tenant and what changed, never a value:
the listeners (success_metrics/storage/replicas.py) read the settings themselves.
"""

from __future__ import annotations

import json
from typing import Literal

import asyncpg

CHANNEL = "sm_tenant_settings"
What = Literal["identity", "policy", "jwks", "frames"]  # frames: its cached frames are stale (storage/frame_cache.py)
WHATS: tuple[What, ...] = ("identity", "policy", "jwks", "frames")


async def announce(conn: asyncpg.Connection, tenant_id: str, what: What) -> None:
    await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, json.dumps({"tenant_id": tenant_id, "what": what}))


def parse(payload: str) -> tuple[str, What] | None:
    """(tenant, what) from a notice's payload; None for one this version does not understand."""
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("tenant_id"), str):
        return None
    what = next((w for w in WHATS if w == data.get("what")), None)
    return None if what is None else (data["tenant_id"], what)
