"""The only place an exception becomes HTTP: RFC 9457 problem details, with a ``message`` member.

Grafana shows an error body's ``message`` in the panel, so every problem carries one, written for the
person looking at the panel. The status is found by walking the exception's MRO through ``STATUS``.
Unexpected exceptions answer 500 with the request id and nothing of their text or stack.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from success_metrics.calculators import (
    CalculatorError,
    InvalidRange,
    OutOfScope,
    UndefinedValue,
    UnknownMetric,
    UnsupportedFilter,
)
from success_metrics.guard import BodyTimeout, RateLimited
from success_metrics.ingest.errors import BatchTooLarge, IngestError, MalformedBody, UnknownTenant
from success_metrics.notify.errors import AlertingError, ChannelInvalid, DefaultRuleKept, RuleInvalid, UnknownRule
from success_metrics.query.protocol.errors import BodyTooLarge, LimitExceeded, ProtocolError, UnknownFilterKey
from success_metrics.rbac import AuditUnavailable, Forbidden, NoRole, PolicyInvalid, RbacError, Unauthenticated
from success_metrics.settings import ConfigError
from success_metrics.storage import (
    BackupFailed,
    DatabaseUnavailable,
    MigrationFailed,
    RetentionRefused,
    StorageError,
    UnstorableValue,
)

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """An error a route raises directly, with its status and a message saying what to change."""

    def __init__(self, status: int, title: str, detail: str, *, errors: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}


class ProblemDetails(BaseModel):
    """RFC 9457 body. ``message`` repeats ``detail`` because it is the field Grafana displays."""

    model_config = ConfigDict(extra="allow")
    type: str = "about:blank"
    title: str
    status: int
    detail: str
    message: str
    instance: str | None = None
    request_id: str | None = None
    errors: list[dict[str, Any]] | None = None


# exception class -> (status, title); looked up along the MRO, most specific first
STATUS: dict[type[Exception], tuple[int, str]] = {
    Unauthenticated: (401, "Authentication failed"),
    NoRole: (403, "No role"),
    Forbidden: (403, "Forbidden"),
    PolicyInvalid: (422, "Policy does not validate"),
    AuditUnavailable: (503, "Audit log unavailable"),
    RbacError: (403, "Access denied"),
    UnknownMetric: (404, "Unknown metric"),
    UnsupportedFilter: (400, "Unsupported filter"),
    OutOfScope: (403, "Outside your row scope"),
    InvalidRange: (400, "Invalid time range"),
    UndefinedValue: (422, "Value undefined"),
    CalculatorError: (400, "Query cannot be computed"),
    DatabaseUnavailable: (503, "Database unavailable"),
    MigrationFailed: (500, "Migration failed"),
    BackupFailed: (500, "Backup failed"),
    RetentionRefused: (400, "Retention refused"),
    UnstorableValue: (422, "Value cannot be stored"),
    StorageError: (500, "Storage error"),
    ConfigError: (500, "Configuration error"),
    BodyTooLarge: (413, "Request body too large"),
    LimitExceeded: (400, "Limit exceeded"),
    UnknownFilterKey: (400, "Unknown filter key"),
    ProtocolError: (400, "Bad Grafana request"),
    MalformedBody: (400, "Malformed body"),
    BatchTooLarge: (413, "Batch too large"),
    UnknownTenant: (404, "Unknown tenant"),
    IngestError: (400, "Ingest refused"),
    RuleInvalid: (422, "Alert rule does not validate"),
    UnknownRule: (404, "Unknown alert rule"),
    DefaultRuleKept: (409, "Built-in alert rule"),
    ChannelInvalid: (422, "Invalid notification settings"),
    AlertingError: (400, "Alerting request refused"),
    RateLimited: (429, "Too many requests"),
    BodyTimeout: (408, "Request body too slow"),
}


def status_for(exc: BaseException) -> tuple[int, str] | None:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return None


def problem_response(request: Request, status: int, title: str, detail: str, *,
                     errors: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    request.state.problem_detail = detail  # the audit edge's record of a request no route recorded says why
    body = ProblemDetails(
        title=title, status=status, detail=detail, message=detail, instance=request.url.path,
        request_id=getattr(request.state, "request_id", None), errors=errors,
    )
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, media_type=PROBLEM_JSON,
                        headers=headers)


def _headers_for(exc: BaseException, status: int) -> dict[str, str]:
    if isinstance(exc, Unauthenticated):
        # header values must be Latin-1 and unquoted-safe; the full reason is in the body anyway
        reason = exc.message.encode("ascii", "replace").decode("ascii").replace('"', "'").replace("\\", "/")
        return {"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{reason}"'}
    if isinstance(exc, BodyTimeout):
        return {"Connection": "close"}  # the rest of the body is not read: the connection cannot be reused
    if isinstance(exc, RateLimited):
        return {"Retry-After": str(max(1, math.ceil(exc.retry_after)))}
    if status == 503:
        return {"Retry-After": "5"}
    return {}


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    status, title = status_for(exc) or (500, "Internal error")
    message = getattr(exc, "message", None) or str(exc)
    errors = getattr(exc, "errors", None) if isinstance(exc, PolicyInvalid | RuleInvalid) else None
    if isinstance(exc, MalformedBody) and exc.line is not None:
        errors = [{"line": exc.line, "column": exc.column, "reason": message}]
    elif isinstance(exc, BatchTooLarge):
        errors = [{"limit": exc.limit, "value": exc.value, "reason": message}]
    if status >= 500:
        log.error("%s: %s", title, message)
    return problem_response(request, status, title, message, errors=errors, headers=_headers_for(exc, status))


async def respond(request: Request, exc: Exception) -> JSONResponse:
    """The problem answering ``exc``, for the middleware that answers outside the exception handlers (audit_edge)."""
    return await _domain_error(request, exc)


async def _problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(request, exc.status, exc.title, exc.detail, errors=exc.errors, headers=exc.headers)


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"pointer": "/" + "/".join(str(p) for p in err.get("loc", ())[1:]), "reason": err.get("msg", "")}
        for err in exc.errors()
    ]
    where = "; ".join(f"{e['pointer']}: {e['reason']}" for e in errors[:5])
    return problem_response(request, 422, "Invalid request", f"The request body does not fit: {where}", errors=errors)


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else "Request failed"
    if exc.status_code == 404:
        detail = f"No route {request.method} {request.url.path}; see /docs for the routes this service answers."
    elif exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}; see /docs for the methods it takes."
    return problem_response(request, exc.status_code, "HTTP error", detail, headers=dict(exc.headers or {}))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    rid = getattr(request.state, "request_id", None)
    return problem_response(request, 500, "Internal error",
                            f"The service failed to answer this request (request id {rid}); it has been logged.")


def install(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _problem)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    for cls in STATUS:
        app.add_exception_handler(cls, _domain_error)
    app.add_exception_handler(Exception, _unexpected)
