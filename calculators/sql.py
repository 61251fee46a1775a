"""Shared SQL pieces with $n parameters: filters, row scope, series buckets and the rollup/raw union.

``totals`` reads one event type's sums per key from rollups where whole hours/days are covered and from raw
events elsewhere (``buckets.plan``); both sides go through ``sm_rollup_key`` (migration 0003), so the
answer equals the raw-events answer. Every statement filters by tenant_id although row-level security
already confines the transaction (defence in depth).
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


def union_source(
    tenant: str, types: str | tuple[str, ...], segments: list[Segment], p: Params, *, time_col: str = "t",
    series: tuple[timedelta | str, str] | None = None, with_hist: bool = False,
) -> str:
    """A subquery of rows (t, type, k1, k2, k3, n, s1, s2, s3, mx[, h, hc]) of event types over the segments.

    With ``with_hist`` each row also carries one histogram bin ``h`` and its count ``hc``; rollup rows are
    expanded per bin, so sum(hc) by h is the merged histogram (n/s columns are then only valid where hc's
    row is the first of its rollup row: use totals() for sums and this for histograms).
    """
    tp, yp = p.add(tenant), p.add([types] if isinstance(types, str) else list(types))
    parts = []
    for seg in segments:
        lo, hi = p.add(seg.lo), p.add(seg.hi)
        if seg.source == Source.RAW:
            t = bucket_expr("e.occurred_at", *series, p) if series else "e.occurred_at"
            hist = ", r.h, 1::bigint AS hc" if with_hist else ""
            parts.append(
                f"SELECT {t} AS {time_col}, e.type, r.k1, r.k2, r.k3, r.n, r.s1, r.s2, r.s3, r.mx{hist} FROM events e "
                f"CROSS JOIN LATERAL sm_rollup_key(e.type, e.payload, e.agent_id) r "
                f"WHERE e.tenant_id = {tp} AND e.type = ANY({yp}::text[]) "
                f"AND e.occurred_at >= {lo} AND e.occurred_at < {hi}")
        else:
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
