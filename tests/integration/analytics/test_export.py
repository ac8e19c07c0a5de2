"""The warehouse export (`python -m services.analytics.export`) writes the integration stream as Parquet
partitioned by event date, on the embedded bus and on Kafka; DuckDB, as a campus data team would use
it, reads the counts the scenario says, and a rerun writes the same bytes."""
from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from services.analytics.catalog import INTEGRATION_TOPIC
from services.analytics.export import export
from shared.bus import EventBus
from tests.analytics_samples import (
    integration_event,
    parquet_counts,
    parquet_students,
    pseudonym,
    publish,
    write_sample_schemas,
)
from tests.backends import unique

ROOT = Path(__file__).resolve().parents[3]
# 23:30 UTC: an hour later is the next event date, which must decide the partition (never local time).
DAY = datetime(2026, 9, 14, 23, 30, tzinfo=UTC)


def scenario() -> list[dict[str, Any]]:
    """Three students over three days: outreach, a scheduled and a cancelled interview, notes."""
    events = []
    for n in range(3):
        student, contact, interview = pseudonym("student", f"s{n}"), pseudonym("contact", f"c{n}"), pseudonym(
            "interview", f"i{n}")
        events.append(integration_event("OutreachSent", student=student, at=DAY + timedelta(minutes=n),
                                        contact=contact))
        events.append(integration_event("OutreachSent", student=student, at=DAY + timedelta(hours=1, minutes=n),
                                        contact=pseudonym("contact", f"c{n}b")))
        events.append(integration_event("InterviewScheduled", student=student, at=DAY + timedelta(days=1, hours=n),
                                        contact=contact, interview=interview, format="video", duration_minutes=30,
                                        lead_time_hours=49.5))
        if n == 2:
            events.append(integration_event("InterviewCancelled", student=student, at=DAY + timedelta(days=1, hours=5),
                                            contact=contact, interview=interview, cancelled_by="contact"))
        else:
            events.append(integration_event("NoteRecorded", student=student, at=DAY + timedelta(days=2, hours=n),
                                            contact=contact, interview=None,
                                            insight_categories=["career_paths", "culture"], action_item_count=n + 1))
    return events


def expected_counts(events: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    return Counter((e["type"], e["time"][:10]) for e in events)


def parquet_bytes(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.fixture
def stream(bus: EventBus) -> tuple[EventBus, str, list[dict[str, Any]]]:
    namespace = unique("export") + "."
    bus.ensure_topics({namespace + INTEGRATION_TOPIC: 3})
    events = scenario()
    # the translator replayed one event (byte-identical), and one message of a type this export ignores
    foreign = {**events[0], "id": "other", "type": "careerloop.contacts.ContactAdded.v1"}
    publish(bus, namespace + INTEGRATION_TOPIC, events + [events[4], foreign])
    return bus, namespace, events


def test_the_export_holds_every_event_once_by_event_date_as_duckdb_reads_it(stream: Any, tmp_path: Path) -> None:
    bus, namespace, events = stream
    out = tmp_path / "warehouse"
    result = export(bus, out, namespace=namespace, schemas=write_sample_schemas(tmp_path / "schemas"))

    assert (result.events, result.skipped) == (len(events), 1)
    assert sorted(p.parent.name for p in result.files) == [
        "event_date=2026-09-14", "event_date=2026-09-15", "event_date=2026-09-16", "event_date=2026-09-17"]
    assert parquet_counts(out) == expected_counts(events)
    assert parquet_students(out) == {"careerloop.analytics.OutreachSent.v1": 3,
                                     "careerloop.analytics.InterviewScheduled.v1": 3,
                                     "careerloop.analytics.NoteRecorded.v1": 2,
                                     "careerloop.analytics.InterviewCancelled.v1": 1}
    glob = str(out / "event_date=*" / "*.parquet")
    with duckdb.connect() as db:
        columns = dict(db.execute("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM "
                                  "read_parquet(?, hive_partitioning = true))", [glob]).fetchall())
        notes = db.execute("SELECT subject, insight_categories, action_item_count, contact, interview FROM "
                           "read_parquet(?) WHERE type LIKE '%NoteRecorded%' ORDER BY time", [glob]).fetchall()
        scheduled = db.execute("SELECT lead_time_hours, duration_minutes, format, time FROM read_parquet(?) "
                               "WHERE type LIKE '%InterviewScheduled%' ORDER BY time LIMIT 1", [glob]).fetchone()
    assert list(columns)[:4] == ["id", "type", "time", "subject"]
    assert columns["time"] == "TIMESTAMP WITH TIME ZONE" and columns["event_date"] == "DATE"
    assert columns["insight_categories"] == "VARCHAR[]" and columns["action_item_count"] == "BIGINT"
    assert columns["lead_time_hours"] == "DOUBLE" and columns["occurred_at"] == "TIMESTAMP WITH TIME ZONE"
    assert notes == [(pseudonym("student", f"s{n}"), ["career_paths", "culture"], n + 1,
                      pseudonym("contact", f"c{n}"), None) for n in range(2)]
    assert scheduled[:3] == (49.5, 30, "video")
    assert scheduled[3] == DAY + timedelta(days=1)


def test_a_rerun_writes_the_same_files_and_a_range_touches_only_its_dates(stream: Any, tmp_path: Path) -> None:
    bus, namespace, events = stream
    schemas = write_sample_schemas(tmp_path / "schemas")
    out = tmp_path / "warehouse"
    export(bus, out, namespace=namespace, schemas=schemas)
    first = parquet_bytes(out)
    export(bus, out, namespace=namespace, schemas=schemas)
    assert parquet_bytes(out) == first

    # a date inside the range the stream no longer holds goes; dates outside it stay as they were
    (out / "event_date=2026-09-13").mkdir()
    (out / "event_date=2026-09-13" / "part-0.parquet").write_bytes(b"stale")
    result = export(bus, out, namespace=namespace, schemas=schemas, start=date(2026, 9, 13), end=date(2026, 9, 15))
    assert [p.name for p in result.removed] == ["event_date=2026-09-13"]
    assert result.events == sum(1 for e in events if "2026-09-14" <= e["time"][:10] <= "2026-09-15")
    assert parquet_bytes(out) == first


def test_the_command_line_exports_the_configured_bus(tmp_path: Path) -> None:
    from shared.bus import open_bus

    bus_url = f"sqlite:///{tmp_path}/bus.db"
    bus = open_bus(bus_url)
    try:
        bus.ensure_topics({INTEGRATION_TOPIC: 2})
        events = scenario()
        publish(bus, INTEGRATION_TOPIC, events)
    finally:
        bus.close()
    env = {**os.environ, "BUS_URL": bus_url, "EVENT_STORE_URL": f"sqlite:///{tmp_path}/events-{{service}}.db",
           "READ_STORE_URL": f"sqlite:///{tmp_path}/read.db", "BUS_NAMESPACE": ""}
    out = tmp_path / "warehouse"
    done = subprocess.run([sys.executable, "-m", "services.analytics.export", "--out", str(out),
                           "--from", "2026-09-15"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert set(parquet_counts(out)) == {k for k in expected_counts(events) if k[1] >= "2026-09-15"}
    refused = subprocess.run([sys.executable, "-m", "services.analytics.export", "--out", str(out),
                              "--from", "2026-09-15", "--to", "2026-09-01"], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=60)
    assert refused.returncode == 2 and "--from is after --to" in refused.stderr


def test_an_event_that_does_not_fit_its_columns_is_refused_naming_it_and_nothing_is_written(tmp_path: Path) -> None:
    from shared.bus import open_bus

    bus = open_bus(f"sqlite:///{tmp_path}/bus.db")
    try:
        bus.ensure_topics({INTEGRATION_TOPIC: 1})
        good = integration_event("OutreachSent", student=pseudonym("student", "z"), at=DAY - timedelta(days=2),
                                 contact=pseudonym("contact", "z"))
        bad_time = integration_event("OutreachSent", student=pseudonym("student", "y"), at=DAY - timedelta(days=1),
                                     contact=pseudonym("contact", "y"))
        bad_time["data"]["occurred_at"] = "yesterday"
        misfit = integration_event("InterviewScheduled", student=pseudonym("student", "x"), at=DAY,
                                   contact=pseudonym("contact", "x"), interview=pseudonym("interview", "x"),
                                   format="video", duration_minutes="thirty", lead_time_hours=2.0)
        publish(bus, INTEGRATION_TOPIC, [good, bad_time, misfit])
        schemas = write_sample_schemas(tmp_path / "schemas")
        with pytest.raises(ValueError, match=rf"`occurred_at` of event {bad_time['id']}"):
            export(bus, tmp_path / "out", schemas=schemas)
        with pytest.raises(ValueError, match=rf"`duration_minutes` of event {misfit['id']}"):
            export(bus, tmp_path / "out", schemas=schemas, start=DAY.date())
        assert not list((tmp_path / "out").glob("event_date=*"))  # not even the good event's date
        assert export(bus, tmp_path / "out", schemas=schemas, end=(DAY - timedelta(days=2)).date()).events == 1
    finally:
        bus.close()
