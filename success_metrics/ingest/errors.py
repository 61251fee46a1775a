"""Errors of a whole ingest request (single events are rejected, not raised); HTTP status in problems.py.

    IngestError
    ├── MalformedBody     the body is not a JSON array / NDJSON (400, with line and column)
    ├── BatchTooLarge     over max_body_bytes or max_batch_events (413, naming the limit)
    └── UnknownTenant     the tenant has no row in ``tenants`` (404: add it to SM_CONFIG)
"""

from __future__ import annotations


class IngestError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MalformedBody(IngestError):
    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


class BatchTooLarge(IngestError):
    def __init__(self, message: str, limit: str = "", value: int = 0) -> None:
        super().__init__(message)
        self.limit = limit
        self.value = value


class UnknownTenant(IngestError):
    def __init__(self, tenant_id: str) -> None:
        super().__init__(f"Tenant {tenant_id!r} is not configured; add it under 'tenants' in SM_CONFIG.")
        self.tenant_id = tenant_id
