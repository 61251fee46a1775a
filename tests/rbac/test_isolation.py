"""Isolation in depth: row-level security, and for every role a property over metrics and filters that the
authorize → compute → mask path shows no other tenant's rows, no other person's identity, and no field the
role may not see unmasked.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from success_metrics.calculators import catalog, shapes
from success_metrics.calculators.compute import compute
from success_metrics.calculators.errors import OutOfScope
from success_metrics.calculators.query import Filter, MetricQuery, Operator
from success_metrics.calculators.vocabulary import ColumnType, Dimension, MetricName, Sensitivity, TenantId
from success_metrics.storage import tenants
from success_metrics.settings import TenantConfig
from success_metrics.storage.pool import Database
from success_metrics.rbac import AuthMethod, Forbidden, Principal, Role, masking, policy

A, B = "iso-a", "iso-b"
KEY = masking.tenant_key(b"x" * 32, A)
AGENTS = {"a1": ("Ann Lee", "north"), "a2": ("Bob Ray", "north"), "a3": ("Cy Fox", "south")}
OTHER_TENANT = {"zb1", "Zed Other", "zteam", "Zeta", 9999.0}
PER_AGENT = sorted(m.name for m in catalog.all_metrics() if Dimension.AGENT in m.dimensions)
RANGE = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))


@pytest.fixture(scope="module")
async def two_tenants(db: Database) -> None:
    async with db.system() as conn:
        if await conn.fetchval("SELECT count(*) FROM agents WHERE tenant_id = $1", A):
            return
        for tid in (A, B):
            await tenants.upsert(conn, TenantConfig(id=tid, name=tid))
        await conn.executemany("INSERT INTO teams VALUES ($1, $2, $3)",
                               [(A, "north", "North Team"), (A, "south", "South Team"), (B, "zteam", "Zeta")])
        await conn.executemany("INSERT INTO agents (tenant_id, agent_id, name, team_id) VALUES ($1, $2, $3, $4)",
                               [(A, k, name, team) for k, (name, team) in AGENTS.items()]
                               + [(B, "zb1", "Zed Other", "zteam")])
        leads = [(A, "l1", "a1", "north", 5, 1000), (A, "l2", "a2", "north", 6, 2000),
                 (A, "l3", "a3", "south", 7, None), (B, "lz", "zb1", "zteam", 5, 9999)]
        for tid, lead, agent, team, day, value in leads:
            created = datetime(2026, 1, day, tzinfo=UTC)
            await conn.execute(
                """INSERT INTO leads (tenant_id, lead_id, agent_id, team_id, created_at, routed_at, source, score,
                                      closed_at, deal_value, attribution_class)
                   VALUES ($1, $2, $3, $4, $5, $5, 'referral', 85, $6, $7, $8)""",
                tid, lead, agent, team, created, created if value else None, value, "direct" if value else None)


async def test_rls_returns_nothing_of_another_tenant_to_an_unfiltered_query(db: Database, two_tenants: None) -> None:
    async with db.tenant(A) as conn:
        # deliberately no WHERE tenant_id: row-level security is all that stands between the tenants
        assert sorted(r["agent_id"] for r in await conn.fetch("SELECT agent_id FROM agents")) == ["a1", "a2", "a3"]
        assert {r["tenant_id"] for r in await conn.fetch("SELECT tenant_id FROM leads")} == {A}
        assert await conn.fetchval("SELECT count(*) FROM teams WHERE team_id = 'zteam'") == 0
        assert {r["tenant_id"] for r in await conn.fetch("SELECT DISTINCT tenant_id FROM audit_log")} <= {A}
    async with db.tenant("nobody-at-all") as conn:
        assert await conn.fetchval("SELECT count(*) FROM agents") == 0


principals = st.builds(
    lambda role, agent, teams: Principal(TenantId(A), f"{role.value}-x", role, AuthMethod.JWT, agent_id=agent,
                                         teams=tuple(sorted(teams))),
    st.sampled_from(list(Role)), st.sampled_from(["a1", "a2", "a3", None]),
    st.sets(st.sampled_from(["north", "south"]), max_size=2),
)
filters = st.lists(st.builds(
    lambda dim, op, value: Filter(dim, op, (value,)), st.sampled_from([Dimension.AGENT, Dimension.TEAM]),
    st.sampled_from([Operator.EQ, Operator.NE, Operator.REGEX]),
    st.sampled_from(["a1", "a2", "a3", "zb1", "north", "south", "zteam", ".*"])), max_size=2)


def _cells(frame: Any) -> list[Any]:
    return [v for c in frame.columns for v in c.values]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(who=principals, metric=st.sampled_from(PER_AGENT), flt=filters)
async def test_no_role_sees_what_it_may_not(db: Database, two_tenants: None, who: Principal, metric: str,
                                            flt: list[Filter]) -> None:
    rules = policy.default_policy()
    definition = catalog.get(metric)
    usable = tuple(f for f in flt if f.dimension in definition.dimensions)
    query = MetricQuery(MetricName(metric), *RANGE, interval_ms=86_400_000, filters=usable)
    try:
        grant = policy.authorize(who, query, definition, rules)
    except Forbidden:
        # refused: a metric the role may not query, (self scope) an agent filter naming anyone but the caller,
        # or (team and self scopes) a team filter naming a team that is not the caller's
        foreign_agent = who.role is Role.AGENT and any(
            f.dimension is Dimension.AGENT and (f.operator is not Operator.EQ or f.values != (who.agent_id,))
            for f in usable)
        foreign_team = who.role in (Role.AGENT, Role.MANAGER) and any(
            f.dimension is Dimension.TEAM and (f.operator is not Operator.EQ or not set(f.values) <= set(who.teams))
            for f in usable)
        assert not policy.allowed(who, definition, rules) or foreign_agent or foreign_team
        return
    async with db.tenant(grant.scoped.tenant_id) as conn:
        try:
            frame = await compute(conn, grant.scoped)
        except OutOfScope:
            # (team scope) an agent filter naming an agent outside the manager's teams, or not with '='
            assert who.role is Role.MANAGER and any(
                f.dimension is Dimension.AGENT and (f.operator is not Operator.EQ or any(
                    AGENTS.get(v, (None, None))[1] not in who.teams for v in f.values)) for f in usable)
            return
    try:
        shown = masking.apply(frame, grant, KEY)
    except Forbidden:
        return
    cells = _cells(shown)
    assert not OTHER_TENANT & {c for c in cells if isinstance(c, str | float)}, "another tenant's data leaked"
    masks = grant.masks
    for column in shown.columns:
        if column.type.value == "time":
            continue
        # every field shown is one the role sees, or one a rule of the role masked
        assert column.sensitivity in masks.visible or masks.rule_for(column.field_name), column.field_name
    visible_people = {v for c in shown.columns if c.field_name in ("agent", "agent_id") for v in c.values}
    if who.role is Role.AGENT:
        own = {who.agent_id, AGENTS[who.agent_id][0]} if who.agent_id else set()
        others = {k for k in AGENTS} | {n for n, _ in AGENTS.values()}
        assert not (visible_people & (others - own)), "another agent's identity shown to an agent"
        ids = next((c.values for c in frame.columns if c.field_name == "agent_id"), None)
        for column in shown.columns:
            if column.field_name.startswith("revenue") and ids is not None:
                assert all(v is None for v, i in zip(column.values, ids, strict=True) if i != who.agent_id)
    if who.role is Role.MANAGER:
        outside = {k for k, (_, team) in AGENTS.items() if team not in who.teams}
        outside |= {AGENTS[k][0] for k in outside}
        assert not (visible_people & outside), "another team's agent shown to a manager"
    if who.role is Role.AUDITOR:
        assert all(c.sensitivity.value in ("public", "security") for c in shown.columns)


# the same property on frames synthesised from the catalog's column shapes, with rows of every agent
# (as if the SQL row scope had failed), so masking alone must hold the line
POOL = [shapes.AGENT_ID, shapes.AGENT, shapes.TEAM, shapes.money("revenue"), shapes.money("avg_deal", "deal_value"),
        shapes.money("monthly", "cost"), shapes.num("leads"),
        shapes.Col("email", ColumnType.STRING, sensitivity=Sensitivity.CONTACT, field="contact.email"),
        shapes.Col("ssn", ColumnType.STRING, sensitivity=Sensitivity.CONTACT),
        shapes.Col("failures", sensitivity=Sensitivity.SECURITY, field="failures")]
EMAIL = {"a1": "ann@x.com", "a2": "bob@y.com", "a3": "cy@z.com"}


def _value(col: shapes.Col, agent: str, i: int) -> Any:
    return {"agent_id": agent, "agent": AGENTS[agent][0], "team": AGENTS[agent][1], "revenue": 100.0 * (i + 1),
            "avg_deal": 10.0 * (i + 1), "monthly": 5.0, "leads": i, "email": EMAIL[agent], "ssn": f"ssn-{agent}",
            "failures": 1}[col.name]


@settings(max_examples=150, deadline=None)
@given(who=principals, cols=st.lists(st.sampled_from(POOL), min_size=1, max_size=6, unique_by=lambda c: c.name),
       agents=st.lists(st.sampled_from(sorted(AGENTS)), min_size=1, max_size=5))
def test_masking_alone_keeps_each_role_within_its_allowance(who: Principal, cols: list[shapes.Col],
                                                            agents: list[str]) -> None:
    frame = shapes.table("t", cols, [[_value(c, a, i) for c in cols] for i, a in enumerate(agents)])
    masks = policy.field_masks(who, policy.default_policy())
    shown = masking.apply(frame, masks, KEY)
    if who.role is Role.ADMIN:
        assert shown == frame
        return
    for column in shown.columns:
        assert column.sensitivity in masks.visible or masks.rule_for(column.field_name), column.field_name
        if column.sensitivity is Sensitivity.CONTACT and column.field_name != "contact.email":
            raise AssertionError("a contact field no rule names was shown")
    own = [who.role is Role.AGENT and a == who.agent_id for a in agents]
    mine = [who.role is Role.MANAGER and AGENTS[a][1] in who.teams and any(c.name == "team" for c in cols)
            for a in agents]
    for column in shown.columns:
        for i, value in enumerate(column.values):
            agent = agents[i]
            if column.field_name in ("agent", "agent_id") and not (own[i] or mine[i]) \
                    and who.role in (Role.AGENT, Role.MANAGER):
                assert value not in (agent, AGENTS[agent][0]), "another person's identity in clear"
            if column.field_name == "contact.email" and not own[i]:
                assert value != EMAIL[agent], "contact data in clear"
            if column.field_name in ("revenue", "deal_value") and who.role is Role.AGENT and not own[i]:
                assert value is None, "another agent's revenue shown"
    if who.role is Role.AUDITOR:
        assert {c.sensitivity for c in shown.columns} <= {Sensitivity.PUBLIC, Sensitivity.SECURITY}
    if who.role is Role.AGENT:
        assert not any(c.field_name == "cost" for c in shown.columns)
