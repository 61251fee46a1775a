"""The data path, stage by stage: parse → identify → authorize → compute → mask → serialize → audit.

Every Grafana route that returns data goes through ``run`` (identify, then audit whatever happens) and,
for metric values, through ``answer_query``/``answer_annotations``: parse here, then authorize → compute →
mask in the one answer path every other reader uses too (``answer.py``), then serialize. A target that
fails keeps its error under its refId while the other targets still render; storage failures fail the
whole request (503). If the audit record cannot be written, nothing is served (AuditUnavailable → 503).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from success_metrics.calculators import CalculatorError, Frame, MetricDef, get_metric
from success_metrics.guard import audit_writer
from success_metrics.query.answer import Annotations, Answer, Context, Query
from success_metrics.query.protocol import parse, serialize
from success_metrics.query.protocol.errors import ProtocolError
from success_metrics.query.protocol.parse import ParsedTarget, Shape
from success_metrics.query.protocol.requests import AnnotationRequest, QueryRequest
from success_metrics.query.protocol.responses import Annotation, QueryItem
from success_metrics.rbac import Credentials, Forbidden, NoRole, Principal, RbacError, Unauthenticated, audit
from success_metrics.server import problems
from success_metrics.server.services import Services

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
        outcome: audit.Outcome
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
    await audit_writer.record(svc.db, trail.record())


# --- /query --------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Fitted:
    """One parsed target fitted to its metric: the query to answer, or the error it already has."""

    target: ParsedTarget
    query: Query | None = None
    notice: str | None = None
    error: ProtocolError | CalculatorError | None = None


async def answer_query(svc: Services, call: Call, body: QueryRequest) -> tuple[list[QueryItem], tuple[str, ...]]:
    """Every visible target's items, in request order, and the fields masking changed."""
    try:
        targets, failed = parse.metric_queries(body, svc.settings.limits), None  # parse
    except ProtocolError as exc:
        targets, failed = [], exc

    async def job(ctx: Context, trail: Trail) -> tuple[list[QueryItem], tuple[str, ...]]:
        svc.activity.note(ctx.principal.tenant_id)
        fitted = [fit(t) for t in targets]
        answers = iter(await svc.answers.answer(ctx, [f.query for f in fitted if f.query is not None]))
        items = [item for f in fitted                                   # authorize → compute (cached) → mask
                 for item in _items(svc, f, next(answers) if f.query is not None else Answer(None, f.error), trail)]
        return items, tuple(sorted(trail.masked))

    return await run(svc, call, "query", _resource(body, targets), job, parsed_error=failed)


def fit(target: ParsedTarget) -> Fitted:
    """A parsed target → the query the answer path takes (its metric's options and dimensions applied)."""
    try:
        if target.error is not None:
            raise target.error
        assert target.query is not None
        if target.shape is Shape.ANNOTATIONS:
            return Fitted(target, Annotations(target.query))
        metric_def = get_metric(target.query.metric)
        query, notice = parse.fit(target, metric_def.dimensions, plain_options(metric_def))
        return Fitted(target, query, notice)
    except (ProtocolError, CalculatorError) as exc:
        return Fitted(target, error=exc)


def _items(svc: Services, fitted: Fitted, answer: Answer, trail: Trail) -> list[QueryItem]:
    """One target's answer serialized; its failure becomes its error item."""
    ref_id = fitted.target.ref_id
    if answer.frame is not None:
        frame = answer.frame
        if fitted.notice:
            frame = replace(frame, notices=(*frame.notices, fitted.notice))
        _note(trail, frame)
        if fitted.target.shape is Shape.ANNOTATIONS:
            return [serialize.table(ref_id, frame)]
        return serialize.query_items(svc.serialized, ref_id, fitted.target.shape, frame)  # serialize
    exc = answer.error
    if isinstance(exc, Forbidden):
        trail.denied.append(ref_id)
    if isinstance(exc, ProtocolError | CalculatorError | Forbidden):
        return [serialize.error_item(ref_id, exc.message)]
    log.error("target %s failed (request %s)", ref_id, trail.call.request_id, exc_info=exc)
    return [serialize.error_item(ref_id, "The service failed to compute this query; it has been "
                                 f"logged (request id {trail.call.request_id}).")]


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


# --- /query/rows (Infinity's backend parser) ---------------------------------------------------------------

async def answer_rows(svc: Services, call: Call, body: QueryRequest) -> tuple[str, Frame]:
    """One target's frame (its refId and the masked frame). Its failure fails the request with its own status, so
    a Grafana alert rule on it goes to Error rather than No data."""
    try:
        targets, failed = parse.metric_queries(body, svc.settings.limits), None  # parse
        if len(targets) != 1:
            failed = ProtocolError(f"/query/rows answers one metric per request and this one names {len(targets)}; "
                                   "send one target (Infinity sends one per query).")
    except ProtocolError as exc:
        targets, failed = [], exc

    async def job(ctx: Context, trail: Trail) -> tuple[str, Frame]:
        svc.activity.note(ctx.principal.tenant_id)
        fitted = fit(targets[0])
        if fitted.query is None:
            assert fitted.error is not None
            raise fitted.error
        [answer] = await svc.answers.answer(ctx, [fitted.query])          # authorize → compute (cached) → mask
        if answer.frame is None:
            assert answer.error is not None
            raise answer.error
        frame = answer.frame
        if fitted.notice:
            frame = replace(frame, notices=(*frame.notices, fitted.notice))
        _note(trail, frame)
        return fitted.target.ref_id, frame

    return await run(svc, call, "query", _resource(body, targets), job, parsed_error=failed)


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
        frame = await svc.answers.annotations(ctx, query)                # authorize → compute (cached) → mask
        _note(trail, frame)
        return serialize.annotation_list(frame, body.annotation.model_dump(exclude_none=True)), frame.masked_fields

    return await run(svc, call, "query", resource, job, parsed_error=failed)
