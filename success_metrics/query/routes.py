"""POST /query and POST /annotations: the only routes that return metric values (both Grafana dialects).

SimpleJSON and the JSON API plugin both POST /query; the JSON API plugin's annotation queries arrive
there too, under refId "Anno". Masked responses name the masked fields in ``X-Masked-Fields`` as well as
in each frame's ``meta``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from success_metrics.server import deps
from success_metrics.guard import identification
from success_metrics.query import pipeline
from success_metrics.server.deps import ServicesDep
from success_metrics.server.problems import ProblemDetails
from success_metrics.query.protocol import serialize
from success_metrics.query.protocol.requests import AnnotationRequest, QueryRequest
from success_metrics.query.protocol.responses import Annotation, QueryResponse, RowsFrame
from success_metrics.query.body_limit import LimitedBodyRoute
from success_metrics.rbac import Credentials

router = APIRouter(tags=["grafana"], route_class=LimitedBodyRoute)

MASKED_HEADER = "X-Masked-Fields"
PROBLEMS: dict[int | str, dict[str, object]] = {
    status: {"model": ProblemDetails, "description": description,
             "content": {"application/problem+json": {}}}
    for status, description in (
        (400, "The request cannot be answered as sent (the message says what to change)"),
        (401, "No valid credentials"), (403, "The caller's role may not do this"),
        (404, "Unknown metric (the message suggests close names)"),
        (413, "The body is larger than limits.max_body_bytes"), (422, "The body does not fit the schema"),
        (503, "Database or audit log unavailable; retry"),
    )
}


def call_of(request: Request) -> pipeline.Call:
    return pipeline.Call(creds=Credentials.from_headers(request.headers),
                         route=f"{request.method} {request.scope['path']}", **identification.request_fields(request))


def _masked_header(response: Response, masked: tuple[str, ...]) -> None:
    if masked:
        response.headers[MASKED_HEADER] = ",".join(masked)


@router.post("/query", response_model=QueryResponse, response_model_exclude_none=True, responses=PROBLEMS,
             summary="Metric values: time series, tables, stats and (refId Anno) annotations")
async def query(body: QueryRequest, request: Request) -> Response:
    # the services from app state directly, not as a dependency: every panel of every refresh comes here, and
    # FastAPI's dependency solving was a tenth of such a request
    items, masked = await pipeline.answer_query(deps.services_of(request), call_of(request), body)
    # serialized here rather than by FastAPI, which would validate every point of every series again first
    headers = {MASKED_HEADER: ",".join(masked)} if masked else None
    return Response(serialize.items_json(items), media_type="application/json", headers=headers)


@router.post("/query/rows", response_model=RowsFrame, responses=PROBLEMS,
             summary="One metric as rows with typed columns, for Grafana's Infinity plugin (backend parser)")
async def query_rows(body: QueryRequest, request: Request, services: ServicesDep) -> Response:
    """The body of /query with one target; the answer is one frame, masked as /query masks it. A target that
    fails fails the request with its status (403, 404, 400), so an alert rule on it shows an error, not no data."""
    ref_id, frame = await pipeline.answer_rows(services, call_of(request), body)
    found = serialize.rows(ref_id, frame)
    headers = {MASKED_HEADER: ",".join(frame.masked_fields)} if frame.masked_fields else None
    return Response(found.model_dump_json(), media_type="application/json", headers=headers)


@router.post("/annotations", response_model=list[Annotation], response_model_exclude_none=True,
             responses=PROBLEMS, summary="Annotations (SimpleJSON): outages, alerts, drops, misses, changes")
async def annotations(body: AnnotationRequest, request: Request, response: Response,
                      services: ServicesDep) -> list[Annotation]:
    found, masked = await pipeline.answer_annotations(services, call_of(request), body)
    _masked_header(response, masked)
    return found
