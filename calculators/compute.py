"""compute(conn, ScopedQuery) → Frame: look the metric up, check the query, load the tenant's settings, compute.

``conn`` is a tenant transaction (row-level security already confines it to ``sq.tenant_id``); every
statement still filters by tenant_id.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from calculators import buckets
import calculators.metrics  # noqa: F401  (importing the areas registers every metric)
from calculators.catalog import MetricDef, get
from calculators.errors import UnsupportedFilter
from calculators.frames import Frame
from calculators.query import Operator, ScopedQuery
from calculators.tenant import TenantSettings

Statement = tuple[str, tuple[Any, ...]]

STRING_OPERATORS = frozenset({Operator.EQ, Operator.NE, Operator.REGEX, Operator.NOT_REGEX})


def check_filters(m: MetricDef, sq: ScopedQuery) -> None:
    for f in sq.query.filters:
        if f.dimension not in m.dimensions:
            allowed = ", ".join(sorted(d.value for d in m.dimensions)) or "none"
            raise UnsupportedFilter(
                f"{m.name} cannot be filtered by {f.dimension.value!r}; its dimensions are: {allowed}.", metric=m.name)
        if f.operator not in STRING_OPERATORS:
            raise UnsupportedFilter(
                f"Filter operator {f.operator.value!r} does not apply to {f.dimension.value!r} of {m.name}; "
                "use =, !=, =~ or !~.", metric=m.name)
        if not f.values:
            raise UnsupportedFilter(f"The {f.dimension.value!r} filter of {m.name} has no value.", metric=m.name)


async def load_settings(conn: asyncpg.Connection, tenant_id: str) -> TenantSettings:
    raw = await conn.fetchval("SELECT settings FROM tenants WHERE tenant_id = $1", tenant_id)
    return TenantSettings.model_validate(raw or {})


async def compute(conn: asyncpg.Connection, sq: ScopedQuery, settings: TenantSettings | None = None) -> Frame:
    m = get(sq.query.metric)
    buckets.check_range(sq.query)
    check_filters(m, sq)
    s = settings if settings is not None else await load_settings(conn, sq.tenant_id)
    try:
        return await m.compute(conn, sq, s)
    except asyncpg.exceptions.InvalidRegularExpressionError as exc:
        raise UnsupportedFilter(f"A regular expression in the filters of {m.name} is invalid ({exc}); fix the "
                                "=~ or !~ filter's pattern.", metric=m.name) from None


class _Recorder:
    """A connection that records each statement a computation runs, then runs it."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn
        self.statements: list[Statement] = []

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        self.statements.append((sql, args))
        return await self._conn.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        self.statements.append((sql, args))
        return await self._conn.fetchrow(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        self.statements.append((sql, args))
        return await self._conn.fetchval(sql, *args)


async def explain(conn: asyncpg.Connection, sq: ScopedQuery) -> tuple[Frame, list[Statement]]:
    """Compute and return the SQL statements (text and parameters) the computation ran, in order."""
    recorder = _Recorder(conn)
    frame = await compute(recorder, sq)  # type: ignore[arg-type]
    return frame, recorder.statements
