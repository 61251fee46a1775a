"""Recommendations with evidence computed from the leads, worked by hand; none when the evidence is too thin.

February 2026 (UTC): 40 referral leads routed to Fast Team, each contacted by hand 2 minutes after it arrived,
16 of them closed (40 %); 60 paid_ads leads routed to Slow Team, contacted after 90 minutes, 9 closed (15 %).
Fast against late contact: pooled 25/100, se = √(0.25·0.75·(1/40 + 1/60)) = √0.0078125, z = 0.25 / se = 2√2,
p = erfc(2) = 0.0047. The same two groups are referral against the other sources and paid_ads against the others.
"""

from __future__ import annotations

import math
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from success_metrics.calculators import Dimension, Filter, Operator, TenantSettings
from success_metrics.calculators.evidence import Comparison
from success_metrics.settings import TenantConfig
from success_metrics.storage.pool import Database
from tests.calculators.fixture import by, ev, load, run

FEB = (datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC))


def _leads() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    groups = (("R", 40, 16, "referral", "tf", "Fast Team", "af", 2), ("P", 60, 9, "paid_ads", "ts", "Slow Team", "as",
                                                                       90))
    for prefix, count, closes, source, team, team_name, agent, minutes in groups:
        for i in range(count):
            lead, at = f"{prefix}{i}", datetime(2026, 2, 2, tzinfo=UTC) + timedelta(hours=4 * i)
            out += [ev(f"{lead}-c", "lead.created", at, lead, source=source),
                    ev(f"{lead}-r", "lead.routed", at + timedelta(minutes=1), lead, agent, team_id=team,
                       team_name=team_name, agent_name=agent),
                    ev(f"{lead}-k", "contact.attempted", at + timedelta(minutes=minutes), lead, agent, channel="phone",
                       outcome="answered", automated=False, consent=True)]
            if i < closes:
                out.append(ev(f"{lead}-d", "deal.closed", at + timedelta(days=1), lead, agent, value=100,
                              attribution_class="direct"))
    return out


@pytest.fixture(scope="module")
async def tenant_r(db: Database) -> str:
    tid = f"rec-{os.getpid()}"
    await load(db, tid, _leads(), {"timezone": "UTC"})
    return tid


def test_two_proportion_z_test_by_hand() -> None:
    # 30/100 vs 15/100: pooled 0.225, se = √(0.225·0.775·0.02) = 0.059055, z = 0.15 / se = 2.5400, p = erfc(z/√2)
    assert Comparison(30, 100, 15, 100).p_value == pytest.approx(math.erfc(2.5400 / math.sqrt(2)), rel=1e-4)
    assert Comparison(16, 40, 9, 60).p_value == pytest.approx(math.erfc(2.0))
    assert Comparison(16, 40, 9, 60).significant()
    assert not Comparison(16, 29, 9, 60).significant()  # 29 leads: too few, however large the difference
    assert not Comparison(3, 10, 3, 10).significant() and Comparison(0, 0, 1, 5).p_value == 1


async def test_each_recommendation_carries_its_evidence(db: Database, tenant_r: str) -> None:
    frame = await run(db, tenant_r, "recommendations.list", *FEB)
    rows = by(frame, "recommendation")
    speed = rows["route paid_ads leads (median first contact 1.5 h) to Fast Team, the fastest team (2 min)"]
    assert speed["evidence"] == ("leads first contacted within 5 minutes close at 40 % vs 15 % after 1 hour "
                                 "(n = 40 vs 60, p = 0.005)")
    assert (speed["rate_a"], speed["rate_b"], speed["leads"]) == (pytest.approx(40), pytest.approx(15), 100)
    assert speed["p_value"] == pytest.approx(math.erfc(2.0))
    assert speed["text"] == f"{speed['evidence']}: {speed['recommendation']}"
    better = rows["put more of the lead budget into referral"]
    assert better["evidence"] == "referral leads close at 40 % vs 15 % from the other sources (n = 40 vs 60, p = 0.005)"
    worse = rows["review how paid_ads leads are qualified before paying for more of them"]
    assert (worse["rate_a"], worse["rate_b"]) == (pytest.approx(15), pytest.approx(40))
    assert len(rows) == 3


async def test_no_recommendation_without_significant_evidence(db: Database, tenant_r: str) -> None:
    # referral alone: no late-contacted group, no other source to compare with
    frame = await run(db, tenant_r, "recommendations.list", *FEB,
                      filters=(Filter(Dimension.SOURCE, Operator.EQ, ("referral",)),))
    assert frame.row_count == 0 and "No recommendation" in frame.notices[0]
    # 2 to 5 February: 18 leads of each group (one every 4 h), under the 30 a group needs
    early = await run(db, tenant_r, "recommendations.list", datetime(2026, 2, 2, tzinfo=UTC),
                      datetime(2026, 2, 5, tzinfo=UTC))
    assert early.row_count == 0


@pytest.mark.parametrize("role", ["executive", "manager", "agent", "admin", "auditor"])
async def test_every_business_role_gets_the_same_recommendations(
        db: Database, tenant_r: str, make_client: Callable[..., Awaitable[httpx.AsyncClient]],
        token_for: Callable[..., str], role: str) -> None:
    """The evidence is counts of leads (no money, no person): every role that may query business metrics sees it
    whole; an auditor's policy names no business metric."""
    client = await make_client(TenantConfig(id=tenant_r, name="Recs", settings=TenantSettings.model_validate(
        {"timezone": "UTC"})))
    claims: dict[str, Any] = {"agent_id": "af"} if role == "agent" else {"teams": ["ts"]} if role == "manager" else {}
    body = {"range": {"from": "2026-02-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"},
            "targets": [{"target": "recommendations.list", "refId": "A"}]}
    r = await client.post("/query", json=body,
                          headers={"Authorization": f"Bearer {token_for(tenant_r, role, **claims)}"})
    [answer] = r.json()
    if role == "auditor":
        assert "may not query" in answer["meta"]["notices"][0]["text"]
        return
    names = [c["text"] for c in answer["columns"]]
    assert len(answer["rows"]) == 3 and "evidence" in names and "p_value" in names
