"""Test helpers for the analytics integration stream, written from the published envelope (see
ANALYTICS-SPEC / README "Event catalogue"), never from the code under test:

- `integration_event(...)`: a CloudEvents 1.0 integration event as the translator publishes it;
- `publish(...)`: put events on the integration topic as the translator does (key = the student);
- `write_sample_schemas(folder)`: integration JSON Schemas (draft 2020-12) for the sample types;
- `parquet_counts(out)`: what a data team's DuckDB sees in a warehouse export, counted per (type,
  event date); `parquet_students(out)`: distinct students per type. The funnel cross-check (the
  export's counts equal the analyst API's) compares the API's answer with these.
"""
from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.bus import EventBus

SOURCE = "/careerloop/analytics"
KEY_ID = "k1"

_PSEUDONYM = {"type": "string", "pattern": "^[0-9a-f]{32}$"}
_COMMON = {"student": {"$ref": "#/$defs/pseudonym"}, "pseudonym_key_id": {"type": "string"},
           "occurred_at": {"type": "string", "format": "date-time"}}
SAMPLE_SCHEMAS: dict[str, dict[str, Any]] = {
    "OutreachSent": {"contact": {"$ref": "#/$defs/pseudonym"}},
    "InterviewScheduled": {"contact": {"$ref": "#/$defs/pseudonym"}, "interview": {"$ref": "#/$defs/pseudonym"},
                           "format": {"enum": ["video", "phone", "in_person"]},
                           "duration_minutes": {"type": "integer"}, "lead_time_hours": {"type": "number"}},
    "InterviewCancelled": {"contact": {"$ref": "#/$defs/pseudonym"}, "interview": {"$ref": "#/$defs/pseudonym"},
                           "cancelled_by": {"enum": ["student", "contact", "career_office", "other"]}},
    "NoteRecorded": {"contact": {"anyOf": [{"$ref": "#/$defs/pseudonym"}, {"type": "null"}]},
                     "interview": {"anyOf": [{"$ref": "#/$defs/pseudonym"}, {"type": "null"}]},
                     "insight_categories": {"type": "array", "items": {"type": "string"}},
                     "action_item_count": {"type": "integer", "minimum": 0}},
}


def sample_schema(name: str, version: int = 1) -> dict[str, Any]:
    properties = {**_COMMON, **SAMPLE_SCHEMAS[name]}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"urn:careerloop:analytics:{name}:v{version}", "title": name, "type": "object",
            "$defs": {"pseudonym": _PSEUDONYM}, "properties": properties, "required": sorted(properties)}


def write_sample_schemas(folder: Path, names: Iterable[str] = SAMPLE_SCHEMAS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / f"{name}.v1.json").write_text(json.dumps(sample_schema(name), indent=2))
    return folder


def pseudonym(kind: str, raw: str) -> str:
    return hashlib.sha256(f"{kind}:{raw}".encode()).hexdigest()[:32]


def integration_event(name: str, *, student: str, at: datetime, source_event_id: str | None = None,
                      version: int = 1, **fields: Any) -> dict[str, Any]:
    """An integration event: id = UUIDv5 of (source event id, type), subject = the student pseudonym,
    time = the source event's time, `dataschema` naming the type's JSON Schema."""
    type_string = f"careerloop.analytics.{name}.v{version}"
    when = at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    source_event_id = source_event_id or str(uuid.uuid4())
    return {"specversion": "1.0", "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{source_event_id}/{type_string}")),
            "source": SOURCE, "type": type_string, "subject": student, "time": when,
            "datacontenttype": "application/json", "dataschema": f"urn:careerloop:analytics:{name}:v{version}",
            "data": {"student": student, "pseudonym_key_id": KEY_ID, "occurred_at": when, **fields}}


def encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event, sort_keys=True, separators=(",", ":")).encode()


def publish(bus: EventBus, topic: str, events: Iterable[dict[str, Any]]) -> int:
    producer = bus.producer()
    sent = 0
    try:
        for event in events:
            producer.send(topic, event.get("subject"), encode(event),
                          {"content-type": "application/cloudevents+json; charset=utf-8"})
            sent += 1
        producer.flush()
    finally:
        producer.close()
    return sent


def _glob(out: Path) -> str:
    return str(out / "event_date=*" / "*.parquet")


def parquet_counts(out: Path) -> dict[tuple[str, str], int]:
    """Events per (type, event date) in a warehouse export, as DuckDB reads it (hive partitions)."""
    import duckdb

    with duckdb.connect() as db:
        rows = db.execute("SELECT type, CAST(event_date AS VARCHAR), count(*) FROM read_parquet(?, "
                          "hive_partitioning = true) GROUP BY ALL", [_glob(out)]).fetchall()
    return {(kind, day): count for kind, day, count in rows}


def parquet_students(out: Path) -> dict[str, int]:
    """Distinct students (subjects) per type in a warehouse export, as DuckDB reads it."""
    import duckdb

    with duckdb.connect() as db:
        rows = db.execute("SELECT type, count(DISTINCT subject) FROM read_parquet(?, hive_partitioning = true) "
                          "GROUP BY ALL", [_glob(out)]).fetchall()
    return dict(rows)
