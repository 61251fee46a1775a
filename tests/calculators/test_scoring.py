"""Predictive lead scoring: the quality figures on a tiny set worked by hand, a time split that never trains on
the future, and the model fitted by the background trainer per tenant — panels say so before it exists."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pytest

from success_metrics.calculators import TenantSettings, models, scoring
from success_metrics.ingest import validate, writer
from success_metrics.query.cache import ResultCache
from success_metrics.query.trainer import ModelTrainer
from success_metrics.settings import TenantConfig
from success_metrics.storage.pool import Database
from tests.calculators.fixture import ev, load, run

NOW = datetime(2026, 1, 15, tzinfo=UTC)
START = datetime(2025, 1, 1, tzinfo=UTC)


def test_quality_figures_by_hand() -> None:
    """Closed 1, 0, 1, 0 predicted 0.9, 0.8, 0.4, 0.1. AUC: of the 4 (closed, open) pairs the closed lead is ranked
    higher in 3 (0.9 > 0.8, 0.9 > 0.1, 0.4 > 0.1; not 0.4 < 0.8) → 0.75. Brier: (0.1² + 0.8² + 0.6² + 0.1²) / 4 =
    0.255. Bins of 0.2: [0, 0.2) 0.1 → 0 closed; [0.4, 0.6) 0.4 → 1; [0.8, 1] 0.9 and 0.8 → mean 0.85, half closed.
    The engine scores the closed leads 80 and 70, the open ones 60 and 10: all 4 pairs right, AUC 1. Top tenth (one
    lead): the model's 0.9 closed (1.0), the engine's 80 closed (1.0)."""
    y = np.array([1.0, 0.0, 1.0, 0.0])
    q = scoring.evaluate(y, np.array([0.9, 0.8, 0.4, 0.1]), np.array([80.0, 60.0, 70.0, 10.0]), bins=5)
    assert q.auc == pytest.approx(0.75) and q.engine_auc == pytest.approx(1.0)
    assert q.brier == pytest.approx(0.255) and q.base_rate == pytest.approx(0.5)
    found = [(b.lower, b.leads, b.predicted, b.observed) for b in q.bins]
    for got, expected in zip(found, [(0.0, 1, 0.1, 0.0), (0.4, 1, 0.4, 1.0), (0.8, 2, 0.85, 0.5)], strict=True):
        assert got == pytest.approx(expected)
    assert (q.top_decile_rate, q.engine_top_decile_rate, q.lift) == (1.0, 1.0, 1.0)


def test_time_split_never_trains_on_the_future() -> None:
    """100 leads a day apart from 1 Jan; now = 1 Jan + 120 days. Labelled: created ≤ now − 30 days (days 0..90, 91
    leads). Split at the 75th percentile (index int(0.75·90) = 67: day 67). Train: created + 30 ≤ day 67 (days
    0..37), so every training label was known at the split; test: days 67..90."""
    created = [START + timedelta(days=d) for d in range(100)]
    train, test, at = scoring.split(created, START + timedelta(days=120))
    assert at == START + timedelta(days=67)
    assert train == list(range(38)) and test == list(range(67, 91))
    horizon = timedelta(days=scoring.HORIZON_DAYS)
    assert all(created[i] + horizon <= at for i in train) and all(created[i] >= at for i in test)
    assert scoring.split([], START) == ([], [], None)


def _history(prefix: str, count: int) -> list[dict[str, Any]]:
    """A lead every 20 hours from 1 Jan 2025: referral (score 85) closes 2 in 3, website_form (50) 1 in 5, paid_ads
    (20) 1 in 10, each 10 days after arriving; each contacted by hand an hour in; even leads routed to agent a0 of
    team t0, odd ones to a1 of t1."""
    out: list[dict[str, Any]] = []
    for i in range(count):
        lead, at = f"{prefix}{i}", START + timedelta(hours=20 * i)
        j = i // 3  # the n-th lead of its source
        source, score, won = (("referral", 85, j % 3 != 0), ("website_form", 50, j % 5 == 0),
                              ("paid_ads", 20, j % 10 == 0))[i % 3]
        out += [ev(f"{lead}-c", "lead.created", at, lead, source=source),
                ev(f"{lead}-s", "lead.scored", at + timedelta(minutes=1), lead, score=score),
                ev(f"{lead}-r", "lead.routed", at + timedelta(minutes=2), lead, f"{prefix}a{i % 2}",
                   team_id=f"{prefix}t{i % 2}", agent_name=f"Agent {i % 2}"),
                ev(f"{lead}-k", "contact.attempted", at + timedelta(hours=1), lead, channel="phone",
                   outcome="answered", automated=False, consent=True)]
        if won and at + timedelta(days=10) < NOW:
            out.append(ev(f"{lead}-d", "deal.closed", at + timedelta(days=10), lead, value=100,
                          attribution_class="direct"))
    return out


@pytest.fixture(scope="module")
async def scored(db: Database) -> tuple[str, str]:
    a, b = f"score-a-{os.getpid()}", f"score-b-{os.getpid()}"
    await load(db, a, _history("S", 450), {"timezone": "UTC"})  # to 30 Jan 2026 … cut at NOW by the deals
    await load(db, b, _history("T", 40), {"timezone": "UTC"})
    return a, b


def _trainer(db: Database) -> ModelTrainer:
    kind = next(k for k in models.trainers() if k.kind == scoring.KIND)
    return ModelTrainer(db, ResultCache(15, 900), clock=lambda: NOW, kinds=[kind])


async def test_fitted_in_the_background_per_tenant(db: Database, scored: tuple[str, str]) -> None:
    a, b = scored
    lo, hi = datetime(2025, 12, 1, tzinfo=UTC), NOW
    before = await run(db, a, "scoring.quality", lo, hi)
    assert before.row_count == 0 and before.notices == (models.NOT_FITTED,)  # asked before a model exists
    assert (await run(db, a, "leads.at_risk", lo, hi)).notices == (models.NOT_FITTED,)

    state = await _trainer(db).round(NOW, [a, b])
    assert state.fitted == 2

    frame = await run(db, a, "scoring.quality", lo, hi)
    names = [c.name for c in frame.columns]
    [row] = [dict(zip(names, r, strict=True)) for r in frame.rows()]
    assert row["auc"] > 0.75 and 0 < row["brier"] < 0.25
    assert row["train_leads"] >= scoring.MIN_TRAIN and row["test_leads"] >= scoring.MIN_TEST
    split = datetime.fromisoformat(row["split_date"]).replace(tzinfo=UTC)
    assert datetime.fromisoformat(row["train_to"]).replace(tzinfo=UTC) + timedelta(days=30) <= split + timedelta(days=1)
    bins = await run(db, a, "scoring.reliability", lo, hi)
    assert sum(bins.column("leads").values) == row["test_leads"]

    # the other tenant has 40 leads: too little history, and none of the first tenant's figures
    other = await run(db, b, "scoring.quality", lo, hi)
    assert other.row_count == 0 and "Too little history" in other.notices[0]
    async with db.tenant(b) as conn:
        assert await models.read(conn, a, scoring.KIND, "model") is None  # row-level security

    # open leads of the last weeks, most likely first: referral leads ahead of paid_ads ones
    open_leads = await run(db, a, "scoring.leads", datetime(2026, 1, 1, tzinfo=UTC), NOW)
    sources = list(open_leads.column("source").values)
    assert open_leads.row_count > 0 and sources[0] == "referral" and sources[-1] == "paid_ads"
    p = list(open_leads.column("p_close").values)
    assert p == sorted(p, reverse=True) and all(0 <= x <= 100 for x in p)

    # gone cold: contacted an hour in and nothing since; created 1-7 Jan are idle ≥ 7 days at NOW
    risk = await run(db, a, "leads.at_risk", datetime(2026, 1, 1, tzinfo=UTC), NOW)
    idle = list(risk.column("idle_days").values)
    assert risk.row_count > 0 and all(d >= scoring.COLD_DAYS for d in idle)
    actions = [x for x in risk.column("action").values if x]
    assert actions and all(x.startswith("call back") for x in actions)


async def test_panels_read_the_scores_stored_at_the_fit(db: Database, scored: tuple[str, str]) -> None:
    """The trainer scores every lead of the tenant when it fits and the panels show those stored scores (a score
    changed in the table is the one shown: no request predicts); a lead that arrived after the fit is listed
    without a probability, with a notice, until the next fit. Idle days are to the range's end from the lead's
    last progress: its contact an hour after arriving."""
    a, _ = scored
    await _trainer(db).round(NOW, [a])
    jan = datetime(2026, 1, 1, tzinfo=UTC)
    async with db.tenant(a) as conn:
        stored = {r["lead_id"]: r["p_close"] for r in await conn.fetch(
            "SELECT lead_id, p_close FROM lead_scores WHERE tenant_id = $1", a)}
        assert set(stored) == {r["lead_id"] for r in await conn.fetch("SELECT lead_id FROM leads WHERE tenant_id = $1",
                                                                      a)}
    first = await run(db, a, "scoring.leads", jan, NOW)
    assert list(first.column("p_close").values) == pytest.approx(
        [100 * stored[i] for i in first.column("lead_id").values])
    last = first.column("lead_id").values[-1]  # the least likely to close, made the likeliest
    async with db.tenant(a) as conn:
        await conn.execute("DELETE FROM lead_scores WHERE tenant_id = $1 AND lead_id = $2", a, last)
        await conn.execute("INSERT INTO lead_scores (tenant_id, lead_id, p_close) VALUES ($1, $2, 0.999)", a, last)
    again = await run(db, a, "scoring.leads", jan, NOW)
    assert again.rows()[0][0] == last and again.column("p_close").values[0] == pytest.approx(99.9)

    risk = await run(db, a, "leads.at_risk", jan, NOW)
    created = {r[0]: datetime.fromisoformat(r[3]) for r in first.rows()}
    for lead, idle in zip(risk.column("lead_id").values, risk.column("idle_days").values, strict=True):
        assert idle == pytest.approx((NOW - created[lead] - timedelta(hours=1)) / timedelta(days=1))

    late = NOW - timedelta(hours=2)  # after the fit: no score yet
    checked = validate.check([ev("Snew-c", "lead.created", late, "Snew", source="referral"),
                              ev("Snew-r", "lead.routed", late, "Snew", "Sa0", team_id="St0", agent_name="Agent 0")],
                             now=NOW)
    await writer.write(db, a, checked.valid, source=writer.Source.API)
    after = await run(db, a, "scoring.leads", jan, NOW)
    assert after.rows()[-1][0] == "Snew" and after.rows()[-1][4] is None
    assert after.notices == ("1 of these leads arrived after the model's last fit: they have no probability until "
                             "the next one (within a quarter hour).",)


@pytest.mark.parametrize(("role", "own"), [("agent", "Sa0"), ("manager", "Sa1"), ("executive", None),
                                          ("admin", None), ("auditor", None)])
async def test_each_role_sees_the_leads_its_scope_allows(
        db: Database, scored: tuple[str, str], make_client: Callable[..., Awaitable[httpx.AsyncClient]],
        token_for: Callable[..., str], role: str, own: str | None) -> None:
    """An agent gets their own open leads, a manager their team's, executives and admins all; auditors none."""
    a, _ = scored
    await _trainer(db).round(NOW, [a])  # fitted already by the test above, or now (its data has not changed)
    client = await make_client(TenantConfig(id=a, name="Scored", settings=TenantSettings.model_validate(
        {"timezone": "UTC"})))
    claims: dict[str, Any] = {"agent_id": "Sa0"} if role == "agent" else {"teams": ["St1"]} if role == "manager" else {}
    body = {"range": {"from": "2026-01-01T00:00:00Z", "to": NOW.isoformat().replace("+00:00", "Z")},
            "targets": [{"target": "scoring.leads", "refId": "A"}]}
    r = await client.post("/query", json=body, headers={"Authorization": f"Bearer {token_for(a, role, **claims)}"})
    assert r.status_code == 200, r.text
    [answer] = r.json()
    if role == "auditor":
        assert "may not query" in answer["meta"]["notices"][0]["text"]
        return
    ids = {row[0] for row in answer["rows"]}
    async with db.tenant(a) as conn:
        owners = {rec["lead_id"]: rec["agent_id"] for rec in await conn.fetch(
            "SELECT lead_id, agent_id FROM leads WHERE tenant_id = $1", a)}
    assert ids and ({owners[i] for i in ids} == {own} if own else {owners[i] for i in ids} == {"Sa0", "Sa1"})
