"""One request's audit state, shared by the audit edge (audit_edge.py) and audit_writer.record: whether the request's
record is written, who the caller is, and whether a rate limit refused it. A context variable, so audit_writer.record,
called deep inside a route, finds the request it writes for without being handed it."""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass, field

from success_metrics.guard.ratelimit import Limiter, RateLimited
from success_metrics.rbac import Principal, audit


@dataclass(frozen=True, slots=True)
class Who:
    """An authenticated caller as its audit record names it."""

    tenant: str
    subject: str | None
    role: str | None
    auth_method: str | None

    @classmethod
    def of(cls, principal: Principal) -> Who:
        return cls(principal.tenant_id, principal.subject, principal.role.value, principal.auth_method.value)


@dataclass
class Note:
    """One request's audit state: whether its record is written, who it is, and whether a limit refused it."""

    limiter: Limiter
    client: str | None
    written: bool = False
    who: Who | None = None
    limited: RateLimited | None = None
    started: float = field(default_factory=time.perf_counter)
    named: tuple[str, str | None] | None = None  # (tenant, role) of the request's record, for the access log

    def charge(self, tenant: str | None) -> RateLimited | None:
        """Count one failed authentication; the refusal when a limit is reached (remembered for the answer)."""
        refused = self.limiter.failed(self.client, None if tenant == audit.UNATTRIBUTED else tenant)
        self.limited = self.limited or refused
        return refused


current: ContextVar[Note | None] = ContextVar("audit_note", default=None)


def noted(rec: audit.AuditRecord) -> audit.AuditRecord:
    """audit_writer.record's hook for every record written while a request runs: the request has its record now, which
    says how its caller authenticated (stamped), and a failed authentication (auth.failure, 401) is counted,
    recorded as auth.limited (429) past a limit."""
    note = current.get()
    if note is None:  # not written for a request (the scheduler, the CLI)
        return rec
    note.written = True
    note.named = (rec.tenant_id, rec.role)
    rec = stamped(rec)
    if rec.action == "auth.failure" and rec.status == 401:
        refused = note.charge(rec.tenant_id)
        if refused is not None:
            return limited_record(rec, refused)
    return rec


def stamped(rec: audit.AuditRecord) -> audit.AuditRecord:
    """A request's record saying how its caller authenticated, as the audit edge's records say it
    (``resource.authentication``): "ok" for a record of an authenticated caller (it names how: auth_method),
    "failed: why" for a failed authentication. Call it only for records of a request: a record of the scheduler
    also names a principal, who authenticated nowhere."""
    if "authentication" in rec.resource:
        return rec
    if rec.auth_method is not None:
        how = authenticated()
    elif rec.action == "auth.failure":
        how = {"authentication": f"failed: {rec.reason}"[:500] if rec.reason else "failed"}
    else:
        return rec
    return rec.model_copy(update={"resource": {**rec.resource, **how}})


def authenticated() -> dict[str, str]:
    """The ``resource`` entry of a record of an authenticated caller's request."""
    return {"authentication": "ok"}


def written() -> None:
    """The request's record was written beside what it records, in that change's transaction (committed now)."""
    note = current.get()
    if note is not None:
        note.written = True


def note_identity(principal: Principal | None = None, *, who: Who | None = None) -> None:
    """Name the caller for the request's record: identification.identify_request, and routes that authenticate by
    themselves (ingest keys)."""
    note = current.get()
    if note is not None:
        note.who = who or (Who.of(principal) if principal is not None else None)
        if note.who is not None:
            note.named = (note.who.tenant, note.who.role)


def limited_record(rec: audit.AuditRecord, refused: RateLimited) -> audit.AuditRecord:
    return rec.model_copy(update={"action": "auth.limited", "status": 429,
                                  "reason": f"{rec.reason or ''} | {refused.message}"[:2000]})
