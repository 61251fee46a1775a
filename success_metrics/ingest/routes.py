"""POST /api/ingest/events (the automation engine's batches) and GET /api/ingest/schemas (the contract).

Authentication is by an ingest key, as ``Authorization: Bearer smk_...`` or as an HMAC-SHA256 signature
of the raw body (``X-SM-Key-Id`` + ``X-SM-Signature: sha256=<hex>``); the key decides the tenant.
Each event is accepted or rejected on its own: 200 when none was rejected, 207 when some were (the good
ones are stored all the same). The answer is sent after the batch is committed.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from success_metrics.guard import audit_note, signals
from success_metrics.server.deps import ServicesDep
from success_metrics.ingest import batch, validate
from success_metrics.ingest.errors import BatchTooLarge
from success_metrics.ingest.intake import ingest
from success_metrics.ingest.writer import Source
from success_metrics.server.problems import Problem
from success_metrics.storage import Database
from success_metrics.rbac import Forbidden, Unauthenticated
from success_metrics.rbac import keys

router = APIRouter(prefix="/api/ingest", tags=["ingest"])


class RejectedEvent(BaseModel):
    index: int = Field(description="Position of the event in the batch (0-based; NDJSON: non-blank lines).")
    id: str | None = Field(description="The event's id, when it had one.")
    pointer: str = Field(description="JSON pointer into the batch, e.g. /3/data/score.")
    reason: str


class IngestResult(BaseModel):
    accepted: int = Field(description="Events stored by this request.")
    duplicates: int = Field(description="Events whose id was already stored (or repeated in the batch): unchanged.")
    rejected: list[RejectedEvent]


class SchemaEntry(BaseModel):
    type: str
    title: str
    url: str


class SchemaIndex(BaseModel):
    envelope: str
    types: list[SchemaEntry]
    formats: list[str]


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(int(declared), limit)
    size, chunks = 0, []
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int, limit: int) -> BatchTooLarge:
    return BatchTooLarge(f"The body has {'at least ' if size else ''}{size} bytes; the limit is {limit} bytes "
                         "(limits.max_body_bytes). Split the batch.", "max_body_bytes", limit)


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthenticated("Authorization must be 'Bearer <ingest key>'.")
    return value.strip()


async def _authenticate(db: Database, bearer: str | None, key_id: str | None, signature: str | None,
                        body: bytes | None) -> tuple[str, str]:
    """(tenant, key id) of the ingest key presented; HMAC needs the body, the bearer secret does not."""
    async with db.system() as conn:
        if bearer is not None:
            tenant = await keys.verify_ingest_key(conn, bearer)
            return tenant, keys.key_id_of(bearer) or ""
        assert key_id is not None and signature is not None and body is not None
        return await keys.verify_ingest_signature(conn, key_id, signature, body), key_id


@router.post(
    "/events", response_model=IngestResult, summary="Send a batch of events (JSON array or NDJSON)",
    responses={207: {"model": IngestResult, "description": "Some events were rejected; the others were stored."},
               400: {"description": "Malformed JSON (line and column given)"},
               401: {"description": "Missing, unknown, revoked or expired ingest key, or a bad signature"},
               403: {"description": "Not an ingest key, or the batch names another tenant"},
               413: {"description": "Over limits.max_body_bytes or limits.max_batch_events"}},
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"type": "array", "items": {
            "type": "object", "description": "An event; see GET /api/ingest/schemas/{type}."}}},
        "application/x-ndjson": {"schema": {"type": "string"}}}}},
)
async def post_events(
    request: Request,
    services: ServicesDep,
    authorization: Annotated[str | None, Header()] = None,
    x_sm_key_id: Annotated[str | None, Header()] = None,
    x_sm_signature: Annotated[str | None, Header()] = None,
    tenant: Annotated[str | None, Query(description="Optional; must be the ingest key's tenant.")] = None,
) -> IngestResult | JSONResponse:
    settings = services.settings
    bearer = _bearer(authorization)
    if bearer is None and not (x_sm_key_id and x_sm_signature):
        raise Unauthenticated("Send an ingest key: 'Authorization: Bearer smk_...', or sign the body with "
                              "'X-SM-Key-Id' and 'X-SM-Signature: sha256=<hex>'.")
    if bearer is not None:  # check the key before reading a possibly large body
        tenant_id, key_id = await _authenticate(services.db, bearer, None, None, None)
        body = await _read_body(request, settings.limits.max_body_bytes)
    else:
        body = await _read_body(request, settings.limits.max_body_bytes)
        tenant_id, key_id = await _authenticate(services.db, None, x_sm_key_id, x_sm_signature, body)
    audit_note.note_identity(who=audit_note.Who(tenant_id, f"ingest-key:{key_id}", None, "ingest_key"))
    services.limiter.ingest(tenant_id)  # RateLimited (429) past limits.ingest_requests_per_tenant
    if tenant is not None and tenant != tenant_id:
        raise Forbidden(f"This ingest key belongs to another tenant than {tenant!r}; it can send events only "
                        "for its own tenant.")
    events = batch.parse_body(body, request.headers.get("content-type"), max_events=settings.limits.max_batch_events)
    # a tenant_id that is not a string is the schema's to reject, event by event
    named = {e["tenant_id"] for e in events if isinstance(e, dict) and isinstance(e.get("tenant_id"), str)}
    if named - {tenant_id}:
        other = sorted(named - {tenant_id})[0]
        raise Forbidden(f"The batch names tenant {other!r}, but this ingest key sends for its own tenant only; "
                        "drop tenant_id or use that tenant's key.")
    report = await ingest(services.db, tenant_id, events, source=Source.API,
                          retention_months=settings.retention_months, key_id=key_id)
    signals.count_ingest(report.accepted, report.duplicates, len(report.rejected))
    result = IngestResult(
        accepted=report.accepted, duplicates=report.duplicates,
        rejected=[RejectedEvent(index=r.index, id=r.id, pointer=r.pointer, reason=r.reason) for r in report.rejected],
    )
    if result.rejected:
        return JSONResponse(result.model_dump(), status_code=207)
    return result


@router.get("/schemas", response_model=SchemaIndex, summary="The event contract: one JSON Schema per event type")
async def schema_index(request: Request) -> SchemaIndex:
    found = validate.schemas()
    base = request.scope.get("root_path", "") + router.prefix + "/schemas"
    return SchemaIndex(
        envelope=f"{base}/{validate.ENVELOPE}",
        types=[SchemaEntry(type=t, title=str(found.documents[t].get("description", t)), url=f"{base}/{t}")
               for t in found.types],
        formats=["application/json", "application/x-ndjson"],
    )


@router.get("/schemas/{name}", name="event_schema", summary="The JSON Schema (draft 2020-12) of one event type",
            response_model=dict[str, Any], responses={404: {"description": "No such event type"}})
async def event_schema(name: str) -> JSONResponse:
    document = validate.schemas().document(name)
    if document is None:
        known = ", ".join([validate.ENVELOPE, *validate.schemas().types])
        raise Problem(404, "Unknown event type", f"No schema named {name!r}; known: {known}.")
    return JSONResponse(document, media_type="application/schema+json")
