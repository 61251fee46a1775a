"""Policy: the default role matrix over the real catalog, authorize, validation errors, versions in the database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

import success_metrics.calculators.metrics
from success_metrics.calculators import catalog
from success_metrics.calculators.query import MetricQuery, RowScope, ScopeKind
from success_metrics.calculators.vocabulary import MetricName, TenantId
from success_metrics.storage.pool import Database
from success_metrics.rbac import AuthMethod, Forbidden, PolicyInvalid, Principal, Role, policy
from success_metrics.rbac.policy_store import PolicyStore

START, END = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)


def who(role: Role, tenant: str = "acme", **kw: Any) -> Principal:
    return Principal(TenantId(tenant), f"{role.value}-1", role, AuthMethod.JWT, **kw)


def query(name: str) -> MetricQuery:
    return MetricQuery(MetricName(name), START, END)


# the matrix of docs/design.md, one hand-picked metric per row and column
MATRIX = {
    # metric:                   executive, manager, agent, admin, auditor
    "roi.monthly":             (True, True, False, True, False),
    "cost.benefit":            (True, True, False, True, False),
    "revenue.monthly_trend":   (True, True, False, True, False),
    "agents.scorecard":        (True, True, True, True, False),
    "conversion.lead_to_close": (True, True, True, True, False),
    "security.auth_events":    (False, False, False, True, True),
    "compliance.checks":       (False, False, False, True, True),
    "audit.access_log":        (False, False, False, True, True),
    "uptime.system":           (True, True, True, True, True),
    "components.latency":      (True, True, True, True, True),
}
ROLES = (Role.EXECUTIVE, Role.MANAGER, Role.AGENT, Role.ADMIN, Role.AUDITOR)


@pytest.mark.parametrize("metric", sorted(MATRIX))
def test_default_policy_follows_the_role_matrix(metric: str) -> None:
    rules = policy.default_policy()
    got = tuple(policy.allowed(who(r), catalog.get(metric), rules) for r in ROLES)
    assert got == MATRIX[metric]


def test_authorize_binds_tenant_and_row_scope_and_refuses_by_name() -> None:
    rules = policy.default_policy()
    card = catalog.get("agents.scorecard")
    manager = who(Role.MANAGER, "globex", teams=("north",), agent_id="m1")
    grant = policy.authorize(manager, query("agents.scorecard"), card, rules)
    assert grant.scoped.tenant_id == "globex" and grant.scoped.query == query("agents.scorecard")
    assert grant.scoped.scope == RowScope(ScopeKind.TEAM, teams=("north",), agent_id="m1")
    assert grant.export is False
    agent = policy.authorize(who(Role.AGENT, agent_id="a9"), query("agents.scorecard"), card, rules)
    assert agent.scoped.scope.kind is ScopeKind.SELF and agent.scoped.scope.agent_id == "a9"
    assert policy.authorize(who(Role.EXECUTIVE), query("agents.scorecard"), card, rules).scoped.scope == RowScope()
    with pytest.raises(Forbidden, match="Role agent may not query metric 'roi.monthly'"):
        policy.authorize(who(Role.AGENT), query("roi.monthly"), catalog.get("roi.monthly"), rules)
    with pytest.raises(Forbidden, match="authorized against"):
        policy.authorize(who(Role.ADMIN), query("roi.monthly"), card, rules)


def test_a_role_the_policy_does_not_list_may_do_nothing() -> None:
    only_admin = policy.parse({"roles": {"admin": {"metrics": ["*"], "sensitivities": ["public"],
                                                   "row_scope": "tenant"}}})
    metric = catalog.get("uptime.system")
    assert not policy.allowed(who(Role.EXECUTIVE), metric, only_admin)
    with pytest.raises(Forbidden, match="gives role executive no access"):
        policy.authorize(who(Role.EXECUTIVE), query("uptime.system"), metric, only_admin)
    # deny by default: no `visible` classes → every field without a mask is hidden
    assert policy.field_masks(who(Role.ADMIN), only_admin).visible == frozenset()


def test_validation_reports_every_error_with_its_pointer() -> None:
    bad = {"roles": {
        "boss": {},
        "agent": {"metrics": ["ok", "bad glob!"], "sensitivities": ["secret"], "row_scope": "everyone",
                  "masks": [{"field": "revenue", "strategy": "bucket"}, {"field": "x", "strategy": "hide", "step": 5}]},
    }}
    with pytest.raises(PolicyInvalid) as caught:
        policy.parse(bad)
    pointers = [e["pointer"] for e in caught.value.errors]
    assert pointers == ["/roles", "/roles/agent/masks/0", "/roles/agent/masks/1", "/roles/agent/metrics/1",
                        "/roles/agent/row_scope", "/roles/agent/sensitivities/0"]
    assert "6 error(s)" in caught.value.message and "'boss' was unexpected" in caught.value.message


async def test_store_replace_history_rollback_and_invalid_changes_nothing(db: Database, new_tenant_id: Any) -> None:
    tid = new_tenant_id("pol")
    store, admin = PolicyStore(), who(Role.ADMIN, tid)
    narrowed = {**policy.default_document(), "description": "no agents"}
    narrowed["roles"] = {k: v for k, v in narrowed["roles"].items() if k != "agent"}
    async with db.tenant(tid) as conn:
        assert (await store.current(conn, tid))[0] == 0  # nothing stored: the default
        v1 = await store.replace(conn, tid, narrowed, admin, comment="agents off")
        assert (v1.version, v1.changed_by, v1.comment) == (1, admin.subject, "agents off")
        version, current = await store.current(conn, tid)
        assert version == 1 and current.role(Role.AGENT) is None
        with pytest.raises(PolicyInvalid):
            await store.replace(conn, tid, {"roles": {"agent": {"metrics": "all"}}}, admin)
        assert (await store.current(conn, tid))[0] == 1
        v2 = await store.rollback(conn, tid, 0, admin)
        assert (v2.version, v2.comment) == (2, "rollback to version 0")
        assert (await store.current(conn, tid))[1].role(Role.AGENT) is not None
        v3 = await store.rollback(conn, tid, 1, admin)
        assert (await store.current(conn, tid))[1].role(Role.AGENT) is None
        assert [v.version for v in await store.history(conn, tid)] == [3, 2, 1]
        assert v3.document == narrowed
        changes = await conn.fetch("SELECT resource FROM audit_log WHERE tenant_id = $1 AND action = 'policy.change' "
                                   "ORDER BY seq", tid)
        assert [c["resource"]["version"] for c in changes] == [1, 2, 3]
        with pytest.raises(PolicyInvalid, match="no policy version 9"):
            await store.rollback(conn, tid, 9, admin)
