"""The authorize stage: Principal + MetricQuery → Grant (the query bound to the tenant and row scope, plus
the field masks), or Forbidden. Deny by default.

A policy is a document validated by ``policy.schema.json`` (see ``default_policy.yaml``). Only this module
builds a ScopedQuery, so nothing can be computed without passing through ``authorize``.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml
from jsonschema import Draft202012Validator
from pydantic import BaseModel, ConfigDict, Field

from success_metrics.calculators import MetricDef
from success_metrics.calculators import MetricQuery, Operator, RowScope, ScopedQuery, ScopeKind
from success_metrics.calculators import Dimension, Sensitivity, TenantId
from success_metrics.rbac.errors import Forbidden, PolicyInvalid
from success_metrics.rbac.principal import Principal, Role


class MaskStrategy(StrEnum):
    HIDE = "hide"
    PSEUDONYMISE = "pseudonymise"
    PARTIAL = "partial"
    BUCKET = "bucket"
    AGGREGATE_ONLY = "aggregate-only"


class MaskRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    field: str
    strategy: MaskStrategy
    step: float | None = None
    label: str | None = None
    others_only: Literal["agent", "team"] | None = None

    def matches(self, field_name: str) -> bool:
        return fnmatch.fnmatchcase(field_name, self.field)


class RolePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    description: str = ""
    metrics: tuple[str, ...] = ()
    deny_metrics: tuple[str, ...] = ()
    sensitivities: frozenset[Sensitivity] = frozenset()
    visible: frozenset[Sensitivity] = frozenset()
    row_scope: ScopeKind = ScopeKind.SELF
    export: bool = False
    masks: tuple[MaskRule, ...] = ()


class Policy(BaseModel):
    """A validated policy document; roles it does not list may do nothing."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    description: str = ""
    roles: dict[Role, RolePolicy] = Field(default_factory=dict)

    def role(self, role: Role) -> RolePolicy | None:
        return self.roles.get(role)


@dataclass(frozen=True, slots=True)
class FieldMasks:
    """How one principal's fields are masked: the rules of their role and the classes shown unmasked."""

    principal: Principal
    rules: tuple[MaskRule, ...]
    visible: frozenset[Sensitivity]

    def rule_for(self, field_name: str) -> MaskRule | None:
        return next((r for r in self.rules if r.matches(field_name)), None)


@dataclass(frozen=True, slots=True)
class Grant:
    principal: Principal
    scoped: ScopedQuery
    masks: FieldMasks
    export: bool = False


# --- documents ---------------------------------------------------------------------------------------------

@cache
def schema() -> dict[str, Any]:
    text = (resources.files("success_metrics.rbac") / "policy.schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(schema())


def schema_errors(document: Any) -> list[dict[str, str]]:
    """Every JSON Schema error of ``document``, each with a JSON pointer and a reason, in document order."""
    errors = sorted(_validator().iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path])
    return [{"pointer": "/" + "/".join(str(p) for p in e.absolute_path), "reason": e.message} for e in errors]


def parse(document: Any) -> Policy:
    """Validate a policy document; PolicyInvalid lists every error and nothing changes."""
    errors = schema_errors(document)
    if errors:
        shown = "; ".join(f"{e['pointer']}: {e['reason']}" for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        raise PolicyInvalid(f"The policy has {len(errors)} error(s): {shown}{more}", errors)
    return Policy.model_validate(document)


def load_document(text: str) -> Any:
    """YAML (or JSON, which is YAML) text → document; unreadable text is a PolicyInvalid too."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyInvalid(f"The policy is not valid YAML/JSON: {exc}",
                            [{"pointer": "/", "reason": str(exc)}]) from None


@cache
def default_document() -> Mapping[str, Any]:
    loaded: Mapping[str, Any] = load_document((resources.files("success_metrics.rbac") / "default_policy.yaml").read_text("utf-8"))
    return loaded


@cache
def default_policy() -> Policy:
    return parse(default_document())


# --- decisions ---------------------------------------------------------------------------------------------

def _matches(name: str, globs: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(name, g) for g in globs)


def allowed(principal: Principal, metric: MetricDef, policy: Policy) -> bool:
    """May this principal query this metric at all? (discovery lists show only these)"""
    rules = policy.role(principal.role)
    return (
        rules is not None
        and _matches(metric.name, rules.metrics)
        and not _matches(metric.name, rules.deny_metrics)
        and metric.sensitivity in rules.sensitivities
    )


def field_masks(principal: Principal, policy: Policy) -> FieldMasks:
    """The masks of a principal's role, for values outside a metric query (annotations, variables, tag values)."""
    rules = policy.role(principal.role)
    if rules is None:
        return FieldMasks(principal, (), frozenset())
    return FieldMasks(principal, rules.masks, rules.visible)


def row_scope(principal: Principal, rules: RolePolicy) -> RowScope:
    match rules.row_scope:
        case ScopeKind.TENANT:
            return RowScope(ScopeKind.TENANT)
        case ScopeKind.TEAM:
            return RowScope(ScopeKind.TEAM, teams=principal.teams, agent_id=principal.agent_id)
        case ScopeKind.SELF:
            # no agent id → the scope matches no agent's rows, never all of them
            return RowScope(ScopeKind.SELF, teams=principal.teams, agent_id=principal.agent_id)


def authorize(principal: Principal, query: MetricQuery, metric: MetricDef, policy: Policy) -> Grant:
    rules = policy.role(principal.role)
    if rules is None:
        raise Forbidden(f"The policy of tenant {principal.tenant_id} gives role {principal.role.value} no access.")
    if metric.name != query.metric:
        raise Forbidden(f"The query names {query.metric!r} but was authorized against {metric.name!r}.")
    if not allowed(principal, metric, policy):
        raise Forbidden(f"Role {principal.role.value} may not query metric {metric.name!r}; "
                        f"ask an admin if you need it.")
    scope = row_scope(principal, rules)
    _own_agent_filters_only(principal, query, scope)
    _own_team_filters_only(principal, query, scope)
    scoped = ScopedQuery(tenant_id=TenantId(principal.tenant_id), query=query, scope=scope)
    return Grant(principal=principal, scoped=scoped, masks=field_masks(principal, policy), export=rules.export)


def _own_agent_filters_only(principal: Principal, query: MetricQuery, scope: RowScope) -> None:
    """Under a self scope an agent filter may name only the caller: a tenant-wide figure (a conversion rate,
    a lead count) filtered to another agent is that agent's own figure, which the role sees only masked."""
    if scope.kind is not ScopeKind.SELF:
        return
    for f in query.filters:
        if f.dimension is Dimension.AGENT and (f.operator is not Operator.EQ or set(f.values) != {scope.agent_id}):
            raise Forbidden(f"Role {principal.role.value} may filter agents only to themselves "
                            f"(agent = {scope.agent_id or 'your agent id'}); remove the agent filter.")


def _own_team_filters_only(principal: Principal, query: MetricQuery, scope: RowScope) -> None:
    """Under a team or self scope a team filter may name only the caller's teams: a tenant-wide figure
    filtered to another team (or to a one-agent team) is that team's or agent's own figure."""
    if scope.kind is ScopeKind.TENANT:
        return
    for f in query.filters:
        if f.dimension is Dimension.TEAM and (f.operator is not Operator.EQ or not set(f.values) <= set(scope.teams)):
            mine = ", ".join(scope.teams) or "none"
            raise Forbidden(f"Role {principal.role.value} may filter teams only to their own (team = one of: {mine}); "
                            "remove the team filter.")


def may_export(principal: Principal, policy: Policy) -> bool:
    rules = policy.role(principal.role)
    return rules is not None and rules.export

