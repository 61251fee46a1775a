"""/openapi.json says what every route really answers: the bearer scheme (so /docs has an Authorize button) and
the problem+json answers the edge adds to every route that takes credentials.

The edge of every such route can answer 401 (credentials refused), 403 (a role that may not), 429 (a rate limit,
audit_edge.py) and 503 (audit log or database unavailable); a route with parameters or a body 422 (they do not
fit), with a body 408 (too slow, slow_clients.py), with a size-limited body 413. Every error a route documents is
application/problem+json with the ProblemDetails schema, which is what problems.py sends. The public routes
(health, docs, event schemas) take no credentials and get no additions.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from success_metrics.server.audit_edge import PUBLIC, PUBLIC_PREFIX
from success_metrics.server.problems import PROBLEM_JSON

PROBLEM_REF = {"$ref": "#/components/schemas/ProblemDetails"}
SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "An access token of the tenant's identity "
               "provider (Grafana: Forward OAuth Identity), or a service key, or for ingest an ingest key (smk_…)"},
    "idToken": {"type": "apiKey", "in": "header", "name": "X-ID-Token",
                "description": "The ID token Grafana forwards with Forward OAuth Identity"},
}
EDGE = {401: "No valid credentials (the reason is in the message)", 403: "The caller's role may not do this",
        429: "Too many failed authentications or ingest requests: retry after Retry-After seconds",
        503: "Audit log or database unavailable: retry after Retry-After seconds"}
BODY = {408: "The body did not arrive within limits.body_timeout_s"}
FITS = {422: "The parameters or the body do not fit (each error has a pointer)"}
SIZED = {413: "The body is larger than limits.max_body_bytes"}
SIZE_LIMITED = ("/query", "/query/rows", "/annotations", "/search", "/metrics", "/metric-payload-options", "/variable", "/tag-keys",
                "/tag-values", "/api/ingest/events")


def _public(path: str, method: str) -> bool:
    return method in ("get", "head") and (path in PUBLIC or path.startswith(PUBLIC_PREFIX))


def describe(spec: dict[str, Any]) -> dict[str, Any]:
    """Add the security schemes and the edge's answers to a generated document (in place; returned)."""
    spec.setdefault("components", {}).setdefault("securitySchemes", {}).update(SCHEMES)
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            responses: dict[str, Any] = op["responses"]
            if not _public(path, method):
                op["security"] = [{"bearer": []}, {"idToken": []}]
                added = {**EDGE, **(FITS if op.get("parameters") or op.get("requestBody") else {}),
                         **(BODY if op.get("requestBody") else {}), **(SIZED if path in SIZE_LIMITED else {})}
                for status, description in added.items():
                    responses.setdefault(str(status), {"description": description})
            for status, response in responses.items():
                schema = next(iter(response.get("content", {}).values()), {}).get("schema")
                if int(status) >= 400 and schema in (None, PROBLEM_REF, {"$ref": "#/components/schemas/"
                                                                          "HTTPValidationError"}):
                    response["content"] = {PROBLEM_JSON: {"schema": PROBLEM_REF}}
    return spec


def install(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = describe(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
