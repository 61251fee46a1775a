"""The data path, stage by stage: parse → identify → authorize → compute → mask → serialize → audit.

Every Grafana route that returns data goes through ``run`` (identify, then audit whatever happens) and,
for metric values, through ``answer_query``/``answer_annotations``: one call per stage. A target that
fails keeps its error under its refId while the other targets still render; storage failures fail the
whole request (503). Computing is cached per tenant and row scope (``cache.py``); masking runs after the
cache, per principal. If the audit record cannot be written, nothing is served (AuditUnavailable → 503).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from calculators import (
    CalculatorError, Frame, MetricDef, MetricName, MetricQuery, ScopedQuery, annotations, check_agent_scope, compute,
    get_metric, needs_agent_scope_check, shared_query,
)
from datasource import access, problems, tenants
from datasource.protocol import parse, serialize
from datasource.protocol.errors import ProtocolError
from datasource.protocol.parse import ParsedTarget, Shape
from datasource.protocol.requests import AnnotationRequest, QueryRequest
from datasource.protocol.responses import Annotation, QueryItem
from datasource.services import Services
from datasource.storage.errors import StorageError
from rbac import Forbidden, NoRole, Principal, RbacError, Unauthenticated, audit, masking, policy
from rbac.identity import Credentials

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Call:
    """The request as the HTTP layer saw it: credentials (secret) and what the audit record needs."""

    creds: Credentials
    route: str
    request_id: str | None = None
    client_addr: str | None = None
    user_agent: str | None = None


@dataclass
class Trail:
    """What the audit record of one request will say; filled in as the stages run."""

    call: Call
    action: str
    resource: dict[str, Any]
    started: float = field(default_factory=time.perf_counter)
    principal: Principal | None = None
    masked: set[str] = field(default_factory=set)
    rows: int = 0
    served: int = 0  # frames served (a frame of 0 rows too)
    denied: list[str] = field(default_factory=list)  # refIds refused by policy
    error: BaseException | None = None

    def record(self) -> audit.AuditRecord:
        latency = (time.perf_counter() - self.started) * 1000
        common: dict[str, Any] = dict(
            resource={"route": self.call.route, **self.resource}, masked_fields=tuple(sorted(self.masked)),
            rows_returned=self.rows, latency_ms=latency, request_id=self.call.request_id,
            client_addr=self.call.client_addr, user_agent=(self.call.user_agent or "")[:512] or None)
        if self.principal is None:  # identify failed: an auth.failure under the tenant it claimed, if it did
            tenant = getattr(self.error, "tenant_id", None) or audit.UNATTRIBUTED
            if isinstance(self.error, Unauthenticated | NoRole):
                return audit.AuditRecord(tenant_id=tenant, action="auth.failure", outcome="denied",
                                         status=_status(self.error), reason=_reason(self.error), **common)
            return audit.AuditRecord(tenant_id=tenant, action=self.action, outcome="error",
                                     status=_status(self.error) if self.error else 500, reason=_reason(self.error),
                                     **common)
        if self.error is None:
            outcome, status = ("denied", 403) if self.denied and not self.served else ("success", 200)
            reason = f"refused: {', '.join(self.denied)}" if self.denied else None
        else:
            denied = isinstance(self.error, RbacError | ProtocolError | CalculatorError)
            outcome, status = ("denied" if denied else "error"), _status(self.error)
            reason = _reason(self.error)
        return audit.AuditRecord.of(self.principal, self.action, outcome, status, reason=reason, **common)


def _reason(exc: BaseException | None) -> str:
    return (getattr(exc, "message", None) or exc.__class__.__name__)[:2000] if exc else ""


def _status(exc: BaseException) -> int:
    found = problems.status_for(exc)  # the one table of statuses
    return found[0] if found else 500


@dataclass(frozen=True, slots=True)
class Context:
    """Who asks and under which policy: the output of identify, handed to each later stage."""

    principal: Principal
    policy: policy.Policy
    mask_key: bytes


async def run(svc: Services, call: Call, action: str, resource: dict[str, Any],
              job: Callable[[Context, Trail], Awaitable[T]], *, parsed_error: ProtocolError | None = None) -> T:
    """identify → job → audit. ``parsed_error`` (a parse failure) is raised after identify so it is audited."""
    trail = Trail(call, action, resource)
    try:
        ctx = await identify(svc, call)                              # identify
        trail.principal = ctx.principal
        if parsed_error is not None:
            raise parsed_error
        return await job(ctx, trail)                                 # authorize → compute → mask → serialize
    except BaseException as exc:
        trail.error = exc
        raise
    finally:
        await record(svc, trail)                                     # audit: if this raises, nothing is served


async def identify(svc: Services, call: Call) -> Context:
    principal = await svc.identifier.identify(call.creds, svc.db.system)
    found = svc.policies.recent(principal.tenant_id)  # a transaction per request saved (policy_store.py)
    if found is None:
        async with svc.db.tenant(principal.tenant_id) as conn:
            found = await svc.policies.current(conn, principal.tenant_id, remember=True)
    return Context(principal, found[1], svc.pseudonym_key(principal.tenant_id))


async def record(svc: Services, trail: Trail) -> None:
    """One record per request: its action (or auth.failure when identify failed) — the query record itself
    says who was authenticated and how, so a successful identify is not recorded twice."""
    await access.record(svc.db, trail.record())


# --- /query --------------------------------------------------------------------------------------------

async def answer_query(svc: Services, call: Call, body: QueryRequest) -> tuple[list[QueryItem], tuple[str, ...]]:
    """Every visible target's items, in request order, and the fields masking changed."""
    try:
        targets, failed = parse.metric_queries(body, svc.settings.limits), None  # parse
    except ProtocolError as exc:
        targets, failed = [], exc

    async def job(ctx: Context, trail: Trail) -> tuple[list[QueryItem], tuple[str, ...]]:
        svc.cache.note_asked(ctx.principal.tenant_id)
        if len(targets) == 1:  # a panel's usual single target: no tasks to gather
            answers = [await _target(svc, ctx, targets[0], trail)]
        else:
            answers = await asyncio.gather(*(_target(svc, ctx, t, trail) for t in targets))
        items = [item for answer in answers for item in answer]
        return items, tuple(sorted(trail.masked))

    return await run(svc, call, "query", _resource(body, targets), job, parsed_error=failed)


async def _target(svc: Services, ctx: Context, target: ParsedTarget, trail: Trail) -> list[QueryItem]:
    """One target through authorize → compute → mask → serialize; its failure becomes its error item."""
    try:
        if target.error is not None:
            raise target.error
        assert target.query is not None
        if target.shape is Shape.ANNOTATIONS:
            frame = await _annotation_frame(svc, ctx, target.query, trail)
            return [serialize.table(target.ref_id, frame)]
        metric_def = get_metric(target.query.metric)
        query, notice = parse.fit(target, metric_def.dimensions, plain_options(metric_def))
        grant = policy.authorize(ctx.principal, query, metric_def, ctx.policy)            # authorize
        frame = await cached_frame(svc, grant.scoped, metric_def.row_scoped)              # compute (cached)
        masked = masking.apply(frame, grant, ctx.mask_key)                                # mask
        if notice:
            masked = replace(masked, notices=(*masked.notices, notice))
        _note(trail, masked)
        return serialize.query_items(target.ref_id, target.shape, masked)                 # serialize
    except (ProtocolError, CalculatorError, Forbidden) as exc:
        if isinstance(exc, Forbidden):
            trail.denied.append(target.ref_id)
        return [serialize.error_item(target.ref_id, exc.message)]
    except (StorageError, RbacError, asyncio.CancelledError):
        raise  # the service cannot answer at all: the whole request fails (503 / 401 / 403)
    except Exception:
        log.exception("target %s failed (request %s)", target.ref_id, trail.call.request_id)
        return [serialize.error_item(target.ref_id, "The service failed to compute this query; it has been "
                                     f"logged (request id {trail.call.request_id}).")]


async def cached_frame(svc: Services, scoped: ScopedQuery, row_scoped: bool, *,
                       background: bool = False) -> Frame:
    """The frame answering ``scoped``, from the cache or computed (once however many ask at once); ``background``:
    computed ahead of anyone asking (the warmer), in the lane that never holds up a waiting user."""
    shared = shared_query(scoped, row_scoped)
    if shared is not scoped and needs_agent_scope_check(scoped):
        # the shared entry was computed without this caller's scope: check the scope's agent filter first, hit or not
        async with svc.db.tenant(scoped.tenant_id) as conn:
            await check_agent_scope(conn, scoped)

    async def fresh() -> Frame:
        async with svc.db.tenant(shared.tenant_id) as conn:
            return await compute(conn, shared)

    return await svc.cache.get_or_compute(shared, fresh, background=background)


def plain_options(metric_def: MetricDef) -> list[str]:
    """Options that are not dimensions (dimension options arrive as filters)."""
    return [o.name for o in metric_def.options if o.dimension is None]


def _note(trail: Trail, frame: Frame) -> None:
    trail.masked.update(frame.masked_fields)
    trail.rows += frame.row_count
    trail.served += 1


def _resource(body: QueryRequest, targets: Sequence[ParsedTarget]) -> dict[str, Any]:
    return {
        "metrics": sorted({t.query.metric for t in targets if t.query is not None}),
        "range": {"from": str(body.range.from_), "to": str(body.range.to)},
        "filters": [f.model_dump(include={"key", "operator", "value"}) for f in
                    (body.filters or []) + (body.adhocFilters or [])][:20],
    }


# --- annotations -----------------------------------------------------------------------------------------

async def answer_annotations(svc: Services, call: Call,
                             body: AnnotationRequest) -> tuple[list[Annotation], tuple[str, ...]]:
    """SimpleJSON's POST /annotations: every kind the query names (all the caller may see when empty)."""
    try:
        query, failed = parse.annotation_query(body, svc.settings.limits), None  # parse
    except ProtocolError as exc:
        query, failed = None, exc
    resource = {"annotations": body.annotation.query or "", "range": {"from": str(body.range.from_),
                                                                      "to": str(body.range.to)}}

    async def job(ctx: Context, trail: Trail) -> tuple[list[Annotation], tuple[str, ...]]:
        assert query is not None
        frame = await _annotation_frame(svc, ctx, query, trail)
        return serialize.annotations(frame, body.annotation.model_dump(exclude_none=True)), frame.masked_fields

    return await run(svc, call, "query", resource, job, parsed_error=failed)


async def _annotation_frame(svc: Services, ctx: Context, query: MetricQuery, trail: Trail) -> Frame:
    """The kinds named in ``query.metric`` (comma list; empty = every kind the caller may see), merged by time."""
    named = [k for k in query.metric.split(",") if k.strip()]
    grants = []
    for found in annotations.kinds(named):
        if not policy.allowed(ctx.principal, found, ctx.policy):
            if named:  # asked by name: say so; asked for "all": just leave it out
                raise Forbidden(f"Role {ctx.principal.role.value} may not see {found.title.lower()} annotations.")
            continue
        grant = policy.authorize(ctx.principal, kind_query(found, query), found, ctx.policy)  # authorize
        grants.append((grant, found))
    computed = await asyncio.gather(*(cached_annotations(svc, g.scoped, found) for g, found in grants))  # compute
    frames = [masking.apply(frame, g, ctx.mask_key) for frame, (g, _) in zip(computed, grants, strict=True)]  # mask
    for frame in frames:
        _note(trail, frame)
    return serialize.merge_annotations(frames)


def kind_query(kind: annotations.AnnotationKind, query: MetricQuery) -> MetricQuery:
    """One annotation kind's query over the range of an annotation request."""
    return MetricQuery(metric=MetricName(kind.name), start=query.start, end=query.end)


async def cached_annotations(svc: Services, scoped: ScopedQuery, kind: annotations.AnnotationKind, *,
                             background: bool = False) -> Frame:
    """One annotation kind's frame, from the cache or computed (``background`` as for cached_frame)."""
    shared = shared_query(scoped, kind.row_scoped)

    async def fresh() -> Frame:
        async with svc.db.tenant(shared.tenant_id) as conn:
            settings = await tenants.load_settings(conn, shared.tenant_id)
            return await annotations.compute(conn, shared, settings)

    return await svc.cache.get_or_compute(shared, fresh, background=background)
