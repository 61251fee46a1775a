"""Errors of the Grafana protocol layer; their HTTP status is set in success_metrics/server/problems.py.

    ProtocolError           the request cannot be understood (400); carries the refId it concerns, if any
    ├── UnknownFilterKey    a filter or payload key names no dimension or option of the metric (400)
    └── LimitExceeded       a configured limit (targets, range, maxDataPoints) is exceeded (400)
        └── BodyTooLarge    the request body is larger than limits.max_body_bytes (413)

Every message states what to change, and a limit error states the limit.
"""

from __future__ import annotations


class ProtocolError(Exception):
    def __init__(self, message: str, *, ref_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.ref_id = ref_id


class UnknownFilterKey(ProtocolError):
    pass


class LimitExceeded(ProtocolError):
    pass


class BodyTooLarge(LimitExceeded):
    pass
