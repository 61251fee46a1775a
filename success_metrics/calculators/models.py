"""The per-tenant model store: what the background trainer fitted (forecasts, backtests, anomaly scans, scoring
models), one row per (tenant, kind, key) in ``fitted_models`` (migration 0013), under row-level security like
every tenant table, so one tenant's model never answers another's query.

A *kind* is one trainer (``@trainer``): ``load`` reads the tenant's data (I/O, in the tenant transaction) and
``fit`` turns it into ``{key: payload bytes}`` (pure, CPU-heavy, run off the event loop). The trainer
(success_metrics/query/trainer.py) runs every kind on the 15-minute analytics schedule and refits one only when the
tenant's watermark (``watermark``: latest ingest batch, settings, period) differs from the stored one. Metrics
read rows with ``read`` and never fit: before a first fit they answer with ``NOT_FITTED`` as a notice.

Payloads are bytes the kind's own code wrote: our results are pydantic models as JSON (``encode`` / ``decode``).
A kind whose fit derives rows for a table of its own (the scoring kind's lead scores) writes them with its
``publish``, in the transaction that stores the fit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, Literal, TypeVar

import asyncpg
from pydantic import BaseModel

from success_metrics.calculators.tenant_settings import TenantSettings

M = TypeVar("M", bound=BaseModel)

NOT_FITTED = ("No model has been fitted for this tenant yet: the background trainer fits it within 15 minutes of "
              "the data arriving (every quarter hour, when the data changed).")

Period = Literal["day", "week"]
Load = Callable[[asyncpg.Connection, str, TenantSettings, datetime], Awaitable[Any]]
Fit = Callable[[Any], Mapping[str, bytes]]
# writes what a fit derives for a table of the kind's own (in the transaction that stores the fit) and returns the
# payloads the model store keeps
Publish = Callable[[asyncpg.Connection, str, Mapping[str, bytes]], Awaitable[Mapping[str, bytes]]]


@dataclass(frozen=True, slots=True)
class Trainer:
    """One kind of model: how to read its data and how to fit it (pure, off the event loop)."""

    kind: str
    load: Load
    fit: Fit
    # what the fit reads: complete periods only ("day", "week": data of the running one changes nothing), or
    # None: everything up to now
    period: Period | None = None
    publish: Publish | None = None


@dataclass(frozen=True, slots=True)
class Stored:
    kind: str
    key: str
    fitted_at: datetime
    watermark: str
    payload: bytes


_TRAINERS: dict[str, Trainer] = {}


def trainer(kind: str, load: Load, period: Period | None = None, publish: Publish | None = None
            ) -> Callable[[Fit], Fit]:
    """Decorator on a kind's ``fit``: register it with the ``load`` that reads its input (and the ``period`` of
    what it reads, and what it ``publish``es beside the model store: see Trainer)."""

    def register(fit: Fit) -> Fit:
        if kind in _TRAINERS:
            raise ValueError(f"model kind {kind!r} is registered twice")
        _TRAINERS[kind] = Trainer(kind, load, fit, period, publish)
        return fit

    return register


def trainers() -> list[Trainer]:
    return [_TRAINERS[k] for k in sorted(_TRAINERS)]


def encode(model: BaseModel) -> bytes:
    return model.model_dump_json().encode()


def decode(payload: bytes, model: type[M]) -> M:
    return model.model_validate_json(payload)


async def watermark(conn: asyncpg.Connection, tenant_id: str, s: TenantSettings, now: datetime,
                    period: Period | None = None) -> str:
    """What a fit depends on: the tenant's latest ingest batch, its settings and the tenant-local ISO week (the
    forecast origin moves with the calendar even when no data arrives). Equal watermarks → same data. With a
    ``period``, only batches holding events from before the running period's start count (a backfill), and the
    period's start: a fit of complete periods is redone when a period completes, not at every batch (a tenant
    sending events all day would otherwise have every quarter hour's round refit everything)."""
    settings = hashlib.sha256(s.model_dump_json().encode()).hexdigest()[:12]
    local = now.astimezone(s.zone)
    if period is None:
        batch = await conn.fetchval("SELECT max(batch_id) FROM ingest_batches WHERE tenant_id = $1", tenant_id)
        year, week, _ = local.isocalendar()
        return f"batch {batch or 0} · settings {settings} · {year}-W{week:02d} · {local:%Y-%m}"
    today = local.date()
    # a "week" kind reads complete weeks and months: the later of the two starts bounds what changes it
    begins = max(today - timedelta(days=today.weekday()), today.replace(day=1)) if period == "week" else today
    batch = await conn.fetchval(
        "SELECT max(batch_id) FROM ingest_batches WHERE tenant_id = $1 AND first_occurred_at < $2", tenant_id,
        datetime.combine(begins, time(), s.zone))
    return f"batch {batch or 0} before {begins} · settings {settings}"


async def read(conn: asyncpg.Connection, tenant_id: str, kind: str, key: str) -> Stored | None:
    row = await conn.fetchrow(
        "SELECT kind, key, fitted_at, watermark, payload FROM fitted_models "
        "WHERE tenant_id = $1 AND kind = $2 AND key = $3", tenant_id, kind, key)
    return None if row is None else Stored(**dict(row))


async def read_kind(conn: asyncpg.Connection, tenant_id: str, kind: str) -> list[Stored]:
    rows = await conn.fetch(
        "SELECT kind, key, fitted_at, watermark, payload FROM fitted_models WHERE tenant_id = $1 AND kind = $2 "
        "ORDER BY key", tenant_id, kind)
    return [Stored(**dict(r)) for r in rows]


async def stored_watermark(conn: asyncpg.Connection, tenant_id: str, kind: str) -> str | None:
    """The watermark the kind was last fitted at (every key of a kind is written together)."""
    value: str | None = await conn.fetchval(
        "SELECT min(watermark) FROM fitted_models WHERE tenant_id = $1 AND kind = $2", tenant_id, kind)
    return value


async def store(conn: asyncpg.Connection, tenant_id: str, kind: Trainer, payloads: Mapping[str, bytes], mark: str,
                fitted_at: datetime) -> None:
    """Store a kind's fit (``replace_kind``), after its ``publish`` wrote what it derives for tables of its own."""
    if kind.publish is not None:
        payloads = await kind.publish(conn, tenant_id, payloads)
    await replace_kind(conn, tenant_id, kind.kind, payloads, mark, fitted_at)


async def replace_kind(conn: asyncpg.Connection, tenant_id: str, kind: str, payloads: Mapping[str, bytes],
                       mark: str, fitted_at: datetime) -> None:
    """Store a kind's fit: every key at once, keys the new fit no longer has removed (in the caller's
    transaction). A fit with no keys stores one empty marker key, so an empty history is not refitted again
    until the data changes."""
    rows = dict(payloads) or {"": b""}
    await conn.execute("DELETE FROM fitted_models WHERE tenant_id = $1 AND kind = $2", tenant_id, kind)
    await conn.executemany(
        "INSERT INTO fitted_models (tenant_id, kind, key, fitted_at, watermark, payload) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        [(tenant_id, kind, key, fitted_at, mark, payload) for key, payload in rows.items()])
