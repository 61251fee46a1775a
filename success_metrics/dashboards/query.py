"""What the JSON API plugin (simpod-json-datasource) stores in a dashboard: panel targets, variable
queries and annotation targets, expressed as foundation-SDK data-query variants.

Only this module knows the plugin's field names (``target``, ``payload``, ``editorMode``, ``format``);
the rest of the generator speaks in metric names and dimensions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Self

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models.dashboard import DataSourceRef

PLUGIN_ID = "simpod-json-datasource"
# the uid every panel names; the provisioning file gives the data source this uid, so a partner's
# Grafana resolves the dashboards without editing them
DATASOURCE_UID = "success-metrics"
# what a variable sends when "All" is selected: the service reads it as "no filter on this dimension"
ALL_VALUE = "*"
ANNOTATION_REF_ID = "Anno"


def datasource_ref() -> DataSourceRef:
    return DataSourceRef(type_val=PLUGIN_ID, uid=DATASOURCE_UID)


@dataclass
class JsonApiQuery(cogvariants.Dataquery):
    """One panel target: ``{refId, datasource, target: <metric>, payload: {option: value}}``.

    Builder mode: the plugin interpolates each payload value on its own (``$team`` → the selected
    team), so a payload stays an object the service can validate key by key.
    """

    ref_id: str
    target: str
    payload: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "refId": self.ref_id,
            "datasource": datasource_ref().to_json(),
            "editorMode": "builder",
            "target": self.target,
            "payload": dict(self.payload),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        return cls(ref_id=data["refId"], target=data["target"], payload=dict(data.get("payload") or {}))


class QueryBuilder(cogbuilder.Builder[cogvariants.Dataquery]):
    def __init__(self, query: cogvariants.Dataquery) -> None:
        self._query = query

    def build(self) -> cogvariants.Dataquery:
        return self._query


def variable_query(dimension: str) -> dict[str, object]:
    """A query variable's stored query: the plugin posts ``{payload: {target: <dimension>}}`` to /variable."""
    return {"query": json.dumps({"target": dimension}), "format": "json", "refId": f"variable-{dimension}"}


@dataclass
class AnnotationQuery:
    """An annotation's stored query; Grafana sends it to /query with refId ``Anno``."""

    target: str

    def to_json(self) -> dict[str, object]:
        return {"refId": ANNOTATION_REF_ID, "editorMode": "builder", "target": self.target, "payload": {}}
