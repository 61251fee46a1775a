"""Shared SQL pieces with $n parameters: filters, row scope, series buckets and the rollup/raw union.

``union_source`` reads event types' sums per key from rollups where whole hours/days are covered and from raw
events elsewhere (``buckets.plan``); both sides go through ``sm_rollup_key`` (generated from the semantic model,
success_metrics/calculators/semantic), so the answer equals the raw-events answer. One type's rows carry the model's
names (the ``rollup_<type>`` view's columns; the raw side aliases sm_rollup_key's slots the same way). Raw component
calls and contact attempts are read from their typed tables (migration 0007) instead, with the same key and sums written
out over columns (``TYPED_RAW``), since extracting their jsonb fields row by row was what long ranges spent their time
on. Every statement filters by tenant_id although row-level security already confines the transaction (defence in
depth).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import pairwise
from typing import Any

import asyncpg

from success_metrics.calculators.buckets import MONTH, Segment, Source, Width
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


def where_filters(columns: Mapping[Dimension, str], filters: tuple[Filter, ...], p: Params, metric: str) -> str:
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


def bucket_expr(col: str, width: Width, tz: str, p: Params) -> str:
    """SQL for the start of the series bucket holding ``col`` (same edges as buckets.series_starts). Explicit
    bucket starts (rows at or after the first) compare ``col`` with parameters: no time zone arithmetic per row."""
    if isinstance(width, tuple):
        whens = " ".join(f"WHEN {col} < {p.add(nxt)}::timestamptz THEN {p.add(start)}::timestamptz"
                         for start, nxt in pairwise(width))
        last = f"{p.add(width[-1])}::timestamptz"
        return f"CASE {whens} ELSE {last} END" if whens else last
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


# A slot's SQL type (the NULL a row of a type without the column carries in a relation of several types).
SLOT_TYPES = {Slot.K1: "text", Slot.K2: "text", Slot.K3: "text", Slot.N: "bigint", Slot.S1: "numeric",
              Slot.S2: "numeric", Slot.S3: "numeric", Slot.MX: "numeric", Slot.H: "integer"}


Names = Mapping[str, Mapping[str, Slot]]


@functools.lru_cache(maxsize=256)  # the model is fixed: one answer per statement shape, not per computation
def _names(types: tuple[str, ...], only: tuple[str, ...] | None) -> Names:
    """Every column name of the types (the model's dimensions and measures, in the model's order; only
    ``only`` when given) -> the slot holding it in each type that has it."""
    out: dict[str, dict[str, Slot]] = {}
    for etype in types:
        for slot, name in MODELS[etype].slots().items():
            if slot != Slot.H:
                out.setdefault(name, {})[etype] = slot
    if only is None:
        return out
    if unknown := set(only) - set(out):
        raise KeyError(f"{types} have no rollup column {sorted(unknown)}; known: {sorted(out)}")
    return {name: by_type for name, by_type in out.items() if name in only}


def _picked(types: tuple[str, ...], pick: Mapping[str, Mapping[str, str]]) -> Names:
    """Columns that hold, in each type's rows, the model name ``pick`` gives for that type (a type it leaves out:
    NULL), as ``_names`` gives columns: alias -> the slot in each type."""
    found = {alias: {t: MODELS[t].column(name) for t, name in by_type.items() if t in types}
             for alias, by_type in pick.items()}
    return {alias: by_type for alias, by_type in found.items() if by_type}


def _named(alias: str, type_col: str, names: Names, single: bool,
           types: tuple[str, ...] = ()) -> str:
    """The named columns over a relation of slots (``alias.k1`` …) of ``types``: with one type the slot itself,
    with several the slot of the row's type (NULL for a type without the name), or the slot itself when every
    one of ``types`` holds the name in that same slot."""
    cols = []
    for name, by_type in names.items():
        same = set(by_type.values())
        if single or (len(same) == 1 and set(types) <= set(by_type)):
            expr = f"{alias}.{next(iter(same)).value}"
        else:
            whens = " ".join(f"WHEN '{t}' THEN {alias}.{slot.value}" for t, slot in by_type.items())
            expr = f"CASE {type_col} {whens} END"
        cols.append(f"{expr} AS {name}")
    return ", ".join(cols)


def _typed_named(etype: str, names: Names) -> str:
    """The named columns of a typed table's rows (NULL for names of the other types)."""
    typed = TYPED_RAW[etype]
    return ", ".join(f"{typed.expr(by_type[etype])} AS {name}" if etype in by_type
                     else f"NULL::{SLOT_TYPES[next(iter(by_type.values()))]} AS {name}"
                     for name, by_type in names.items())


def _in(types: tuple[str, ...]) -> str:
    return f"= '{types[0]}'" if len(types) == 1 else "IN (" + ", ".join(f"'{t}'" for t in types) + ")"


def _raw_parts(tp: str, types: tuple[str, ...], names: Names, seg: Segment, p: Params,
               time_col: str, series: tuple[Width, str] | None, with_hist: bool) -> list[str]:
    """The SELECTs of the raw rows of ``types`` in the segment: each typed table apart, the other types in one
    scan of events."""
    lo, hi = p.add(seg.lo), p.add(seg.hi)
    parts = []
    for etype in (x for x in types if x in TYPED_RAW):
        typed = TYPED_RAW[etype]
        t = bucket_expr("c.occurred_at", *series, p) if series else "c.occurred_at"
        hist = f", {typed.bin} AS h, 1::bigint AS hc" if with_hist else ""
        parts.append(f"SELECT {t} AS {time_col}, '{etype}'::text AS type{hist}, {_typed_named(etype, names)} "
                     f"FROM {typed.table} c "
                     f"WHERE c.tenant_id = {tp} AND c.occurred_at >= {lo} AND c.occurred_at < {hi}")
    rest = tuple(x for x in types if x not in TYPED_RAW)
    if rest:
        t = bucket_expr("e.occurred_at", *series, p) if series else "e.occurred_at"
        hist = ", r.h, 1::bigint AS hc" if with_hist else ""
        parts.append(f"SELECT {t} AS {time_col}, e.type{hist}, {_named('r', 'e.type', names, len(types) == 1, rest)} "
                     f"FROM events e CROSS JOIN LATERAL sm_rollup_key(e.type, e.payload, e.agent_id) r "
                     f"WHERE e.tenant_id = {tp} AND e.type {_in(rest)} "
                     f"AND e.occurred_at >= {lo} AND e.occurred_at < {hi}")
    return parts


def union_source(
    tenant: str, types: str | tuple[str, ...], segments: list[Segment], p: Params, *, time_col: str = "t",
    series: tuple[Width, str] | None = None, with_hist: bool = False, only: tuple[str, ...] | None = None,
    pick: Mapping[str, Mapping[str, str]] | None = None,
) -> str:
    """A subquery of event types' rows over the segments: t, type, then the model's dimensions and measures
    (success_metrics/calculators/semantic/events.py) by name, as in the ``rollup_<type>`` views (the raw side aliases
    sm_rollup_key's slots to the same names). With several types, a name holds the value of each type that has
    it and NULL in the others' rows, so one statement reads the rollups and the raw tail once for all of them
    (a UNION of one source per type made reads that mix types plan several times slower). ``only`` keeps
    those names: with several types each name is a CASE evaluated on every row, read or not. ``pick`` adds
    columns that hold a different name per type (alias -> type -> name, e.g. each type's volume): one CASE, or
    none when every type keeps those names in the same slot, instead of a column per name and type.

    With ``with_hist`` each row also carries one histogram bin ``h`` and its count ``hc``; rollup rows are
    expanded per bin, so sum(hc) by h is the merged histogram (the other columns are then only valid where hc's
    row is the first of its rollup row: use totals() for sums and this for histograms).
    """
    type_list = (types,) if isinstance(types, str) else types
    names = {**_names(type_list, only), **_picked(type_list, pick or {})}
    if len(type_list) == 1:  # the type's view, its columns by name
        m = MODELS[type_list[0]]
        source, kind, hist_col = f"{m.view} u", f"'{m.type}'::text AS type", m.slots()[Slot.H] if with_hist else ""
        viewed = {alias: by_type[m.type] for alias, by_type in (pick or {}).items() if m.type in by_type}
        row, which = ", ".join(f"u.{viewed[name]} AS {name}" if name in viewed else f"u.{name}" for name in names), ""
    else:  # the rollups under the views, each row's slots named for its type
        source, kind, hist_col = "rollups u", "u.type", "hist"
        row, which = _named("u", "u.type", names, False, type_list), f" AND u.type {_in(type_list)}"
    hist = ""
    if with_hist:
        source += f" CROSS JOIN LATERAL jsonb_each_text(u.{hist_col}) b"
        hist = ", b.key::integer AS h, b.value::bigint AS hc"
    tp = p.add(tenant)
    parts = []
    for seg in segments:
        if seg.source == Source.RAW:
            parts += _raw_parts(tp, type_list, names, seg, p, time_col, series, with_hist)
            continue
        lo, hi = p.add(seg.lo), p.add(seg.hi)
        t = bucket_expr("u.bucket", *series, p) if series else "u.bucket"
        parts.append(
            f"SELECT {t} AS {time_col}, {kind}{hist}, {row} FROM {source} "
            f"WHERE u.tenant_id = {tp} AND u.grain = '{seg.source.value}'{which} "
            f"AND u.bucket >= {lo} AND u.bucket < {hi}")
    if not parts:
        hist = ", NULL::integer AS h, 0::bigint AS hc" if with_hist else ""
        row = ", ".join(f"NULL::{SLOT_TYPES[next(iter(by_type.values()))]} AS {name}"
                        for name, by_type in names.items())
        return f"(SELECT NULL::timestamptz AS {time_col}, NULL::text AS type{hist}, {row} WHERE FALSE)"
    return "(" + " UNION ALL ".join(parts) + ")"


def by_type(exprs: Iterable[tuple[str, str]], other: str = "NULL") -> str:
    """A CASE over the event type of a row of ``union_source``: each type's expression, ``other`` for the rest."""
    return "CASE type " + " ".join(f"WHEN '{etype}' THEN {expr}" for etype, expr in exprs) + f" ELSE {other} END"


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


async def fetch_one(conn: asyncpg.Connection, query: str, *args: Any) -> asyncpg.Record:
    """``fetchrow`` of a statement that always yields a row: an aggregate without GROUP BY, INSERT … RETURNING."""
    row = await conn.fetchrow(query, *args)
    if row is None:
        raise LookupError(f"a statement that yields one row returned none: {query[:80]}")
    return row
