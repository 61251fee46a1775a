"""What we send back to Grafana (pydantic): declared on every route so /openapi.json tells the truth.

Shapes follow what both plugins document (the JSON API plugin's OpenAPI description and the SimpleJSON README): time series
``{target, datapoints: [[value, epoch_ms]…]}``, tables ``{type: "table", columns: [{text, type}], rows}``.
Extra members (``refId``, ``meta``, column ``unit``/``description``) are ones Grafana's ``toDataFrame``
carries over: ``meta.notices`` show in the panel header, column members become field config.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel


class _Out(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class Notice(_Out):
    severity: Literal["info", "warning", "error"]
    text: str


class FrameMeta(_Out):
    notices: list[Notice] = Field(default_factory=list)
    custom: dict[str, Any] | None = Field(None, description="maskedFields: the fields masking changed")


class TimeSeries(_Out):
    target: str = Field(description="Series name")
    refId: str | None = None
    datapoints: list[tuple[float | None, int]] = Field(
        description="[value, epoch ms] pairs in ascending time; value null is a gap", examples=[[[2.5, 1764115200000]]])
    meta: FrameMeta | None = None


class TableColumn(_Out):
    text: str
    type: Literal["time", "number", "string", "boolean"]
    unit: str | None = Field(None, description="Grafana unit id")
    description: str | None = None
    masked: bool | None = Field(None, description="true when masking changed this column's values")


class Table(_Out):
    type: Literal["table"] = "table"
    refId: str | None = None
    columns: list[TableColumn]
    rows: list[list[Any]] = Field(description="One array of cells per row, in column order")
    meta: FrameMeta | None = None


QueryItem = TimeSeries | Table


class QueryResponse(RootModel[list[QueryItem]]):
    """POST /query: one or more items per visible target; a failed target is an item with an error notice."""


class RowsColumn(_Out):
    name: str = Field(description="The key of this column in every row")
    type: str = Field(description="time (epoch ms in time series rows, ISO 8601 text in table rows), number, string "
                                  "or boolean", examples=["number"])
    unit: str | None = Field(None, description="Grafana unit id")
    masked: bool = Field(False, description="true when masking changed this column's values")


class RowsFrame(_Out):
    """POST /query/rows: one target as an array of row objects, which Infinity's backend parser reads with root
    selector ``rows``. A time series comes long (``time``, ``series``, ``value``: one row per point), so its
    columns are the same for every metric; a table or stat keeps its own columns."""

    refId: str
    name: str = Field(description="The metric")
    kind: str = Field(description="timeseries, table or stat", examples=["timeseries"])
    columns: list[RowsColumn]
    rows: list[dict[str, Any]]
    notices: list[str] = Field(default_factory=list, description="What Grafana would show in the panel header")
    maskedFields: list[str] = Field(default_factory=list, description="The fields masking changed")


class Annotation(_Out):
    annotation: dict[str, Any] | None = Field(None, description="The request's annotation, echoed (SimpleJSON)")
    time: int = Field(description="epoch ms")
    timeEnd: int | None = Field(None, description="epoch ms; set for regions")
    isRegion: bool = False
    title: str
    text: str
    tags: list[str] = Field(default_factory=list)


class SearchItem(_Out):
    text: str
    value: str


class PayloadOption(_Out):
    label: str
    value: str


class MetricPayload(_Out):
    """One option of a metric, as the JSON API plugin's builder draws it."""

    name: str
    label: str | None = None
    type: Literal["select", "multi-select", "input", "textarea"] = "select"
    placeholder: str | None = None
    reloadMetric: bool = False
    width: int | None = None
    options: list[PayloadOption] | None = Field(None, description="Empty: ask POST /metric-payload-options")


class MetricItem(_Out):
    label: str
    value: str
    payloads: list[MetricPayload] = Field(default_factory=list)


class VariableItem(_Out):
    text: str = Field(alias="__text")
    value: str = Field(alias="__value")


class TagKey(_Out):
    type: Literal["string", "number"] = "string"
    text: str


class TagValue(_Out):
    text: str
