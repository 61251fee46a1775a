"""The closed vocabularies of the metric catalog: each is an enum, switched exhaustively."""

from __future__ import annotations

from enum import StrEnum
from typing import NewType

TenantId = NewType("TenantId", str)
MetricName = NewType("MetricName", str)


class Unit(StrEnum):
    PERCENT = "percent"
    CURRENCY = "currency"
    HOURS = "hours"
    SECONDS = "seconds"
    MS = "ms"
    COUNT = "count"
    RATIO = "ratio"
    SCORE = "score"
    BYTES = "bytes"
    TEXT = "text"


class Kind(StrEnum):
    """How a metric is shaped on the wire."""

    TIMESERIES = "timeseries"
    TABLE = "table"
    STAT = "stat"  # single value with previous period and target


class Dimension(StrEnum):
    SOURCE = "source"
    AGENT = "agent"
    TEAM = "team"
    LOCATION = "location"
    CHANNEL = "channel"
    COMPONENT = "component"
    SERVICE = "service"
    SCORE_BAND = "score_band"


class Sensitivity(StrEnum):
    """What masking needs to know about a value; ordered from harmless to most guarded."""

    PUBLIC = "public"
    FINANCIAL = "financial"
    PERSONAL = "personal"  # names a person (agent id, subject)
    CONTACT = "contact"  # lead contact data: names, emails, phones
    SECURITY = "security"


class ColumnType(StrEnum):
    TIME = "time"
    NUMBER = "number"
    STRING = "string"
    BOOLEAN = "boolean"
