"""The catalog: complete, unique, valid; lookups suggest close names; a duplicate fails at registration."""

from __future__ import annotations

from dataclasses import fields, replace

import pytest

from success_metrics.calculators import Dimension, Kind, MetricName, Unit, all_metrics, catalog, get_metric, lineage
from success_metrics.calculators.catalog import DuplicateMetric, metric
from success_metrics.calculators.errors import UnknownMetric
from success_metrics.calculators.frames import Column, Frame
from success_metrics.calculators.validate import issues
from success_metrics.calculators.vocabulary import ColumnType

CONTRACT = """roi.monthly savings.monthly revenue.attributed time_savings.hours executive.kpi_summary
revenue.monthly_trend time_savings.cumulative conversion.before_after cost.avoidance cost.benefit
response_time.first_contact response_time.automated conversion.lead_to_appointment conversion.lead_to_close
uptime.system errors.rate
pipeline.stages pipeline.throughput components.health components.latency components.success_rate errors.active
errors.by_category errors.mttr system.resources sources.performance leads.quality_distribution
behavior.response_time_impact behavior.followup_effectiveness behavior.channel_performance
behavior.best_contact_times attribution.tree attribution.weighted agents.scorecard agents.efficiency_trend
agents.load_balance agents.time_allocation agents.goals agents.top_performers agents.coaching apis.health
security.auth_events compliance.checks adoption.usage alerts.action_items
audit.access_log audit.failures audit.exports
alerts.component_calls security.audit_actions alerts.conversion alerts.high_priority_waiting alerts.month_projection
system.database_size system.oldest_event
forecast.revenue forecast.leads forecast.capacity forecast.backtest kpis.year_over_year anomalies.detected
alerts.anomalies
attribution.multi_touch attribution.model_comparison recommendations.list scoring.quality scoring.reliability
scoring.leads leads.at_risk
dashboards.health data.quality alerts.dashboard_failures alerts.data_quality_issues
backup.status database.performance database.indexes database.pool database.growth security.encryption
alerts.backup_age""".split()


def test_every_contract_metric_is_in_the_catalog() -> None:
    assert sorted(CONTRACT) == sorted(m.name for m in all_metrics())


def test_catalog_validates() -> None:
    assert issues() == []


def test_validate_reports_every_issue() -> None:
    m = get_metric("roi.monthly")
    broken = [m, m, replace(m, name=MetricName("Bad Name"), inputs=(MetricName("no.such"),), title=" ")]
    found = issues(broken)
    assert "roi.monthly: registered more than once" in found
    assert "Bad Name: name is not 'area.metric' in lower case" in found
    assert ("Bad Name: input 'no.such' is neither a measure (success_metrics/calculators/measures.py) nor a metric"
            in found)
    assert "Bad Name: title and description are required" in found


def test_validate_reports_lineage_that_is_not_derivable() -> None:
    m = get_metric("revenue.attributed")
    broken = [
        replace(m, name=MetricName("x.no_inputs"), inputs=()),
        replace(m, name=MetricName("x.narrowed"), lineage={"value": ("agent_identity",)}),
        replace(m, name=MetricName("x.unexplained"), declassify={"value": " "}),
        replace(m, name=MetricName("x.gate"), inputs=("leads",)),
        replace(m, name=MetricName("x.loop"), inputs=("x.loop",)),
    ]
    found = issues(broken)
    assert found == [
        "x.no_inputs: names no inputs (measures or metrics), so its columns' sensitivity is not derivable",
        "x.narrowed: column 'value' derives from ['agent_identity'], which are not inputs",
        "x.unexplained: column 'value' is declassified without a reason",
        "x.gate: is gated as financial but none of its inputs is financial (its inputs give ['public'])",
        "x.loop: metrics read each other: x.loop → x.loop",
    ]


def test_registering_a_name_twice_fails() -> None:
    with pytest.raises(DuplicateMetric, match=r"roi\.monthly"):
        metric("roi.monthly", "x", "y", Unit.PERCENT, Kind.STAT)(get_metric("roi.monthly").compute)


def test_lookup_suggests() -> None:
    with pytest.raises(UnknownMetric) as err:
        get_metric("agents.scorcard")
    assert err.value.suggestions[0] == "agents.scorecard"
    assert "Did you mean: agents.scorecard" in err.value.message


def test_dimension_options_and_lower_is_better() -> None:
    scorecard = get_metric("agents.scorecard")
    assert Dimension.TEAM in scorecard.dimensions
    team = next(o for o in scorecard.options if o.name == "team")
    assert team.dimension == Dimension.TEAM and team.multi
    assert get_metric("response_time.first_contact").lower_is_better
    assert "monotonic" in scorecard.description
    assert {m.sensitivity.value for m in all_metrics() if m.area in ("roi", "savings", "revenue")} == {"financial"}


def test_the_catalog_stamp_keeps_what_the_frame_says_and_adds_lineage_and_meta() -> None:
    # the stamp builds the computed frame anew (once, with the currency label): every field but the columns, the
    # meta it is given and the lineage must come through as the computation set it
    entry = get_metric(MetricName("alerts.action_items"))  # declares row lineage
    found = catalog._resolved(entry.name)
    frame = Frame("x", Kind.TABLE, (Column("item", ColumnType.STRING, ("a",)),), notices=("a notice",),
                  masked_fields=("item",), meta={"lower_is_better": True}, row_lineage=(found.whole,))
    stamped = lineage.stamp(entry, frame, found, meta={**frame.meta, "currency": "EUR"})
    for f in fields(Frame):
        if f.name not in {"columns", "meta", "lineage"}:
            assert getattr(stamped, f.name) == getattr(frame, f.name), f.name
    assert stamped.meta == {"lower_is_better": True, "currency": "EUR"}
    assert stamped.lineage == found.whole
    assert stamped.columns[0].lineage == found.columns.get("item", frozenset())
