"""The response shapes both Grafana plugins document, as JSON Schemas to validate our answers against.

Taken from the JSON API plugin's published OpenAPI (fixtures/grafana/simpod-openapi.yaml), with the gaps its
README documents closed: datapoint values may be null (a gap), table rows are arrays of cells, and
/variable items are ``__text``/``__value``. SimpleJSON's /annotations shape is written out here.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

FIXTURES = Path(__file__).parent / "fixtures" / "grafana"


def fixture(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return loaded


@cache
def _reference() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((FIXTURES / "simpod-openapi.yaml").read_text(encoding="utf-8"))
    return loaded


def _response_schema(path: str) -> dict[str, Any]:
    response = _reference()["paths"][path]["post"]["responses"]["200"]
    schema: dict[str, Any] = copy.deepcopy(response["content"]["application/json"]["schema"])
    schema["components"] = _reference()["components"]  # so $ref resolves
    return schema


@cache
def schemas() -> dict[str, dict[str, Any]]:
    query = _response_schema("/query")
    series, table = query["items"]["anyOf"]
    series["properties"]["datapoints"]["items"]["items"] = {"type": ["number", "null"]}  # gaps
    table["properties"]["rows"]["items"] = {"type": "array"}  # a row is an array of cells
    variable = _response_schema("/variable")
    variable["oneOf"][0]["items"]["required"] = ["__text", "__value"]
    annotations = {
        "type": "array",
        "items": {"type": "object", "required": ["time", "title", "text", "tags"],
                  "properties": {"time": {"type": "integer"}, "timeEnd": {"type": "integer"},
                                 "isRegion": {"type": "boolean"}, "title": {"type": "string"},
                                 "text": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}},
                                 "annotation": {"type": "object"}}},
    }
    search = {"type": "array", "items": {"anyOf": [
        {"type": "string"},
        {"type": "object", "required": ["text", "value"], "properties": {"text": {"type": "string"}}}]}}
    tag_values = {"type": "array", "items": {"type": "object", "required": ["text"],
                                             "properties": {"text": {"type": "string"}}}}
    return {"/query": query, "/variable": variable, "/metrics": _response_schema("/metrics"),
            "/metric-payload-options": _response_schema("/metric-payload-options"),
            "/tag-keys": _response_schema("/tag-keys"), "/annotations": annotations, "/search": search,
            "/tag-values": tag_values}


def check(path: str, body: Any) -> None:
    """Raise jsonschema.ValidationError when ``body`` breaks the shape the plugins document for ``path``."""
    jsonschema.validate(body, schemas()[path])
