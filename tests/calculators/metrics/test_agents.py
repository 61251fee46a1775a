"""Agent metrics against hand-worked figures (fixture tenant A, leads created in February)."""

from __future__ import annotations

import pytest

from success_metrics.calculators import Dimension, Filter, Operator, RowScope, ScopeKind
from success_metrics.calculators.reads import agent_stats_by_period
from success_metrics.storage.pool import Database
from tests.calculators.fixture import FEB, by, col, run, t

# Per agent: a1 (Ann, t1) L1, L2: first contact after 1 h and 3 h, both appointments and closes, 3000 revenue;
# a2 (Bob, t1) L3, L4: 2 h and 5 h, one appointment and close (L4), 400; a3 (Cat, t2) L5: never contacted.
MEAN_REVENUE = (3000 + 400 + 0) / 3
# efficiency with the default baseline (4 h, 30 %, 12 %) and weights (.25, .25, .30, .20)
A1 = 100 * (0.25 * 4 / (4 + 2) + 0.25 * 1 / (1 + 0.30) + 0.30 * 1 / (1 + 0.12) + 0.20 * 3000 / (3000 + MEAN_REVENUE))
A2 = 100 * (0.25 * 4 / (4 + 3.5) + 0.25 * 0.5 / (0.5 + 0.30) + 0.30 * 0.5 / (0.5 + 0.12)
            + 0.20 * 400 / (400 + MEAN_REVENUE))
TEAM_T1 = RowScope(ScopeKind.TEAM, teams=("t1",))


async def test_scorecard(db: Database, tenant_a: str) -> None:
    f = await run(db, tenant_a, "agents.scorecard", *FEB)
    rows = by(f, "agent_id")
    assert rows["a1"]["agent"] == "Ann" and rows["a1"]["leads_assigned"] == 2
    assert rows["a1"]["response_time_hours"] == pytest.approx(2)
    assert rows["a2"]["response_time_hours"] == pytest.approx(3.5)
    assert rows["a2"]["appointment_rate"] == pytest.approx(50) and rows["a2"]["revenue"] == pytest.approx(400)
    assert rows["a1"]["efficiency_score"] == pytest.approx(A1, abs=0.05)
    assert rows["a2"]["efficiency_score"] == pytest.approx(A2, abs=0.05)
    assert rows["a3"]["efficiency_score"] == 0 and rows["a3"]["response_time_hours"] is None
    assert rows["a1"]["efficiency_score"] > rows["a2"]["efficiency_score"] > rows["a3"]["efficiency_score"]
    assert f.column("agent").sensitivity == "personal" and f.column("revenue").field == "revenue"


async def test_row_scope(db: Database, tenant_a: str) -> None:
    team = await run(db, tenant_a, "agents.scorecard", *FEB, scope=TEAM_T1)
    assert col(team, "agent_id") == ["a1", "a2"]
    # the efficiency score compares with the whole tenant's mean revenue, whatever the scope
    assert by(team, "agent_id")["a1"]["efficiency_score"] == pytest.approx(A1, abs=0.05)
    me = await run(db, tenant_a, "agents.scorecard", *FEB, scope=RowScope(ScopeKind.SELF, agent_id="a2"))
    assert col(me, "agent_id") == ["a2"]
    nobody = await run(db, tenant_a, "agents.scorecard", *FEB, scope=RowScope(ScopeKind.SELF))
    assert nobody.row_count == 0


async def test_load_balance(db: Database, tenant_a: str) -> None:
    f = await run(db, tenant_a, "agents.load_balance", *FEB)
    # leads 2, 2, 1: Gini = 2 Σ i·xᵢ / (n Σx) − (n+1)/n over sorted 1, 2, 2 = 2·11/15 − 4/3 = 2/15
    assert f.meta["gini"] == pytest.approx(2 / 15)
    assert by(f, "agent_id")["a3"]["share"] == pytest.approx(20)
    team = await run(db, tenant_a, "agents.load_balance", *FEB, scope=TEAM_T1)
    assert team.meta["gini"] == pytest.approx(0)


async def test_load_balance_shares_are_of_the_agents_kept(db: Database, tenant_a: str) -> None:
    # an agent filter keeps a1 (2 leads) and a3 (1): shares of 3, Gini over 1, 2 = 2·5/6 − 3/2 = 1/6
    f = await run(db, tenant_a, "agents.load_balance", *FEB,
                  filters=(Filter(Dimension.AGENT, Operator.EQ, ("a1", "a3")),))
    assert {a: r["share"] for a, r in by(f, "agent_id").items()} == {"a1": pytest.approx(200 / 3),
                                                                     "a3": pytest.approx(100 / 3)}
    assert f.meta["gini"] == pytest.approx(1 / 6)
    me = await run(db, tenant_a, "agents.load_balance", *FEB, scope=RowScope(ScopeKind.SELF, agent_id="a2"))
    assert (col(me, "agent_id"), col(me, "leads"), col(me, "share")) == (["a2"], [2], [pytest.approx(100)])


async def test_time_allocation(db: Database, tenant_a: str) -> None:
    rows = by(await run(db, tenant_a, "agents.time_allocation", *FEB), "activity")
    # selling 300 + 200, admin 60 + 100, follow-up 40 + 100 = 800 minutes
    assert rows["selling"]["minutes"] == 500 and rows["selling"]["share"] == pytest.approx(62.5)
    assert rows["admin"]["share"] == pytest.approx(20) and rows["admin"]["baseline_share"] == pytest.approx(35)
    assert rows["followup"]["share"] == pytest.approx(17.5)


async def test_goals(db: Database, tenant_a: str) -> None:
    rows = {(r[0], r[1] or r[3]): dict(zip(("goal", "actual", "progress", "projected"), r[4:], strict=True))
            for r in (await run(db, tenant_a, "agents.goals", *FEB)).rows()}
    # a1 closed 1000 + 2000 in February against 4000; team t1 closed 3000 + 400 against 10000
    assert rows[("agent", "a1")] == {"goal": 4000, "actual": 3000, "progress": pytest.approx(75),
                                     "projected": pytest.approx(3000)}  # the month is over: projection = actual
    assert rows[("team", "t1")]["actual"] == 3400 and rows[("team", "t1")]["progress"] == pytest.approx(34)
    scoped = await run(db, tenant_a, "agents.goals", *FEB, scope=RowScope(ScopeKind.TEAM, teams=("t2",)))
    assert scoped.row_count == 0


async def test_top_performers_and_coaching(db: Database, tenant_a: str) -> None:
    top = await run(db, tenant_a, "agents.top_performers", *FEB, options=(("limit", "3"),))
    assert col(top, "agent_id") == ["a1", "a2", "a3"] and col(top, "rank") == [1, 2, 3]
    coach = await run(db, tenant_a, "agents.coaching", *FEB)
    # team t1 medians: appointment rate (1 + .5)/2 = .75, close rate .75, hours (2 + 3.5)/2 = 2.75;
    # a2's gaps: appointment (.75 − .5)/.75 = 1/3, close 1/3, response (3.5 − 2.75)/2.75 = .27 → appointment rate
    assert coach.rows() == [("a2", "Bob", "t1", "t1", "appointment_rate", 0.5, 0.75, pytest.approx(100 / 3))]


async def test_agent_stats_split_the_leads_by_the_period_they_were_created_in(db: Database, tenant_a: str) -> None:
    # February in three periods: L1, L2 (a1) before the 4th; L3, L4 (a2) from the 4th to the 8th; L5 (a3) after.
    # Outcomes count up to the end of February, whatever the period: a1's two appointments, two deals (1000 + 2000),
    # a2's one appointment and one deal (L4, 400), a3's none
    starts = [FEB[0], t(4, 0), t(8, 0)]
    async with db.tenant(tenant_a) as conn:
        found = await agent_stats_by_period(conn, tenant_a, starts, FEB[1], RowScope(), (), "agents.efficiency_trend")
    got = {(k, a.agent_id): (a.leads, a.appointments, a.closes, a.revenue)
           for k, start in enumerate(starts) for a in found.get(start, []) if a.leads}
    assert got == {(0, "a1"): (2, 2, 2, 3000), (1, "a2"): (2, 1, 1, 400), (2, "a3"): (1, 0, 0, 0)}


async def test_efficiency_trend(db: Database, tenant_a: str) -> None:
    f = await run(db, tenant_a, "agents.efficiency_trend", *FEB, options=(("granularity", "month"),))
    assert col(f, "efficiency") == [pytest.approx((A1 + A2 + 0) / 3, abs=0.05)]
