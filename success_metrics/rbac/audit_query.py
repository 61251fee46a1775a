"""Reading the audit log: filtered, newest first, paginated by ``seq``; and the CSV/NDJSON export lines."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import Any

import asyncpg
from pydantic import BaseModel, ConfigDict, Field

from success_metrics.rbac.audit import COLUMNS

EXPORT_COLUMNS = (*COLUMNS, "prev_hash", "hash")


class AuditFilter(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    since: datetime | None = None
    until: datetime | None = None
    subject: str | None = None
    action: str | None = None
    outcome: str | None = None
    before_seq: int | None = Field(None, ge=1)  # pagination cursor: rows older than this


def _where(tenant_id: str, f: AuditFilter) -> tuple[str, list[Any]]:
    clauses, args = ["tenant_id = $1"], [tenant_id]
    for column, op, value in (("at", ">=", f.since), ("at", "<", f.until), ("subject", "=", f.subject),
                              ("action", "=", f.action), ("outcome", "=", f.outcome), ("seq", "<", f.before_seq)):
        if value is not None:
            args.append(value)
            clauses.append(f"{column} {op} ${len(args)}")
    return " AND ".join(clauses), args


def _plain(row: asyncpg.Record) -> dict[str, Any]:
    out = dict(row)
    out["at"] = out["at"].isoformat()
    out["masked_fields"] = list(out["masked_fields"] or [])
    return out


async def events(conn: asyncpg.Connection, tenant_id: str, f: AuditFilter, limit: int) -> list[dict[str, Any]]:
    where, args = _where(tenant_id, f)
    rows = await conn.fetch(
        f"SELECT {', '.join(EXPORT_COLUMNS)} FROM audit_log WHERE {where} ORDER BY seq DESC LIMIT {int(limit)}", *args)
    return [_plain(r) for r in rows]


async def stream(conn: asyncpg.Connection, tenant_id: str, f: AuditFilter) -> AsyncIterator[dict[str, Any]]:
    """Every matching row, oldest first, read with a server-side cursor (the connection must be in a transaction)."""
    where, args = _where(tenant_id, f)
    query = f"SELECT {', '.join(EXPORT_COLUMNS)} FROM audit_log WHERE {where} ORDER BY seq"
    async for row in conn.cursor(query, *args, prefetch=1000):
        yield _plain(row)


def ndjson_line(row: dict[str, Any]) -> str:
    return json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"


def csv_header() -> str:
    return _csv_line(EXPORT_COLUMNS)


def csv_line(row: dict[str, Any]) -> str:
    def cell(value: Any) -> Any:
        if isinstance(value, dict | list):
            value = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        # a spreadsheet must not run a cell as a formula (CSV injection)
        if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
            value = "'" + value
        return value

    return _csv_line([cell(row[c]) for c in EXPORT_COLUMNS])


def _csv_line(values: Iterable[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()
