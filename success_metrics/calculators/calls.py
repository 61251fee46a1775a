"""Component-call statistics (volume, success, latency average and percentiles) per component or service.

Counts and sums come from rollups plus the raw tail (``buckets.plan``). Percentiles are exact
(``percentile_cont`` over raw events) when the range spans at most EXACT_SPAN, or when a series covers at
most EXACT_SERIES_CALLS calls (merging histograms per bucket then costs more than sorting the raw values);
otherwise they come from the merged log histograms of the rollups (``sketches``: within 0.99 % of exact).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from success_metrics.calculators import buckets, formulas
from success_metrics.calculators.buckets import Segment, Source
from success_metrics.calculators.query import Filter
from success_metrics.calculators.sketches import RELATIVE_ERROR
from success_metrics.calculators.sql import Params, percentile_sql, union_source, where_filters
from success_metrics.calculators.tenant_settings import TenantSettings
from success_metrics.calculators.vocabulary import Dimension

EXACT_SPAN = timedelta(days=2)
EXACT_SERIES_CALLS = 200_000
CALL_COLUMNS = {Dimension.COMPONENT: "component", Dimension.SERVICE: "service"}


@dataclass(frozen=True, slots=True)
class CallStats:
    calls: int
    ok: int
    latency_sum: float
    median: float | None
    p95: float | None

    @property
    def success_rate(self) -> float | None:
        return formulas.ratio(self.ok, self.calls)

    @property
    def avg_latency(self) -> float | None:
        return formulas.ratio(self.latency_sum, self.calls)


Key = tuple[datetime | None, str]


async def call_stats(
    conn: asyncpg.Connection, tenant: str, s: TenantSettings, lo: datetime, hi: datetime, key: str,
    filters: tuple[Filter, ...], metric: str, width: timedelta | str | None = None, *,
    extra_where: str = "TRUE", percentiles: bool = True,
) -> tuple[dict[Key, CallStats], dict[str, Any]]:
    """Stats per (series bucket or None, ``key``: a column of rollup_component_call, e.g. component); and meta saying
    how percentiles were computed."""
    finest = buckets.finest_for(width) if width is not None else Source.MONTH

    def source(p: Params, segments: list[Segment], with_hist: bool) -> tuple[str, str]:
        src = union_source(tenant, "component.call", segments, p, series=(width, s.timezone) if width else None,
                           with_hist=with_hist, time_col="ts")
        where = where_filters(CALL_COLUMNS, filters, p, metric)
        tcol = "x.ts" if width else "NULL::timestamptz"
        return f"(SELECT {tcol} AS t, {key} AS key, * FROM {src} x WHERE {where} AND {extra_where})", tcol

    p = Params()
    src, _ = source(p, buckets.plan(lo, hi, s.zone, finest), False)
    counts = await conn.fetch(
        f"SELECT t, key, sum(calls) AS n, sum(ok_calls) AS ok, sum(latency_ms_sum) AS lat FROM {src} c "
        f"GROUP BY 1, 2", *p.values)
    exact = hi - lo <= EXACT_SPAN or (width is not None and sum(r["n"] for r in counts) <= EXACT_SERIES_CALLS)
    p = Params()
    if not percentiles:
        pct = []
    elif exact:
        src, _ = source(p, [Segment(Source.RAW, lo, hi)], False)
        pct = await conn.fetch(
            f"SELECT t, key, percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms_sum) AS q0, "  # one call's sum
            f"percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms_sum) AS q1 FROM {src} c GROUP BY 1, 2", *p.values)
    else:
        src, _ = source(p, buckets.plan(lo, hi, s.zone, finest), True)
        pct = await conn.fetch(percentile_sql(src, ["t", "key"], [0.5, 0.95]), *p.values)
    quantiles = {(r["t"], r["key"]): (r["q0"], r["q1"]) for r in pct}
    out = {}
    for r in counts:
        q0, q1 = quantiles.get((r["t"], r["key"]), (None, None))
        out[(r["t"], r["key"])] = CallStats(r["n"], int(r["ok"]), float(r["lat"]),
                                            None if q0 is None else float(q0), None if q1 is None else float(q1))
    meta = {"percentiles": "exact" if exact else "sketch", "relative_error": 0.0 if exact else RELATIVE_ERROR}
    return out, meta


def by_key(stats: dict[Key, CallStats]) -> dict[str, dict[datetime, CallStats]]:
    """A series' stats per key (sorted), each by bucket start: one pass, where picking each key's buckets out of
    all of them cost keys × buckets × keys (a quarter of 3-hour buckets: most of a latency panel's Python)."""
    out: dict[str, dict[datetime, CallStats]] = {k: {} for _, k in sorted(stats, key=lambda tk: tk[1])}
    for (t, k), c in stats.items():
        if t is not None:
            out[k][t] = c
    return out


def health(success_rate: float | None, sla: float) -> str:
    """healthy at or above the SLA success rate, degraded within 5 points below it, down further below."""
    if success_rate is None:
        return "idle"
    if success_rate >= sla:
        return "healthy"
    return "degraded" if success_rate >= sla - 0.05 else "down"
