"""Year over year: the headline KPIs of the month to date and the year to date against the same spans a year earlier
(the monthly business review's comparison)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

import asyncpg

from success_metrics.calculators import buckets, shapes
from success_metrics.calculators.catalog import metric, origins_of
from success_metrics.calculators.frames import Frame
from success_metrics.calculators.metrics.executive import KPIS
from success_metrics.calculators.query import ScopedQuery
from success_metrics.calculators.reads import PeriodFigures, funnel, period_figures
from success_metrics.calculators.tenant_settings import TenantSettings
from success_metrics.calculators.vocabulary import Kind, Unit

EXTRA = (("leads", "Leads", Unit.COUNT, ("leads",)), ("deals", "Deals Closed", Unit.COUNT, ("lead_funnel",)),
         ("revenue", "Revenue", Unit.CURRENCY, ("deal_revenue",)))
INPUTS = (*(k.name for k in KPIS), "leads", "lead_funnel", "deal_revenue")


def year_earlier(moment: datetime, zone: object) -> datetime:
    """The same tenant-local wall time a year earlier (29 February → 28 February)."""
    local = moment.astimezone(zone)  # type: ignore[arg-type]
    day = min(local.day, 28) if (local.month, local.day) == (2, 29) else local.day
    return local.replace(year=local.year - 1, day=day)


def change(now: float | None, before: float | None) -> float | None:
    """Relative change in % (None without a non-zero base)."""
    if now is None or before is None or before == 0:
        return None
    return 100 * (now - before) / abs(before)


async def _figures(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings, lo: datetime, hi: datetime
                   ) -> tuple[PeriodFigures, int]:
    if lo >= hi:  # a range ending as its month (or year) begins: nothing yet
        return PeriodFigures(), 0
    figures = await period_figures(conn, sq.tenant_id, buckets.plan(lo, hi, s.zone), tz=s.timezone)
    cohort = await funnel(conn, sq.tenant_id, lo, hi, (), sq.query.metric)
    return figures.get(None, PeriodFigures()), cohort.leads


@metric("kpis.year_over_year", "Year over Year",
        "One row per KPI (column kpi; its unit in column unit): this_month — the month to date (the tenant-local "
        "month holding the range's end, up to the range's end) — against same_month_last_year (the same span a "
        "year earlier), and ytd (1 January to the range's end) against last_ytd (the same span a year earlier); "
        "month_change and ytd_change are relative changes in %, empty without a base. KPIs: ROI (%), savings, "
        "revenue attribution (money), hours saved, leads created, deals closed, revenue (money); money rows are "
        "shown only to roles that may see money.",
        Unit.TEXT, Kind.TABLE, inputs=INPUTS, row_lineage=True,
        column_units=(("month_change", Unit.PERCENT), ("ytd_change", Unit.PERCENT)))
async def year_over_year(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    q = sq.query
    (month_start, month_end), _ = buckets.month_periods(q, s.zone)
    end = min(q.end, month_end)
    then = year_earlier(end, s.zone)
    # the month's own start, not the end's: a range ending at midnight on the 1st is the whole month before
    year_start = buckets.local_midnight(date(month_start.astimezone(s.zone).year, 1, 1), s.zone)
    spans = {"this_month": (month_start, end), "same_month_last_year": (year_earlier(month_start, s.zone), then),
             "ytd": (year_start, end), "last_ytd": (year_earlier(year_start, s.zone), then)}
    got = {k: await _figures(conn, sq, s, lo, hi) for k, (lo, hi) in spans.items()}
    terms = {k: f.terms(s)[0] for k, (f, _) in got.items()}
    rows, lineage = [], []

    def add(label: str, unit: Unit, values: Mapping[str, float | None], inputs: tuple[str, ...]) -> None:
        m, lm, y, ly = (values[k] for k in spans)
        rows.append((label, unit.value, m, lm, change(m, lm), y, ly, change(y, ly)))
        lineage.append(origins_of(inputs))

    for k in KPIS:
        add(k.title, k.unit, {p: k.of(t) for p, t in terms.items()}, (k.name,))
    extra = {"leads": {p: float(n) for p, (_, n) in got.items()},
             "deals": {p: float(f.deals) for p, (f, _) in got.items()},
             "revenue": {p: float(sum(f.revenue_by_class.values())) for p, (f, _) in got.items()}}
    for key, label, unit, inputs in EXTRA:
        add(label, unit, extra[key], inputs)
    cols = [shapes.text("kpi"), shapes.text("unit"), shapes.num("this_month"), shapes.num("same_month_last_year"),
            shapes.num("month_change", Unit.PERCENT), shapes.num("ytd"), shapes.num("last_ytd"),
            shapes.num("ytd_change", Unit.PERCENT)]
    return shapes.table(q.metric, cols, rows, row_lineage=lineage,
                        meta={k: [lo.isoformat(), hi.isoformat()] for k, (lo, hi) in spans.items()})
