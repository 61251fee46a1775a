"""Predictive lead scoring: P(a lead closes within HORIZON_DAYS of arriving), per tenant, from what is known in
its first day — source, the engine's score band, the automation's response time and channel, the agent's first
contact (hours, censored at 24), location, local hour and weekday, enrichment, priority and SMS consent.

Fitted by the background trainer (success_metrics/calculators/models.py kind ``scoring``), never in a request: a
logistic regression on one-hot categories and scaled numbers (scikit-learn), judged on a time-based split. The split
date is the 75th percentile of the labelled leads' arrival; the model is trained on leads whose outcome was known by
then (created before split − horizon) and tested on those created after it, so no training label comes from the test
period. The model is then refitted on every labelled lead and scores every lead of the tenant, and those scores are
stored (``lead_scores``, migration 0020; the panels read them, no request ever predicts). Also stored: how often
leads that went COLD_DAYS without progress were lost (leads.at_risk's risk score).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import numpy as np
from pydantic import BaseModel

from success_metrics.calculators import models
from success_metrics.calculators.tenant_settings import TenantSettings

KIND = "scoring"
HORIZON_DAYS = 30
COLD_DAYS = 7  # an open lead with no progress (contact, response, appointment) for this long has gone cold
IDLE_BUCKETS = (7, 14, 30, 60)  # days without progress: leads.at_risk's risk is the lost rate of the bucket
CATEGORICAL = ("source", "band", "channel", "location", "weekday", "enriched", "priority", "consent_sms")
NUMERIC = ("response_min", "contact_h", "hour")
MIN_TRAIN, MIN_TEST = 200, 50
BINS = 10
SCORES = "scores"  # the fit's payload of every lead's P(close), which ``publish`` moves to lead_scores

# one row per lead of the tenant; ``$2`` is the tenant's time zone. Features are what the first day shows.
FEATURES_SQL = """
SELECT l.lead_id, l.created_at, l.closed_at, l.score,
       coalesce(l.source, 'unknown') AS source, coalesce(sm_score_band(l.score), 'unscored') AS band,
       coalesce((SELECT e.payload->>'channel' FROM events e WHERE e.tenant_id = l.tenant_id AND e.lead_id = l.lead_id
                 AND e.type = 'lead.responded' ORDER BY e.occurred_at, e.event_id LIMIT 1), 'none') AS channel,
       coalesce(l.location_id, 'unknown') AS location,
       extract(isodow FROM l.created_at AT TIME ZONE $2)::int::text AS weekday,
       coalesce(l.enrichment_ok::text, 'unknown') AS enriched, coalesce(l.priority, 'normal') AS priority,
       coalesce(l.consent_sms::text, 'unknown') AS consent_sms,
       least(coalesce(extract(epoch FROM l.first_response_at - l.created_at) / 60, 1440), 1440) AS response_min,
       least(coalesce(extract(epoch FROM l.first_contact_at - l.created_at) / 3600, 24), 24) AS contact_h,
       extract(hour FROM l.created_at AT TIME ZONE $2)::int AS hour
FROM leads l WHERE l.tenant_id = $1 AND l.created_at IS NOT NULL"""

# progress: what moves a lead on (a contact, a response, an appointment); its longest wait between steps while open
PROGRESS = ("lead.created", "lead.responded", "contact.attempted", "appointment.scheduled")
IDLE_SQL = """
WITH p AS (
  SELECT l.lead_id, l.closed_at, e.occurred_at,
         lead(e.occurred_at) OVER (PARTITION BY l.lead_id ORDER BY e.occurred_at) AS next_at
  FROM leads l JOIN events e ON e.tenant_id = l.tenant_id AND e.lead_id = l.lead_id
  WHERE l.tenant_id = $1 AND e.type = ANY($2::text[]) AND l.created_at < $3
    AND e.occurred_at < coalesce(l.closed_at, $3)),
g AS (SELECT lead_id, bool_or(closed_at IS NOT NULL) AS won,
             max(extract(epoch FROM coalesce(next_at, closed_at, $3) - occurred_at) / 86400) AS gap_days
      FROM p GROUP BY lead_id)
SELECT b AS days, count(*) FILTER (WHERE gap_days >= b) AS leads,
       count(*) FILTER (WHERE gap_days >= b AND NOT won) AS lost
FROM g CROSS JOIN unnest($4::int[]) b GROUP BY b ORDER BY b"""


@dataclass(frozen=True, slots=True)
class Leads:
    """Lead ids, feature rows (CATEGORICAL then NUMERIC), arrival times, outcomes and the engine's own score."""

    ids: list[str]
    rows: list[tuple[Any, ...]]
    created: list[datetime]
    won: list[bool]  # closed within the horizon
    engine: list[float]  # the engine's score (0-100; −1 unscored)


def leads_of(records: Sequence[asyncpg.Record]) -> Leads:
    horizon = timedelta(days=HORIZON_DAYS)
    return Leads(
        [r["lead_id"] for r in records],
        [tuple(r[c] for c in CATEGORICAL) + tuple(float(r[c]) for c in NUMERIC) for r in records],
        [r["created_at"] for r in records],
        [r["closed_at"] is not None and r["closed_at"] < r["created_at"] + horizon for r in records],
        [-1.0 if r["score"] is None else float(r["score"]) for r in records])


class Bin(BaseModel):
    lower: float
    upper: float
    leads: int
    predicted: float  # mean predicted probability
    observed: float  # share that closed


class Quality(BaseModel):
    """How the model did on the test period (None figures, and ``reason``, when it could not be judged)."""

    reason: str | None = None
    auc: float | None = None
    engine_auc: float | None = None
    brier: float | None = None
    base_rate: float | None = None
    top_decile_rate: float | None = None
    engine_top_decile_rate: float | None = None
    bins: list[Bin] = []
    train_from: datetime | None = None
    train_to: datetime | None = None
    split_at: datetime | None = None
    test_to: datetime | None = None
    n_train: int = 0
    n_test: int = 0
    lost_after_idle: dict[int, float] = {}  # idle days → share of leads that went that long and were lost
    horizon_days: int = HORIZON_DAYS

    @property
    def lift(self) -> float | None:
        """Close rate of the model's top tenth of leads over that of the engine score's top tenth."""
        if self.top_decile_rate is None or not self.engine_top_decile_rate:
            return None
        return self.top_decile_rate / self.engine_top_decile_rate


def split(created: Sequence[datetime], now: datetime) -> tuple[list[int], list[int], datetime | None]:
    """Indices of training and test leads, and the split date. Only leads whose horizon ended by ``now`` are
    labelled; training leads' horizons end before the split date, test leads arrive on or after it."""
    horizon = timedelta(days=HORIZON_DAYS)
    labelled = sorted((t, i) for i, t in enumerate(created) if t + horizon <= now)
    if not labelled:
        return [], [], None
    at = labelled[int(0.75 * (len(labelled) - 1))][0]
    return [i for t, i in labelled if t + horizon <= at], [i for t, i in labelled if t >= at], at


def top_decile_rate(y: np.ndarray, ranking: np.ndarray) -> float:
    """Close rate among the tenth of leads ranked highest (ties broken by order, at least one lead)."""
    k = max(1, len(y) // 10)
    return float(y[np.argsort(-ranking, kind="stable")[:k]].mean())


def evaluate(y: np.ndarray, p: np.ndarray, engine: np.ndarray, bins: int = BINS) -> Quality:
    """AUC, Brier score, reliability bins (equal width) and the top tenth's close rate, against the engine."""
    from sklearn.metrics import brier_score_loss, roc_auc_score  # type: ignore[import-untyped]

    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    found = [Bin(lower=float(edges[b]), upper=float(edges[b + 1]), leads=int((which == b).sum()),
                 predicted=float(p[which == b].mean()), observed=float(y[which == b].mean()))
             for b in range(bins) if (which == b).any()]
    two = len(set(y.tolist())) == 2
    return Quality(auc=float(roc_auc_score(y, p)) if two else None,
                   engine_auc=float(roc_auc_score(y, engine)) if two else None,
                   brier=float(brier_score_loss(y, p)), base_rate=float(y.mean()), bins=found,
                   top_decile_rate=top_decile_rate(y, p), engine_top_decile_rate=top_decile_rate(y, engine))


def pipeline() -> Any:
    from sklearn.compose import ColumnTransformer  # type: ignore[import-untyped]
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
    from sklearn.pipeline import make_pipeline  # type: ignore[import-untyped]
    from sklearn.preprocessing import OneHotEncoder, StandardScaler  # type: ignore[import-untyped]

    cat = list(range(len(CATEGORICAL)))
    num = list(range(len(CATEGORICAL), len(CATEGORICAL) + len(NUMERIC)))
    return make_pipeline(
        ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore", min_frequency=5), cat),
                           ("num", StandardScaler(), num)]),
        LogisticRegression(max_iter=1000, C=1.0))


def _matrix(rows: Sequence[tuple[Any, ...]]) -> np.ndarray:
    return np.array(rows, dtype=object)


@dataclass(frozen=True, slots=True)
class History:
    leads: Leads
    idle: dict[int, tuple[int, int]]  # idle days → (leads that waited that long, of them lost)
    now: datetime


async def load(conn: asyncpg.Connection, tenant: str, s: TenantSettings, now: datetime) -> History:
    records = await conn.fetch(FEATURES_SQL + " ORDER BY l.created_at, l.lead_id", tenant, s.timezone)
    idle = await conn.fetch(IDLE_SQL, tenant, list(PROGRESS), now, list(IDLE_BUCKETS))
    return History(leads_of(records), {int(r["days"]): (int(r["leads"]), int(r["lost"])) for r in idle}, now)


def fit_quality(data: Leads, now: datetime) -> tuple[Quality, list[int]]:
    """The test-period quality of a model trained before the split, and the indices of every labelled lead."""
    train, test, at = split(data.created, now)
    labelled = [i for i, t in enumerate(data.created) if t + timedelta(days=HORIZON_DAYS) <= now]
    y = np.array(data.won, dtype=float)
    if len(train) < MIN_TRAIN or len(test) < MIN_TEST or len(set(y[train].tolist())) < 2:
        return Quality(reason=f"Too little history to judge a model: {len(train)} leads to train on and "
                              f"{len(test)} to test (at least {MIN_TRAIN} and {MIN_TEST}, both outcomes, whose "
                              f"{HORIZON_DAYS} days have passed)."), labelled
    model = pipeline().fit(_matrix([data.rows[i] for i in train]), y[train])
    p = model.predict_proba(_matrix([data.rows[i] for i in test]))[:, 1]
    quality = evaluate(y[test], p, np.array([data.engine[i] for i in test]))
    return quality.model_copy(update={
        "train_from": data.created[train[0]], "train_to": data.created[train[-1]], "split_at": at,
        "test_to": data.created[test[-1]], "n_train": len(train), "n_test": len(test)}), labelled


async def publish(conn: asyncpg.Connection, tenant: str, payloads: Mapping[str, bytes]) -> Mapping[str, bytes]:
    """Replace the tenant's lead scores with the fit's (none when it fitted no model); the rest is the store's."""
    scores: dict[str, float] = json.loads(payloads.get(SCORES, b"{}"))
    await conn.execute("DELETE FROM lead_scores WHERE tenant_id = $1", tenant)
    await conn.execute(
        "INSERT INTO lead_scores (tenant_id, lead_id, p_close) SELECT $1, * FROM unnest($2::text[], $3::float8[])",
        tenant, list(scores), list(scores.values()))
    return {key: payload for key, payload in payloads.items() if key != SCORES}


@models.trainer(KIND, load, publish=publish)
def fit(history: History) -> Mapping[str, bytes]:
    """Quality from the time-based split; the model refitted on every labelled lead (when there is enough) and
    every lead's P(close within the horizon) by it."""
    data = history.leads
    quality, labelled = fit_quality(data, history.now)
    lost = {d: lost / n for d, (n, lost) in history.idle.items() if n}
    out = {"quality": models.encode(quality.model_copy(update={"lost_after_idle": lost}))}
    y = np.array(data.won, dtype=float)
    if quality.reason is None:
        model = pipeline().fit(_matrix([data.rows[i] for i in labelled]), y[labelled])
        p = model.predict_proba(_matrix(data.rows))[:, 1]
        out[SCORES] = json.dumps(dict(zip(data.ids, p.tolist(), strict=True))).encode()
    return out
