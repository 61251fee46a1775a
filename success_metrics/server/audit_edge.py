"""Every request leaves an audit record, whatever stops it first; failed authentication is rate limited.

Routes record through ``audit_writer.record``, which notes it in the request's ``audit_note.Note``, or beside a change
in its transaction (``audit_writer.recording``), noted once it commits: the Grafana routes one record each
(pipeline.run), the others what they change or read, or a failed authentication (identification.identify_request,
which notes a success for the request's record instead of recording one). This middleware writes the one record
of every request that ends without any: refused before a route ran (413, malformed or invalid body 400/422, 404,
405, 408, 429) or by a route that records nothing itself (plain reads, ingest). Every request's record says how
authentication went (``resource.authentication``, audit_note.stamped): here, the identity the route noted
(``note_identity``), else the request's credentials checked here, else none.

Whose chain a record joins follows identification.identify_request: the authenticated tenant; for a failed authentication
the tenant the credential claimed (the provider whose issuer it names), when it named one; else
``audit.UNATTRIBUTED``. Never a tenant named by the body, the path or the query string.
Reads of the public routes (health, docs, event schemas) are not recorded: they carry no identity and no data.

Failed authentications (a 401, however it arose) are counted per client address and per claimed tenant
(ratelimit.Limiter). Past either limit the failure is recorded as ``auth.limited`` and answered 429 with
Retry-After; an address past its limit is refused before any credential is checked, until its bucket refills,
unless it carries a token verified in the last minute (another user behind the same Grafana).
The record is written before the answer starts: if it cannot be, the answer is 503 (nothing is served).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from success_metrics.server import problems
from success_metrics.guard import audit_writer, identification
from success_metrics.guard import Note, Who, current, limited_record
from success_metrics.server.services import Services
from success_metrics.storage import StorageError
from success_metrics.rbac import AuditUnavailable, NoRole, RbacError, Unauthenticated, audit
from success_metrics.rbac import Credentials

log = logging.getLogger(__name__)

PUBLIC = frozenset({"/prometheus", "/healthz", "/readyz", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})
DOCS_STATIC = "/docs-static"  # Swagger UI's and ReDoc's own files (app.py)
PUBLIC_PREFIX = ("/api/ingest/schemas", DOCS_STATIC)


def _public(scope: Scope) -> bool:
    path: str = scope["path"]
    return scope["method"] in ("GET", "HEAD") and (path in PUBLIC or path.startswith(PUBLIC_PREFIX))


class AuditEdge:
    """Pure ASGI (see the module docstring); inside RequestContext, so the request id is known."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _public(scope):
            await self.app(scope, receive, send)
            return
        svc: Services = scope["app"].state.services
        note = Note(svc.limiter, scope["client"][0] if scope.get("client") else None)
        token = current.set(note)
        try:
            wait = svc.limiter.address_wait(note.client)
            if wait is not None and not _recently_verified(svc, scope):  # refused before any credential is checked
                note.limited = svc.limiter.refused_address(wait)
                await self._answer(svc, scope, receive, send, note, 429)
                return
            await self._serve(svc, scope, receive, send, note)
        finally:
            current.reset(token)
            if note.named is not None:  # the access log (middleware.py) names whom the record names
                scope.setdefault("state", {}).update(audit_tenant=note.named[0], audit_role=note.named[1])

    async def _serve(self, svc: Services, scope: Scope, receive: Receive, send: Send, note: Note) -> None:
        replaced = started = False

        async def guarded(message: Message) -> None:
            nonlocal replaced, started
            if replaced:  # the app's answer was replaced: its body is dropped
                return
            if message["type"] == "http.response.start":
                started = True
                status: int = message["status"]
                if not note.written:
                    try:
                        await _fallback(svc, scope, note, status)
                    except AuditUnavailable as exc:
                        replaced = True
                        await _send(scope, receive, send, exc)
                        return
                if note.limited is not None and status != 429:
                    replaced = True
                    await _send(scope, receive, send, note.limited)
                    return
            await send(message)

        try:
            await self.app(scope, receive, guarded)
        except Exception:
            if not note.written and not started:  # the 500 answered by the server-error handler outside
                try:
                    await _fallback(svc, scope, note, 500)
                except AuditUnavailable:
                    log.warning("the audit record of a failed request could not be written")
            raise

    async def _answer(self, svc: Services, scope: Scope, receive: Receive, send: Send, note: Note, status: int) -> None:
        """The middleware's own answer (a limit): recorded first, 503 if that fails."""
        assert note.limited is not None
        try:
            await _fallback(svc, scope, note, status)
        except AuditUnavailable as exc:
            await _send(scope, receive, send, exc)
            return
        await _send(scope, receive, send, note.limited)


def _recently_verified(svc: Services, scope: Scope) -> bool:
    """Whether the request carries a token verified within the last minute (rbac's verified-token cache): Grafana
    proxies every user from its own address, so one user's failing token must not lock the others out."""
    creds = Credentials.from_headers(Headers(scope=scope))
    verified = svc.identifier.verified
    return any(secret is not None and verified.get(verified.digest(secret.get_secret_value(), kind)) is not None
               for secret, kind in ((creds.authorization, "access"), (creds.id_token, "id")))


async def _send(scope: Scope, receive: Receive, send: Send, exc: Exception) -> None:
    response = await problems.respond(Request(scope), exc)
    await response(scope, receive, send)


async def _fallback(svc: Services, scope: Scope, note: Note, status: int) -> None:
    """The record of a request nothing else recorded, with its authentication outcome."""
    headers = Headers(scope=scope)
    state: dict[str, Any] = scope.get("state", {})
    resource: dict[str, Any] = {"route": f"{scope['method']} {scope['path']}"}
    common: dict[str, Any] = dict(
        latency_ms=(time.perf_counter() - note.started) * 1000, request_id=state.get("request_id"),
        client_addr=note.client, user_agent=(headers.get("user-agent") or "")[:512] or None)
    reason = state.get("problem_detail")
    action = "ingest" if scope["path"].startswith("/api/ingest/") else "request"
    outcome: audit.Outcome = "success" if status < 400 else "denied" if status < 500 else "error"
    who, tenant, failure = note.who, audit.UNATTRIBUTED, None
    if note.limited is not None and status == 429 and who is None:
        action, resource["authentication"], reason = "auth.limited", "not checked", note.limited.message
    elif who is None and status == 401:  # a route refused the credentials (ingest keys): counted in noted()
        action, resource["authentication"] = "auth.failure", "failed"
    elif who is None:
        creds = Credentials.from_headers(headers)
        resource["authentication"] = "none" if not creds.present else "ok"
        if creds.present:
            try:
                who = Who.of(await svc.identifier.identify(creds, svc.db.system))
            except (Unauthenticated, NoRole) as exc:
                tenant = getattr(exc, "tenant_id", None) or audit.UNATTRIBUTED
                resource["authentication"] = f"failed: {exc.message}"
                failure = note.charge(tenant) if isinstance(exc, Unauthenticated) else None
                action = "auth.failure"
            except (RbacError, StorageError) as exc:  # the credentials could not be checked now
                resource["authentication"] = f"not checked: {exc.__class__.__name__}"
    else:
        resource["authentication"] = "ok"
    if who is not None:
        tenant = who.tenant
        common.update(subject=who.subject, role=who.role, auth_method=who.auth_method)
    rec = audit.AuditRecord(tenant_id=tenant, action=action, outcome=outcome, status=status, reason=reason,
                            resource=resource, **common)
    await audit_writer.record(svc.db, limited_record(rec, failure) if failure is not None else rec)
