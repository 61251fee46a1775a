"""What both Grafana plugins send, old spellings included (pydantic, loose on purpose).

grafana-simple-json-datasource (and clones) and simpod-json-datasource (the JSON API plugin) differ in
small ways: ``filters`` vs ``adhocFilters``, target ``payload`` vs ``data``, payloads as objects or as
JSON strings, ranges as ISO strings or epoch milliseconds. These models accept every spelling and ignore
fields Grafana adds that we do not use; ``parse.py`` normalises them once and nothing past it sees them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# ISO 8601 / RFC 3339 text, or epoch milliseconds as a number or numeric text
TimeValue = str | int | float
# an object of option name -> value, or the same object as a JSON string (code mode, old plugins)
Payload = dict[str, Any] | str | None


class _Loose(BaseModel):
    # Grafana adds fields over time (requestId, app, startTime, dashboardUID…); accept and ignore them
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class RawRange(_Loose):
    from_: str | None = Field(None, alias="from", examples=["now-6h"])
    to: str | None = Field(None, examples=["now"])


class TimeRange(_Loose):
    from_: TimeValue = Field(alias="from", description="Start, ISO 8601 or epoch ms", examples=["2026-11-26T00:00:00.000Z"])
    to: TimeValue = Field(description="End, ISO 8601 or epoch ms", examples=["2026-11-26T06:00:00.000Z"])
    raw: RawRange | None = None


class FilterIn(_Loose):
    """An ad-hoc filter: ``{key, operator, value}``; Grafana 10+ multi-value operators send ``values``."""

    key: str = Field(examples=["source"])
    operator: str = Field("=", examples=["=", "!=", "=~", "!~", "<", ">", "=|", "!=|"])
    value: str | int | float | bool | None = Field(None, examples=["website_form", "{website_form,referral}"])
    values: list[str] | None = None
    condition: str | None = None


class TargetIn(_Loose):
    target: str | None = Field(None, description="Metric name (POST /search or /metrics lists them)",
                               examples=["lead_volume"])
    refId: str = Field("A", examples=["A"])
    type: str | None = Field(None, description="SimpleJSON: timeserie or table", examples=["timeserie"])
    hide: bool | None = False
    payload: Payload = Field(None, description="JSON API plugin: option name -> value (object or JSON text)")
    data: Payload = Field(None, description="SimpleJSON's 'additional JSON data' (same meaning as payload)")


class QueryRequest(_Loose):
    range: TimeRange
    rangeRaw: RawRange | None = None
    interval: str | None = Field(None, examples=["1m"])
    intervalMs: float | None = Field(None, description="Bucket width in milliseconds", examples=[60000])
    maxDataPoints: int | None = Field(None, description="Never more points than this per series", examples=[1000])
    targets: list[TargetIn] = Field(default_factory=list)
    filters: list[FilterIn] | None = Field(None, description="Ad-hoc filters (JSON API plugin)")
    adhocFilters: list[FilterIn] | None = Field(None, description="Ad-hoc filters (SimpleJSON, older plugins)")
    scopedVars: dict[str, Any] | None = None
    panelId: int | str | None = None
    timezone: str | None = None


class AnnotationSpec(_Loose):
    name: str | None = Field(None, examples=["Outages"])
    query: str | None = Field(None, description="Which annotations: outages, degradations, alerts, "
                              "conversion_drops, target_misses, policy_changes, backfills; empty = all",
                              examples=["outages"])
    enable: bool | None = None
    iconColor: str | None = None


class AnnotationRequest(_Loose):
    range: TimeRange
    rangeRaw: RawRange | None = None
    annotation: AnnotationSpec = Field(default_factory=AnnotationSpec)


class SearchRequest(_Loose):
    target: str | None = Field("", description="Text to match metric names, or a variable name "
                               "(sources, teams, agents, locations, channels, components)", examples=[""])


class MetricsRequest(_Loose):
    metric: str | None = Field(None, description="The metric currently selected", examples=["lead_volume"])
    payload: Payload = None


class MetricPayloadOptionsRequest(_Loose):
    metric: str = Field(examples=["lead_volume"])
    payload: Payload = None
    name: str = Field(description="The option whose values are wanted", examples=["source"])


class VariablePayload(_Loose):
    target: str = Field(description="sources, teams, agents, locations, channels, components or services",
                        examples=["teams"])
    variables: dict[str, Any] | None = None


class VariableRequest(_Loose):
    payload: VariablePayload | str
    range: TimeRange | None = None


class TagKeysRequest(_Loose):
    pass


class TagValuesRequest(_Loose):
    key: str = Field(examples=["source"])
