"""The event catalogue: an AsyncAPI 3.0 document of every topic the platform publishes.

Two published languages share the document:
- the **domain topics**, one per aggregate type (`shared.contracts.CATALOGS`): every (type, version)
  with its marshmallow schema turned into JSON Schema by apispec's marshmallow plugin (the converter
  the OpenAPI documents use), personal-data fields marked `x-pii: true`;
- the **analytics integration topic** `careerloop.analytics.journey.v1`: every (type, version) whose
  JSON Schema (draft 2020-12) is checked in under `integration_schemas/<Name>.v<N>.json`;

and the operational dead-letter topics (`careerloop.deadletter.{group}`), which carry copies.

Every message is a CloudEvents 1.0 envelope in structured JSON mode (the whole envelope is the Kafka
record value; the `content-type` header says so), so a message's payload is the envelope with its
`type` fixed and its `data` described by the event's schema; the record key is the aggregate id (the
student pseudonym on the integration topic).

`asyncapi_document()` with no settings is the deployment-neutral document checked in as
`docs/asyncapi.json` (`python -m services.analytics.catalog > docs/asyncapi.json`); given a process's
settings it names that deployment's Kafka bootstrap server, topic namespace and partition count.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema, fields

from shared.bus.port import dead_letter_topic
from shared.config import Settings
from shared.contracts import CATALOGS
from shared.contracts.analytics import JOURNEY_TOPIC
from shared.events import SPEC_VERSION, EventCatalog, EventType
from shared.keys.personal import seal_plan

ASYNCAPI_VERSION = "3.0.0"
DOCUMENT_VERSION = "1.0.0"
INTEGRATION_TOPIC = JOURNEY_TOPIC
INTEGRATION_SOURCE = "/careerloop/analytics"
INTEGRATION_SCHEMAS = Path(__file__).resolve().parent / "integration_schemas"
STRUCTURED_CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
# The server named when the bus is not Kafka (the embedded profile): docker compose's broker.
PLACEHOLDER_KAFKA_HOST = "kafka:9092"
KAFKA_BINDING_VERSION = "0.5.0"
_SCHEMA_FILE = re.compile(r"^(?P<name>[A-Z][A-Za-z]+)\.v(?P<version>[1-9]\d*)\.json$")


def asyncapi_document(settings: Settings | None = None, *,
                      integration_schemas: Path = INTEGRATION_SCHEMAS) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of every domain and integration topic (see the module docstring)."""
    settings = settings or Settings({})
    namespace = settings.get("BUS_NAMESPACE")
    partitions = settings.int("TOPIC_PARTITIONS")
    schemas: dict[str, Any] = {"DomainEnvelope": _domain_envelope(), "IntegrationEnvelope": _integration_envelope()}
    schemas.update(_domain_data_schemas())
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for catalog in CATALOGS:
        channel = {catalog.type_string(t.name, t.version): _domain_message(catalog, t) for t in catalog.types()}
        _add_channel(channels, operations, messages, catalog.topic, namespace, partitions, channel,
                     f"{catalog.aggregate.replace('_', ' ')} events of the {catalog.service} service, "
                     f"keyed by the aggregate id (`subject`), in stream order per key.")
    integration: dict[str, Any] = {}
    for name, version, schema in integration_schemas_in(integration_schemas):
        component = f"analytics.{name}.v{version}"
        # Embedded without `$id`/`$schema` (which only a schema resource's root may carry; the message's
        # `dataschema` names the file's `$id`), its local references pointing into the document.
        embedded = {key: value for key, value in schema.items() if key not in ("$id", "$schema")}
        schemas[component] = _rebased(embedded, f"#/components/schemas/{component}")
        integration[f"careerloop.analytics.{name}.v{version}"] = _integration_message(name, version, schema)
    _add_channel(channels, operations, messages, INTEGRATION_TOPIC, namespace, partitions, integration,
                 "The pseudonymised analytics stream for campus data teams: integration events with no "
                 "personal data, keyed by the student pseudonym (each student's events in order), ids derived "
                 "from the source event so a replay republishes byte-identical events.")
    _add_dead_letters(channels, operations, messages)
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": "urn:careerloop:events",
        "info": {
            "title": "careerloop events",
            "version": DOCUMENT_VERSION,
            "description": "Every topic the careerloop platform publishes. Messages are CloudEvents 1.0 in "
                           "structured JSON mode; a published schema is never edited (a change is a new "
                           "version). Fields marked `x-pii: true` hold personal data; on the domain topics each field "
                           "holding any is sealed (`SealedValue`) with the data key of the subject named by "
                           "`x-sealed-for`.",
        },
        "defaultContentType": "application/cloudevents+json",
        "servers": {"kafka": {
            "host": _kafka_host(settings), "protocol": "kafka",
            "description": "The Kafka cluster named by BUS_URL (a placeholder when the document is generated "
                           "for no deployment). Topics carry the deployment's BUS_NAMESPACE prefix."}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def integration_schemas_in(folder: Path) -> list[tuple[str, int, dict[str, Any]]]:
    """(name, version, JSON Schema) of every `<Name>.v<N>.json` in `folder` (none if it is absent)."""
    found = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        match = _SCHEMA_FILE.match(path.name)
        if match is None:
            raise ValueError(f"{path}: integration schema files are named <Name>.v<N>.json")
        found.append((match["name"], int(match["version"]), json.loads(path.read_text(encoding="utf-8"))))
    return sorted(found, key=lambda item: (item[0], item[1]))


def published_types(document: dict[str, Any]) -> set[str]:
    """The CloudEvents `type` of every event message in the document (dead letters are copies)."""
    return {message["payload"]["allOf"][1]["properties"]["type"]["const"]
            for message in document["components"]["messages"].values() if "allOf" in message["payload"]}


def _rebased(schema: Any, base: str) -> Any:
    """`schema` with its local references (`#/$defs/...`) pointing into its place in the document:
    AsyncAPI resolves `#` against the document, not against the embedded schema's `$id`."""
    if isinstance(schema, dict):
        return {key: base + value[1:] if key == "$ref" and isinstance(value, str) and value.startswith("#")
                else _rebased(value, base) for key, value in schema.items()}
    if isinstance(schema, list):
        return [_rebased(item, base) for item in schema]
    return schema


def _kafka_host(settings: Settings) -> str:
    url = settings.get("BUS_URL")
    if not url.startswith("kafka://"):
        return PLACEHOLDER_KAFKA_HOST
    from shared.bus.kafka import parse_url
    return parse_url(url)[0][0]


def _add_channel(channels: dict[str, Any], operations: dict[str, Any], messages: dict[str, Any], topic: str,
                 namespace: str, partitions: int, channel_messages: dict[str, Any], description: str) -> None:
    messages.update(channel_messages)
    channels[topic] = {
        "address": namespace + topic,
        "description": description,
        "messages": {key: {"$ref": f"#/components/messages/{key}"} for key in channel_messages},
        "bindings": {"kafka": {"topic": namespace + topic, "partitions": partitions,
                               "bindingVersion": KAFKA_BINDING_VERSION}},
    }
    operations[f"send.{topic}"] = {
        "action": "send",
        "channel": {"$ref": f"#/channels/{topic}"},
        "summary": f"The platform publishes on {topic}.",
        "messages": [{"$ref": f"#/channels/{topic}/messages/{key}"} for key in channel_messages],
    }


def _add_dead_letters(channels: dict[str, Any], operations: dict[str, Any], messages: dict[str, Any]) -> None:
    """Each consumer group's dead-letter topic (`shared.bus.dead_letter_topic`): the records it could
    not handle, unchanged, with why in `dlq-*` headers."""
    headers = {name: {"type": "string", "description": meaning} for name, meaning in (
        ("dlq-reason", "why the record was refused (the last error, at most 2000 characters)"),
        ("dlq-group", "the consumer group that refused it"), ("dlq-topic", "the topic it came from"),
        ("dlq-partition", "its partition there"), ("dlq-offset", "its offset there"),
        ("dlq-at", "when it was refused, RFC 3339 in UTC"))}
    messages["DeadLetter"] = {
        "name": "DeadLetter", "title": "Dead letter",
        "summary": "A record a consumer group could not handle (or a later record of its parked stream), "
                   "copied unchanged for an operator to replay.",
        "contentType": "application/cloudevents+json",
        "headers": {"type": "object", "properties": headers, "required": sorted(headers)},
        "payload": {"type": "object", "description": "the original record value: an event of `dlq-topic`"},
        "bindings": {"kafka": {"key": {"type": "string", "description": "the original record key"},
                               "bindingVersion": KAFKA_BINDING_VERSION}},
    }
    prefix = dead_letter_topic("")
    channels["dead-letters"] = {
        "address": prefix + "{group}",
        "description": "One topic per consumer group (created with one partition when the group starts).",
        "parameters": {"group": {"description": "the consumer group, BUS_NAMESPACE prefix included"}},
        "messages": {"DeadLetter": {"$ref": "#/components/messages/DeadLetter"}},
    }
    operations["send.dead-letters"] = {
        "action": "send", "channel": {"$ref": "#/channels/dead-letters"},
        "summary": "A consumer group parks what it could not handle.",
        "messages": [{"$ref": "#/channels/dead-letters/messages/DeadLetter"}],
    }


# -- messages ---------------------------------------------------------------------------------------
def _message(type_string: str, title: str, summary: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
    return {
        "name": type_string,
        "title": title,
        "summary": summary,
        "contentType": "application/cloudevents+json",
        "headers": {"type": "object", "properties": {"content-type": {
            "type": "string", "const": STRUCTURED_CONTENT_TYPE,
            "description": "CloudEvents structured mode: the record value is the whole JSON envelope"}}},
        "payload": payload,
        "bindings": {"kafka": {"key": {"type": "string", "description": key},
                               "bindingVersion": KAFKA_BINDING_VERSION}},
    }


def _domain_message(catalog: EventCatalog, event: EventType) -> dict[str, Any]:
    name, version = event.name, event.version
    type_string = catalog.type_string(name, version)
    payload = {"allOf": [{"$ref": "#/components/schemas/DomainEnvelope"}, {
        "type": "object",
        "properties": {
            "type": {"type": "string", "const": type_string},
            "source": {"type": "string", "const": catalog.source},
            "streamtype": {"type": "string", "const": catalog.aggregate},
            "data": {"$ref": f"#/components/schemas/{catalog.service}.{name}.v{version}"},
        }}]}
    message = _message(type_string, f"{name} v{version}", event.summary, payload,
                       f"the {catalog.aggregate} id (the envelope's subject)")
    message["correlationId"] = {"description": "the request that started the work",
                                "location": "$message.payload#/correlationid"}
    return message


def _integration_message(name: str, version: int, schema: dict[str, Any]) -> dict[str, Any]:
    type_string = f"careerloop.analytics.{name}.v{version}"
    payload = {"allOf": [{"$ref": "#/components/schemas/IntegrationEnvelope"}, {
        "type": "object",
        "properties": {
            "type": {"type": "string", "const": type_string},
            "dataschema": {"type": "string", "const": schema.get("$id", f"urn:careerloop:analytics:{name}:v{version}")},
            "data": {"$ref": f"#/components/schemas/analytics.{name}.v{version}"},
        }}]}
    summary = schema.get("description") or schema.get("title") or f"{name} (integration event, version {version})"
    return _message(type_string, f"{name} v{version}", summary, payload, "the student pseudonym (the subject)")


# -- envelopes --------------------------------------------------------------------------------------
def _common_envelope(source: str) -> dict[str, Any]:
    return {
        "specversion": {"type": "string", "const": SPEC_VERSION},
        "id": {"type": "string", "minLength": 1, "description": "unique per event; consumers deduplicate by it"},
        "source": {"type": "string", "description": source},
        "type": {"type": "string", "description": "careerloop.<service>.<EventName>.v<schema version>"},
        "time": {"type": "string", "format": "date-time", "description": "when it happened, RFC 3339 in UTC"},
        "datacontenttype": {"type": "string", "const": "application/json"},
    }


def _domain_envelope() -> dict[str, Any]:
    properties = _common_envelope("`/careerloop/<service>`")
    properties.update({
        "subject": {"type": "string", "description": "the aggregate id (also the record key)"},
        "data": {"type": "object"},
        "streamversion": {"type": "integer", "minimum": 1,
                          "description": "the event's version within its aggregate's stream, from 1"},
        "streamtype": {"type": "string", "description": "the aggregate type"},
        "ownerid": {"type": "string", "description": "the student who owns the aggregate"},
        "correlationid": {"type": "string", "description": "the request that started the work (X-Correlation-ID)"},
        "causationid": {"type": "string", "description": "the id of the request or event that caused this one"},
        "actor": {"type": "string", "description": "the subject of the token that issued the command"},
    })
    required = sorted(properties)
    properties.update({  # optional: events recorded before tracing, or outside any trace, have none
        "traceparent": {"type": "string", "description": "CloudEvents distributed-tracing extension: the W3C "
                        "traceparent of the work that recorded the event (the API request's span, or the span "
                        "applying the event that caused it); absent on events recorded before tracing"},
        "tracestate": {"type": "string", "description": "CloudEvents distributed-tracing extension: the W3C "
                       "tracestate that came with traceparent, when not empty"},
    })
    return {"type": "object", "description": "CloudEvents 1.0 envelope of a domain event, with careerloop's "
                                             "extensions", "properties": properties, "required": required}


def _integration_envelope() -> dict[str, Any]:
    properties = _common_envelope(f"`{INTEGRATION_SOURCE}`")
    properties["source"]["const"] = INTEGRATION_SOURCE
    properties.update({
        "id": {"type": "string", "format": "uuid",
               "description": "UUIDv5 of (source event id, integration type): a replay republishes the same id"},
        "subject": {"type": "string", "description": "the student pseudonym (also the record key)"},
        "dataschema": {"type": "string", "format": "uri",
                       "description": "`urn:careerloop:analytics:<Name>:v<N>`, the `$id` of the data's JSON Schema"},
        "data": {"type": "object"},
    })
    return {"type": "object", "description": "CloudEvents 1.0 envelope of an integration event (no personal data, "
                                             "and no trace context: a trace id shared with the domain event it "
                                             "comes from would link the pseudonym back to the student)",
            "properties": properties, "required": sorted(properties)}


# -- the domain schemas as JSON Schema --------------------------------------------------------------
def _component_name(schema: type[Schema] | Schema) -> str:
    """`<contracts module>.<class>` for the nested schemas apispec meets (unique across services)."""
    cls = schema if isinstance(schema, type) else type(schema)
    return f"{cls.__module__.rsplit('.', 1)[-1]}.{cls.__name__}"


def _pii_property(self: Any, field: fields.Field, **kwargs: Any) -> dict[str, Any]:
    return {"x-pii": True} if field.metadata.get("pii") else {}


def _domain_data_schemas() -> dict[str, Any]:
    """Every domain event's `data` as JSON Schema, by `<service>.<Name>.v<N>` (plus the nested schemas
    they refer to). OpenAPI 3.1's schema object is JSON Schema, so nullable fields come out as
    `type: [..., "null"]`, which AsyncAPI's schema format reads the same way."""
    plugin = MarshmallowPlugin(schema_name_resolver=_component_name)
    spec = APISpec(title="careerloop events", version=DOCUMENT_VERSION, openapi_version="3.1.0", plugins=[plugin])
    assert plugin.converter is not None
    plugin.converter.add_attribute_function(_pii_property)
    for catalog in CATALOGS:
        for event in catalog.types():
            spec.components.schema(f"{catalog.service}.{event.name}.v{event.version}", schema=event.schema)
    schemas: dict[str, Any] = spec.to_dict()["components"]["schemas"]
    for catalog in CATALOGS:
        for event in catalog.types():
            properties = schemas[f"{catalog.service}.{event.name}.v{event.version}"]["properties"]
            for name, subject in seal_plan(event.schema()):
                properties[name] = _sealed(properties[name], subject)
    schemas["SealedValue"] = SEALED_VALUE
    return schemas


SEALED_VALUE = {
    "type": "object", "required": ["$sealed", "key", "data"],
    "description": "Personal data sealed with its subject's data key (shared.keys.fields): AES-256-GCM over the "
                   "value's JSON, with the event id and the field name as associated data. Only the platform's "
                   "processes open it; once the subject is erased (its key shredded) it opens to nothing.",
    "properties": {
        "$sealed": {"const": 1},
        "key": {"type": "string", "description": "the data key's id (never the key)"},
        "shape": {"enum": ["string", "list", "object", "other"],
                  "description": "the plain value's JSON type, so an erased value reads as a placeholder of it"},
        "data": {"type": "string", "contentEncoding": "base64", "description": "nonce | ciphertext | tag"}}}


def _sealed(plain: dict[str, Any], subject: str) -> dict[str, Any]:
    """A top-level field holding personal data, as it is on the wire: sealed (in clear only in events
    stored before sealing began, until `python -m shared.keys seal-existing` ran)."""
    marks = {"x-pii": True} if plain.get("x-pii") else {}
    return {"anyOf": [{"$ref": "#/components/schemas/SealedValue"}, plain], **marks, "x-sealed-for": subject,
            "description": f"holds personal data: sealed with the {subject}'s data key"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.analytics.catalog", description=__doc__.split("\n\n")[0])
    parser.add_argument("--from-env", action="store_true",
                        help="name this deployment's Kafka server, namespace and partitions (from the environment) "
                             "instead of the neutral placeholders of docs/asyncapi.json")
    args = parser.parse_args(argv)
    document = asyncapi_document(Settings.from_env() if args.from_env else None)
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=False, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
