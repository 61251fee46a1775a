"""Alert history (``GET /api/alerts``) and, for Admins, alert rules, notification channels and report
schedules under ``/api/admin/…``. The tenant is always the verified principal's; every read of the
history and every change is audited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel

from success_metrics.calculators import alert_lineage, get_metric
from success_metrics.guard import audit_writer, identification
from success_metrics.notify.alerts import channels, rules
from success_metrics.server.deps import AdminDep, PrincipalDep, ServicesDep
from success_metrics.notify.reports import delivery
from success_metrics.notify.reports.schedule import ReportKind
from success_metrics.rbac import Principal, audit, masking, policy

router = APIRouter(tags=["alerts"])

HISTORY_METRIC = "alerts.action_items"  # who may see action items may see the alerts behind them


class AlertEvent(BaseModel):
    event_id: int
    rule_id: str
    family: str
    severity: str
    state: Literal["firing", "resolved"]
    started_at: datetime
    resolved_at: datetime | None
    title: str
    summary: str
    value: float | None
    threshold: float | None


class RuleOut(BaseModel):
    rule: dict[str, Any]
    builtin: bool
    state: str
    since: datetime | None


async def _changed(svc: ServicesDep, who: Principal, request: Request, what: str, resource: dict[str, Any]) -> None:
    await audit_writer.record(svc.db, audit.AuditRecord.of(who, what, "success", 200, resource=resource,
                                                     **identification.request_fields(request)))


@router.get("/api/alerts", response_model=list[AlertEvent])
async def alert_history(
    who: PrincipalDep, svc: ServicesDep, request: Request,
    state: Literal["firing", "resolved"] | None = None,
    since: datetime | None = Query(None, description="alerts that started at or after this time (ISO 8601)"),
    limit: int = Query(100, ge=1, le=1000),
) -> list[AlertEvent]:
    """Firing and resolved alerts of the caller's tenant, newest first: those derived only from what the caller's
    role may see (alert_events.inputs: what the rule read), so no agent reads a revenue projection here."""
    async with svc.db.tenant(who.tenant_id) as conn:
        _, current = await svc.policies.current(conn, who.tenant_id)
        allowed = policy.allowed(who, get_metric(HISTORY_METRIC), current)
        rows = await conn.fetch(
            """SELECT event_id, rule_id, family, severity, state, started_at, resolved_at, title, summary, value,
                      threshold, inputs FROM alert_events
               WHERE ($1::text IS NULL OR state = $1) AND ($2::timestamptz IS NULL OR started_at >= $2)
               ORDER BY started_at DESC, event_id DESC LIMIT $3""", state, since, limit) if allowed else []
        masks = policy.field_masks(who, current)
        rows = [r for r in rows if masking.shows(alert_lineage(r["inputs"]), masks)]
    if not allowed:  # a refused attempt is audited too
        await identification.refuse(svc.db, who, request,
                            f"Role {who.role.value} may not see alerts of tenant {who.tenant_id}.")
    await audit_writer.record(svc.db, audit.AuditRecord.of(
        who, "query", "success", 200, resource={"route": "/api/alerts", "state": state}, rows_returned=len(rows),
        **identification.request_fields(request)))
    return [AlertEvent(**{k: v for k, v in r.items() if k != "inputs"}) for r in rows]


@router.get("/api/admin/alert-rules", response_model=list[RuleOut], tags=["admin"])
async def list_rules(who: AdminDep, svc: ServicesDep) -> list[RuleOut]:
    builtin = {r.id for r in rules.DEFAULT_RULES}
    async with svc.db.tenant(who.tenant_id) as conn:
        effective = await rules.effective(conn)
        states = {r["rule_id"]: r for r in await conn.fetch("SELECT rule_id, state, since FROM alert_state")}
    return [RuleOut(rule=r.document(), builtin=r.id in builtin,
                    state=states[r.id]["state"] if r.id in states else "inactive",
                    since=states[r.id]["since"] if r.id in states else None) for r in effective]


@router.get("/api/admin/alert-rules/schema", response_model=dict[str, Any], tags=["admin"])
async def rule_schema(who: AdminDep) -> dict[str, Any]:
    return rules.schema()


@router.put("/api/admin/alert-rules/{rule_id}", response_model=dict[str, Any], tags=["admin"])
async def put_rule(rule_id: str, body: Annotated[dict[str, Any], Body(openapi_examples=rules.EXAMPLES)], who: AdminDep, svc: ServicesDep,
                   request: Request) -> dict[str, Any]:
    """Add a rule, or change one (a built-in rule of the same id is replaced; "enabled": false turns it off)."""
    async with svc.db.tenant(who.tenant_id) as conn:
        rule = await rules.put(conn, who.tenant_id, rule_id, body, who.subject)
    await _changed(svc, who, request, "alert_rule.change", {"rule_id": rule_id, "rule": rule.document()})
    return rule.document()


@router.delete("/api/admin/alert-rules/{rule_id}", status_code=204, tags=["admin"],
               responses={404: {"description": "No such rule"}, 409: {"description": "A built-in rule is kept"}})
async def delete_rule(rule_id: str, who: AdminDep, svc: ServicesDep, request: Request) -> None:
    async with svc.db.tenant(who.tenant_id) as conn:
        await rules.delete(conn, rule_id)
    await _changed(svc, who, request, "alert_rule.change", {"rule_id": rule_id, "deleted": True})


@router.get("/api/admin/alert-channels", response_model=dict[str, dict[str, Any]], tags=["admin"])
async def list_channels(who: AdminDep, svc: ServicesDep) -> dict[str, dict[str, Any]]:
    async with svc.db.tenant(who.tenant_id) as conn:
        return {cid: c.public() for cid, c in (await channels.load(conn)).items()}


@router.put("/api/admin/alert-channels/{channel_id}", response_model=dict[str, Any], tags=["admin"])
async def put_channel(channel_id: str, body: Annotated[dict[str, Any], Body(openapi_examples=channels.EXAMPLES)],
                      who: AdminDep, svc: ServicesDep,
                      request: Request) -> dict[str, Any]:
    """A webhook (HMAC-signed; ``secret`` is write-only), Slack-compatible webhook, or email channel."""
    config = channels.parse_config(body)
    async with svc.db.tenant(who.tenant_id) as conn:
        await channels.put(conn, who.tenant_id, channel_id, config, svc.keys)
    await _changed(svc, who, request, "alert_channel.change", {"channel_id": channel_id, **config.public()})
    return config.public()


@router.get("/api/admin/alert-deliveries", response_model=list[dict[str, Any]], tags=["admin"])
async def delivery_log(who: AdminDep, svc: ServicesDep, limit: int = Query(100, ge=1, le=1000)
                       ) -> list[dict[str, Any]]:
    async with svc.db.tenant(who.tenant_id) as conn:
        rows = await conn.fetch(
            """SELECT delivery_id, event_id, transition, channel_id, status, attempts, last_error, created_at,
                      sent_at FROM alert_deliveries ORDER BY delivery_id DESC LIMIT $1""", limit)
    return [dict(r) for r in rows]


@router.get("/api/admin/report-schedules", response_model=list[dict[str, Any]], tags=["admin"])
async def list_schedules(who: AdminDep, svc: ServicesDep) -> list[dict[str, Any]]:
    return await delivery.schedules(svc.db, who.tenant_id)


@router.put("/api/admin/report-schedules/{kind}", response_model=list[dict[str, Any]], tags=["admin"])
async def put_schedule(kind: ReportKind,
                       body: Annotated[dict[str, Any], Body(openapi_examples=delivery.SCHEDULE_EXAMPLES)], who: AdminDep, svc: ServicesDep,
                       request: Request) -> list[dict[str, Any]]:
    """Recipients (email and role: each gets a copy masked for that role) and the local time of a report."""
    config = delivery.parse_schedule(body)
    await delivery.put_schedule(svc.db, who.tenant_id, kind, config)
    await _changed(svc, who, request, "report_schedule.change",
                   {"kind": kind.value, "recipients": len(config.recipients), "enabled": config.enabled})
    return await delivery.schedules(svc.db, who.tenant_id)
