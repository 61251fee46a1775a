"""compute(conn, ScopedQuery) → Frame: look the metric up, check the query, load the tenant's settings, compute.

``conn`` is a tenant transaction (row-level security already confines it to ``sq.tenant_id``); every
statement still filters by tenant_id.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from success_metrics.calculators import buckets
from success_metrics.calculators.catalog import MetricDef, get
from success_metrics.calculators.errors import OutOfScope, UnsupportedFilter
from success_metrics.calculators.frames import Frame
from success_metrics.calculators.query import Operator, RowScope, ScopedQuery, ScopeKind
from success_metrics.calculators.tenant_settings import TenantSettings
from success_metrics.calculators.vocabulary import Dimension

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
    await check_agent_scope(conn, sq)
    s = settings if settings is not None else await load_settings(conn, sq.tenant_id)
    try:
        return await m.compute(conn, sq, s)
    except asyncpg.exceptions.InvalidRegularExpressionError as exc:
        raise UnsupportedFilter(f"A regular expression in the filters of {m.name} is invalid ({exc}); fix the "
                                "=~ or !~ filter's pattern.", metric=m.name) from None


def shared_query(sq: ScopedQuery, row_scoped: bool) -> ScopedQuery:
    """The query whose frame answers ``sq``: without its row scope when the computation does not read one, so a
    tenant-wide figure is computed (and cached) once for every role, not once per team and per agent. The scope's
    checks still apply to ``sq`` itself (success_metrics.rbac.policy.authorize, and check_agent_scope before
    computing)."""
    return sq if row_scoped or sq.scope.kind is ScopeKind.TENANT else ScopedQuery(sq.tenant_id, sq.query, RowScope())


def needs_agent_scope_check(sq: ScopedQuery) -> bool:
    """Whether check_agent_scope has anything to check (a team scope and an agent filter)."""
    return sq.scope.kind is ScopeKind.TEAM and any(f.dimension is Dimension.AGENT for f in sq.query.filters)


async def check_agent_scope(conn: asyncpg.Connection, sq: ScopedQuery) -> None:
    """Under a team scope an agent filter may name only agents of the caller's teams: a tenant-wide figure
    filtered to another team's agent is that agent's own figure. (success_metrics.rbac.policy checks team filters and
    the self scope; which team an agent is in is known only here.)"""
    if not needs_agent_scope_check(sq):
        return
    for f in sq.query.filters:
        if f.dimension is not Dimension.AGENT:
            continue
        outside = f.operator is not Operator.EQ or await conn.fetchval(
            "SELECT count(*) FROM unnest($2::text[]) AS a(id) WHERE NOT EXISTS (SELECT 1 FROM agents g "
            "WHERE g.tenant_id = $1 AND g.agent_id = a.id AND g.team_id = ANY($3::text[]))",
            sq.tenant_id, list(f.values), list(sq.scope.teams))
        if outside:
            raise OutOfScope(f"{sq.query.metric}: you may filter agents only to agents of your team(s) "
                             f"({', '.join(sq.scope.teams) or 'none'}) with '='; remove the agent filter.",
                             metric=sq.query.metric)


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

    async def execute(self, sql: str, *args: Any) -> str:
        self.statements.append((sql, args))
        return await self._conn.execute(sql, *args)

    def transaction(self) -> Any:
        """A savepoint, as on the connection (database.performance reads an extension that may refuse)."""
        return self._conn.transaction()


async def explain(conn: asyncpg.Connection, sq: ScopedQuery) -> tuple[Frame, list[Statement]]:
    """Compute and return the SQL statements (text and parameters) the computation ran, in order."""
    recorder = _Recorder(conn)
    frame = await compute(recorder, sq)  # type: ignore[arg-type]  # stands in for the methods metrics call
    return frame, recorder.statements
