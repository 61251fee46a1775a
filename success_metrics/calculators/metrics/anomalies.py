"""Anomalies on the key daily series — leads, revenue, first-contact time, component error rate — by seasonal
decomposition (statsmodels STL, robust, weekly season) and a robust threshold on what it leaves over.

The trainer kind ``anomalies`` scans the tenant's last year of complete tenant-local days; the metrics, the
annotation kind and the alert figure only read the stored scan. A day is anomalous when its remainder lies more
than ``THRESHOLD`` robust standard deviations (1.4826 × the median absolute deviation) from the remainders'
median; ``expected`` is trend + season, ``score`` the signed distance in those units.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from datetime import date, datetime, timedelta

import asyncpg
from pydantic import BaseModel

from success_metrics.calculators import buckets, models, shapes
from success_metrics.calculators.catalog import Option, metric, origins_of
from success_metrics.calculators.frames import Frame, Lineage
from success_metrics.calculators.query import ScopedQuery
from success_metrics.calculators.tenant_settings import TenantSettings
from success_metrics.calculators.vocabulary import ColumnType, Kind, Unit

KIND = "anomalies"
DAYS = 365
PERIOD = 7
THRESHOLD = 4.0
MIN_DAYS = 4 * PERIOD  # fewer complete days than this: no scan of the series
SERIES: dict[str, tuple[str, tuple[str, ...]]] = {  # series → (unit, the measures it reads)
    "leads": ("count", ("leads",)),
    "revenue": ("currency", ("deal_revenue",)),
    "response_time": ("hours", ("leads", "first_contact_seconds")),
    "error_rate": ("percent", ("component_calls",)),
}
SERIES_OPTION = Option("series", "Series", tuple(SERIES))


class Anomaly(BaseModel):
    time: int  # epoch ms of the tenant-local day's start
    series: str
    value: float
    expected: float
    score: float


class Scan(BaseModel):
    anomalies: list[Anomaly]
    scanned: dict[str, int]  # series → days scanned (0: too short)


def robust_scores(remainder: list[float]) -> list[float]:
    """(r − median) / (1.4826 · MAD) per point; all zero when the MAD is zero."""
    ordered = sorted(remainder)
    med = _median(ordered)
    mad = _median(sorted(abs(r - med) for r in remainder))
    if mad == 0:
        return [0.0] * len(remainder)
    return [(r - med) / (1.4826 * mad) for r in remainder]


def _median(ordered: list[float]) -> float:
    n = len(ordered)
    return (ordered[n // 2] + ordered[(n - 1) // 2]) / 2


def detect(series: str, times: Sequence[int], values: Sequence[float | None]) -> list[Anomaly]:
    """STL (robust, weekly) of one daily series; days missing a value are filled with the median and never
    flagged."""
    # heavy: imported only where the trainer scans; statsmodels ships no type information
    from statsmodels.tsa.seasonal import STL  # type: ignore[import-untyped]

    known = sorted(v for v in values if v is not None)
    if len(known) < MIN_DAYS:
        return []
    fill = _median(known)
    y = [fill if v is None else v for v in values]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = STL(y, period=PERIOD, robust=True).fit()
    expected = [float(t + s) for t, s in zip(fit.trend, fit.seasonal, strict=True)]
    scores = robust_scores([float(r) for r in fit.resid])
    return [Anomaly(time=t, series=series, value=float(v), expected=e, score=round(z, 2))
            for t, v, e, z in zip(times, values, expected, scores, strict=True)
            if v is not None and abs(z) > THRESHOLD and math.isfinite(z)]


async def load(conn: asyncpg.Connection, tenant: str, s: TenantSettings, now: datetime
               ) -> dict[str, tuple[list[int], list[float | None]]]:
    """Each series per complete tenant-local day of the last DAYS days (None where it has no value)."""
    today = now.astimezone(s.zone).date()
    days = [today - timedelta(days=DAYS - i) for i in range(DAYS)]
    lo, hi = buckets.local_midnight(days[0], s.zone), buckets.local_midnight(today, s.zone)
    rows = await conn.fetch(
        """SELECT 'leads' AS series, (created_at AT TIME ZONE $2)::date AS d, count(*)::float8 AS v FROM leads
           WHERE tenant_id = $1 AND created_at >= $3 AND created_at < $4 GROUP BY 2
           UNION ALL
           SELECT 'revenue', (closed_at AT TIME ZONE $2)::date, sum(deal_value)::float8 FROM leads
           WHERE tenant_id = $1 AND closed_at >= $3 AND closed_at < $4 GROUP BY 2
           UNION ALL
           SELECT 'response_time', (created_at AT TIME ZONE $2)::date,
                  avg(extract(epoch FROM first_contact_at - created_at) / 3600)::float8 FROM leads
           WHERE tenant_id = $1 AND created_at >= $3 AND created_at < $4 AND first_contact_at >= created_at GROUP BY 2
           UNION ALL
           SELECT 'error_rate', (bucket AT TIME ZONE $2)::date, 100 * sum(calls - ok_calls)::float8 / sum(calls)
           FROM rollup_component_call WHERE tenant_id = $1 AND grain = 'hour' AND bucket >= $3 AND bucket < $4
           GROUP BY 2 HAVING sum(calls) > 0""", tenant, s.timezone, lo, hi)
    found: dict[str, dict[date, float]] = {k: {} for k in SERIES}
    for r in rows:
        found[r["series"]][r["d"]] = r["v"]
    zero_when_missing = {"leads", "revenue"}  # a day without leads or deals is a zero, not a gap
    out = {}
    for name, by_day in found.items():
        scanned = [d for d in days if d >= min(by_day)] if by_day else []  # from the day the series began
        out[name] = ([buckets.epoch_ms(buckets.local_midnight(d, s.zone)) for d in scanned],
                     [by_day.get(d, 0.0 if name in zero_when_missing else None) for d in scanned])
    return out


@models.trainer(KIND, load, "day")  # complete days only
def scan(data: dict[str, tuple[list[int], list[float | None]]]) -> dict[str, bytes]:
    found = [a for name, (times, values) in data.items() for a in detect(name, times, values)]
    scanned = {name: len(times) if sum(v is not None for v in values) >= MIN_DAYS else 0
               for name, (times, values) in data.items()}
    return {"scan": models.encode(Scan(anomalies=sorted(found, key=lambda a: (a.time, a.series)), scanned=scanned))}


async def stored_scan(conn: asyncpg.Connection, sq: ScopedQuery) -> Scan | None:
    row = await models.read(conn, sq.tenant_id, KIND, "scan")
    return None if row is None else models.decode(row.payload, Scan)


def in_range(scan: Scan, sq: ScopedQuery) -> list[Anomaly]:
    lo, hi = buckets.epoch_ms(sq.query.start), buckets.epoch_ms(sq.query.end)
    wanted = sq.query.option("series")
    return [a for a in scan.anomalies if lo <= a.time < hi and (wanted in (None, a.series))]


def lineage_of(series: str) -> Lineage:
    return origins_of(SERIES[series][1])


ALL_INPUTS = tuple(dict.fromkeys(m for _, inputs in SERIES.values() for m in inputs))


@metric("anomalies.detected", "Anomalies Detected",
        "Tenant-local days whose value of a key series — leads created, closed revenue, hours to first contact "
        "(mean over the day's leads), component error rate (% of calls failed) — lies more than 4 robust standard "
        "deviations from what a robust STL decomposition (weekly season, last 365 complete days) expects: time "
        "(the day), series, value, expected (trend + season), score (signed robust z of the remainder). Scanned "
        "by the background trainer; revenue rows only for roles that may see revenue.",
        Unit.TEXT, Kind.TABLE, options=(SERIES_OPTION,), inputs=ALL_INPUTS, row_lineage=True,
        column_units=(("score", Unit.SCORE),))
async def detected(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    scan_ = await stored_scan(conn, sq)
    cols = [shapes.Col("time", ColumnType.TIME), shapes.text("series"), shapes.num("value"),
            shapes.num("expected"), shapes.num("score", Unit.SCORE)]
    found = in_range(scan_, sq) if scan_ else []
    notices = [models.NOT_FITTED] if scan_ is None else []
    return shapes.table(sq.query.metric, cols, [(a.time, a.series, a.value, a.expected, a.score) for a in found],
                        notices=notices, row_lineage=[lineage_of(a.series) for a in found])


@metric("alerts.anomalies", "Anomalies in the Range",
        "How many anomalies (see anomalies.detected; option series narrows to one) fell on days starting in the "
        "range: an alert rule of kind 'metric' on it fires when the background scan finds one. Previous: none.",
        Unit.COUNT, Kind.STAT, options=(SERIES_OPTION,), dashboard=False, inputs=ALL_INPUTS)
async def anomaly_count(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    scan_ = await stored_scan(conn, sq)
    if scan_ is None:
        return shapes.stat(sq.query.metric, None, None, None, Unit.COUNT, notices=[models.NOT_FITTED])
    return shapes.stat(sq.query.metric, len(in_range(scan_, sq)), None, None, Unit.COUNT, lower_is_better=True)
