"""The integration stream's published language: its event types and their translation from domain events.

The services' own events (shared/contracts) are internal: they carry names, addresses and note text
and may change with the services. A campus data team reads instead the *integration events* defined
here, on one topic (`careerloop.analytics.journey.v1`, key = the student's pseudonym, so each
student's events stay in order). They hold no personal data by construction: identifiers are
pseudonyms (`services.analytics.pseudonyms`), organisation and industry are categorical values, and
free text (notes, objectives, questions, reasons, touchpoint text, URLs) never leaves the translation.

Wire format: CloudEvents 1.0 structured JSON; `id` is a UUIDv5 of (source event id, integration type),
`time` the source event's time, and the bytes are canonical (sorted keys, no whitespace), so a replay
or restart republishes byte-identical events that a consumer deduplicates by `id`. Each type and
version has a JSON Schema (draft 2020-12) in `integration_schemas/<Name>.v<N>.json`, named by the
event's `dataschema` (`urn:careerloop:analytics:<Name>:v<N>`, the schema's `$id`); a published schema
only changes backward compatibly (`services.analytics.compatibility`).

The translation functions are pure: `translate(source)` gives the integration events of one domain
event, from the event and the few facts the translator keeps (`Source.stream`, `Source.pair`).
"""
from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from services.analytics.pseudonyms import Pseudonymiser
from shared.contracts.analytics import JOURNEY_TOPIC
from shared.events import SPEC_VERSION
from shared.times import normal, parse

TOPIC = JOURNEY_TOPIC
SOURCE = "/careerloop/analytics"
SCHEMA_DIR = Path(__file__).parent / "integration_schemas"
CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
# UUIDv5 namespace of integration event ids (a fixed random UUID: the ids are ours alone)
ID_NAMESPACE = uuid.UUID("6f0b6c0e-5a43-4d8e-9a35-2f6a4d1c8e21")
_TYPE = re.compile(r"^careerloop\.analytics\.(?P<name>[A-Z][A-Za-z]+)\.v(?P<version>\d+)$")


@dataclass(frozen=True)
class IntegrationType:
    """One (type, version) of the published language."""

    name: str
    version: int

    @property
    def type_string(self) -> str:
        return f"careerloop.analytics.{self.name}.v{self.version}"

    @property
    def dataschema(self) -> str:
        return f"urn:careerloop:analytics:{self.name}:v{self.version}"

    @property
    def schema_path(self) -> Path:
        return SCHEMA_DIR / f"{self.name}.v{self.version}.json"

    def schema(self) -> dict[str, Any]:
        return load_schema(self.schema_path)

    @property
    def summary(self) -> str:
        return self.schema().get("description", self.name)


# The types the translator publishes now, each at its current version (older versions' schemas stay
# in integration_schemas/ for the compatibility check and for consumers of old events).
VOCABULARY: dict[str, IntegrationType] = {t.name: t for t in (
    IntegrationType("StudentActivated", 1),
    IntegrationType("ContactAdded", 1),
    IntegrationType("OutreachSent", 1),
    IntegrationType("ReplyReceived", 1),
    IntegrationType("CheckInMade", 1),
    IntegrationType("InterviewRequested", 1),
    IntegrationType("InterviewScheduled", 1),
    IntegrationType("InterviewRescheduled", 1),
    IntegrationType("InterviewCancelled", 1),
    IntegrationType("InterviewHeld", 1),
    IntegrationType("InterviewMissed", 1),
    IntegrationType("ThankYouSent", 1),
    IntegrationType("NoteRecorded", 1),
    IntegrationType("ActionItemCompleted", 1),
    IntegrationType("FollowUpBecameDue", 1),
    IntegrationType("FollowUpDone", 1),
)}

# Industries as categories a warehouse can group by: what students type, normalised. A value matching
# none of these (after lower-casing and trimming) is published as `other`; no value at all as null.
INDUSTRIES: dict[str, tuple[str, ...]] = {
    "technology": ("technology", "tech", "software", "it", "information technology", "internet", "saas",
                   "computer software", "computers"),
    "finance": ("finance", "financial services", "banking", "investment banking", "investment management",
                "asset management", "private equity", "venture capital", "insurance", "fintech", "accounting"),
    "consulting": ("consulting", "management consulting", "strategy consulting", "advisory"),
    "healthcare": ("healthcare", "health care", "health", "hospital", "medicine", "medical", "pharmaceuticals",
                   "pharma", "biotech", "biotechnology", "life sciences"),
    "education": ("education", "higher education", "edtech", "teaching", "academia", "research"),
    "government": ("government", "public sector", "public administration", "public policy", "military",
                   "defense", "defence"),
    "nonprofit": ("nonprofit", "non-profit", "ngo", "charity", "philanthropy", "social impact"),
    "media_entertainment": ("media", "entertainment", "journalism", "publishing", "film", "music", "gaming",
                            "advertising", "marketing", "public relations"),
    "law": ("law", "legal", "legal services"),
    "engineering_manufacturing": ("engineering", "manufacturing", "automotive", "aerospace", "industrial",
                                  "construction", "architecture"),
    "energy_environment": ("energy", "oil and gas", "utilities", "renewables", "renewable energy",
                           "environment", "environmental", "sustainability", "climate"),
    "retail_consumer": ("retail", "consumer goods", "consumer products", "e-commerce", "ecommerce", "fashion",
                        "food and beverage", "hospitality", "travel"),
    "real_estate": ("real estate", "property"),
    "transportation_logistics": ("transportation", "logistics", "supply chain", "shipping", "airlines"),
    "telecommunications": ("telecommunications", "telecom"),
}
INDUSTRY_OTHER = "other"
_INDUSTRY_OF = {synonym: category for category, synonyms in INDUSTRIES.items() for synonym in synonyms}
ORGANISATION_MAX_CHARS = 200


def normalise_industry(value: str | None) -> str | None:
    """The industry category of what a student typed: one of `INDUSTRIES`, `other`, or None for nothing."""
    if value is None or not value.strip():
        return None
    key = " ".join(value.strip().lower().replace("&", " and ").split())
    return _INDUSTRY_OF.get(key, INDUSTRY_OTHER)


def organisation(value: str | None) -> str | None:
    """An organisation as given (a categorical value), trimmed; None for nothing."""
    value = " ".join((value or "").split())
    return value[:ORGANISATION_MAX_CHARS] or None


# -- translation ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Source:
    """A domain event to translate, with the facts the translator keeps about its context.

    `stream`: the translator's facts about the event's own stream before it (a note's contact, a
    follow-up item's contact); `pair`: about the (student, contact) pair (`interview_end`: when the
    latest held interview with this contact ended)."""

    envelope: Mapping[str, Any]
    data: Mapping[str, Any]
    stream: Mapping[str, Any] = field(default_factory=dict)
    pair: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.envelope["type"].split(".")[2]

    @property
    def student_id(self) -> str | None:
        return self.data.get("student_id") or self.envelope.get("ownerid")

    @property
    def time(self) -> str:
        return normal(self.envelope["time"])


@dataclass(frozen=True)
class Emitted:
    """An integration event before it is pseudonymised and enveloped: raw ids in `contact_id` and
    `interview_id` (turned into `contact` and `interview` pseudonyms), the other fields as published."""

    name: str
    fields: dict[str, Any]
    occurred_at: str | None = None  # when it happened, if not the source event's time
    id_basis: str | None = None  # what the event id derives from, if not the source event's id


Translation = Callable[[Source], list[Emitted]]
TRANSLATIONS: dict[str, Translation] = {}
TOUCHPOINT_TYPES = {"outreach": "OutreachSent", "reply": "ReplyReceived", "check_in": "CheckInMade"}


def translates(*domain_events: str) -> Callable[[Translation], Translation]:
    def register(fn: Translation) -> Translation:
        for name in domain_events:
            TRANSLATIONS[name] = fn
        return fn
    return register


def hours_between(earlier: str, later: str) -> float:
    return round((parse(later) - parse(earlier)).total_seconds() / 3600, 2)


@translates("ContactAdded")
def _contact_added(source: Source) -> list[Emitted]:
    data = source.data
    return [Emitted("ContactAdded", {
        "contact_id": source.envelope["subject"], "industry": normalise_industry(data.get("industry")),
        "organisation": organisation(data.get("organisation")),
        "source": "import" if data.get("import_id") else "manual"})]


@translates("TouchpointLogged")
def _touchpoint(source: Source) -> list[Emitted]:
    kind, at = source.data["kind"], normal(source.data["occurred_at"])
    contact = {"contact_id": source.envelope["subject"]}
    if kind in TOUCHPOINT_TYPES:
        return [Emitted(TOUCHPOINT_TYPES[kind], contact, occurred_at=at)]
    if kind == "thank_you":
        end = source.pair.get("interview_end")
        hours = hours_between(end, at) if end and end <= at else None
        return [Emitted("ThankYouSent", {**contact, "hours_after_interview": hours}, occurred_at=at)]
    return []  # conversations, updates, articles and intros are not in the published language (yet)


def _interview(source: Source, **fields: Any) -> dict[str, Any]:
    return {"contact_id": source.data.get("contact_id") or source.stream.get("contact_id"),
            "interview_id": source.envelope["subject"], **fields}


@translates("InterviewRequested")
def _requested(source: Source) -> list[Emitted]:
    return [Emitted("InterviewRequested", _interview(source, format=source.data["format"],
                                                     duration_minutes=source.data["duration_minutes"]))]


@translates("InterviewScheduled")
def _scheduled(source: Source) -> list[Emitted]:
    # the duration is the agreed slot's, which may differ from the requested one
    minutes = round((parse(source.data["end"]) - parse(source.data["start"])).total_seconds() / 60)
    return [Emitted("InterviewScheduled", _interview(
        source, format=source.stream.get("format"), duration_minutes=minutes,
        lead_time_hours=hours_between(source.time, source.data["start"])))]


@translates("InterviewRescheduled")
def _rescheduled(source: Source) -> list[Emitted]:
    return [Emitted("InterviewRescheduled", _interview(
        source, lead_time_hours=hours_between(source.time, source.data["start"])))]


@translates("InterviewCancelled")
def _cancelled(source: Source) -> list[Emitted]:
    by = source.data["by"]
    return [Emitted("InterviewCancelled", _interview(
        source, cancelled_by=by if by in ("student", "contact", "career_office") else "other"))]


@translates("InterviewCompleted")
def _held(source: Source) -> list[Emitted]:
    return [Emitted("InterviewHeld", _interview(source), occurred_at=normal(source.data["end"]))]


@translates("InterviewMissed")
def _missed(source: Source) -> list[Emitted]:
    return [Emitted("InterviewMissed", _interview(source, missed_by=source.data["who"]),
                    occurred_at=normal(source.data["start"]))]


@translates("NoteRecorded")
def _note(source: Source) -> list[Emitted]:
    data = source.data
    return [Emitted("NoteRecorded", {
        "contact_id": data.get("contact_id"), "interview_id": data.get("interview_id"),
        "insight_categories": sorted({insight["category"] for insight in data.get("insights") or []}),
        "action_item_count": len(data.get("action_items") or [])})]


@translates("ActionItemCompleted")
def _action_done(source: Source) -> list[Emitted]:
    return [Emitted("ActionItemCompleted", {"contact_id": source.stream.get("contact_id")})]


def rule_of(item_id: str) -> str:
    """The rule of a follow-up item, from its deterministic id `<rule>:<source id>`."""
    return item_id.split(":", 1)[0]


@translates("FollowUpBecameDue")
def _due(source: Source) -> list[Emitted]:
    return [Emitted("FollowUpBecameDue", {"contact_id": source.data.get("contact_id"), "rule": source.data["rule"]})]


@translates("FollowUpDismissed")
def _dismissed(source: Source) -> list[Emitted]:
    return [Emitted("FollowUpDone", {"contact_id": source.stream.get("contact_id"),
                                     "rule": rule_of(source.envelope["subject"]), "outcome": "dismissed"})]


@translates("FollowUpCompleted")
def _completed(source: Source) -> list[Emitted]:
    data = source.data
    return [Emitted("FollowUpDone", {"contact_id": data.get("contact_id"), "rule": data["rule"], "outcome": "done"},
                    occurred_at=normal(data["completed_at"]))]


def translate(source: Source) -> list[Emitted]:
    """The integration events of one domain event (none for events outside the published language)."""
    translation = TRANSLATIONS.get(source.name)
    return translation(source) if translation is not None else []


# -- the wire -------------------------------------------------------------------------------------------

def activation(student: str) -> Emitted:
    """A student's StudentActivated: its id derives from the student's pseudonym, not from the event
    that happened to be seen first, so a rebuild that reads the topics in another interleaving still
    gives it the same id (consumers keep the first)."""
    return Emitted("StudentActivated", {}, id_basis=f"student:{student}")


def event_id(token: str, name: str) -> str:
    """Deterministic: the same source event (its `Pseudonymiser.event_token`) always gives the same
    integration event id, which cannot be traced back to it once the student is erased."""
    return str(uuid.uuid5(ID_NAMESPACE, f"{token}:{name}"))


def envelope(emitted: Emitted, *, source_event_id: str, time: str, student_id: str,
             pseudonyms: Pseudonymiser, source_token: str | None = None) -> dict[str, Any]:
    """The CloudEvents envelope of one integration event, every identifier pseudonymised. It carries no
    trace context (`traceparent`), although the domain events do: a trace id is not personal, but one
    shared with the domain event (whose `ownerid` is in clear) would link the pseudonym back to the
    student, for good, whatever an erasure shreds."""
    integration_type = VOCABULARY[emitted.name]
    student = pseudonyms.student(student_id)
    data: dict[str, Any] = {"student": student, "pseudonym_key_id": pseudonyms.key_id,
                            "occurred_at": emitted.occurred_at or time}
    for name, value in emitted.fields.items():
        if name == "contact_id":
            data["contact"] = pseudonyms.contact(value, student_id)
        elif name == "interview_id":
            data["interview"] = pseudonyms.interview(value, student_id)
        else:
            data[name] = value
    if emitted.id_basis or source_token is None:
        token = pseudonyms.event_token(emitted.id_basis or source_event_id, student_id)
    else:  # the caller's token of the source event, already computed (an HMAC per message saved)
        token = source_token
    return {"specversion": SPEC_VERSION, "id": event_id(token, emitted.name),
            "source": SOURCE,
            "type": integration_type.type_string, "subject": student, "time": time,
            "datacontenttype": "application/json", "dataschema": integration_type.dataschema, "data": data}


def serialise(event: Mapping[str, Any]) -> bytes:
    """Canonical bytes: sorted keys, no whitespace, UTF-8; equal events are equal bytes."""
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class IntegrationEvent:
    """An integration event as a consumer reads it (e.g. the funnel projections)."""

    name: str
    version: int
    id: str
    student: str
    time: str
    data: dict[str, Any]


def read(value: bytes | str) -> IntegrationEvent | None:
    """Parse a message of the integration topic; None for anything that is not an integration event."""
    envelope = json.loads(value)
    match = _TYPE.match(str(envelope.get("type", ""))) if isinstance(envelope, dict) else None
    if match is None:
        return None
    return IntegrationEvent(match["name"], int(match["version"]), envelope["id"], envelope["subject"],
                            envelope["time"], dict(envelope.get("data") or {}))


# -- schemas ----------------------------------------------------------------------------------------------

@cache
def load_schema(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def schema_files(directory: Path = SCHEMA_DIR) -> dict[tuple[str, int], Path]:
    """Every schema file in `directory`, by (type name, version)."""
    found = {}
    for path in sorted(directory.glob("*.json")):
        match = re.fullmatch(r"(?P<name>[A-Z][A-Za-z]+)\.v(?P<version>\d+)\.json", path.name)
        if match is None:
            raise ValueError(f"{path.name}: schema files are named <Type>.v<N>.json")
        found[(match["name"], int(match["version"]))] = path
    return found
