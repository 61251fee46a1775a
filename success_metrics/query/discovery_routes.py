"""Names and options Grafana needs to build queries: /search, /metrics, /metric-payload-options, /variable,
/tag-keys, /tag-values (both dialects).

Each call is identified and audited (pipeline.run); lists show only metrics the caller's role may
query, and dimension values only as the caller may see them: within their row scope (a manager's teams,
an agent's own record) and masked by their role (pseudonymised agents, for instance).
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Request

from success_metrics.calculators import (
    Column,
    ColumnType,
    Dimension,
    Frame,
    Kind,
    MetricDef,
    Option,
    RowScope,
    ScopeKind,
    all_metrics,
    get_metric,
)
from success_metrics.query import pipeline
from success_metrics.query.answer import Context
from success_metrics.query.body_limit import LimitedBodyRoute
from success_metrics.query.protocol import parse, serialize
from success_metrics.query.protocol.errors import ProtocolError
from success_metrics.query.protocol.requests import (
    MetricPayloadOptionsRequest,
    MetricsRequest,
    SearchRequest,
    TagKeysRequest,
    TagValuesRequest,
    VariableRequest,
)
from success_metrics.query.protocol.responses import (
    MetricItem,
    MetricPayload,
    PayloadOption,
    SearchItem,
    TagKey,
    TagValue,
    VariableItem,
)
from success_metrics.query.routes import PROBLEMS, call_of
from success_metrics.rbac import Forbidden, masking, policy
from success_metrics.server.deps import ServicesDep
from success_metrics.server.services import Services

router = APIRouter(tags=["grafana"], route_class=LimitedBodyRoute)

METRICS_VARIABLE = "metrics"  # a variable query for the metric names themselves
# the field masking rules name for a dimension's values and for its labels
_FIELDS: dict[Dimension, tuple[str, str]] = {Dimension.AGENT: ("agent_id", "agent_name")}


def _allowed(ctx: Context) -> list[MetricDef]:
    return [m for m in all_metrics() if policy.allowed(ctx.principal, m, ctx.policy)]


async def _values(svc: Services, ctx: Context, dim: Dimension) -> list[tuple[str, str]]:
    """(value, label) of one dimension within the caller's row scope, masked for the caller; hidden ones dropped."""
    rules = ctx.policy.role(ctx.principal.role)
    if rules is None:
        raise Forbidden(f"Role {ctx.principal.role.value} has no access in this tenant's policy.")
    scope = policy.row_scope(ctx.principal, rules)
    found = await svc.answers.dimensions.get(ctx.principal.tenant_id, dim, scope)  # unmasked, kept briefly
    masked = masking.apply(_as_frame(dim, found, scope), policy.field_masks(ctx.principal, ctx.policy), ctx.mask_key)
    names = {c.name for c in masked.columns}
    if not {"value", "label"} <= names:  # the role may not see this dimension's values at all
        return []
    return [(str(v), str(t)) for v, t in zip(masked.column("value").values, masked.column("label").values,
                                             strict=True) if v is not None and t is not None]


def _as_frame(dim: Dimension, found: Sequence[tuple[str, str]], scope: RowScope) -> Frame:
    """Dimension values as a frame, so masking judges them as it judges any column (rules, sensitivity, owner).

    Agents listed under a team scope are all in the caller's teams (dimension_values keeps only those), which
    the ``team`` column says, so rules that spare the caller's own team spare them.
    """
    value_field, label_field = _FIELDS.get(dim, (dim.value, dim.value))
    columns = [Column("value", ColumnType.STRING, tuple(v for v, _ in found),
                      sensitivity=masking.sensitivity_of(value_field), field=value_field),
               Column("label", ColumnType.STRING, tuple(t for _, t in found),
                      sensitivity=masking.sensitivity_of(label_field), field=label_field)]
    if dim is Dimension.AGENT and scope.kind is ScopeKind.TEAM and scope.teams:
        columns.append(Column("team", ColumnType.STRING, (scope.teams[0],) * len(found), field="team"))
    return Frame(dim.value, Kind.TABLE, tuple(columns))


def _payloads(metric: MetricDef) -> list[MetricPayload]:
    return [MetricPayload(
        name=o.name, label=o.label, type="multi-select" if o.multi else "select",
        placeholder=f"All {o.label.lower()}" if o.dimension else (o.default or None),
        options=[PayloadOption(label=v, value=v) for v in o.values] if o.values else None,
    ) for o in metric.options]


def _option(metric: MetricDef, name: str) -> Option:
    found = next((o for o in metric.options if o.name == name), None)
    if found is None:
        known = ", ".join(o.name for o in metric.options) or "none"
        raise ProtocolError(f"Metric {metric.name!r} has no option {name!r}; its options: {known}.")
    return found


def _variable_dimension(name: str) -> Dimension:
    try:
        return parse.dimension(name)
    except ProtocolError:
        known = ", ".join(f"{d.value}s" for d in Dimension)
        raise ProtocolError(f"Unknown variable query {parse.shown(name)}: use one of {known}, "
                            f"or {METRICS_VARIABLE}.") from None


@router.post("/search", response_model=list[SearchItem], responses=PROBLEMS,
             summary="SimpleJSON: metric names matching the text, or a dimension's values (variable queries)")
async def search(body: SearchRequest, request: Request, services: ServicesDep) -> list[SearchItem]:
    text = (body.target or "").strip()

    async def job(ctx: Context, _: pipeline.Trail) -> list[SearchItem]:
        try:
            dim = parse.dimension(text) if text else None
        except ProtocolError:
            dim = None
        if dim is not None:
            return [SearchItem(text=label, value=value) for value, label in await _values(services, ctx, dim)]
        needle = text.lower()
        return [SearchItem(text=m.name, value=m.name) for m in _allowed(ctx)
                if needle in m.name.lower() or needle in m.title.lower()]

    return await pipeline.run(services, call_of(request), "discovery", {"search": text[:200]}, job)


@router.post("/metrics", response_model=list[MetricItem], response_model_exclude_none=True, responses=PROBLEMS,
             summary="JSON API plugin: the metrics the caller may query, each with its payload options")
async def metrics(body: MetricsRequest, request: Request, services: ServicesDep) -> list[MetricItem]:
    async def job(ctx: Context, _: pipeline.Trail) -> list[MetricItem]:
        return [MetricItem(label=m.title, value=m.name, payloads=_payloads(m)) for m in _allowed(ctx)]

    return await pipeline.run(services, call_of(request), "discovery", {"metrics": body.metric or ""}, job)


@router.post("/metric-payload-options", response_model=list[PayloadOption], responses=PROBLEMS,
             summary="JSON API plugin: the values of one metric option, as the caller may see them")
async def metric_payload_options(body: MetricPayloadOptionsRequest, request: Request,
                                 services: ServicesDep) -> list[PayloadOption]:
    async def job(ctx: Context, _: pipeline.Trail) -> list[PayloadOption]:
        metric = get_metric(body.metric)
        if not policy.allowed(ctx.principal, metric, ctx.policy):
            raise Forbidden(f"Role {ctx.principal.role.value} may not query metric {metric.name!r}.")
        option = _option(metric, body.name)
        if option.dimension is None:
            return [PayloadOption(label=v, value=v) for v in option.values]
        return [PayloadOption(label=t, value=v) for v, t in await _values(services, ctx, option.dimension)]

    resource = {"metric": body.metric, "option": body.name}
    return await pipeline.run(services, call_of(request), "discovery", resource, job)


@router.post("/variable", response_model=list[VariableItem], responses=PROBLEMS,
             summary="JSON API plugin: values of a query variable (sources, teams, agents, … or metrics)")
async def variable(body: VariableRequest, request: Request, services: ServicesDep) -> list[VariableItem]:
    name = parse.variable_target(body)

    async def job(ctx: Context, _: pipeline.Trail) -> list[VariableItem]:
        if name.lower() == METRICS_VARIABLE:
            return serialize.variables([(m.name, m.title) for m in _allowed(ctx)])
        return serialize.variables(await _values(services, ctx, _variable_dimension(name)))

    return await pipeline.run(services, call_of(request), "discovery", {"variable": name[:200]}, job)


@router.post("/tag-keys", response_model=list[TagKey], responses=PROBLEMS,
             summary="Ad-hoc filter keys: the dimensions")
async def tag_keys(request: Request, services: ServicesDep, body: TagKeysRequest | None = None) -> list[TagKey]:
    async def job(ctx: Context, _: pipeline.Trail) -> list[TagKey]:
        return [TagKey(type="string", text=d.value) for d in Dimension]

    return await pipeline.run(services, call_of(request), "discovery", {"tag_keys": True}, job)


@router.post("/tag-values", response_model=list[TagValue], responses=PROBLEMS,
             summary="Ad-hoc filter values of one key, as the caller may see them")
async def tag_values(body: TagValuesRequest, request: Request, services: ServicesDep) -> list[TagValue]:
    async def job(ctx: Context, _: pipeline.Trail) -> list[TagValue]:
        return serialize.tag_values(await _values(services, ctx, parse.dimension(body.key)))

    return await pipeline.run(services, call_of(request), "discovery", {"tag_values": body.key[:200]}, job)
