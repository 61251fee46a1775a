"""What Grafana's Infinity plugin (yesoreyeram-infinity-datasource) stores: panel, variable and annotation queries
and alert-rule queries, all read by its backend parser, so alerting, recorded queries, public dashboards and
reporting run them on Grafana's server with the data source's service key.

Every query POSTs the body of /query with one target to a path relative to the data source URL: /query/rows for
values (root selector ``rows``; a time series is long rows whose three columns are declared, format "timeseries"
turning them wide), /variable for variable values (``__text``/``__value``). The range is Infinity's own
backend macros ``${__timeFrom}``/``${__timeTo}`` (epoch ms), which alert rules have too; the browser's
``${__from}`` is not there when no browser is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Self

from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models.dashboard import DataSourceRef

from success_metrics.calculators import Kind

PLUGIN_ID = "yesoreyeram-infinity-datasource"
DATASOURCE_UID = "success-metrics-infinity"
ROWS_PATH = "/query/rows"
RANGE = '{"from": ${__timeFrom}, "to": ${__timeTo}}'
# a time series from /query/rows: one row per point (serialize.rows)
LONG_COLUMNS = ({"selector": "time", "text": "time", "type": "timestamp_epoch", "timestampFormat": ""},
                {"selector": "series", "text": "series", "type": "string", "timestampFormat": ""},
                {"selector": "value", "text": "value", "type": "number", "timestampFormat": ""})
RFC3339 = "2006-01-02T15:04:05Z07:00"  # Go's layout of the ISO 8601 times of table rows
ANNOTATION_COLUMNS = (
    {"selector": "time", "text": "time", "type": "timestamp", "timestampFormat": RFC3339},
    {"selector": "timeEnd", "text": "timeEnd", "type": "timestamp", "timestampFormat": RFC3339},
    {"selector": "title", "text": "title", "type": "string", "timestampFormat": ""},
    {"selector": "text", "text": "text", "type": "string", "timestampFormat": ""},
    {"selector": "tags", "text": "tags", "type": "string", "timestampFormat": ""},
)
VALUE_COLUMN = ({"selector": "value", "text": "value", "type": "number", "timestampFormat": ""},)


def datasource_ref() -> DataSourceRef:
    return DataSourceRef(type_val=PLUGIN_ID, uid=DATASOURCE_UID)


def body(ref_id: str, metric: str, payload: dict[str, str] | None = None, max_points: int | None = None) -> str:
    """The /query body of one target as Infinity sends it: text in which the backend replaces the range macros."""
    target = json.dumps({"refId": ref_id, "target": metric, "payload": dict(payload or {})})
    points = f', "maxDataPoints": {max_points}' if max_points else ""
    return f'{{"targets": [{target}], "range": {RANGE}{points}}}'


def url_query(ref_id: str, path: str, data: str, *, root: str, columns: tuple[dict[str, str], ...],
              fmt: str) -> dict[str, Any]:
    """One Infinity query: JSON from a POST to ``path`` under the data source URL, read by the backend parser."""
    return {
        "refId": ref_id, "datasource": datasource_ref().to_json(), "type": "json", "source": "url",
        "parser": "backend", "format": fmt, "url": path, "root_selector": root, "columns": [dict(c) for c in columns],
        "url_options": {"method": "POST", "body_type": "raw", "body_content_type": "application/json", "data": data},
    }


def rows_query(ref_id: str, metric: str, kind: Kind, payload: dict[str, str] | None = None,
               max_points: int | None = None, columns: tuple[dict[str, str], ...] | None = None) -> dict[str, Any]:
    """A metric from /query/rows. A time series declares its three long columns; a table or stat declares none
    (or ``columns``): the parser types JSON numbers as numbers and text as text, in the order of their names."""
    long = kind is Kind.TIMESERIES
    declared = LONG_COLUMNS if long else columns or ()
    return url_query(ref_id, ROWS_PATH, body(ref_id, metric, payload, max_points), root="rows", columns=declared,
                     fmt="timeseries" if long else "table")


@dataclass
class InfinityQuery(cogvariants.Dataquery):
    """A panel target of the Infinity variant (a dict the SDK carries through as it is)."""

    query: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return dict(self.query)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        return cls(query=dict(data))


def variable_query(dimension: str) -> dict[str, object]:
    """A query variable: the dimension's values from /variable, as ``__text``/``__value`` fields."""
    data = f'{{"payload": {{"target": "{dimension}"}}, "range": {RANGE}}}'
    columns = ({"selector": "__text", "text": "__text", "type": "string", "timestampFormat": ""},
               {"selector": "__value", "text": "__value", "type": "string", "timestampFormat": ""})
    query = url_query(f"variable-{dimension}", "/variable", data, root="", columns=columns, fmt="table")
    query.pop("datasource")
    return {"refId": f"variable-{dimension}", "queryType": "infinity", "infinityQuery": query}


@dataclass
class AnnotationQuery:
    """An annotation's Infinity query: /query/rows with refId Anno, columns as Grafana reads annotation frames."""

    target: str

    def to_json(self) -> dict[str, object]:
        return url_query("Anno", ROWS_PATH, body("Anno", self.target), root="rows", columns=ANNOTATION_COLUMNS,
                         fmt="table")
