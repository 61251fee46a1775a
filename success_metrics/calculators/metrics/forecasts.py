"""Forecasts of revenue, leads and capacity, with 80 % and 95 % intervals and their backtest, from the model store.

The trainer kind ``forecast`` reads each tenant's complete tenant-local months (weeks for capacity) from lead state and
fits every series (success_metrics/calculators/forecasting.py); the metrics only read what it stored, so a panel asked
before the first fit says so (success_metrics.calculators.models.NOT_FITTED) and a short history says why there is no
line.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg

from success_metrics.calculators import buckets, models, shapes
from success_metrics.calculators.catalog import Option, metric, origins_of
from success_metrics.calculators.errors import UnsupportedFilter
from success_metrics.calculators.forecasting import SeriesForecast, forecast_series
from success_metrics.calculators.frames import Column, Frame
from success_metrics.calculators.query import Operator, ScopedQuery
from success_metrics.calculators.tenant_settings import TenantSettings
from success_metrics.calculators.vocabulary import (
    ColumnType,
    Dimension,
    Kind,
    Sensitivity,
    Unit,
)

KIND = "forecast"
HORIZON = 6
MONTHS, WEEKS = 12, 52  # season lengths
HORIZON_OPTION = Option("horizon", "Horizon", tuple(str(h) for h in range(1, HORIZON + 1)), default=str(HORIZON))
SERIES_OPTION = Option("series", "Series", ("total", "attributed"), default="total")
REVENUE_INPUTS = ("deal_revenue", "lead_funnel", "attribution_weights")
LEAD_INPUTS = ("leads",)
CAPACITY_INPUTS = ("leads", "lead_funnel", "teams")
BAND = ("forecast", "lower_80", "upper_80", "lower_95", "upper_95")


def _ms(t: datetime) -> int:
    return buckets.epoch_ms(t)


def _months(first: datetime, end: datetime, zone: Any) -> list[datetime]:
    return buckets.series_starts(first, end, buckets.MONTH, zone) if first < end else []


def _weeks(first: date, end: date, zone: Any) -> list[datetime]:
    out, d = [], first
    while d < end:
        out.append(buckets.local_midnight(d, zone))
        d += timedelta(days=7)
    return out


async def load(conn: asyncpg.Connection, tenant: str, s: TenantSettings, now: datetime) -> list[dict[str, Any]]:
    """Every series to fit: complete tenant-local months (weeks) from the first complete one with leads."""
    zone = s.zone
    current, _ = buckets.month_bounds(now, zone)
    first_lead = await conn.fetchval("SELECT min(created_at) FROM leads WHERE tenant_id = $1", tenant)
    if first_lead is None:
        return []
    _, first = buckets.month_bounds(first_lead, zone)  # the first month may be partial: start after it
    months = _months(first, current, zone)
    future = [_ms(t) for t in _months(current, buckets.month_bounds(now, zone, HORIZON)[0], zone)]
    w = s.attribution_weights
    revenue = {r["m"]: r for r in await conn.fetch(
        """SELECT date_trunc('month', closed_at AT TIME ZONE $2)::date AS m, sum(deal_value) AS total,
                  sum(deal_value * CASE attribution_class WHEN 'direct' THEN $3::numeric
                      WHEN 'assisted' THEN $4::numeric WHEN 'influenced' THEN $5::numeric ELSE 0 END) AS attributed
           FROM leads WHERE tenant_id = $1 AND closed_at >= $6 AND closed_at < $7 GROUP BY 1""",
        tenant, s.timezone, w.direct, w.assisted, w.influenced, first, current)}
    leads: dict[str, dict[date, int]] = {}
    for r in await conn.fetch(
            """SELECT date_trunc('month', created_at AT TIME ZONE $2)::date AS m, coalesce(source, 'unknown') AS src,
                      count(*) AS n
               FROM leads WHERE tenant_id = $1 AND created_at >= $3 AND created_at < $4 GROUP BY 1, 2""",
            tenant, s.timezone, first, current):
        leads.setdefault(r["src"], {})[r["m"]] = r["n"]
    keys = [t.astimezone(zone).date() for t in months]
    starts = [_ms(t) for t in months]
    out = [_spec("revenue.total", "currency", starts, future, [float(revenue[k]["total"]) if k in revenue else 0.0
                                                              for k in keys], MONTHS, "total revenue"),
           _spec("revenue.attributed", "currency", starts, future,
                 [float(revenue[k]["attributed"]) if k in revenue else 0.0 for k in keys], MONTHS,
                 "attributed revenue"),
           _spec("leads", "count", starts, future, [float(sum(v.get(k, 0) for v in leads.values())) for k in keys],
                 MONTHS, "leads")]
    out += [_spec(f"leads:{src}", "count", starts, future, [float(by.get(k, 0)) for k in keys], MONTHS,
                  f"leads from {src}") for src, by in sorted(leads.items())]
    return out + await _capacity(conn, tenant, s, now, first_lead)


async def _capacity(conn: asyncpg.Connection, tenant: str, s: TenantSettings, now: datetime,
                    first_lead: datetime) -> list[dict[str, Any]]:
    """Per team (and the whole tenant): leads routed per agent per week, and the team's handled volume (leads its
    agents first contacted) per agent per week."""
    zone = s.zone
    today = now.astimezone(zone).date()
    this_week = today - timedelta(days=today.weekday())
    d0 = first_lead.astimezone(zone).date()
    first_week = d0 - timedelta(days=d0.weekday()) + timedelta(days=7)  # the first week may be partial
    weeks = _weeks(first_week, this_week, zone)
    future = [_ms(t) for t in _weeks(this_week, this_week + timedelta(days=7 * HORIZON), zone)]
    if not weeks:
        return []
    agents = {r["team_id"]: r["n"] for r in await conn.fetch(
        "SELECT team_id, count(*) AS n FROM agents WHERE tenant_id = $1 AND active AND team_id IS NOT NULL "
        "GROUP BY 1", tenant)}
    rows = await conn.fetch(
        """SELECT team_id, date_trunc('week', created_at AT TIME ZONE $2)::date AS w, count(*) AS routed,
                  0 AS handled FROM leads
           WHERE tenant_id = $1 AND team_id IS NOT NULL AND created_at >= $3 AND created_at < $4 GROUP BY 1, 2
           UNION ALL
           SELECT team_id, date_trunc('week', first_contact_at AT TIME ZONE $2)::date, 0, count(*) FROM leads
           WHERE tenant_id = $1 AND team_id IS NOT NULL AND first_contact_at >= $3 AND first_contact_at < $4
           GROUP BY 1, 2""", tenant, s.timezone, weeks[0], buckets.local_midnight(this_week, zone))
    routed: dict[str, dict[date, int]] = {}
    handled: dict[str, dict[date, int]] = {}
    for r in rows:
        routed.setdefault(r["team_id"], {}).setdefault(r["w"], 0)
        routed[r["team_id"]][r["w"]] += r["routed"]
        handled.setdefault(r["team_id"], {}).setdefault(r["w"], 0)
        handled[r["team_id"]][r["w"]] += r["handled"]
    keys = [t.astimezone(zone).date() for t in weeks]
    starts = [_ms(t) for t in weeks]
    out = []
    teams = sorted(t for t in routed if agents.get(t))
    for key, members, label in [("capacity", teams, "the tenant")] + [(f"capacity:{t}", [t], f"team {t}")
                                                                       for t in teams]:
        n = sum(agents[t] for t in members)
        if not n:
            continue
        per_agent = [sum(routed[t].get(k, 0) for t in members) / n for k in keys]
        done = sorted(sum(handled[t].get(k, 0) for t in members) / n for k in keys)
        spec = _spec(key, "count", starts, future, per_agent, WEEKS, f"leads per agent of {label}")
        spec["extra"] = {"capacity": done[int(0.9 * (len(done) - 1))], "agents": float(n)}
        out.append(spec)
    return out


def _spec(series: str, unit: str, starts: list[int], future: list[int], y: list[float], period: int,
          what: str) -> dict[str, Any]:
    return {"series": series, "unit": unit, "starts": starts, "future": future, "y": y, "period": period,
            "what": what, "extra": {}}


@models.trainer(KIND, load, "week")  # complete months and weeks only
def fit(specs: list[dict[str, Any]]) -> dict[str, bytes]:
    out = {}
    for spec in specs:
        f = forecast_series(spec["series"], spec["unit"], spec["starts"], spec["future"], spec["y"], spec["period"],
                            what=spec["what"])
        f.extra = spec["extra"]
        out[spec["series"]] = models.encode(f)
    return out


def _one(q: Any, dimension: Dimension) -> str | None:
    """The single value an '=' filter on ``dimension`` names (None: no filter, the whole tenant)."""
    for f in q.filters:
        if f.dimension is dimension:
            if f.operator is not Operator.EQ or len(f.values) != 1:
                raise UnsupportedFilter(f"{q.metric} forecasts one {dimension.value} at a time: filter it with '=' "
                                        "and one value, or leave it at All.", metric=q.metric)
            return str(f.values[0])
    return None


async def _frame(conn: asyncpg.Connection, sq: ScopedQuery, key: str, unit: Unit, field: str | None,
                 extra: Sequence[str] = ()) -> Frame:
    """The stored forecast of ``key`` as a time series: actual over the range's periods, then the horizon."""
    q = sq.query
    stored = await models.read(conn, sq.tenant_id, KIND, key)
    if stored is None or not stored.payload:
        fitted = await models.stored_watermark(conn, sq.tenant_id, KIND)
        notice = models.NOT_FITTED if fitted is None else f"No forecast for {key.split(':', 1)[-1]}: it has no data."
        return _series(q.metric, [], [], None, unit, field, extra, {}, [notice])
    f = models.decode(stored.payload, SeriesForecast)
    horizon = int(q.option("horizon", HORIZON_OPTION.default) or HORIZON)
    start_ms = _ms(q.start)
    first = next((i for i, t in enumerate(f.starts[:len(f.actual)]) if t >= start_ms), len(f.actual))
    meta = {"model": f.model, "fitted_at": stored.fitted_at.isoformat(), "season": f.period,
            **({"backtest": f.backtest.model_dump()} if f.backtest else {})}
    notices = [f.notice] if f.notice else []
    times = f.starts[first:len(f.actual)] + (f.starts[len(f.actual):len(f.actual) + horizon] if f.band else [])
    return _series(q.metric, times, f.actual[first:], f, unit, field, extra, meta, notices, horizon)


def _series(name: str, times: list[int], actual: list[float], f: SeriesForecast | None, unit: Unit,
            field: str | None, extra: Sequence[str], meta: dict[str, Any], notices: list[str],
            horizon: int = 0) -> Frame:
    past, ahead = [None] * len(actual), len(times) - len(actual)
    band = f.band if f is not None else None
    values: dict[str, list[Any]] = {"actual": actual + [None] * ahead}
    for col, attr in zip(BAND, ("mean", "lower_80", "upper_80", "lower_95", "upper_95"), strict=True):
        values[col] = past + (list(getattr(band, attr))[:horizon] if band else [])
    for col in extra:
        values[col] = [f.extra.get(col) if f else None] * len(times)
    cols = [Column("time", ColumnType.TIME, tuple(times))] + [
        Column(c, ColumnType.NUMBER, tuple(v), unit, field=field) for c, v in values.items()]
    return Frame(name, Kind.TIMESERIES, tuple(cols), tuple(notices), meta={"unit": unit, **meta})


DOC = (" Fitted by the background trainer on the complete tenant-local {p}s of lead state (never in a request): "
       "statsmodels ETS, its form chosen by AICc, seasonal naive where ETS cannot be fitted; columns actual (the "
       "range's complete {p}s), forecast and the 80 % and 95 % prediction interval bounds for the next 1-6 {p}s "
       "(option horizon, from the current {p}). Fewer than 6 complete {p}s: a notice, no line; before the first "
       "fit: a notice. The model and its backtest are in the frame's meta (see forecast.backtest).")


@metric("forecast.revenue", "Revenue Forecast",
        "Monthly closed-deal revenue (option series: total, or attributed — deal value × the tenant's attribution "
        "class weight), one deal per lead, in the tenant's currency." + DOC.format(p="month"),
        Unit.CURRENCY, Kind.TIMESERIES, options=(SERIES_OPTION, HORIZON_OPTION), sensitivity=Sensitivity.FINANCIAL,
        inputs=REVENUE_INPUTS)
async def revenue(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    which = sq.query.option("series", SERIES_OPTION.default) or "total"
    return await _frame(conn, sq, f"revenue.{which}", Unit.CURRENCY, "revenue")


@metric("forecast.leads", "Lead Volume Forecast",
        "Leads created per month, for one source (filter source = one value) or all of them." + DOC.format(p="month"),
        Unit.COUNT, Kind.TIMESERIES, dimensions=(Dimension.SOURCE,), options=(HORIZON_OPTION,), inputs=LEAD_INPUTS)
async def leads(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    source = _one(sq.query, Dimension.SOURCE)
    return await _frame(conn, sq, "leads" if source is None else f"leads:{source}", Unit.COUNT, None)


@metric("forecast.capacity", "Capacity Forecast",
        "Leads routed per agent per week, for one team (filter team = one value) or the whole tenant, against "
        "the team's handled volume: column capacity, the 90th percentile of the leads its agents first contacted "
        "per agent per week over the history (active agents counted now)." + DOC.format(p="week"),
        Unit.COUNT, Kind.TIMESERIES, dimensions=(Dimension.TEAM,), options=(HORIZON_OPTION,),
        inputs=CAPACITY_INPUTS)
async def capacity(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    team = _one(sq.query, Dimension.TEAM)
    return await _frame(conn, sq, "capacity" if team is None else f"capacity:{team}", Unit.COUNT, None,
                        extra=("capacity",))


@metric("forecast.backtest", "Forecast Backtest",
        "Per forecast series: the model, MASE of its rolling-origin forecasts (last 12 origins, horizon up to 6; "
        "mean |error| ÷ the in-sample mean |seasonal naive error|: below 1 beats seasonal naive) and the share (%) "
        "of actuals inside the 80 % and 95 % intervals (goal: the nominal level ± 5), with the origins and "
        "forecasts scored. Revenue rows are shown only to roles that may see revenue.",
        Unit.TEXT, Kind.TABLE, inputs=REVENUE_INPUTS + LEAD_INPUTS + CAPACITY_INPUTS, row_lineage=True,
        column_units=(("mase", Unit.RATIO), ("coverage_80", Unit.PERCENT), ("coverage_95", Unit.PERCENT),
                      ("origins", Unit.COUNT), ("forecasts", Unit.COUNT)))
async def backtest(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    stored = [r for r in await models.read_kind(conn, sq.tenant_id, KIND) if r.payload]
    cols = [shapes.text("series"), shapes.text("model"), shapes.num("mase", Unit.RATIO),
            shapes.num("coverage_80", Unit.PERCENT), shapes.num("coverage_95", Unit.PERCENT),
            shapes.num("origins", Unit.COUNT), shapes.num("forecasts", Unit.COUNT)]
    rows, lineage = [], []
    for r in stored:
        f = models.decode(r.payload, SeriesForecast)
        b = f.backtest
        rows.append((f.series, f.model, b.mase if b else None, b.coverage_80 if b else None,
                     b.coverage_95 if b else None, b.origins if b else 0, b.forecasts if b else 0))
        lineage.append(origins_of(REVENUE_INPUTS if f.series.startswith("revenue") else
                                  LEAD_INPUTS if f.series.startswith("leads") else CAPACITY_INPUTS))
    notices = [] if stored or await models.stored_watermark(conn, sq.tenant_id, KIND) else [models.NOT_FITTED]
    return shapes.table(sq.query.metric, cols, rows, notices=notices, row_lineage=lineage)
