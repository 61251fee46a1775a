"""compute(): bad input gives a clear error; every metric answers on an empty tenant and on the fixture."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from success_metrics.calculators import Dimension, Filter, InvalidRange, Kind, MetricName, MetricQuery, Operator, RowScope, ScopedQuery, ScopeKind, TenantId, UnknownMetric, UnsupportedFilter, all_metrics, get_metric, needs_agent_scope_check, shared_query
from success_metrics.storage.pool import Database
from tests.calculators.fixture import FEB, create_tenant, run

SCOPES = [RowScope(), RowScope(ScopeKind.TEAM, teams=("t1",)), RowScope(ScopeKind.SELF, agent_id="a2")]


async def test_unknown_metric_suggests(db: Database, tenant_a: str) -> None:
    with pytest.raises(UnknownMetric) as err:
        await run(db, tenant_a, "roi.montly", *FEB)
    assert "roi.monthly" in err.value.message


async def test_filter_on_a_dimension_the_metric_lacks(db: Database, tenant_a: str) -> None:
    with pytest.raises(UnsupportedFilter) as err:
        await run(db, tenant_a, "roi.monthly", *FEB, filters=(Filter(Dimension.AGENT, Operator.EQ, ("a1",)),))
    assert "cannot be filtered by 'agent'" in err.value.message and err.value.metric == "roi.monthly"
    with pytest.raises(UnsupportedFilter, match="use =, !="):
        await run(db, tenant_a, "pipeline.throughput", *FEB, filters=(Filter(Dimension.SOURCE, Operator.LT, ("x",)),))


async def test_bad_ranges(db: Database, tenant_a: str) -> None:
    with pytest.raises(InvalidRange, match="empty or reversed"):
        await run(db, tenant_a, "roi.monthly", FEB[1], FEB[0])
    with pytest.raises(InvalidRange, match="time zone"):
        await run(db, tenant_a, "roi.monthly", datetime(2026, 2, 1), datetime(2026, 3, 1))


async def test_regex_and_negated_filters(db: Database, tenant_a: str) -> None:
    f = await run(db, tenant_a, "sources.performance", *FEB,
                  filters=(Filter(Dimension.SOURCE, Operator.REGEX, ("^web", "^paid")),))
    assert [r[0] for r in f.rows()] == ["paid_ads", "website_form"]
    f = await run(db, tenant_a, "sources.performance", *FEB,
                  filters=(Filter(Dimension.SOURCE, Operator.NE, ("referral",)),))
    assert "referral" not in [r[0] for r in f.rows()]


def _check_shape(frame, kind: Kind, max_points: int) -> None:
    assert frame.kind == kind
    if kind == Kind.TIMESERIES:
        times = frame.columns[0].values
        assert frame.columns[0].name == "time" and list(times) == sorted(times) and len(times) <= max_points
    if kind == Kind.STAT:
        assert frame.row_count == 1
        assert [c.name for c in frame.columns][:4] == ["value", "previous", "target", "status"]


@pytest.mark.parametrize("scope", SCOPES, ids=["tenant", "team", "self"])
async def test_every_metric_answers_the_fixture(db: Database, tenant_a: str, scope: RowScope) -> None:
    for m in all_metrics():
        frame = await run(db, tenant_a, m.name, *FEB, scope=scope, max_points=50, interval_ms=60_000)
        _check_shape(frame, m.kind, 50)


async def test_every_metric_answers_an_empty_tenant(db: Database, new_tenant_id) -> None:
    tenant = new_tenant_id("empty")
    await create_tenant(db, tenant, {"timezone": "Europe/Berlin"})
    lo = datetime(2026, 3, 29, 0, tzinfo=UTC)  # a DST change in Berlin
    points = {}
    for m in all_metrics():
        frame = await run(db, tenant, m.name, lo, lo + timedelta(days=1), interval_ms=3_600_000)
        _check_shape(frame, m.kind, 1000)
        if m.kind == Kind.TIMESERIES:
            points[m.name] = len(frame.columns[0].values)
            if m.name != "cost.avoidance":  # its investment side is the configured monthly costs
                assert all(v in (None, 0) for c in frame.columns[1:] for v in c.values), m.name
    # 23 local hours but 24 UTC hours: sub-day buckets are UTC hours
    assert points["pipeline.throughput"] == points["errors.rate"] == 24
    # monthly by default: the local month of 29 March
    assert points["revenue.monthly_trend"] == 1


async def test_explain_lists_the_statements(db: Database, tenant_a: str) -> None:
    from success_metrics.calculators import MetricName, MetricQuery, ScopedQuery, TenantId, explain

    sq = ScopedQuery(TenantId(tenant_a), MetricQuery(MetricName("components.health"), *FEB))
    async with db.tenant(tenant_a) as conn:
        frame, statements = await explain(conn, sq)
    assert frame.row_count == 2
    sql = [s for s, _ in statements]
    assert any("FROM rollup_component_call u" in s and "grain = 'day'" in s for s in sql)  # daily rollups
    assert all(tenant_a in args for s, args in statements if "rollups" in s or "events" in s)


async def test_a_range_with_one_event(db: Database, new_tenant_id) -> None:
    from tests.calculators.fixture import col, ev, load

    tenant = new_tenant_id("one")
    at = datetime(2026, 6, 15, 12, tzinfo=UTC)
    await load(db, tenant, [ev("only", "component.call", at, component="crm_sync", latency_ms=250, ok=True)],
               {"timezone": "UTC"})
    for span in (timedelta(hours=1), timedelta(days=20)):
        lo, hi = at - span, at + span
        frame = await run(db, tenant, "components.health", lo, hi)
        assert col(frame, "volume") == [1] and col(frame, "latency_ms") == [250]
        p95 = col(frame, "p95_ms")[0]
        assert abs(p95 - 250) <= 250 * 0.0099  # exact for the short range, within the sketch bound for the long
    assert col(await run(db, tenant, "components.health", at + timedelta(seconds=1), at + timedelta(hours=1)),
               "volume") == []


async def test_an_invalid_regex_is_a_filter_error(db: Database, tenant_a: str) -> None:
    with pytest.raises(UnsupportedFilter, match="regular expression"):
        await run(db, tenant_a, "sources.performance", *FEB,
                  filters=(Filter(Dimension.SOURCE, Operator.REGEX, ("web(",)),))


async def test_a_metric_not_marked_row_scoped_gives_every_scope_the_same_frame(db: Database, tenant_a: str) -> None:
    """compute.shared_query lets every role share one computation of such a metric: that is only right if its
    frame really does not depend on the scope. A metric that reads the scope must say row_scoped=True."""
    differs = set()
    for m in all_metrics():
        frames = [await run(db, tenant_a, m.name, *FEB, scope=s, max_points=50, interval_ms=86_400_000)
                  for s in (*SCOPES, SCOPES[0])]
        if frames[-1] != frames[0] or m.name == "system.resources":  # a live reading: no function of the scope
            continue  # (its CPU and memory figures can move and move back between the four readings)
        if any(f != frames[0] for f in frames[1:]):
            differs.add(m.name)
    unmarked = sorted(n for n in differs if not get_metric(n).row_scoped)
    assert unmarked == [], f"these metrics read the row scope but are not marked row_scoped: {unmarked}"
    assert "agents.scorecard" in differs  # the fixture tells scopes apart, so the check above can fail


def test_shared_query_drops_the_scope_only_of_metrics_that_do_not_read_it() -> None:
    q = MetricQuery(MetricName("roi.monthly"), *FEB)
    team = ScopedQuery(TenantId("t"), q, RowScope(ScopeKind.TEAM, teams=("t1",)))
    assert shared_query(team, row_scoped=False) == ScopedQuery(TenantId("t"), q, RowScope())
    assert shared_query(team, row_scoped=True) is team
    filtered = ScopedQuery(TenantId("t"), MetricQuery(MetricName("roi.monthly"), *FEB,
                                                       filters=(Filter(Dimension.AGENT, Operator.EQ, ("a9",)),)),
                           RowScope(ScopeKind.TEAM, teams=("t1",)))
    assert needs_agent_scope_check(filtered) and not needs_agent_scope_check(team)
