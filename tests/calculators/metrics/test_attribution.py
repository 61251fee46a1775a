"""Multi-touch attribution read from stored events, against credits worked out by hand, and masked per role.

February 2026 (UTC), four leads:
    M1 website_form 1 Feb 00:00 · sms automated response 1 Feb 00:00 · phone by hand 8 Feb · deal 15 Feb, 1000 direct
    M2 paid_ads     2 Feb 00:00 · a failed sms (no touch) 5 Feb · sms automated 9 Feb · deal 9 Feb, 500 assisted
    M3 website_form 3 Feb · nurture warm-nurture step 4 Feb · no deal
    M4 website_form 4 Feb · phone by hand 5 Feb · deal 5 March (after the range: not converted in February)
Paths: M1 (web, sms·automated, phone·manual) → deal; M2 (paid, sms·automated) → deal; M3 (web, nurture) and
M4 (web, phone·manual) → none. Two deals, 1500 of revenue.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from success_metrics.calculators import Dimension, Filter, Operator, TenantSettings
from success_metrics.settings import TenantConfig
from success_metrics.storage.pool import Database
from tests.calculators.fixture import ev, load, run

FEB = (datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC))
WEB, PAID, SMS, PHONE, NURTURE = ("source: website_form", "source: paid_ads", "sms · automated", "phone · manual",
                                  "nurture: warm-nurture")


def d(day: int, month: int = 2) -> datetime:
    return datetime(2026, month, day, tzinfo=UTC)


EVENTS = [
    ev("M1-1", "lead.created", d(1), "M1", source="website_form"),
    ev("M1-2", "lead.responded", d(1), "M1", channel="sms", ok=True),
    ev("M1-3", "contact.attempted", d(8), "M1", "a1", channel="phone", outcome="answered", automated=False,
       consent=True),
    ev("M1-4", "deal.closed", d(15), "M1", "a1", value=1000, attribution_class="direct"),
    ev("M2-1", "lead.created", d(2), "M2", source="paid_ads"),
    ev("M2-2", "contact.attempted", d(5), "M2", channel="sms", outcome="failed", automated=True, consent=True),
    ev("M2-3", "contact.attempted", d(9), "M2", channel="sms", outcome="delivered", automated=True, consent=True),
    ev("M2-4", "deal.closed", d(9), "M2", "a2", value=500, attribution_class="assisted"),
    ev("M3-1", "lead.created", d(3), "M3", source="website_form"),
    ev("M3-2", "lead.nurtured", d(4), "M3", sequence="warm-nurture", step=1, channel="email", ok=True),
    ev("M4-1", "lead.created", d(4), "M4", source="website_form"),
    ev("M4-2", "contact.attempted", d(5), "M4", "a1", channel="phone", outcome="answered", automated=False,
       consent=True),
    ev("M4-3", "deal.closed", d(5, 3), "M4", "a1", value=700, attribution_class="direct"),
]


@pytest.fixture(scope="module")
async def tenant_m(db: Database) -> str:
    tid = f"mt-{os.getpid()}"
    await load(db, tid, EVENTS, {"timezone": "UTC"})
    return tid


def table(rows: list[tuple[Any, ...]], model: str) -> dict[str, tuple[float, float, float | None]]:
    return {r[1]: (r[3], r[4], r[5]) for r in rows if r[0] == model}


# per model: touch → (deals, share %, revenue)
EXPECTED: dict[str, dict[str, tuple[float, float, float]]] = {
    "first_touch": {WEB: (1, 50, 1000), PAID: (1, 50, 500)},
    "last_touch": {PHONE: (1, 50, 1000), SMS: (1, 50, 500)},
    # M1: a third each (333.33); M2: half each (250)
    "linear": {WEB: (1 / 3, 100 / 6, 1000 / 3), SMS: (5 / 6, 250 / 6, 1000 / 3 + 250),
               PHONE: (1 / 3, 100 / 6, 1000 / 3), PAID: (0.5, 25, 250)},
    # M1: web and sms 14 days before the deal (weight 1/4 each), phone 7 days (1/2) → 1/4, 1/4, 1/2;
    # M2: paid 7 days before (1/2), sms at the deal (1) → 1/3, 2/3
    "time_decay": {WEB: (0.25, 12.5, 250), SMS: (0.25 + 2 / 3, 275 / 6, 250 + 1000 / 3), PHONE: (0.5, 25, 500),
                   PAID: (1 / 3, 50 / 3, 500 / 3)},
    # M1 (3 touches): 0.4, 0.2, 0.4; M2 (2 touches): half each
    "position_based": {WEB: (0.4, 20, 400), SMS: (0.2 + 0.5, 35, 200 + 250), PHONE: (0.4, 20, 400),
                       PAID: (0.5, 25, 250)},
    # chain: start→web 3/4, start→paid 1/4; web→sms, web→nurture, web→phone 1/3 each; sms→phone, sms→conv 1/2
    # each; phone→conv, phone→null 1/2 each; nurture→null; paid→sms. Reach: phone 1/2, sms 3/4, web 5/12,
    # paid 3/4, start 3/4·5/12 + 1/4·3/4 = 1/2. Without web 3/16 (effect 5/8), without paid 5/16 (3/8), without
    # sms 1/8 (3/4), without phone 1/4 (1/2), without nurture 1/2 (0). Σ 9/4: shares 5/18, 1/6, 1/3, 2/9 of 2
    # deals and of 1500
    "markov": {WEB: (5 / 9, 500 / 18, 1500 * 5 / 18), PAID: (1 / 3, 50 / 3, 250), SMS: (2 / 3, 100 / 3, 500),
               PHONE: (4 / 9, 200 / 9, 1500 * 2 / 9)},
    # 0.9 × 1 deal (1000) + 0.5 × 1 deal (500): 1.4 deals (70 %), 900 + 250 = 1150
    "class_weights": {"automation": (1.4, 70, 1150), "not attributed": (0.6, 30, 350)},
}


async def test_every_model_credits_the_touches_as_worked_by_hand(db: Database, tenant_m: str) -> None:
    rows = (await run(db, tenant_m, "attribution.multi_touch", *FEB)).rows()
    assert {r[0] for r in rows} == set(EXPECTED)
    for model, expected in EXPECTED.items():
        found = table(rows, model)
        assert set(found) == set(expected), model
        for touch, values in expected.items():
            assert found[touch] == pytest.approx(values), (model, touch)
    kinds = {r[1]: r[2] for r in rows}
    assert (kinds[WEB], kinds[SMS], kinds[PHONE]) == ("source", "automated", "manual")


async def test_comparison_gives_each_models_share_per_kind_of_touch(db: Database, tenant_m: str) -> None:
    frame = await run(db, tenant_m, "attribution.model_comparison", *FEB)
    names = [c.name for c in frame.columns]
    rows = {r[0]: dict(zip(names, r, strict=True)) for r in frame.rows()}
    assert rows["first_touch"]["source_share"] == pytest.approx(100)
    assert rows["first_touch"]["automated_share"] == 0
    assert (rows["last_touch"]["automated_share"], rows["last_touch"]["manual_share"]) == (50, 50)
    markov = rows["markov"]
    assert markov["automated_share"] == pytest.approx(100 / 3) and markov["manual_share"] == pytest.approx(200 / 9)
    assert markov["source_share"] == pytest.approx(400 / 9) and markov["nurture_share"] == 0
    assert (markov["top_touch"], markov["top_share"]) == (SMS, pytest.approx(100 / 3))  # 2/3 of 2 deals
    assert rows["class_weights"]["automated_share"] == pytest.approx(70)


async def test_a_source_filter_keeps_only_its_leads(db: Database, tenant_m: str) -> None:
    rows = (await run(db, tenant_m, "attribution.multi_touch", *FEB,
                      filters=(Filter(Dimension.SOURCE, Operator.EQ, ("paid_ads",)),))).rows()
    assert table(rows, "first_touch") == {PAID: (1, 100, 500)}


async def test_no_deal_says_so(db: Database, tenant_m: str) -> None:
    frame = await run(db, tenant_m, "attribution.multi_touch", d(3), d(5))  # M3, M4 only; M4's deal is later
    assert frame.row_count == 0 and frame.notices


@pytest.mark.parametrize(("role", "refused", "revenue_shown"), [
    ("executive", False, True), ("manager", False, True), ("admin", False, True), ("agent", False, False),
    ("auditor", True, False)])
async def test_revenue_credit_is_hidden_from_roles_that_may_not_see_revenue(
        db: Database, tenant_m: str, make_client: Callable[..., Awaitable[httpx.AsyncClient]],
        token_for: Callable[..., str], role: str, refused: bool, revenue_shown: bool) -> None:
    client = await make_client(TenantConfig(id=tenant_m, name="Multi Touch",
                                            settings=TenantSettings.model_validate({"timezone": "UTC"})))
    claims = {"agent_id": "a1", "teams": ["t1"]} if role in ("agent", "manager") else {}
    body = {"range": {"from": "2026-02-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"},
            "targets": [{"target": "attribution.multi_touch", "refId": "A"}]}
    token = token_for(tenant_m, role, **claims)
    r = await client.post("/query", json=body, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    [answer] = r.json()
    if refused:  # the auditor's policy names no business metric: the panel says so, no figure leaves
        assert "may not query" in answer["meta"]["notices"][0]["text"] and not answer["datapoints"]
        return
    columns = [c["text"] for c in answer["columns"]]
    assert ("revenue" in columns) is revenue_shown
    assert "deals" in columns and "share" in columns  # counts of deals name no money
    first = [row for row in answer["rows"] if row[0] == "first_touch"]
    assert sorted(row[columns.index("deals")] for row in first) == [1, 1]


async def test_another_tenant_with_the_same_lead_ids_sees_only_its_own_paths(db: Database, tenant_m: str) -> None:
    """Tenant B stores the same event and lead ids at the same times, with website_form renamed referral and
    every deal worth 10 times more: each tenant's first-touch credit is its own."""
    other = f"mt-b-{os.getpid()}"
    events = copy.deepcopy(EVENTS)
    for e in events:
        if e["data"].get("source") == "website_form":
            e["data"]["source"] = "referral"
        if e["type"] == "deal.closed":
            e["data"]["value"] *= 10
    await load(db, other, events, {"timezone": "UTC"})
    mine = table((await run(db, tenant_m, "attribution.multi_touch", *FEB)).rows(), "first_touch")
    theirs = table((await run(db, other, "attribution.multi_touch", *FEB)).rows(), "first_touch")
    assert mine == {WEB: (1, 50, 1000), PAID: (1, 50, 500)}
    assert theirs == {"source: referral": (1, 50, 10000), PAID: (1, 50, 5000)}
