"""Shared SQL pieces with $n parameters: filters, row scope, series buckets and the rollup/raw union.

``union_source`` reads event types' sums per key from rollups where whole hours/days are covered and from raw
events elsewhere (``buckets.plan``); both sides go through ``sm_rollup_key`` (generated from the semantic model,
success_metrics/calculators/semantic), so the answer equals the raw-events answer. One type's rows carry the model's names
(the ``rollup_<type>`` view's columns; the raw side aliases sm_rollup_key's slots the same way). Raw component calls and contact attempts are read from their typed
tables (migration 0007) instead, with the same key and sums written out over columns (``TYPED_RAW``), since
extracting their jsonb fields row by row was what long ranges spent their time on. Every statement filters
by tenant_id although row-level security already confines the transaction (defence in depth).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from success_metrics.calculators.buckets import MONTH, Segment, Source
from success_metrics.calculators.errors import UnsupportedFilter
from success_metrics.calculators.query import Filter, Operator, RowScope, ScopeKind
from success_metrics.calculators.semantic import MODELS, Slot
from success_metrics.calculators.vocabulary import Dimension


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


# A slot's SQL type and its value in a row of a type that does not use it (as sm_rollup_key gives it).
SLOT_DEFAULTS = {Slot.K1: "''::text", Slot.K2: "''::text", Slot.K3: "''::text", Slot.N: "0::bigint",
                 Slot.S1: "0::numeric", Slot.S2: "0::numeric", Slot.S3: "0::numeric", Slot.MX: "NULL::numeric",
                 Slot.H: "NULL::integer"}
GENERIC = tuple(x for x in Slot if x != Slot.H)  # sm_rollup_key's row without the histogram bin


@dataclass(frozen=True, slots=True)
class TypedRaw:
    """Where raw rows of an event type are read from when it has a typed table (migration 0007): the table, and
    each rollup slot as an expression over the table's columns (``c``)."""

    table: str
    slots: dict[Slot, str]

    def expr(self, slot: Slot) -> str:
        return self.slots.get(slot, SLOT_DEFAULTS[slot])

    @property
    def row(self) -> str:
        """The row as sm_rollup_key's positional columns (k1..k3, n, s1..s3, mx)."""
        return ", ".join(f"{self.expr(x)} AS {x.value}" for x in GENERIC)

    @property
    def bin(self) -> str:
        return self.expr(Slot.H)


# Each expression is the model's slot (sm_rollup_key) over the same field, its defaults included: the same rows
# and sums as sm_rollup_key over the events (tests/calculators/test_typed_events.py compares them row by row).
TYPED_RAW: dict[str, TypedRaw] = {
    "component.call": TypedRaw("component_calls", {
        Slot.K1: "coalesce(c.component, '')", Slot.K2: "coalesce(c.service, '')",
        Slot.K3: "CASE WHEN c.ok THEN '' ELSE coalesce(c.error_category, 'other') END", Slot.N: "1::bigint",
        Slot.S1: "coalesce(c.ok::integer::numeric, 0)", Slot.S2: "coalesce(c.latency_ms, 0)", Slot.MX: "c.latency_ms",
        Slot.H: "sm_hist_index(c.latency_ms::double precision)"}),
    "contact.attempted": TypedRaw("contact_attempts", {
        Slot.K1: "coalesce(c.channel, '')", Slot.K2: "coalesce(c.outcome, '')",
        Slot.K3: "CASE WHEN c.manual THEN 'manual' ELSE 'auto' END", Slot.N: "1::bigint",
        Slot.S1: "coalesce(c.consent, false)::integer::numeric"}),
}


def _raw_parts(tp: str, etype: str, seg: Segment, p: Params, time_col: str,
               series: tuple[timedelta | str, str] | None, with_hist: bool) -> str:
    """The SELECT of the raw rows of ``etype`` in the segment: its typed table if it has one, else events."""
    lo, hi = p.add(seg.lo), p.add(seg.hi)
    cols = [(slot, name) for slot, name in MODELS[etype].slots().items() if slot != Slot.H]
    typed = TYPED_RAW.get(etype)
    if typed is not None:
        t = bucket_expr("c.occurred_at", *series, p) if series else "c.occurred_at"
        hist = f", {typed.bin} AS h, 1::bigint AS hc" if with_hist else ""
        row = ", ".join(f"{typed.expr(slot)} AS {name}" for slot, name in cols)
        return (f"SELECT {t} AS {time_col}{hist}, {row} FROM {typed.table} c "
                f"WHERE c.tenant_id = {tp} AND c.occurred_at >= {lo} AND c.occurred_at < {hi}")
    t = bucket_expr("e.occurred_at", *series, p) if series else "e.occurred_at"
    hist = ", r.h, 1::bigint AS hc" if with_hist else ""
    row = ", ".join(f"r.{slot.value} AS {name}" for slot, name in cols)
    return (f"SELECT {t} AS {time_col}{hist}, {row} FROM events e "
            f"CROSS JOIN LATERAL sm_rollup_key(e.type, e.payload, e.agent_id) r "
            f"WHERE e.tenant_id = {tp} AND e.type = '{etype}' AND e.occurred_at >= {lo} AND e.occurred_at < {hi}")


def union_source(
    tenant: str, etype: str, segments: list[Segment], p: Params, *, time_col: str = "t",
    series: tuple[timedelta | str, str] | None = None, with_hist: bool = False,
) -> str:
    """A subquery of one event type's rows over the segments: t, then the model's dimensions and measures
    (success_metrics/calculators/semantic/events.py), the columns of its ``rollup_<type>`` view (the raw side aliases
    sm_rollup_key's slots to the same names).

    With ``with_hist`` each row also carries one histogram bin ``h`` and its count ``hc``; rollup rows are
    expanded per bin, so sum(hc) by h is the merged histogram (the other columns are then only valid where hc's
    row is the first of its rollup row: use totals() for sums and this for histograms).
    """
    m = MODELS[etype]
    row = ", ".join(f"u.{name}" for slot, name in m.slots().items() if slot != Slot.H)
    source = f"{m.view} u"
    hist = ""
    if with_hist:
        source += f" CROSS JOIN LATERAL jsonb_each_text(u.{m.slots()[Slot.H]}) b"
        hist = ", b.key::integer AS h, b.value::bigint AS hc"
    tp = p.add(tenant)
    parts = []
    for seg in segments:
        if seg.source == Source.RAW:
            parts.append(_raw_parts(tp, etype, seg, p, time_col, series, with_hist))
            continue
        lo, hi = p.add(seg.lo), p.add(seg.hi)
        t = bucket_expr("u.bucket", *series, p) if series else "u.bucket"
        parts.append(
            f"SELECT {t} AS {time_col}{hist}, {row} FROM {source} "
            f"WHERE u.tenant_id = {tp} AND u.grain = '{seg.source.value}' AND u.bucket >= {lo} AND u.bucket < {hi}")
    if not parts:
        hist = ", NULL::integer AS h, 0::bigint AS hc" if with_hist else ""
        row = ", ".join(f"{SLOT_DEFAULTS[slot]} AS {name}" for slot, name in m.slots().items() if slot != Slot.H)
        return f"(SELECT NULL::timestamptz AS {time_col}{hist}, {row} WHERE FALSE)"
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
