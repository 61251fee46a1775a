"""What every request passes on its way in and out: identification, rate limits, slow-client limits, and
the audit writes that record it. Other packages import only these names.
"""

from success_metrics.guard import (
    audit_checkpoints,
    audit_note,
    audit_writer,
    identification,
    signals,
)
from success_metrics.guard.audit_checkpoints import checkpoint_path
from success_metrics.guard.audit_note import Note, Who, current, limited_record
from success_metrics.guard.audit_writer import append, record, recording
from success_metrics.guard.identification import refuse, request_fields
from success_metrics.guard.ratelimit import Limiter, RateLimited
from success_metrics.guard.slow_clients import BodyDeadline, BodyTimeout, server_options

__all__ = [
    "BodyDeadline",
    "BodyTimeout",
    "Limiter",
    "Note",
    "RateLimited",
    "Who",
    "append",
    "audit_checkpoints",
    "audit_note",
    "audit_writer",
    "checkpoint_path",
    "current",
    "identification",
    "limited_record",
    "record",
    "recording",
    "refuse",
    "request_fields",
    "server_options",
    "signals",
]
