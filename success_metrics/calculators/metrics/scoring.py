"""Predictive lead scoring and churn panels, read from the tenant's stored model
(success_metrics/calculators/scoring.py), which the background trainer fits: before the first fit each panel
says so instead of a figure. The trainer scores every lead when it fits (``lead_scores``); the panels read those
scores and never predict.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg

from success_metrics.calculators import models, scoring, shapes
from success_metrics.calculators.catalog import metric
from success_metrics.calculators.frames import Frame
from success_metrics.calculators.query import ScopedQuery
from success_metrics.calculators.reads import LEAD_COLUMNS
from success_metrics.calculators.sql import Params, scope_condition, where_filters
from success_metrics.calculators.tenant_settings import TenantSettings
from success_metrics.calculators.vocabulary import ColumnType, Dimension, Kind, Unit

FEATURES = ("leads", "lead_funnel", "lead_scores", "first_contact_seconds", "first_response_seconds",
            "automated_tasks")
PER_LEAD = (*FEATURES, "lead_identity")
DIMS = (Dimension.SOURCE, Dimension.LOCATION, Dimension.AGENT, Dimension.TEAM, Dimension.SCORE_BAND)
MAX_ROWS = 200


async def _quality(conn: asyncpg.Connection, tenant: str) -> scoring.Quality | None:
    stored = await models.read(conn, tenant, scoring.KIND, "quality")
    return None if stored is None else models.decode(stored.payload, scoring.Quality)


def _day(t: datetime | None) -> str | None:
    return None if t is None else t.date().isoformat()


def _pct(x: float | None) -> float | None:
    return None if x is None else 100 * x


QUALITY_UNITS = (("auc", Unit.RATIO), ("engine_auc", Unit.RATIO), ("brier", Unit.RATIO), ("lift", Unit.RATIO),
                 ("top_decile_close_rate", Unit.PERCENT), ("engine_top_decile_close_rate", Unit.PERCENT),
                 ("base_rate", Unit.PERCENT), ("train_leads", Unit.COUNT), ("test_leads", Unit.COUNT),
                 ("horizon_days", Unit.COUNT))


@metric("scoring.quality", "Lead Scoring Model Quality",
        f"How well the tenant's model of P(close within {scoring.HORIZON_DAYS} days) did on leads it never saw: "
        "trained on leads whose outcome was known by the split date, tested on those that arrived after it. AUC "
        "(0.5 = chance) beside the engine's own score's AUC on the same leads, Brier score (lower is better), the "
        "close rate (%) of the model's top tenth of leads against the engine score's top tenth and their ratio "
        "(lift), the test leads' base rate, the training window and split date. Reliability bins: "
        "scoring.reliability. The model is fitted in the background when the data changes; the range is not used.",
        Unit.RATIO, Kind.TABLE, inputs=FEATURES, column_units=QUALITY_UNITS)
async def quality(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    found = await _quality(conn, sq.tenant_id)
    notices = [models.NOT_FITTED] if found is None else [found.reason] if found.reason else []
    rows = [] if found is None or found.reason else [(
        found.auc, found.engine_auc, found.brier, found.lift, _pct(found.top_decile_rate),
        _pct(found.engine_top_decile_rate), _pct(found.base_rate), found.n_train, found.n_test,
        _day(found.train_from), _day(found.train_to), _day(found.split_at), _day(found.test_to), found.horizon_days)]
    cols = [shapes.num(name, unit) for name, unit in QUALITY_UNITS[:9]] + [
        shapes.text("train_from"), shapes.text("train_to"), shapes.text("split_date"), shapes.text("test_to"),
        shapes.num("horizon_days", Unit.COUNT)]
    return shapes.table("scoring.quality", cols, rows, notices=notices)


@metric("scoring.reliability", "Lead Scoring Reliability",
        "Reliability (calibration) of the lead scoring model on its test leads: per band of predicted probability "
        "(tenths), the leads in it, the mean predicted and the observed close rate (%); a calibrated model's two "
        "rates agree.", Unit.PERCENT, Kind.TABLE, inputs=FEATURES,
        column_units=(("leads", Unit.COUNT), ("predicted", Unit.PERCENT), ("observed", Unit.PERCENT)))
async def reliability(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    found = await _quality(conn, sq.tenant_id)
    notices = [models.NOT_FITTED] if found is None else [found.reason] if found.reason else []
    rows = [(f"{100 * b.lower:.0f}–{100 * b.upper:.0f} %", b.leads, 100 * b.predicted, 100 * b.observed)
            for b in (found.bins if found else [])]
    cols = [shapes.text("band"), shapes.num("leads", Unit.COUNT), shapes.num("predicted", Unit.PERCENT),
            shapes.num("observed", Unit.PERCENT)]
    return shapes.table("scoring.reliability", cols, rows, notices=notices)


async def _open_leads(conn: asyncpg.Connection, sq: ScopedQuery
                      ) -> tuple[list[asyncpg.Record], scoring.Quality | None]:
    """Leads created in the range still open at its end, in scope, with their stored P(close) (``p_close``: None for
    a lead that arrived after the last fit)."""
    q = sq.query
    p = Params()
    tenant, start, end = p.add(sq.tenant_id), p.add(q.start), p.add(q.end)
    records = await conn.fetch(
        f"""SELECT l.lead_id, l.created_at, l.score, coalesce(l.source, 'unknown') AS source,
                   coalesce(sm_score_band(l.score), 'unscored') AS band, c.p_close
            FROM leads l LEFT JOIN lead_scores c ON c.tenant_id = l.tenant_id AND c.lead_id = l.lead_id
            WHERE l.tenant_id = {tenant} AND l.created_at >= {start} AND l.created_at < {end}
              AND (l.closed_at IS NULL OR l.closed_at >= {end}) AND l.erasure_requested_at IS NULL
              AND (l.unsubscribed_at IS NULL OR l.unsubscribed_at >= {end})
              AND {where_filters(LEAD_COLUMNS, q.filters, p, q.metric)}
              AND {scope_condition("l.agent_id", "l.team_id", sq.scope, p)}""", *p.values)
    return records, await _quality(conn, sq.tenant_id)


async def _idle_days(conn: asyncpg.Connection, sq: ScopedQuery) -> dict[str, float]:
    """Lead → days from its latest progress before the range's end to that end, for leads idle COLD_DAYS or more.
    A lead's latest progress is never before its creation (itself progress), so for leads created in the range
    only the range's events are read, in whole months (a lookup per lead read every month's partition). A
    statement of its own: joined with the leads, PostgreSQL's generic plan of it nested-looped the two."""
    q = sq.query
    rows = await conn.fetch(
        "SELECT lead_id, max(occurred_at) AS progress_at FROM events WHERE tenant_id = $1 AND type = ANY($2::text[]) "
        "AND occurred_at >= $3 AND occurred_at < $4 GROUP BY lead_id "
        "HAVING max(occurred_at) <= $4::timestamptz - make_interval(secs => $5)",
        sq.tenant_id, list(scoring.PROGRESS), q.start, q.end, float(scoring.COLD_DAYS * 86400))
    return {r["lead_id"]: (q.end - r["progress_at"]) / timedelta(days=1) for r in rows}


def _fitted(found: scoring.Quality | None) -> bool:
    """Whether the stored fit has a model (a fit with too little history has only its reason)."""
    return found is not None and found.reason is None


def _unscored(records: list[asyncpg.Record]) -> list[str]:
    n = sum(r["p_close"] is None for r in records)
    return [f"{n} of these leads arrived after the model's last fit: they have no probability until the next one "
            "(within a quarter hour)."] if n else []


@metric("scoring.leads", "Lead Close Probability",
        f"Leads created in the range still open at its end (in the caller's scope), each with the model's "
        f"probability (%) of closing within {scoring.HORIZON_DAYS} days of arriving, from what its first day showed, "
        f"beside the engine's score; most likely first (at most {MAX_ROWS}).",
        Unit.PERCENT, Kind.TABLE, dimensions=DIMS, inputs=PER_LEAD, row_scoped=True,
        column_units=(("p_close", Unit.PERCENT), ("engine_score", Unit.SCORE)))
async def leads(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    records, found = await _open_leads(conn, sq)
    fitted = _fitted(found)
    rows = [] if not fitted else sorted(
        ((r["lead_id"], r["source"], r["band"], r["created_at"].isoformat(), _pct(r["p_close"]), r["score"])
         for r in records), key=lambda row: (row[4] is None, -(row[4] or 0.0), row[0]))[:MAX_ROWS]
    cols = [shapes.Col("lead_id", ColumnType.STRING), shapes.text("source"), shapes.text("band"),
            shapes.text("created"), shapes.num("p_close", Unit.PERCENT), shapes.num("engine_score", Unit.SCORE)]
    return shapes.table("scoring.leads", cols, rows,
                        notices=_unscored(records) if fitted else [models.NOT_FITTED])


@metric("leads.at_risk", "Leads at Risk",
        f"Leads created in the range, still open at its end (in the caller's scope), with no progress (a contact, "
        f"response or appointment) for {scoring.COLD_DAYS} days or more: days idle, the model's P(close) (%) and "
        f"the risk (%): the share of the tenant's past leads that went as long without progress and were lost. "
        f"Action items first: those the model rates at least twice as likely to close as an average lead "
        f"(the high-value ones to call back).",
        Unit.PERCENT, Kind.TABLE, dimensions=DIMS, inputs=PER_LEAD, row_scoped=True,
        column_units=(("idle_days", Unit.COUNT), ("p_close", Unit.PERCENT), ("risk", Unit.PERCENT)))
async def at_risk(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    records, found = await _open_leads(conn, sq)
    idle_days = await _idle_days(conn, sq)
    cold = [r for r in records if r["lead_id"] in idle_days]
    rows: list[tuple[object, ...]] = []
    if found is not None and _fitted(found):
        lost = found.lost_after_idle
        base = found.base_rate or 0.0
        for r in cold:
            idle, pc = idle_days[r["lead_id"]], r["p_close"]
            bucket = max((d for d in lost if d <= idle), default=None)
            act = pc is not None and pc >= 2 * base > 0
            rows.append((r["lead_id"], r["source"], r["band"], idle, _pct(pc),
                         None if bucket is None else 100 * lost[bucket],
                         f"call back: {100 * pc:.0f} % likely to close, idle {idle:.0f} days" if act else None))
        rows.sort(key=lambda row: (row[6] is None, row[4] is None, -float(row[4] or 0.0),  # type: ignore[arg-type]
                                   row[0]))
    cols = [shapes.Col("lead_id", ColumnType.STRING), shapes.text("source"), shapes.text("band"),
            shapes.num("idle_days", Unit.COUNT), shapes.num("p_close", Unit.PERCENT), shapes.num("risk", Unit.PERCENT),
            shapes.text("action")]
    return shapes.table("leads.at_risk", cols, rows[:MAX_ROWS],
                        notices=_unscored(cold) if _fitted(found) else [models.NOT_FITTED])
