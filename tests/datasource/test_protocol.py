"""Parsing Grafana's requests (both dialects, old spellings) and serializing frames, without the network."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import jsonschema
import pytest

from success_metrics.calculators import Column, ColumnType, Dimension, Filter, Frame, Kind, Operator, Unit
from success_metrics.query import freshness
from success_metrics.query.protocol import parse, serialize
from success_metrics.query.protocol.errors import LimitExceeded, ProtocolError, UnknownFilterKey
from success_metrics.query.protocol.parse import Shape
from success_metrics.query.protocol.requests import AnnotationRequest, FilterIn, QueryRequest, VariableRequest
from success_metrics.query.protocol.responses import QueryResponse
from success_metrics.settings import Limits
from tests.datasource.grafana_shapes import check, fixture

LIMITS = Limits()
DAY_START = datetime(2026, 3, 2, tzinfo=UTC)
DAY_END = datetime(2026, 3, 3, tzinfo=UTC)


def targets(name: str, limits: Limits = LIMITS) -> list[parse.ParsedTarget]:
    return parse.metric_queries(QueryRequest.model_validate(fixture(name)), limits)


def test_time_series_panel_keeps_range_interval_and_points() -> None:
    [t] = targets("timeseries_panel")
    assert (t.ref_id, t.shape, t.error) == ("A", Shape.TIMESERIES, None)
    assert t.query is not None
    assert (t.query.metric, t.query.start, t.query.end) == ("pipeline.throughput", DAY_START, DAY_END)
    # intervalMs 3 600 000 over 24 h = 24 buckets = maxDataPoints: kept as asked
    assert (t.query.interval_ms, t.query.max_points) == (3_600_000, 24)


def test_epoch_range_reads_as_the_same_instants() -> None:
    [t] = targets("table_panel")  # range in epoch ms: 1772409600000 = 2026-03-02T00:00Z
    assert t.query is not None and (t.query.start, t.query.end) == (DAY_START, DAY_END)
    assert t.shape is Shape.TABLE


def test_interval_is_widened_so_points_never_exceed_max_data_points() -> None:
    body = fixture("timeseries_panel") | {"intervalMs": 60_000, "maxDataPoints": 10}
    [t] = parse.metric_queries(QueryRequest.model_validate(body), LIMITS)
    # 24 h = 86 400 000 ms / 10 points = 8 640 000 ms (2.4 h, > the 60 000 asked), snapped to the 3 h bucket the
    # calculators use: 8 buckets
    assert t.query is not None and t.query.interval_ms == 10_800_000


def test_intervals_that_give_the_same_buckets_give_the_same_query() -> None:
    """Grafana rounds intervals its own way (40 m, 45 m …); every interval the calculators would widen to the same
    1 h bucket parses to the same query, so those panels share one cache entry."""
    queries = set()
    for interval_ms in (1_800_001, 2_400_000, 2_700_000, 3_600_000):
        body = fixture("timeseries_panel") | {"intervalMs": interval_ms, "maxDataPoints": 1000}
        [t] = parse.metric_queries(QueryRequest.model_validate(body), LIMITS)
        queries.add(t.query)
    assert len(queries) == 1 and next(iter(queries)).interval_ms == 3_600_000  # type: ignore[union-attr]


def test_interval_text_is_used_when_interval_ms_is_absent() -> None:
    body = fixture("timeseries_panel") | {"intervalMs": None, "interval": "6h", "maxDataPoints": 1000}
    [t] = parse.metric_queries(QueryRequest.model_validate(body), LIMITS)
    assert t.query is not None and t.query.interval_ms == 21_600_000


def test_relative_range_is_aligned_to_whole_minutes() -> None:
    body = fixture("timeseries_panel") | {"range": {"from": "2026-03-02T00:00:31.250Z", "to": "2026-03-02T06:00:31.250Z"}}
    [t] = parse.metric_queries(QueryRequest.model_validate(body), LIMITS)
    assert t.query is not None
    assert (t.query.start, t.query.end) == (datetime(2026, 3, 2, 0, 0, tzinfo=UTC), datetime(2026, 3, 2, 6, 1, tzinfo=UTC))


def test_analytics_ranges_align_to_quarter_hours() -> None:
    start, end = datetime(2026, 3, 1, 10, 7, 31, tzinfo=UTC), datetime(2026, 3, 31, 10, 7, 31, tzinfo=UTC)
    # 30 days >= 7 days: start down to 10:00, end up to 10:15
    assert freshness.align(start, end) == (datetime(2026, 3, 1, 10, 0, tzinfo=UTC), datetime(2026, 3, 31, 10, 15, tzinfo=UTC))
    # 6 hours: whole minutes only
    assert freshness.align(end - timedelta(hours=6), end) == (datetime(2026, 3, 31, 4, 7, tzinfo=UTC),
                                                          datetime(2026, 3, 31, 10, 8, tzinfo=UTC))


def test_a_reversed_range_is_refused_before_alignment() -> None:
    body = fixture("timeseries_panel") | {"range": {"from": "2026-03-02T00:00:20Z", "to": "2026-03-02T00:00:10Z"}}
    with pytest.raises(ProtocolError, match="reversed"):
        parse.metric_queries(QueryRequest.model_validate(body), LIMITS)


def test_relative_range_text_is_read_against_now() -> None:
    now = datetime(2026, 3, 2, 12, 0, 30, tzinfo=UTC)
    assert parse.parse_time("now", "to", now) == now
    assert parse.parse_time("now-6h", "from", now) == now - timedelta(hours=6)
    assert parse.parse_time("now-2d", "from", now) == now - timedelta(days=2)


@pytest.mark.parametrize(("change", "error", "says"), [
    ({"maxDataPoints": 20_000}, LimitExceeded, "limit of 10000"),
    ({"maxDataPoints": 0}, ProtocolError, "at least 1"),
    ({"range": {"from": "2026-03-03T00:00:00Z", "to": "2026-03-02T00:00:00Z"}}, ProtocolError, "reversed"),
    ({"range": {"from": "2020-01-01T00:00:00Z", "to": "2026-03-02T00:00:00Z"}}, LimitExceeded, "limit is 1098 days"),
    ({"range": {"from": "yesterday", "to": "now"}}, ProtocolError, "ISO 8601"),
    ({"interval": "soon", "intervalMs": None}, ProtocolError, "duration"),
])
def test_request_errors_state_what_to_change(change: dict[str, object], error: type[Exception], says: str) -> None:
    with pytest.raises(error, match=says):
        parse.metric_queries(QueryRequest.model_validate(fixture("timeseries_panel") | change), LIMITS)


def test_too_many_targets_states_the_limit() -> None:
    body = fixture("timeseries_panel")
    body["targets"] = [{"target": "pipeline.throughput", "refId": f"R{i}"} for i in range(3)]
    with pytest.raises(LimitExceeded, match="3 targets; the limit is 2"):
        parse.metric_queries(QueryRequest.model_validate(body), Limits(max_targets=2))


def test_hidden_and_empty_targets_are_skipped() -> None:
    assert [t.ref_id for t in targets("hidden_target")] == ["A"]


def test_filters_and_legacy_adhoc_filters_both_become_dimension_filters() -> None:
    [new] = targets("adhoc_filters")
    [old] = targets("adhoc_filters_legacy")
    assert new.query is not None and old.query is not None
    assert new.query.filters == (Filter(Dimension.SOURCE, Operator.EQ, ("referral",)),)
    assert old.query.filters == (Filter(Dimension.SOURCE, Operator.NE, ("referral",)),)
    assert new.adhoc == new.query.filters


def test_multi_value_variable_forms_and_all() -> None:
    a, b, c = targets("multi_value_variable")
    both = (Filter(Dimension.SOURCE, Operator.EQ, ("website_form", "referral")),)
    assert a.query is not None and a.query.filters == both  # a list
    assert b.query is not None and b.query.filters == both  # payload as JSON text holding Grafana's {a,b}
    assert c.query is not None and c.query.filters == ()  # "$__all" in SimpleJSON's data: no restriction


@pytest.mark.parametrize(("spec", "expected"), [
    (FilterIn(key="teams", operator="=~", value="north|south"), Filter(Dimension.TEAM, Operator.REGEX, ("north|south",))),
    (FilterIn(key="Channel", operator="=|", values=["sms", "email"]), Filter(Dimension.CHANNEL, Operator.EQ, ("sms", "email"))),
    (FilterIn(key="source", operator="!=", value="[\"a\",\"b\"]"), Filter(Dimension.SOURCE, Operator.NE, ("a", "b"))),
    (FilterIn(key="score_band", operator=">", value="warm"), Filter(Dimension.SCORE_BAND, Operator.GT, ("warm",))),
    (FilterIn(key="source", operator="=", value="All"), None),
])
def test_filter_spellings(spec: FilterIn, expected: Filter | None) -> None:
    assert parse.to_filter(spec) == expected


@pytest.mark.parametrize(("spec", "says"), [
    (FilterIn(key="colour", value="blue"), "Unknown filter key 'colour': use one of source, agent"),
    (FilterIn(key="source", operator="~~", value="x"), "unknown operator '~~'"),
    (FilterIn(key="source", operator="=~", value="(unclosed"), "not a valid regular expression"),
    (FilterIn(key="source", operator="<", value="{a,b}"), "takes one value, got 2"),
    (FilterIn(key="source", operator="=~", value=""), "needs a value"),
])
def test_bad_filters_say_what_to_fix(spec: FilterIn, says: str) -> None:
    with pytest.raises(ProtocolError, match=says.replace("(", r"\(")):
        parse.to_filter(spec)


def test_a_bad_payload_fails_only_its_target() -> None:
    parsed = targets("mixed_targets")
    assert [t.ref_id for t in parsed] == ["A", "B", "C", "D", "E"]
    bad = parsed[2]
    assert bad.query is None and bad.error is not None and bad.error.ref_id == "C"
    assert "not valid JSON" in bad.error.message
    assert all(t.error is None for t in parsed if t.ref_id != "C")


def test_fit_refuses_unknown_options_and_drops_inapplicable_adhoc_filters() -> None:
    e = targets("mixed_targets")[4]
    with pytest.raises(UnknownFilterKey, match="no option 'colour'; it takes: granularity, source"):
        parse.fit(e, frozenset({Dimension.SOURCE}), ["granularity"])
    [t] = targets("adhoc_filters")
    query, notice = parse.fit(t, frozenset({Dimension.CHANNEL}), [])
    assert query.filters == () and "on source do not apply" in notice
    body = fixture("adhoc_filters") | {"filters": []}
    body["targets"][0]["payload"] = {"source": "referral"}
    [own] = parse.metric_queries(QueryRequest.model_validate(body), LIMITS)
    with pytest.raises(UnknownFilterKey, match="cannot be filtered by 'source'; it takes: channel"):
        parse.fit(own, frozenset({Dimension.CHANNEL}), [])


def test_annotation_queries_of_both_dialects() -> None:
    query = parse.annotation_query(AnnotationRequest.model_validate(fixture("annotation_simplejson")), LIMITS)
    assert (query.metric, query.start, query.end) == ("outages,degradations", DAY_START, DAY_END)
    [t] = targets("annotation_jsonapi")
    assert t.shape is Shape.ANNOTATIONS and t.query is not None and t.query.metric == "outages"


def test_variable_target_as_object_json_text_or_bare_name() -> None:
    assert parse.variable_target(VariableRequest.model_validate(fixture("variable_query"))) == "sources"
    assert parse.variable_target(VariableRequest(payload='{"target": "teams"}')) == "teams"
    assert parse.variable_target(VariableRequest(payload="agents")) == "agents"


# --- serialize -------------------------------------------------------------------------------------------

T0 = 1_772_409_600_000  # 2026-03-02T00:00Z in ms
HOUR = 3_600_000


def series_frame() -> Frame:
    # rows deliberately out of order: the serializer sorts by time
    return Frame("throughput", Kind.TIMESERIES, (
        Column("time", ColumnType.TIME, (T0 + HOUR, T0, T0 + 2 * HOUR)),
        Column("website_form", ColumnType.NUMBER, (Decimal("2"), 5, None), Unit.COUNT),
        Column("referral", ColumnType.NUMBER, (1.5, float("nan"), 0), Unit.COUNT),
    ))


def test_time_series_are_ascending_pairs_with_null_gaps() -> None:
    items = serialize.query_items("A", Shape.TIMESERIES, series_frame())
    dumped = QueryResponse(items).model_dump(mode="json", exclude_none=True)
    assert dumped == [
        {"target": "website_form", "refId": "A", "datapoints": [[5.0, T0], [2.0, T0 + HOUR], [None, T0 + 2 * HOUR]]},
        {"target": "referral", "refId": "A", "datapoints": [[None, T0], [1.5, T0 + HOUR], [0.0, T0 + 2 * HOUR]]},
    ]
    check("/query", dumped)


def test_a_series_served_again_is_the_same_and_a_changed_column_is_not_mistaken_for_it() -> None:
    """Points are remembered per column object: serving a cached frame again gives the same points, and a column
    masking replaced (same time column, new values) gets its own."""
    frame = series_frame()
    first = [i.datapoints for i in serialize.time_series("A", frame)]
    assert [i.datapoints for i in serialize.time_series("B", frame)] == first
    times, web, ref = frame.columns
    changed = Frame("throughput", Kind.TIMESERIES, (times, web.with_values((7, 8, 9)), ref))
    assert [i.datapoints for i in serialize.time_series("A", changed)] == [
        [(8.0, T0), (7.0, T0 + HOUR), (9.0, T0 + 2 * HOUR)], first[1]]


def test_a_frame_served_again_reuses_its_items_and_json_but_a_changed_one_does_not() -> None:
    frame = series_frame()
    items = serialize.query_items("A", Shape.TIMESERIES, frame)
    body = serialize.items_json(items)
    assert json.loads(body) == QueryResponse(items).model_dump(mode="json", exclude_none=True)
    again = serialize.query_items("A", Shape.TIMESERIES, replace(frame))  # a new frame of the same columns
    assert again is items and serialize.items_json(again) == body
    times, web, ref = frame.columns
    masked = replace(frame, columns=(times, web.with_values((None, None, None)), ref), masked_fields=("website_form",))
    assert json.loads(serialize.items_json(serialize.query_items("A", Shape.TIMESERIES, masked)))[0]["datapoints"] == [
        [None, T0], [None, T0 + HOUR], [None, T0 + 2 * HOUR]]
    assert serialize.query_items("B", Shape.TIMESERIES, frame)[0].refId == "B"  # refIds are not shared


def test_time_series_asked_as_table_is_a_typed_table() -> None:
    [table] = serialize.query_items("A", Shape.TABLE, series_frame())
    dumped = table.model_dump(mode="json", exclude_none=True)
    assert dumped["columns"] == [{"text": "time", "type": "time"}, {"text": "website_form", "type": "number", "unit": "short"},
                                 {"text": "referral", "type": "number", "unit": "short"}]
    assert dumped["rows"][1] == [T0, 5, None]  # NaN is sent as null
    check("/query", [dumped])


def test_stat_is_one_row_with_value_previous_target_and_status() -> None:
    frame = Frame("conv", Kind.STAT, (
        Column("value", ColumnType.NUMBER, (40.0,), Unit.PERCENT), Column("previous", ColumnType.NUMBER, (30.0,), Unit.PERCENT),
        Column("target", ColumnType.NUMBER, (35.0,), Unit.PERCENT), Column("status", ColumnType.STRING, ("on_track",)),
    ))
    [item] = serialize.query_items("A", Shape.TIMESERIES, frame)
    dumped = item.model_dump(mode="json", exclude_none=True)
    assert [c["text"] for c in dumped["columns"]] == ["value", "previous", "target", "status"]
    assert dumped["columns"][0]["unit"] == "percent" and dumped["rows"] == [[40.0, 30.0, 35.0, "on_track"]]
    check("/query", [dumped])


def test_masked_columns_are_flagged_and_named_in_meta() -> None:
    frame = Frame("agents", Kind.TABLE, (
        Column("agent", ColumnType.STRING, ("Agent 1a2b3c",), field="agent"),
        Column("revenue", ColumnType.NUMBER, (None,), Unit.CURRENCY, field="revenue"),
    ), notices=("Masked for role agent: agent (pseudonymise), revenue (hidden)",), masked_fields=("agent", "revenue"))
    dumped = serialize.table("A", frame).model_dump(mode="json", exclude_none=True)
    assert dumped["columns"][0] == {"text": "agent", "type": "string", "masked": True,
                                    "description": "masked by your role's policy"}
    assert dumped["columns"][1]["unit"] == "currencyUSD"
    assert dumped["meta"] == {"notices": [{"severity": "info", "text": frame.notices[0]}],
                              "custom": {"maskedFields": ["agent", "revenue"]}}


def test_error_item_carries_the_message_under_its_ref_id() -> None:
    dumped = serialize.error_item("B", "Unknown metric").model_dump(mode="json", exclude_none=True)
    assert dumped == {"target": "B", "refId": "B", "datapoints": [],
                      "meta": {"notices": [{"severity": "error", "text": "Unknown metric"}]}}
    check("/query", [dumped])


def test_annotations_merge_by_time_and_read_masked_columns_as_empty() -> None:
    first = Frame("outages", Kind.TABLE, (
        Column("time", ColumnType.TIME, (T0 + HOUR,)), Column("timeEnd", ColumnType.TIME, (T0 + 3 * HOUR,)),
        Column("title", ColumnType.STRING, ("Outage: crm_sync",)), Column("text", ColumnType.STRING, ("9 of 10 failed",)),
        Column("tags", ColumnType.STRING, (("outage", "crm_sync"),)),
    ))
    second = Frame("policy", Kind.TABLE, (  # "text" removed by masking
        Column("time", ColumnType.TIME, (T0,)), Column("timeEnd", ColumnType.TIME, (None,)),
        Column("title", ColumnType.STRING, ("Role policy v2",)), Column("tags", ColumnType.STRING, (("policy",),)),
    ), masked_fields=("policy_changes.text",))
    merged = serialize.merge_annotations([first, second])
    assert merged.masked_fields == ("policy_changes.text",)
    out = [a.model_dump(mode="json", exclude_none=True) for a in serialize.annotations(merged, {"name": "x"})]
    assert out == [
        {"annotation": {"name": "x"}, "time": T0, "isRegion": False, "title": "Role policy v2", "text": "", "tags": ["policy"]},
        {"annotation": {"name": "x"}, "time": T0 + HOUR, "timeEnd": T0 + 3 * HOUR, "isRegion": True,
         "title": "Outage: crm_sync", "text": "9 of 10 failed", "tags": ["outage", "crm_sync"]},
    ]
    check("/annotations", out)


def test_variables_use_double_underscore_names() -> None:
    dumped = [v.model_dump(mode="json", by_alias=True) for v in serialize.variables([("north", "North team")])]
    assert dumped == [{"__text": "North team", "__value": "north"}]
    check("/variable", dumped)


def test_the_shape_checker_rejects_a_wrong_shape() -> None:
    # the reference schema must be able to fail: a series without datapoints is not a valid /query item
    with pytest.raises(jsonschema.ValidationError):
        check("/query", [{"target": "x"}])
