"""/api/audit/…: the access audit log for auditors and admins — events (filtered, paginated) and export.

Reading the log is itself recorded (``audit.read``), and so is every export (``export``), before a single
row is sent: if that record cannot be written the answer is 503 and nothing leaves.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from success_metrics.guard import append, recording
from success_metrics.guard import refuse, request_fields
from success_metrics.server.deps import PrincipalDep, ServicesDep
from success_metrics.server.problems import Problem
from success_metrics.rbac import audit, audit_query, policy
from success_metrics.rbac import AuditFilter
from success_metrics.rbac import Principal, Role

router = APIRouter(prefix="/api/audit", tags=["audit"])

READERS = (Role.AUDITOR, Role.ADMIN)


async def _reader(who: PrincipalDep, svc: ServicesDep, request: Request) -> Principal:
    if who.role not in READERS:
        await refuse(svc.db, who, request,
                     f"Role {who.role.value} may not read the audit log; auditors and admins may.")
    return who


ReaderDep = Annotated[Principal, Depends(_reader)]


def _filter(
    since: datetime | None = None, until: datetime | None = None,
    subject: Annotated[str | None, Query(max_length=512, pattern=r"^[^\x00-\x1f]*$")] = None,
    action: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_.-]{1,63}$", examples=["query"])] = None,
    outcome: Literal["success", "denied", "error"] | None = None,
    before_seq: Annotated[int | None, Query(ge=1, le=2**63 - 1,
                                            description="page cursor: next_before_seq of the last page")] = None,
) -> AuditFilter:
    # checked here, before anything is read: the export streams, and a late error would cut its file short
    for name, value in (("since", since), ("until", until)):
        if value is None:
            continue
        try:
            value.astimezone(UTC)
        except OverflowError:
            raise Problem(422, "Invalid time", f"{name}={value.isoformat()} falls outside the years 1 to 9999 in "
                          "UTC; give a time within them.") from None
    return AuditFilter(since=since, until=until, subject=subject, action=action, outcome=outcome,
                       before_seq=before_seq)


FilterDep = Annotated[AuditFilter, Depends(_filter)]


class EventsOut(BaseModel):
    events: list[dict[str, Any]]
    next_before_seq: int | None


@router.get("/events", response_model=EventsOut)
async def events(who: ReaderDep, svc: ServicesDep, request: Request, f: FilterDep,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> EventsOut:
    async with recording(svc.db, who) as conn:
        await append(conn, audit.AuditRecord.of(
            who, "audit.read", "success", 200, resource={"filter": f.model_dump(mode="json", exclude_none=True)},
            **request_fields(request)))
        rows = await audit_query.events(conn, who.tenant_id, f, limit)
    more = len(rows) == limit and rows[-1]["seq"] > 1
    return EventsOut(events=rows, next_before_seq=rows[-1]["seq"] if more else None)


@router.get("/export", response_class=StreamingResponse)
async def export(who: ReaderDep, svc: ServicesDep, request: Request, f: FilterDep,
                 format: Literal["csv", "ndjson"] = "ndjson") -> StreamingResponse:
    async with svc.db.tenant(who.tenant_id) as conn:
        _, rules = await svc.policies.current(conn, who.tenant_id)
    if not policy.may_export(who, rules):
        await refuse(svc.db, who, request, f"Role {who.role.value} may not export in tenant {who.tenant_id}; "
                                           "the policy's export flag is off.")
    async with recording(svc.db, who) as conn:
        await append(conn, audit.AuditRecord.of(
            who, "export", "success", 200,
            resource={"what": "audit_log", "format": format, "filter": f.model_dump(mode="json", exclude_none=True)},
            **request_fields(request)))

    async def body() -> AsyncIterator[str]:
        if format == "csv":
            yield audit_query.csv_header()
        async with svc.db.tenant(who.tenant_id) as conn:
            async for row in audit_query.stream(conn, who.tenant_id, f):
                yield audit_query.csv_line(row) if format == "csv" else audit_query.ndjson_line(row)

    media = "text/csv" if format == "csv" else "application/x-ndjson"
    filename = f"audit-{who.tenant_id}.{format}"
    return StreamingResponse(body(), media_type=media,
                             headers={"Content-Disposition": f'attachment; filename="{filename}"'})
