"""The warehouse export: the analytics integration stream as Parquet, partitioned by event date.

`python -m services.analytics.export --out DIR [--from 2026-09-01] [--to 2026-12-31]` reads the
integration topic (`careerloop.analytics.journey.v1`, with the deployment's BUS_NAMESPACE) from
offset 0 up to where it ended when the export started, with a one-off consumer group that never
commits (the live consumers' groups are not touched), and writes one file per event date:

    DIR/event_date=2026-09-14/part-0.parquet      (hive-style folders: DuckDB, Spark, Athena, BigQuery)

Columns: `id`, `type`, `time` (UTC timestamp), `subject` (the student pseudonym), then every payload
field of every integration event schema (`integration_schemas/*.json`), flattened (a nested object's
fields become `<field>_<child>`), so the columns do not depend on which types a date happens to hold:
the schema is the same in every file and across runs. A field an event type lacks is null.

A rerun rewrites the same bytes: events are deduplicated by their deterministic id (a replay of the
translator republishes identical events) and sorted by (time, id), and every date in the range the
stream no longer holds is removed, so DIR is always exactly the stream's content for the range. Files
are written beside their final name and renamed into place, so a reader never sees half a file.
The range is held in memory while it is written (about 400k events for 10k students × 40 events).
An event whose `time` or field values do not fit is an error naming the event and the field.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from services.analytics.catalog import INTEGRATION_SCHEMAS, INTEGRATION_TOPIC, integration_schemas_in
from shared.bus import EventBus
from shared.errors import TransientError

log = logging.getLogger("careerloop.analytics.export")

TYPE_PREFIX = "careerloop.analytics."
ENVELOPE_COLUMNS = (("id", pa.string()), ("type", pa.string()), ("time", pa.timestamp("us", tz="UTC")),
                    ("subject", pa.string()))
PARTITION = "event_date"
FILE_NAME = "part-0.parquet"
# How long the export waits for the rest of the stream once the bus stops returning messages.
STALL_SECONDS = 30.0


# -- the columns ------------------------------------------------------------------------------------
def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema and schema["$ref"].startswith("#/"):
        target: Any = root
        for part in schema["$ref"][2:].split("/"):
            target = target[part]
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _arrow_type(schema: dict[str, Any], root: dict[str, Any]) -> pa.DataType | None:
    """The Arrow type of a JSON Schema leaf; None for an object with properties (flattened instead).
    Anything without one simple type (a union of types, an array of objects) is kept as JSON text."""
    schema = _resolve(schema, root)
    branches = [_resolve(b, root) for b in schema.get("anyOf", schema.get("oneOf", []))]
    branches = [b for b in branches if b.get("type") != "null"]
    if len(branches) == 1:
        return _arrow_type(branches[0], root)
    kinds = schema.get("type")
    if kinds is None and "const" in schema:
        kinds = type(schema["const"]).__name__
    if kinds is None and "enum" in schema:
        kinds = sorted({type(v).__name__ for v in schema["enum"] if v is not None})
    if isinstance(kinds, list):
        kinds = [k for k in kinds if k != "null"]
        kinds = kinds[0] if len(kinds) == 1 else None
    if kinds in ("string", "str"):
        return pa.timestamp("us", tz="UTC") if schema.get("format") == "date-time" else pa.string()
    if kinds in ("integer", "int"):
        return pa.int64()
    if kinds in ("number", "float"):
        return pa.float64()
    if kinds in ("boolean", "bool"):
        return pa.bool_()
    if kinds == "object" and schema.get("properties"):
        return None
    if kinds == "array" and "items" in schema:
        inner = _arrow_type(schema["items"], root)
        if inner is not None and not pa.types.is_nested(inner):
            return pa.list_(inner)
    return pa.string()  # JSON text


def _leaves(properties: dict[str, Any], root: dict[str, Any], prefix: str = "") -> Iterable[tuple[str, pa.DataType]]:
    for name, schema in properties.items():
        arrow = _arrow_type(schema, root)
        if arrow is None:
            yield from _leaves(_resolve(schema, root)["properties"], root, f"{prefix}{name}_")
        else:
            yield prefix + name, arrow


def export_schema(schemas: Path = INTEGRATION_SCHEMAS) -> pa.Schema:
    """The Arrow schema of every file: the envelope's columns, then the payload fields of every
    integration schema, sorted by name (a field two schemas type differently becomes JSON text)."""
    payload: dict[str, pa.DataType] = {}
    for _name, _version, schema in integration_schemas_in(schemas):
        for column, arrow in _leaves(_resolve(schema, schema).get("properties", {}), schema):
            payload[column] = arrow if payload.get(column, arrow) == arrow else pa.string()
    envelope = [name for name, _ in ENVELOPE_COLUMNS]
    clashes = sorted(set(payload) & set(envelope + [PARTITION]))
    if clashes:
        raise ValueError(f"integration payload fields {clashes} clash with the export's own columns")
    return pa.schema([pa.field(n, t) for n, t in ENVELOPE_COLUMNS] + [pa.field(n, payload[n]) for n in sorted(payload)])


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for name, value in data.items():
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{prefix}{name}_"))
        else:
            flat[prefix + name] = value
    return flat


def _value(value: Any, arrow: pa.DataType) -> Any:
    if value is None:
        return None
    if pa.types.is_timestamp(arrow):
        return _parse_time(value)
    if pa.types.is_string(arrow) and not isinstance(value, str):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return value


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# -- reading the stream -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Exported:
    events: int
    files: list[Path]
    removed: list[Path]
    skipped: int  # messages that were not integration events (other types), ignored as consumers do


def read_stream(bus: EventBus, topic: str, *, stall_seconds: float = STALL_SECONDS) -> list[dict[str, Any]]:
    """Every message of `topic` from offset 0 to the end offsets it had when this started, decoded.

    A one-off group id that never commits: nothing is left behind to resume from, and no live
    consumer's position moves."""
    ends = {p: end for p, end in bus.end_offsets(topic).items() if end > 0}
    consumer = bus.consumer(f"careerloop-analytics-export-{uuid.uuid4().hex}", [topic])
    envelopes: list[dict[str, Any]] = []
    seen: dict[int, int] = {}
    last_progress = time.monotonic()
    try:
        while any(seen.get(p, 0) < end for p, end in ends.items()):
            messages = consumer.poll(500, timeout=0.5)
            if messages:
                last_progress = time.monotonic()
            elif time.monotonic() - last_progress > stall_seconds:
                missing = {p: (seen.get(p, 0), end) for p, end in ends.items() if seen.get(p, 0) < end}
                raise TransientError(f"export: {topic} stopped short of its end (partition: (read, end)) {missing}")
            for message in messages:
                end = ends.get(message.partition)
                if end is None or message.offset >= end:
                    continue  # written after the export started: the next export takes it
                seen[message.partition] = max(seen.get(message.partition, 0), message.offset + 1)
                try:
                    envelope = json.loads(message.value)
                except ValueError:
                    envelope = None
                if not isinstance(envelope, dict):
                    raise ValueError(f"export: {topic} partition {message.partition} offset {message.offset} "
                                     f"is not a CloudEvents JSON object")
                envelopes.append(envelope)
    finally:
        consumer.close()
    return envelopes


# -- writing ----------------------------------------------------------------------------------------
def export(bus: EventBus, out: Path, *, namespace: str = "", start: date | None = None, end: date | None = None,
           schemas: Path = INTEGRATION_SCHEMAS) -> Exported:
    """Write the integration stream's events dated `start`..`end` (inclusive; open when None) under
    `out` as Parquet by event date; remove the dates in that range the stream no longer has."""
    schema = export_schema(schemas)
    by_id: dict[str, dict[str, Any]] = {}
    skipped = 0
    for envelope in read_stream(bus, namespace + INTEGRATION_TOPIC):
        if not str(envelope.get("type", "")).startswith(TYPE_PREFIX) or not envelope.get("id"):
            skipped += 1
            continue
        by_id.setdefault(envelope["id"], envelope)  # a republished event is the same event
    by_date: dict[date, list[dict[str, Any]]] = {}
    for envelope in by_id.values():
        try:
            moment = _parse_time(envelope["time"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"export: event {envelope['id']} ({envelope['type']}) has no RFC 3339 `time`: "
                             f"{envelope.get('time')!r}") from exc
        if (start is None or moment.date() >= start) and (end is None or moment.date() <= end):
            by_date.setdefault(moment.date(), []).append(envelope)
    out.mkdir(parents=True, exist_ok=True)
    # every date converted before any is written: an event that does not fit changes nothing on disk
    tables = {day: _table(events, schema) for day, events in sorted(by_date.items())}
    files = [_write(out, day, table) for day, table in tables.items()]
    removed = []
    for folder in sorted(out.glob(f"{PARTITION}=*")):
        day = date.fromisoformat(folder.name.split("=", 1)[1])
        if day not in by_date and (start is None or day >= start) and (end is None or day <= end):
            shutil.rmtree(folder)
            removed.append(folder)
    return Exported(sum(len(e) for e in by_date.values()), files, removed, skipped)


def _table(events: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    """One date's events as rows of the export's columns, sorted by (time, id)."""
    events.sort(key=lambda e: (_parse_time(e["time"]), e["id"]))
    rows = []
    for envelope in events:
        flat = {**_flatten(envelope.get("data") or {}), "id": envelope["id"], "type": envelope["type"],
                "time": envelope["time"], "subject": envelope.get("subject")}
        row = {}
        for field in schema:
            try:
                row[field.name] = _value(flat.get(field.name), field.type)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"export: field `{field.name}` of event {envelope['id']} ({envelope['type']}): "
                                 f"{flat.get(field.name)!r} is not a {field.type}") from exc
        rows.append(row)
    try:
        return pa.Table.from_pylist(rows, schema=schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError) as exc:
        misfit = _first_misfit(rows, events, schema)
        raise ValueError(f"export: {misfit} does not match its column type ({exc})") from exc


def _write(out: Path, day: date, table: pa.Table) -> Path:
    folder = out / f"{PARTITION}={day.isoformat()}"
    folder.mkdir(exist_ok=True)
    target = folder / FILE_NAME
    partial = folder / f".{FILE_NAME}.{os.getpid()}.tmp"
    pq.write_table(table, partial, compression="zstd")
    os.replace(partial, target)
    return target


def _first_misfit(rows: list[dict[str, Any]], events: list[dict[str, Any]], schema: pa.Schema) -> str:
    """Which event's which field Arrow could not convert, for the error message."""
    for row, envelope in zip(rows, events, strict=True):
        for field in schema:
            try:
                pa.array([row[field.name]], type=field.type)
            except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError):
                return f"field `{field.name}` of event {envelope['id']} ({envelope['type']}): {row[field.name]!r}"
    return "an event"


def main(argv: list[str] | None = None) -> int:
    from shared.process import running

    parser = argparse.ArgumentParser(prog="python -m services.analytics.export", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="folder of the hive-partitioned Parquet files")
    parser.add_argument("--from", dest="start", type=date.fromisoformat, metavar="YYYY-MM-DD",
                        help="first event date to export (default: the stream's first)")
    parser.add_argument("--to", dest="end", type=date.fromisoformat, metavar="YYYY-MM-DD",
                        help="last event date to export, inclusive (default: the stream's last)")
    args = parser.parse_args(argv)
    if args.start and args.end and args.start > args.end:
        parser.error("--from is after --to")
    with running("analytics-export", one_shot=True) as process:
        result = export(process.bus(), args.out, namespace=process.settings.get("BUS_NAMESPACE"),
                        start=args.start, end=args.end)
    print(f"exported {result.events} events into {len(result.files)} files under {args.out}"
          + (f"; removed {len(result.removed)} dates the stream no longer holds" if result.removed else "")
          + (f"; ignored {result.skipped} messages of other types" if result.skipped else ""), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
