"""Shared SQL pieces with $n parameters: filters, row scope, series buckets and the rollup/raw union.

``union_source`` reads event types' sums per key from rollups where whole hours/days are covered and from raw
events elsewhere (``buckets.plan``); both sides go through ``sm_rollup_key`` (migration 0003), so the
answer equals the raw-events answer. Raw component calls and contact attempts are read from their typed
tables (migration 0007) instead, with the same key and sums written out over columns (``TYPED_RAW``), since
extracting their jsonb fields row by row was what long ranges spent their time on. Every statement filters
by tenant_id although row-level security already confines the transaction (defence in depth).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from calculators.buckets import MONTH, Segment, Source
from calculators.errors import UnsupportedFilter
from calculators.query import Filter, Operator, RowScope, ScopeKind
from calculators.vocabulary import Dimension


@dataclass
class Params:
    """Positional parameters of one statement; ``add`` returns the placeholder."""

    values: list[Any] = field(default_factory=list)

    def add(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


def filter_condition(expr: str, f: Filter, p: Params, metric: str) -> str:
    if f.operator in (Operator.EQ, Operator.NE):
        cond = f"{expr} = ANY({p.add(list(f.values))}::text[])"
        return cond if f.operator == Operator.EQ else f"NOT coalesce({cond}, false)"
    if f.operator in (Operator.REGEX, Operator.NOT_REGEX):
        pattern = "|".join(f"(?:{v})" for v in f.values) if len(f.values) > 1 else (f.values[0] if f.values else "")
        cond = f"{expr} ~ {p.add(pattern)}"
        return cond if f.operator == Operator.REGEX else f"NOT coalesce({cond}, false)"
    raise UnsupportedFilter(
        f"Filter operator {f.operator.value!r} does not apply to dimension {f.dimension.value!r} of {metric}; "
        "use =, !=, =~ or !~.", metric=metric)


def where_filters(columns: dict[Dimension, str], filters: tuple[Filter, ...], p: Params, metric: str) -> str:
    """AND of every filter whose dimension maps to a column here ('TRUE' when none)."""
    conds = [filter_condition(columns[f.dimension], f, p, metric) for f in filters if f.dimension in columns]
    return " AND ".join(conds) or "TRUE"


def scope_condition(agent_col: str, team_col: str, scope: RowScope, p: Params) -> str:
    """Rows of per-agent and per-lead views the scope may see."""
    if scope.kind == ScopeKind.TENANT:
        return "TRUE"
    if scope.kind == ScopeKind.TEAM:
        return f"{team_col} = ANY({p.add(list(scope.teams))}::text[])"
    if scope.agent_id is None:
        return "FALSE"
    return f"{agent_col} = {p.add(scope.agent_id)}"


def bucket_expr(col: str, width: timedelta | str, tz: str, p: Params) -> str:
    """SQL for the start of the series bucket holding ``col`` (same edges as buckets.series_starts)."""
    if width == MONTH:
        tzp = p.add(tz)
        return f"(date_trunc('month', {col} AT TIME ZONE {tzp}) AT TIME ZONE {tzp})"
    assert isinstance(width, timedelta)
    if width < timedelta(days=1):
        return f"date_bin({p.add(width)}::interval, {col}, timestamptz '2000-01-03 00:00:00+00')"
    tzp = p.add(tz)
    return f"(date_bin({p.add(width)}::interval, {col} AT TIME ZONE {tzp}, timestamp '2000-01-03') AT TIME ZONE {tzp})"


@dataclass(frozen=True, slots=True)
class TypedRaw:
    """Where raw rows of an event type are read from when it has a typed table (migration 0007): the table, and
    its row as sm_rollup_key's columns (k1..k3, n, s1..s3, mx) and histogram bin h over the table's columns."""

    table: str
    row: str
    bin: str


# Each expression is the rollup key's (migration 0003) over the same field, its defaults included: the same rows
# and sums as sm_rollup_key over the events (tests/calculators/test_typed_events.py compares them row by row).
TYPED_RAW: dict[str, TypedRaw] = {
    "component.call": TypedRaw(
        "component_calls",
        "coalesce(c.component, '') AS k1, coalesce(c.service, '') AS k2, "
        "CASE WHEN c.ok THEN '' ELSE coalesce(c.error_category, 'other') END AS k3, 1::bigint AS n, "
        "coalesce(c.ok::integer::numeric, 0) AS s1, coalesce(c.latency_ms, 0) AS s2, 0::numeric AS s3, "
        "c.latency_ms AS mx",
        bin="sm_hist_index(c.latency_ms::double precision)",
    ),
    "contact.attempted": TypedRaw(
        "contact_attempts",
        "coalesce(c.channel, '') AS k1, coalesce(c.outcome, '') AS k2, "
        "CASE WHEN c.manual THEN 'manual' ELSE 'auto' END AS k3, 1::bigint AS n, "
        "coalesce(c.consent, false)::integer::numeric AS s1, 0::numeric AS s2, 0::numeric AS s3, NULL::numeric AS mx",
        bin="NULL::integer",
    ),
}


def _raw_parts(tp: str, types: list[str], seg: Segment, p: Params, time_col: str,
               series: tuple[timedelta | str, str] | None, with_hist: bool) -> list[str]:
    """SELECTs of the raw rows of ``types`` in the segment: typed tables where there is one, else events."""
    if not types:
        return []
    lo, hi = p.add(seg.lo), p.add(seg.hi)
    parts = []
    for etype in types:
        if etype not in TYPED_RAW:
            continue
        typed = TYPED_RAW[etype]
        t = bucket_expr("c.occurred_at", *series, p) if series else "c.occurred_at"
        hist = f", {typed.bin} AS h, 1::bigint AS hc" if with_hist else ""
        parts.append(
            f"SELECT {t} AS {time_col}, '{etype}'::text AS type, {typed.row}{hist} FROM {typed.table} c "
            f"WHERE c.tenant_id = {tp} AND c.occurred_at >= {lo} AND c.occurred_at < {hi}")
    rest = [x for x in types if x not in TYPED_RAW]
    if rest:
        t = bucket_expr("e.occurred_at", *series, p) if series else "e.occurred_at"
        hist = ", r.h, 1::bigint AS hc" if with_hist else ""
        parts.append(
            f"SELECT {t} AS {time_col}, e.type, r.k1, r.k2, r.k3, r.n, r.s1, r.s2, r.s3, r.mx{hist} FROM events e "
            f"CROSS JOIN LATERAL sm_rollup_key(e.type, e.payload, e.agent_id) r "
            f"WHERE e.tenant_id = {tp} AND e.type = ANY({p.add(rest)}::text[]) "
            f"AND e.occurred_at >= {lo} AND e.occurred_at < {hi}")
    return parts


def union_source(
    tenant: str, types: str | tuple[str, ...], segments: list[Segment], p: Params, *, time_col: str = "t",
    series: tuple[timedelta | str, str] | None = None, with_hist: bool = False,
) -> str:
    """A subquery of rows (t, type, k1, k2, k3, n, s1, s2, s3, mx[, h, hc]) of event types over the segments.

    With ``with_hist`` each row also carries one histogram bin ``h`` and its count ``hc``; rollup rows are
    expanded per bin, so sum(hc) by h is the merged histogram (n/s columns are then only valid where hc's
    row is the first of its rollup row: use totals() for sums and this for histograms).
    """
    type_list = [types] if isinstance(types, str) else list(types)
    tp, yp = p.add(tenant), ""
    parts = []
    for seg in segments:
        if seg.source == Source.RAW:
            parts += _raw_parts(tp, type_list, seg, p, time_col, series, with_hist)
        else:
            yp = yp or p.add(type_list)  # only when used: an unreferenced parameter has no type
            lo, hi = p.add(seg.lo), p.add(seg.hi)
            t = bucket_expr("u.bucket", *series, p) if series else "u.bucket"
            if with_hist:
                hist = (", b.key::integer AS h, b.value::bigint AS hc FROM rollups u "
                        "CROSS JOIN LATERAL jsonb_each_text(u.hist) b")
            else:
                hist = " FROM rollups u"
            parts.append(
                f"SELECT {t} AS {time_col}, u.type, u.k1, u.k2, u.k3, u.n, u.s1, u.s2, u.s3, u.mx{hist} "
                f"WHERE u.tenant_id = {tp} AND u.grain = '{seg.source.value}' AND u.type = ANY({yp}::text[]) "
                f"AND u.bucket >= {lo} AND u.bucket < {hi}")
    if not parts:
        cols = (f"NULL::timestamptz AS {time_col}, ''::text AS type, ''::text AS k1, ''::text AS k2, ''::text AS k3, "
                "0::bigint AS n, 0::numeric AS s1, 0::numeric AS s2, 0::numeric AS s3, NULL::numeric AS mx")
        cols += ", NULL::integer AS h, 0::bigint AS hc" if with_hist else ""
        return f"(SELECT {cols} WHERE FALSE)"
    return "(" + " UNION ALL ".join(parts) + ")"


def percentile_sql(hist_source: str, group: list[str], quantiles: list[float]) -> str:
    """Percentiles per group from a (group..., h, hc) source, at percentile_cont's rank (see sketches.quantile)."""
    g = ", ".join(group)
    gsel = (g + ", ") if group else ""
    part = f"PARTITION BY {g}" if group else ""
    picks = []
    for i, q in enumerate(quantiles):
        pos = f"({q}::double precision * (tot - 1))"
        lo = f"min(h) FILTER (WHERE cum > floor({pos}))"
        hi = f"min(h) FILTER (WHERE cum > ceil({pos}))"
        frac = f"(max({pos}) - floor(max({pos})))"
        picks.append(f"sm_hist_value({lo}) + {frac} * (sm_hist_value({hi}) - sm_hist_value({lo})) AS q{i}")
    return (
        f"SELECT {gsel}{', '.join(picks)} FROM ("
        f"  SELECT {gsel}h, sum(c) OVER ({part} ORDER BY h) AS cum, sum(c) OVER ({part}) AS tot"
        f"  FROM (SELECT {gsel}h, sum(hc) AS c FROM {hist_source} s WHERE h IS NOT NULL GROUP BY {gsel}h) b"
        f") w" + (f" GROUP BY {g}" if group else "")
    )
