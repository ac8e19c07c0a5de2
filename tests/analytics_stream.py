"""Reading the analytics integration stream in tests with independent, well-kept clients only: the
CloudEvents SDK parses each message, `jsonschema` validates its data against the schema its
`dataschema` names (draft 2020-12). Never the project's own reader."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cloudevents.core.bindings.kafka import KafkaMessage, from_structured
from cloudevents.core.formats.json import JSONFormat
from jsonschema import Draft202012Validator

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "services" / "analytics" / "integration_schemas"


def validators() -> dict[str, Draft202012Validator]:
    """Each schema file's validator by its `$id` (the `dataschema` of events of its type and version)."""
    found = {}
    for path in sorted(SCHEMA_DIR.glob("*.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        Draft202012Validator.check_schema(schema)
        found[schema["$id"]] = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return found


def parse_and_validate(value: bytes, key: str | bytes | None = None,
                       schemas: dict[str, Draft202012Validator] | None = None) -> dict[str, Any]:
    """One message of the integration topic as the CloudEvents SDK reads it, its data validated against
    its schema: {attributes..., "data": ...}. Raises on anything a consumer could not rely on."""
    event = from_structured(KafkaMessage(headers={"content-type": b"application/cloudevents+json"},
                                         key=key, value=value), JSONFormat())
    attributes = event.get_attributes()
    data = event.get_data()
    assert attributes["specversion"] == "1.0" and attributes["source"] == "/careerloop/analytics"
    assert attributes["datacontenttype"] == "application/json"
    schemas = schemas if schemas is not None else validators()
    validator = schemas[attributes["dataschema"]]
    validator.validate(data)
    name, version = attributes["type"].split(".")[2], attributes["type"].split(".")[3]
    assert attributes["dataschema"] == f"urn:careerloop:analytics:{name}:{version}"
    assert attributes["subject"] == data["student"]
    return {**attributes, "data": data}
