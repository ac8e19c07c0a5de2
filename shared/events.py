"""Events as contracts: the CloudEvents 1.0 envelope, versioned schemas and upcasters.

Wire format: CloudEvents 1.0 *structured* JSON mode (the whole envelope is the message value), chosen
over binary mode so that the SQLite log, Kafka and the event store all hold the same self-describing
document, and any CloudEvents SDK can read a topic without knowing our header conventions.

Envelope extensions (CloudEvents extension names are lower-case alphanumerics):
  streamversion  – the event's version within its aggregate's stream (integer, 1-based)
  streamtype     – the aggregate type ("contact")
  ownerid        – the student who owns the aggregate (authorisation and per-student read models)
  correlationid  – the request that started the work (X-Correlation-ID)
  causationid    – the id of the message that caused this one (request id or event id)
  actor          – the subject of the token that issued the command
  traceparent    – the W3C trace context of the work that recorded the event (CloudEvents
  tracestate       distributed-tracing extension; `tracestate` only when non-empty): the API
                   request's server span, or the consumer span of the event that caused this one.
                   Optional: events recorded before tracing (and by tools outside any span) have
                   none, and consumers start a new trace for them. It is context, never data: no
                   schema, golden contract or upcaster involves it (see `shared.tracing`).

`type` is `careerloop.<service>.<EventName>.v<schema version>`. A schema is never edited once
published: a change is a new version plus an upcaster from the old one; consumers upcast at read
time and ignore unknown fields and unknown types.
"""
from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, missing

SPEC_VERSION = "1.0"
_TYPE = re.compile(r"^careerloop\.(?P<service>[a-z_]+)\.(?P<name>[A-Z][A-Za-z]+)\.v(?P<version>\d+)$")


def utcnow() -> datetime:
    return datetime.now(UTC)


def isoformat(moment: datetime) -> str:
    """RFC 3339 in UTC with a Z, the form CloudEvents `time` and all our timestamps use."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


SUBJECTS = ("student", "contact", None)


def pii(field: fields.Field, *, subject: str | None = "student") -> fields.Field:
    """Mark a schema field as personal data, and name whose: the subject whose data key seals it
    before the event is stored (`shared.keys.personal`), so that shredding that key erases it.

    - `"student"`: the stream's owner (`ownerid`);
    - `"contact"`: the professional the event is about (the contact stream itself, else the
      `contact_id` beside the field); a student's erasure covers their contacts' keys too;
    - `None`: an identifier kept in clear, as every envelope's `ownerid` is (it names a subject, it
      says nothing about them; analytics unlinks it by pseudonyms that shredding also unlinks)."""
    if subject not in SUBJECTS:
        raise ValueError(f"pii subject must be one of {SUBJECTS}: {subject!r}")
    field.metadata = {**field.metadata, "pii": True, "subject": subject}
    return field


@dataclass(frozen=True)
class Recorded:
    """What an aggregate records: an event name and its data, before it gets an envelope."""

    name: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Metadata:
    """Who and what caused a command; copied onto every event the command records."""

    actor: str
    correlation_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    causation_id: str | None = None
    # the W3C trace context the events carry (`shared.tracing.traced` fills it from the active span)
    traceparent: str | None = None
    tracestate: str | None = None


@dataclass(frozen=True)
class EventType:
    name: str
    version: int
    schema: type[Schema]
    summary: str


class UnknownEvent(LookupError):
    """A type string this catalogue does not know (consumers skip these)."""


class EventCatalog:
    """Every event one service publishes: its schemas by version, upcasters and its topic.

    The catalogue lives in `shared.contracts`, not in the service, so that any consumer can read a
    stream without importing the service that writes it.
    """

    def __init__(self, service: str, aggregate: str, *, topic_version: int = 1) -> None:
        self.service = service
        self.aggregate = aggregate
        self.source = f"/careerloop/{service}"
        self.topic = f"careerloop.{service}.{aggregate}.v{topic_version}"
        self._types: dict[tuple[str, int], EventType] = {}
        self._latest: dict[str, int] = {}
        self._upcasters: dict[tuple[str, int], Callable[[dict], dict]] = {}
        self._readers: dict[tuple[str, int], Schema] = {}
        self._verbatims: dict[tuple[str, int], Callable[[dict[str, Any]], bool]] = {}
        self._writers: dict[tuple[str, int], Schema] = {}

    # -- declaring the contract -------------------------------------------------------------
    def event(self, name: str, version: int = 1) -> Callable[[type[Schema]], type[Schema]]:
        """Class decorator registering a marshmallow schema as the contract of (name, version)."""
        if not name[0].isupper() or not re.search(r"(ed|Sent|Made|Held|Shared|Lost|Done|Became[A-Z][a-z]+)$", name):
            raise ValueError(f"event names are past-tense facts: {name!r}")

        def register(schema: type[Schema]) -> type[Schema]:
            summary = (schema.__doc__ or "").strip().splitlines()[0] if schema.__doc__ else name
            self._types[(name, version)] = EventType(name, version, schema, summary)
            self._latest[name] = max(version, self._latest.get(name, 0))
            return schema

        return register

    def upcaster(self, name: str, from_version: int) -> Callable[[Callable[[dict], dict]], Callable[[dict], dict]]:
        """Register a pure function turning data of `from_version` into data of `from_version + 1`."""

        def register(fn: Callable[[dict], dict]) -> Callable[[dict], dict]:
            self._upcasters[(name, from_version)] = fn
            return fn

        return register

    def types(self) -> list[EventType]:
        return sorted(self._types.values(), key=lambda t: (t.name, t.version))

    def latest(self, name: str) -> EventType:
        if name not in self._latest:
            raise UnknownEvent(name)
        return self._types[(name, self._latest[name])]

    def type_string(self, name: str, version: int) -> str:
        return f"careerloop.{self.service}.{name}.v{version}"

    def upcasts(self, name: str, from_version: int) -> bool:
        """Whether data of (name, from_version) has an upcaster to the next version."""
        return (name, from_version) in self._upcasters

    def describe(self) -> dict[str, dict[str, Any]]:
        """Each published (type, version) as the golden contract records it, by type string: its topic,
        and its fields with their types, required/nullable and `pii` (see `describe_fields`)."""
        return {self.type_string(t.name, t.version): {"topic": self.topic, "aggregate": self.aggregate,
                                                       "fields": describe_fields(t.schema())}
                for t in self.types()}

    # -- writing ----------------------------------------------------------------------------
    def envelope(self, recorded: Recorded, *, stream_id: str, stream_version: int, owner_id: str,
                 meta: Metadata, at: datetime | None = None) -> dict[str, Any]:
        """Validate `recorded` against the newest schema of its type and wrap it in CloudEvents."""
        event_type = self.latest(recorded.name)
        schema = self._writer(event_type.name, event_type.version)
        errors = schema.validate(recorded.data)
        if errors:  # a programming error in the aggregate, never the client's fault
            raise ValueError(f"{recorded.name} breaks its contract: {errors}")
        envelope: dict[str, Any] = {
            "specversion": SPEC_VERSION,
            "id": str(uuid.uuid4()),
            "source": self.source,
            "type": self.type_string(event_type.name, event_type.version),
            "subject": stream_id,
            "time": isoformat(at or utcnow()),
            "datacontenttype": "application/json",
            "data": schema.dump(recorded.data),
            "streamversion": stream_version,
            "streamtype": self.aggregate,
            "ownerid": owner_id,
            "correlationid": meta.correlation_id,
            "causationid": meta.causation_id or meta.correlation_id,
            "actor": meta.actor,
        }
        if meta.traceparent:
            envelope["traceparent"] = meta.traceparent
            if meta.tracestate:
                envelope["tracestate"] = meta.tracestate
        return envelope

    # -- reading ----------------------------------------------------------------------------
    def read(self, envelope: dict[str, Any]) -> Recorded:
        """Upcast an envelope's data to the newest version of its type; unknown fields are dropped."""
        match = _TYPE.match(str(envelope.get("type", "")))
        if not match or match["service"] != self.service:
            raise UnknownEvent(envelope.get("type"))
        name, version = match["name"], int(match["version"])
        if (name, version) not in self._types:
            raise UnknownEvent(envelope["type"])
        data = dict(envelope.get("data") or {})
        while version < self._latest[name]:
            data = self._upcasters[(name, version)](data)
            version += 1
        if self._verbatim(name, version)(data):  # load and dump would give it back unchanged
            return Recorded(name, data)
        try:
            loaded = self._reader(name, version).load(data)
        except ValidationError as exc:
            raise ValueError(f"stored {name}.v{version} does not match its schema: {exc.messages}") from exc
        # Load gives python objects; handlers work on the JSON form so replay equals live.
        return Recorded(name, self._reader(name, version).dump(loaded))

    def _verbatim(self, name: str, version: int) -> Callable[[dict[str, Any]], bool]:
        """Whether data of (name, version) is already exactly what loading and dumping it would give:
        every key a field, every value of its field's JSON type (str, int, bool, list, dict, or None
        where allowed) and passing its validators, nothing missing that is required or defaulted.
        That is how every event our own `envelope` wrote reads, so a replay skips marshmallow's load
        and dump (a quarter of a projection's time); anything else takes the full path, which
        refuses, drops unknown fields or fills defaults exactly as before."""
        check = self._verbatims.get((name, version))
        if check is None:
            check = self._verbatims[(name, version)] = _record_check(self._reader(name, version)) or _never
        return check

    def _writer(self, name: str, version: int) -> Schema:
        """The schema that validates and dumps what an aggregate records, one instance per type (as
        `_reader`: built once, not per command; shared by a worker's threads, it keeps no state)."""
        writer = self._writers.get((name, version))
        if writer is None:
            writer = self._writers[(name, version)] = self._types[(name, version)].schema()
        return writer

    def _reader(self, name: str, version: int) -> Schema:
        """One schema instance per type, reused: building a marshmallow schema deep-copies its fields,
        which cost projections half their time when done twice per event. Instances keep no state
        between load/dump calls, so sharing them (across threads too) is safe."""
        reader = self._readers.get((name, version))
        if reader is None:
            reader = self._readers[(name, version)] = self._types[(name, version)].schema(unknown=EXCLUDE)
        return reader


def _never(data: Any) -> bool:
    return False


def _record_check(schema: Schema) -> Callable[[dict[str, Any]], bool] | None:
    """For `EventCatalog._verbatim`: a test that a dict loads and dumps through `schema` unchanged, or
    None when the schema has anything that could change it (hooks, load- or dump-only fields, a field
    type not known here)."""
    if any(schema._hooks.values()):  # pre/post load or dump, schema or field validators
        return None
    specs = []
    for attr, schema_field in schema.fields.items():
        check = _field_check(schema_field)
        if check is None:
            return None
        defaulted = schema_field.load_default is not missing or schema_field.dump_default is not missing
        specs.append((schema_field.data_key or attr, check, schema_field.required or defaulted))
    known = frozenset(key for key, _, _ in specs)

    def record(data: dict[str, Any]) -> bool:
        if not known.issuperset(data):  # an unknown field: dropped (or refused) by the full path
            return False
        for key, check, needed in specs:
            if key in data:
                if not check(data[key]):
                    return False
            elif needed:  # required (refused) or defaulted (filled in) by the full path
                return False
        return True

    return record


def _field_check(schema_field: fields.Field) -> Callable[[Any], bool] | None:
    """A test that a JSON value loads and dumps through `schema_field` unchanged; None if unsure.
    Exact types only: a subclass may convert (`fields.UUID` is a String that loads a UUID)."""
    if schema_field.load_only or schema_field.dump_only:
        return None
    kind = type(schema_field)
    is_type: Callable[[Any], bool]
    if kind is fields.String:
        is_type = _is_str
    elif isinstance(schema_field, fields.Integer) and kind is fields.Integer and not schema_field.as_string:
        is_type = _is_int  # a bool is an int to Python, not to marshmallow
    elif isinstance(schema_field, fields.Boolean) and kind is fields.Boolean \
            and (not schema_field.truthy or True in schema_field.truthy) \
            and (not schema_field.falsy or False in schema_field.falsy):
        is_type = _is_bool
    elif isinstance(schema_field, fields.List) and kind is fields.List:
        inner = _field_check(schema_field.inner)
        if inner is None:
            return None
        is_type = partial(_is_list_of, inner)
    elif isinstance(schema_field, fields.Nested) and kind is fields.Nested \
            and not schema_field.only and not schema_field.exclude:
        nested = schema_field.schema
        record = _record_check(nested) if isinstance(nested, Schema) else None
        if record is None:
            return None
        one = partial(_is_record, record)
        is_type = partial(_is_list_of, one) if schema_field.many else one
    elif isinstance(schema_field, fields.Dict) and kind is fields.Dict:
        keys = _field_check(schema_field.key_field) if schema_field.key_field is not None else _any
        values = _field_check(schema_field.value_field) if schema_field.value_field is not None else _any
        if keys is None or values is None:
            return None
        is_type = partial(_is_dict_of, keys, values)
    else:
        return None
    return partial(_valid, is_type, schema_field.allow_none, tuple(schema_field.validators))


def _valid(is_type: Callable[[Any], bool], allow_none: bool, validators: tuple[Callable[[Any], Any], ...],
           value: Any) -> bool:
    if value is None:
        return allow_none
    if not is_type(value):
        return False
    for validate in validators:
        try:
            if validate(value) is False:  # a failure to marshmallow 3, not to 4: the full path decides
                return False
        except ValidationError:
            return False
    return True


def _is_str(value: Any) -> bool:
    return type(value) is str


def _is_int(value: Any) -> bool:
    return type(value) is int


def _is_bool(value: Any) -> bool:
    return type(value) is bool


def _any(value: Any) -> bool:
    return True


def _is_list_of(item: Callable[[Any], bool], value: Any) -> bool:
    return type(value) is list and all(item(v) for v in value)


def _is_record(record: Callable[[dict[str, Any]], bool], value: Any) -> bool:
    return type(value) is dict and record(value)


def _is_dict_of(keys: Callable[[Any], bool], values: Callable[[Any], bool], value: Any) -> bool:
    return type(value) is dict and all(keys(k) and values(v) for k, v in value.items())


def describe_fields(schema: Schema) -> dict[str, dict[str, Any]]:
    """A schema's wire fields: what a consumer may rely on, and nothing it may not (no descriptions)."""
    return {field.data_key or name: describe_field(field) for name, field in sorted(schema.fields.items())}


def describe_field(field: fields.Field) -> dict[str, Any]:
    described: dict[str, Any] = {"type": type(field).__name__, "required": field.required,
                                 "nullable": field.allow_none, "pii": bool(field.metadata.get("pii"))}
    if field.metadata.get("pii"):
        described["subject"] = field.metadata["subject"] or "identifier"
    if isinstance(field, fields.List):
        described["items"] = describe_field(field.inner)
    elif isinstance(field, fields.Nested):
        described["fields"] = describe_fields(field.schema)
        described["many"] = bool(field.many)
    elif isinstance(field, fields.Dict):
        if field.key_field is not None:
            described["keys"] = describe_field(field.key_field)
        if field.value_field is not None:
            described["values"] = describe_field(field.value_field)
    return described


def parse_type(type_string: str) -> tuple[str, str, int] | None:
    """(service, event name, version) of a careerloop type string, or None for anything else."""
    match = _TYPE.match(type_string or "")
    return (match["service"], match["name"], int(match["version"])) if match else None
