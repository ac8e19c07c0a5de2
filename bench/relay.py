"""P3: the outbox relay's publish rate as a share of a raw kafka-python producer (real profile only).

The same records both ways: `events` CloudEvents envelopes of the size the contacts service writes,
one commit per command, 50 streams. The ceiling is a bare `kafka.KafkaProducer` with the relay's
delivery settings (idempotent, `acks="all"`, `linger_ms=0`) sending the encoded records keyed by
stream, flushed every 200 as the relay's batches are, with nothing else going on. The relay does
that plus what makes it an outbox: read the unpublished commits from the event store in position
order, and mark them published once the broker acknowledged them. `relay_vs_raw` is its rate over
the ceiling's (goal >= 0.8).
"""
from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

from shared.bus import open_bus
from shared.eventstore import open_event_store
from shared.relay import Relay, encode

BATCH = 200
STREAMS = 50
STREAM_TYPE = "contact"


def envelope(stream: str, version: int) -> dict[str, Any]:
    return {"specversion": "1.0", "id": str(uuid.uuid4()), "source": "/careerloop/contacts",
            "type": "careerloop.contacts.TouchpointLogged.v1", "subject": stream, "streamversion": version,
            "time": datetime.now(UTC).isoformat(), "datacontenttype": "application/json",
            "streamtype": STREAM_TYPE, "data": {"touchpoint_id": str(uuid.uuid4()), "kind": "outreach",
                                                "occurred_at": datetime.now(UTC).isoformat(), "channel": "email",
                                                "text": "Sent a short note asking for twenty minutes"}}


def raw(bootstrap: str, topic: str, records: list[tuple[str, bytes]]) -> float:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=0,
                             allow_auto_create_topics=False)
    try:
        started = time.perf_counter()
        for start in range(0, len(records), BATCH):
            for key, value in records[start:start + BATCH]:
                producer.send(topic, key=key.encode(), value=value,
                              headers=[("content-type", b"application/cloudevents+json; charset=utf-8")])
            producer.flush()
        return time.perf_counter() - started
    finally:
        producer.close()


def measure(urls: dict[str, str], events: int) -> dict[str, Any]:
    bootstrap = urls["BUS_URL"].removeprefix("kafka://")
    namespace = f"bench{uuid.uuid4().hex[:8]}."
    relay_topic, raw_topic = f"{namespace}relay", f"{namespace}raw"
    bus = open_bus(urls["BUS_URL"])
    store = open_event_store(urls["EVENT_STORE_URL"].replace("{service}", "relaybench"))
    try:
        bus.ensure_topics({relay_topic: 3, raw_topic: 3})
        records = []
        for n in range(events):
            stream, version = f"contact-{n % STREAMS}", n // STREAMS + 1
            env = envelope(stream, version)
            store.append(stream, STREAM_TYPE, version - 1, [env])
            records.append((stream, encode(env)))
        raw_seconds = raw(bootstrap, raw_topic, records)
        relay = Relay(store, bus, service="relaybench", topics={STREAM_TYPE: relay_topic}, batch_size=BATCH)
        started = time.perf_counter()
        while relay.publish_pending():  # what Relay.run does while it holds the lease, minus the idle waits
            pass
        relay_seconds = time.perf_counter() - started
        published = sum(bus.end_offsets(relay_topic).values())
    finally:
        bus.close()
        store.close()
    raw_rate, relay_rate = events / raw_seconds, events / relay_seconds
    return {"events": events, "relay_published": published, "raw_events_per_second": round(raw_rate, 1),
            "relay_events_per_second": round(relay_rate, 1), "relay_vs_raw": round(relay_rate / raw_rate, 4),
            "goal": ">= 0.8"}
