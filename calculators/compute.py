"""compute(conn, ScopedQuery) → Frame: look the metric up, check the query, load the tenant's settings, compute.

``conn`` is a tenant transaction (row-level security already confines it to ``sq.tenant_id``); every
statement still filters by tenant_id.
"""

from __future__ import annotations

import asyncpg

from calculators import buckets
from calculators.catalog import MetricDef, get
from calculators.errors import UnsupportedFilter
from calculators.frames import Frame
from calculators.metrics import __all__ as _areas  # noqa: F401  (importing registers every metric)
from calculators.query import Operator, ScopedQuery
from calculators.tenant import TenantSettings

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
    return await m.compute(conn, sq, s)
