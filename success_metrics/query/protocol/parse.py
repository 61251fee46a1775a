"""Grafana requests in either dialect → one ``MetricQuery`` per target. The one place variants are normalised.

Accepted here and nowhere else: ranges as ISO text or epoch ms, ``filters`` or ``adhocFilters``,
``payload`` or ``data`` (object or JSON text), multi-value and "All" template variables as lists,
JSON arrays or Grafana's ``{a,b}`` glob form, and Grafana 10's ``=|``/``!=|`` multi-value operators.
Limits (settings.limits) are enforced here, with messages that state them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from success_metrics.calculators import Dimension, Filter, MetricName, MetricQuery, Operator, buckets
from success_metrics.query.freshness import align
from success_metrics.query.protocol.errors import LimitExceeded, ProtocolError, UnknownFilterKey
from success_metrics.query.protocol.requests import AnnotationRequest, FilterIn, Payload, QueryRequest, TargetIn, TimeRange, TimeValue, VariableRequest
from success_metrics.settings import Limits

ANNOTATION_REF_ID = "Anno"  # the JSON API plugin sends annotation queries to /query under this refId
DEFAULT_MAX_POINTS = 1_000
MIN_INTERVAL_MS = 1_000
MAX_REGEX_LENGTH = 256
# times a query may name: Grafana's epoch ms start at 1970, and a bound far from datetime's year 9999 leaves room
# for the previous periods, bucket edges and time zones the calculators add to a range
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)
# a payload holds option name -> value or list of values: two levels; a few more for room, never thousands
MAX_PAYLOAD_DEPTH = 8
# what Grafana sends for a multi-value variable set to "All" without a custom all value
ALL_VALUES = frozenset({"$__all", "__all", "all", "*", ""})

# ``source``, ``sources``, ``Source`` … all name the same dimension
_DIMENSION_NAMES: dict[str, Dimension] = {
    **{d.value: d for d in Dimension},
    **{f"{d.value}s": d for d in Dimension},
}
_OPERATORS: dict[str, tuple[Operator, bool]] = {  # spelling -> (operator, takes several values)
    **{op.value: (op, op in (Operator.EQ, Operator.NE)) for op in Operator},
    "==": (Operator.EQ, True),
    "=|": (Operator.EQ, True),
    "!=|": (Operator.NE, True),
}
_INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w|y)\s*$")
_RELATIVE = re.compile(r"now(?:\s*-\s*(\d{1,6})\s*(s|m|h|d|w|y))?")
_INTERVAL_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000,
                "y": 31_536_000_000}


class Shape(StrEnum):
    """What the panel asked for: SimpleJSON's target ``type``, or an annotation query."""

    TIMESERIES = "timeserie"
    TABLE = "table"
    ANNOTATIONS = "annotations"


@dataclass(frozen=True, slots=True)
class ParsedTarget:
    """One target: its query, or the error that stopped it (reported under its refId)."""

    ref_id: str
    shape: Shape
    query: MetricQuery | None = None
    error: ProtocolError | None = None
    adhoc: tuple[Filter, ...] = ()  # the dashboard's ad-hoc filters among query.filters (the rest: the payload's)


# --- values -------------------------------------------------------------------------------------------

def dimension(name: str) -> Dimension:
    found = _DIMENSION_NAMES.get(name.strip().lower())
    if found is None:
        known = ", ".join(d.value for d in Dimension)
        raise UnknownFilterKey(f"Unknown filter key {shown(name)}: use one of {known}.")
    return found


def split_values(value: Any) -> tuple[str, ...]:
    """A variable's value(s) as a tuple; () means "All" (no restriction)."""
    if value is None:
        return ()
    if isinstance(value, list | tuple):
        items = [str(v) for v in value if v is not None]
    elif isinstance(value, bool | int | float):
        items = [str(value).lower() if isinstance(value, bool) else str(value)]
    elif isinstance(value, str):
        text = value.strip()
        if text.startswith("{") and text.endswith("}") and "," in text:  # Grafana's glob format {a,b}
            items = [v.strip() for v in text[1:-1].split(",")]
        elif text.startswith("[") and text.endswith("]"):  # 'json' format of a multi-value variable
            try:
                decoded = json.loads(text)
            except (json.JSONDecodeError, RecursionError):
                decoded = None
            items = [str(v) for v in decoded] if isinstance(decoded, list) else [text]
        else:
            items = [text]
    else:
        raise ProtocolError(f"A filter or payload value must be text, a number or a list, not {type(value).__name__}.")
    if any(v.strip().lower() in ALL_VALUES for v in items):
        return ()
    return tuple(dict.fromkeys(v for v in items))  # keep order, drop repeats


def to_filter(spec: FilterIn) -> Filter | None:
    """One ad-hoc filter → a dimension Filter; None when it selects "All"."""
    dim = dimension(spec.key)
    op_spelling = spec.operator.strip()
    if op_spelling not in _OPERATORS:
        known = ", ".join(sorted(_OPERATORS))
        raise ProtocolError(f"Filter on {spec.key!r}: unknown operator {shown(spec.operator)}; use one of {known}.")
    operator, multi = _OPERATORS[op_spelling]
    values = split_values(spec.values if spec.values is not None else spec.value)
    if not values:
        if operator in (Operator.EQ, Operator.NE):
            return None
        raise ProtocolError(f"Filter on {spec.key!r} with operator {operator.value!r} needs a value.")
    if not multi and len(values) > 1:
        raise ProtocolError(f"Filter on {spec.key!r}: operator {operator.value!r} takes one value, got {len(values)}.")
    if operator in (Operator.REGEX, Operator.NOT_REGEX):
        _check_regex(spec.key, values[0])
    return Filter(dimension=dim, operator=operator, values=values)


def _check_regex(key: str, pattern: str) -> None:
    if len(pattern) > MAX_REGEX_LENGTH:
        raise ProtocolError(f"Filter on {key!r}: regular expression longer than {MAX_REGEX_LENGTH} characters.")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ProtocolError(f"Filter on {key!r}: {pattern!r} is not a valid regular expression ({exc}).") from None


def filters(specs: Iterable[FilterIn]) -> tuple[Filter, ...]:
    return tuple(f for f in (to_filter(s) for s in specs) if f is not None)


def payload_dict(payload: Payload) -> dict[str, Any]:
    """The payload as an object: JSON text is decoded; empty means no options."""
    if payload is None:
        return {}
    if isinstance(payload, str):
        if not payload.strip():
            return {}
        try:
            payload = json.loads(payload)
        except json.JSONDecodeError as exc:
            raise ProtocolError(f"The payload is not valid JSON ({exc.msg} at character {exc.pos}); "
                                'write it as an object, e.g. {"source": "referral"}.') from None
        except RecursionError:
            payload = None  # nested thousands deep: refused just below, as any payload too deep
    if payload is None or _deeper_than(payload, MAX_PAYLOAD_DEPTH):
        raise LimitExceeded(f"The payload is nested more than {MAX_PAYLOAD_DEPTH} levels deep; write it as an "
                            'object of option name to value or list of values, e.g. {"source": ["referral"]}.')
    if not isinstance(payload, dict):
        raise ProtocolError('The payload must be a JSON object of option name to value, e.g. {"source": "referral"}.')
    return payload


def _deeper_than(value: Any, depth: int) -> bool:
    if not isinstance(value, dict | list):
        return False
    if depth == 0:
        return True
    return any(_deeper_than(item, depth - 1) for item in (value.values() if isinstance(value, dict) else value))


def payload_parts(payload: dict[str, Any]) -> tuple[tuple[Filter, ...], tuple[tuple[str, str], ...]]:
    """Keys naming a dimension become = filters; the others become metric options (checked against the metric)."""
    found: list[Filter] = []
    options: list[tuple[str, str]] = []
    for key, raw in payload.items():
        if isinstance(raw, dict):
            raise ProtocolError(f"Payload option {shown(key)} must be a value or a list of values, not an object.")
        values = split_values(raw)
        dim = _DIMENSION_NAMES.get(key.strip().lower())
        if dim is not None:
            if values:
                found.append(Filter(dimension=dim, operator=Operator.EQ, values=values))
        elif values:
            options.append((key, ",".join(values)))
    return tuple(found), tuple(sorted(options))


# --- time ---------------------------------------------------------------------------------------------

def parse_time(value: TimeValue, what: str, now: datetime | None = None) -> datetime:
    """ISO 8601 text (naive = UTC), epoch milliseconds, or Grafana's relative ``now-6h`` (for hand-written
    requests: Grafana itself sends absolute times), as an aware UTC datetime from EARLIEST to LATEST."""
    try:
        moment = _time(value, now)
    except (OverflowError, OSError):
        moment = None  # past what a datetime holds: out of bounds, as below
    except ValueError:
        raise ProtocolError(f"range.{what} = {shown(value)} is not a time: send ISO 8601 "
                            "(2026-01-31T00:00:00Z), epoch milliseconds or now-6h.") from None
    if moment is None or not EARLIEST <= moment <= LATEST:
        raise LimitExceeded(f"range.{what} = {shown(value)} is outside the times this service answers for, "
                            f"{EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d}; choose a range within them.")
    return moment


def shown(value: object) -> str:
    """A value as a message quotes it: its repr, cut to 60 characters (bodies may carry megabytes)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _time(value: TimeValue, now: datetime | None) -> datetime:
    """The time ``value`` names; ValueError when it names none, OverflowError past what a datetime holds."""
    if isinstance(value, bool):
        raise ValueError
    relative = _RELATIVE.fullmatch(value.strip()) if isinstance(value, str) else None
    if relative is not None:
        moment = now or datetime.now(UTC)
        if relative[1] is None:
            return moment
        return moment - int(relative[1]) * timedelta(milliseconds=_INTERVAL_MS[relative[2]])
    if isinstance(value, int | float) or (isinstance(value, str) and re.fullmatch(r"\s*-?\d+(\.\d+)?\s*", value)):
        millis = float(value)
        if math.isnan(millis):
            raise ValueError
        if not EARLIEST.timestamp() * 1000 <= millis <= LATEST.timestamp() * 1000:
            raise OverflowError  # some such (year 0) make fromtimestamp raise ValueError, as if not a number
        return datetime.fromtimestamp(millis / 1000, tz=UTC)
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_range(rng: TimeRange, limits: Limits) -> tuple[datetime, datetime]:
    start, end = parse_time(rng.from_, "from"), parse_time(rng.to, "to")
    if end <= start:
        raise ProtocolError(f"The time range is empty or reversed: from {start.isoformat()} is not before "
                            f"to {end.isoformat()}.")
    if end - start > timedelta(days=limits.max_range_days):
        raise LimitExceeded(f"The time range spans {(end - start).days} days; the limit is "
                            f"{limits.max_range_days} days (limits.max_range_days). Choose a shorter range.")
    return align(start, end)


def bucket(body: QueryRequest, start: datetime, end: datetime, limits: Limits) -> tuple[int, int]:
    """(interval_ms, max_points): the panel's interval, widened so the range never exceeds max_points buckets."""
    max_points = body.maxDataPoints if body.maxDataPoints is not None else DEFAULT_MAX_POINTS
    if max_points < 1:
        raise ProtocolError(f"maxDataPoints must be at least 1, got {max_points}.")
    if max_points > limits.max_data_points:
        raise LimitExceeded(f"maxDataPoints {max_points} exceeds the limit of {limits.max_data_points} "
                            "(limits.max_data_points); lower the panel's Max data points.")
    asked = _interval_ms(body)
    longest = limits.max_range_days * 86_400_000
    if asked is not None and asked > longest:
        raise LimitExceeded(f"The interval ({shown(body.interval if body.intervalMs is None else body.intervalMs)}) "
                            f"is longer than the longest range, {limits.max_range_days} days "
                            "(limits.max_range_days); choose a shorter interval.")
    span_ms = (end - start) / timedelta(milliseconds=1)
    needed = math.ceil(span_ms / max_points)
    # snapped to the bucket width the calculators will use anyway (buckets.series_width): panels whose intervals
    # differ only in Grafana's rounding then share one cache key, and the warmer's keys match theirs
    width = buckets.nice(timedelta(milliseconds=math.ceil(max(asked or 0, needed, MIN_INTERVAL_MS))))
    return int(width / timedelta(milliseconds=1)), max_points


def _interval_ms(body: QueryRequest) -> float | None:
    """The panel's interval in milliseconds (possibly huge, never NaN or negative); None when it sends none."""
    if body.intervalMs is not None:
        if math.isnan(body.intervalMs) or body.intervalMs < 0:
            raise ProtocolError(f"intervalMs must be a positive number of milliseconds, got {body.intervalMs}.")
        return body.intervalMs
    if body.interval:
        match = _INTERVAL.match(body.interval)
        if match is None:
            raise ProtocolError(f"interval {shown(body.interval)} is not a duration like 30s, 5m, 1h or 1d.")
        return float(match[1]) * _INTERVAL_MS[match[2]]  # inf at worst, refused by the caller
    return None


# --- whole requests -----------------------------------------------------------------------------------

def metric_queries(body: QueryRequest, limits: Limits) -> list[ParsedTarget]:
    """Every visible target of a /query body, in order; a bad target carries its error, the rest still run."""
    visible = [t for t in body.targets if _visible(t)]
    if len(visible) > limits.max_targets:
        raise LimitExceeded(f"The request has {len(visible)} targets; the limit is {limits.max_targets} "
                            "(limits.max_targets). Split the panel's queries.")
    start, end = parse_range(body.range, limits)
    interval_ms, max_points = bucket(body, start, end, limits)
    shared = filters(body.filters or []) + filters(body.adhocFilters or [])
    parsed: list[ParsedTarget] = []
    for target in visible:
        shape = _shape(target)
        for name in _metric_names(target):
            try:
                own, options = payload_parts(_target_payload(target))
                query = MetricQuery(metric=MetricName(name), start=start, end=end, interval_ms=interval_ms,
                                    max_points=max_points, filters=shared + own, options=options)
            except ProtocolError as exc:
                exc.ref_id = target.refId
                parsed.append(ParsedTarget(ref_id=target.refId, shape=shape, error=exc))
                continue
            parsed.append(ParsedTarget(ref_id=target.refId, shape=shape, query=query, adhoc=shared))
    return parsed


def fit(target: ParsedTarget, dimensions: frozenset[Dimension], options: Iterable[str]) -> tuple[MetricQuery, str]:
    """The target's query restricted to what its metric takes, and a notice of what was left out.

    A payload option or payload filter the metric does not take is an error (the panel's query is wrong);
    a dashboard ad-hoc filter on a dimension the metric lacks is left out with a notice, since Grafana applies
    ad-hoc filters to every panel of the dashboard.
    """
    assert target.query is not None
    q = target.query
    known = set(options)
    unknown = [name for name, _ in q.options if name not in known]
    if unknown:
        takes = ", ".join(sorted(known | {d.value for d in dimensions})) or "none"
        raise UnknownFilterKey(f"Metric {q.metric!r} has no option {shown(unknown[0])}; it takes: {takes}.",
                               ref_id=target.ref_id)
    kept, skipped = [], []
    for f in q.filters:
        if f.dimension in dimensions:
            kept.append(f)
        elif f in target.adhoc:
            skipped.append(f.dimension.value)
        else:
            takes = ", ".join(sorted(d.value for d in dimensions)) or "no dimension"
            raise UnknownFilterKey(f"Metric {q.metric!r} cannot be filtered by {f.dimension.value!r}; "
                                   f"it takes: {takes}.", ref_id=target.ref_id)
    notice = (f"Ad-hoc filter(s) on {', '.join(sorted(set(skipped)))} do not apply to {q.metric} and were "
              "left out." if skipped else "")
    return replace(q, filters=tuple(kept)), notice


def annotation_query(body: AnnotationRequest, limits: Limits) -> MetricQuery:
    """SimpleJSON's POST /annotations: the annotation's query text names the kinds wanted (empty = all)."""
    start, end = parse_range(body.range, limits)
    kinds = ",".join(split_values(_braced(body.annotation.query or "")))
    return MetricQuery(metric=MetricName(kinds), start=start, end=end)


def variable_target(body: VariableRequest) -> str:
    """The JSON API plugin's POST /variable: payload {target} (object or JSON text, or the bare name)."""
    if isinstance(body.payload, str):
        try:
            decoded = payload_dict(body.payload)
        except ProtocolError:
            return body.payload.strip()
        return str(decoded.get("target", "")).strip()
    return body.payload.target.strip()


def _braced(text: str) -> str:
    """'outages, alerts' → '{outages,alerts}' so split_values reads a comma list as several values."""
    text = text.strip()
    return f"{{{text}}}" if "," in text and not text.startswith(("{", "[")) else text


def _visible(target: TargetIn) -> bool:
    """Hidden targets are skipped, and so are the empty ones a new panel sends ("select metric")."""
    if target.hide:
        return False
    return target.refId == ANNOTATION_REF_ID or (target.target or "").strip() not in ("", "select metric")


def _shape(target: TargetIn) -> Shape:
    if target.refId == ANNOTATION_REF_ID:
        return Shape.ANNOTATIONS
    return Shape.TABLE if (target.type or "").strip().lower() == "table" else Shape.TIMESERIES


def _metric_names(target: TargetIn) -> Sequence[str]:
    """A target may name several metrics through a multi-value variable ({a,b}); an annotation target may be empty."""
    text = (target.target or "").strip()
    if target.refId == ANNOTATION_REF_ID:
        return [",".join(split_values(_braced(text)))]
    return split_values(text) or [text]


def _target_payload(target: TargetIn) -> dict[str, Any]:
    payload = payload_dict(target.payload)
    legacy = payload_dict(target.data)
    return {**legacy, **payload}
