"""Predictive lead scoring and churn panels, read from the tenant's stored model
(success_metrics/calculators/scoring.py), which the background trainer fits: before the first fit each panel
says so instead of a figure.

Scoring an open lead with the stored model is a prediction (milliseconds), not a fit, so it happens per query.
"""

from __future__ import annotations

from datetime import datetime

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


async def _open_leads(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings, cold: bool
                      ) -> tuple[list[asyncpg.Record], list[float] | None, scoring.Quality | None]:
    """Leads created in the range still open at its end (gone cold by then, when ``cold``), in scope, with the
    stored model's P(close) for each (None before a model exists)."""
    q = sq.query
    p = Params()
    p.add(sq.tenant_id), p.add(s.timezone)  # $1, $2 of FEATURES_SQL
    end = p.add(q.end)
    idle = (f"(SELECT max(e.occurred_at) FROM events e WHERE e.tenant_id = l.tenant_id AND e.lead_id = l.lead_id "
            f"AND e.type = ANY({p.add(list(scoring.PROGRESS))}::text[]) AND e.occurred_at < {end})")
    records = await conn.fetch(
        f"""SELECT * FROM (
              SELECT f.*, extract(epoch FROM {end} - {idle}) / 86400 AS idle_days FROM ({scoring.FEATURES_SQL}
              AND l.created_at >= {p.add(q.start)} AND l.created_at < {end}
              AND (l.closed_at IS NULL OR l.closed_at >= {end}) AND l.erasure_requested_at IS NULL
              AND (l.unsubscribed_at IS NULL OR l.unsubscribed_at >= {end})
              AND {where_filters(LEAD_COLUMNS, q.filters, p, q.metric)}
              AND {scope_condition("l.agent_id", "l.team_id", sq.scope, p)}) f
              JOIN leads l ON l.tenant_id = $1 AND l.lead_id = f.lead_id) x
            WHERE {"x.idle_days >= " + p.add(scoring.COLD_DAYS) if cold else "TRUE"}
            ORDER BY x.created_at, x.lead_id""", *p.values)
    stored = await models.read(conn, sq.tenant_id, scoring.KIND, "model")
    found = await _quality(conn, sq.tenant_id)
    if stored is None:
        return records, None, found
    return records, scoring.predict(stored.payload, scoring.leads_of(records).rows), found


@metric("scoring.leads", "Lead Close Probability",
        f"Leads created in the range still open at its end (in the caller's scope), each with the model's "
        f"probability (%) of closing within {scoring.HORIZON_DAYS} days of arriving, from what its first day showed, "
        f"beside the engine's score; most likely first (at most {MAX_ROWS}).",
        Unit.PERCENT, Kind.TABLE, dimensions=DIMS, inputs=PER_LEAD, row_scoped=True,
        column_units=(("p_close", Unit.PERCENT), ("engine_score", Unit.SCORE)))
async def leads(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    records, p_close, _ = await _open_leads(conn, sq, s, cold=False)
    rows = [] if p_close is None else sorted(
        ((r["lead_id"], r["source"], r["band"], r["created_at"].isoformat(), 100 * pc, r["score"])
         for r, pc in zip(records, p_close, strict=True)), key=lambda row: (-row[4], row[0]))[:MAX_ROWS]
    cols = [shapes.Col("lead_id", ColumnType.STRING), shapes.text("source"), shapes.text("band"),
            shapes.text("created"), shapes.num("p_close", Unit.PERCENT), shapes.num("engine_score", Unit.SCORE)]
    return shapes.table("scoring.leads", cols, rows, notices=[models.NOT_FITTED] if p_close is None else [])


@metric("leads.at_risk", "Leads at Risk",
        f"Leads created in the range, still open at its end (in the caller's scope), with no progress (a contact, "
        f"response or appointment) for {scoring.COLD_DAYS} days or more: days idle, the model's P(close) (%) and "
        f"the risk (%): the share of the tenant's past leads that went as long without progress and were lost. "
        f"Action items first: those the model rates at least twice as likely to close as an average lead "
        f"(the high-value ones to call back).",
        Unit.PERCENT, Kind.TABLE, dimensions=DIMS, inputs=PER_LEAD, row_scoped=True,
        column_units=(("idle_days", Unit.COUNT), ("p_close", Unit.PERCENT), ("risk", Unit.PERCENT)))
async def at_risk(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    records, p_close, found = await _open_leads(conn, sq, s, cold=True)
    rows: list[tuple[object, ...]] = []
    if p_close is not None and found is not None:
        lost = found.lost_after_idle
        base = found.base_rate or 0.0
        for r, pc in zip(records, p_close, strict=True):
            idle = float(r["idle_days"])
            bucket = max((d for d in lost if d <= idle), default=None)
            act = pc >= 2 * base > 0
            rows.append((r["lead_id"], r["source"], r["band"], idle, 100 * pc,
                         None if bucket is None else 100 * lost[bucket],
                         f"call back: {100 * pc:.0f} % likely to close, idle {idle:.0f} days" if act else None))
        rows.sort(key=lambda row: (row[6] is None, -float(row[4]), row[0]))  # type: ignore[arg-type]
    cols = [shapes.Col("lead_id", ColumnType.STRING), shapes.text("source"), shapes.text("band"),
            shapes.num("idle_days", Unit.COUNT), shapes.num("p_close", Unit.PERCENT), shapes.num("risk", Unit.PERCENT),
            shapes.text("action")]
    return shapes.table("leads.at_risk", cols, rows[:MAX_ROWS], notices=[models.NOT_FITTED] if p_close is None else [])
