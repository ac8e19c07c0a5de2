"""The translator on the embedded bus and read store, message by message: a redelivered event comes out
byte for byte as it first did, even when facts it was translated from have changed since (a thank-you
redelivered after its interview was marked held), and the event that activated a student activates
them again on redelivery, under the same id."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.analytics.pseudonyms import Pseudonymiser
from services.analytics.translator import Translator
from shared.bus import Message, open_bus
from shared.config import Settings
from shared.contracts.contacts import CONTACTS
from shared.contracts.scheduling import INTERVIEWS
from shared.events import EventCatalog, Metadata, Recorded
from shared.readstore import open_read_store
from shared.runtime import ensure_all_topics
from shared.times import parse
from tests.support import poll_at_least

PSEUDONYMS = Pseudonymiser("a-test-key-that-is-long-enough-for-hkdf", "k1")


def message(catalog: EventCatalog, name: str, data: dict[str, Any], *, stream: str, version: int,
            at: str = "2026-03-01T10:00:00Z") -> Message:
    envelope = catalog.envelope(Recorded(name, data), stream_id=stream, stream_version=version, owner_id="s-1",
                                meta=Metadata(actor="s-1"), at=parse(at))
    return Message(catalog.topic, 0, version - 1, stream, json.dumps(envelope).encode())


ADDED = message(CONTACTS, "ContactAdded", {"student_id": "s-1", "name": "N"}, stream="c-1", version=1)
THANKS = message(CONTACTS, "TouchpointLogged", {"touchpoint_id": "t", "kind": "thank_you",
                                                "occurred_at": "2026-03-07T10:00:00Z"}, stream="c-1", version=2)
TIMES = {"student_id": "s-1", "contact_id": "c-1", "student_time_zone": "UTC", "contact_time_zone": "UTC"}
REQUESTED = message(INTERVIEWS, "InterviewRequested", {**TIMES, "objectives": [], "questions": [], "format": "video",
                                                       "duration_minutes": 30}, stream="i-1", version=1)
SCHEDULED = message(INTERVIEWS, "InterviewScheduled", {**TIMES, "start": "2026-03-06T09:00:00Z", "slot_id": None,
                                                       "end": "2026-03-06T09:30:00Z", "time_zone": "UTC",
                                                       "sequence": 0},
                    stream="i-1", version=2, at="2026-03-02T09:00:00Z")
HELD = message(INTERVIEWS, "InterviewCompleted", {"student_id": "s-1", "contact_id": "c-1",
                                                  "start": "2026-03-06T09:00:00Z", "end": "2026-03-06T09:30:00Z",
                                                  "student_time_zone": "UTC"},
               stream="i-1", version=3)


@pytest.fixture
def translator(tmp_path: Path) -> Iterator[Translator]:
    bus = open_bus(f"sqlite:///{tmp_path}/bus.db")
    ensure_all_topics(bus, Settings({"TOPIC_PARTITIONS": "2"}))
    read_store = open_read_store(f"sqlite:///{tmp_path}/read.db")
    translator = Translator(read_store, bus=bus, pseudonyms=PSEUDONYMS)
    yield translator
    translator.close()
    read_store.close()
    bus.close()


def published(translator: Translator, count: int) -> list[bytes]:
    assert translator.bus is not None
    consumer = translator.bus.consumer("test-reader", [translator.topic])
    try:
        return [m.value for m in sorted(poll_at_least(consumer, count), key=lambda m: (m.partition, m.offset))]
    finally:
        consumer.close()


def test_a_thank_you_redelivered_after_its_interview_was_held_comes_out_as_it_first_did(
        translator: Translator) -> None:
    translator.handle([ADDED, THANKS])  # the thank-you arrived before the interview's completion
    translator.handle([REQUESTED, SCHEDULED, HELD])
    translator.handle([THANKS])  # redelivered: the pair now knows an interview ended before it
    values = published(translator, 7)
    thanks = [v for v in values if b"ThankYouSent" in v]
    assert len(thanks) == 2 and thanks[0] == thanks[1]
    assert json.loads(thanks[0])["data"]["hours_after_interview"] is None
    translator.handle([message(CONTACTS, "TouchpointLogged", {"touchpoint_id": "t2", "kind": "thank_you",
                                                              "occurred_at": "2026-03-07T10:00:00Z"},
                               stream="c-1", version=3)])
    later = json.loads(published(translator, 8)[-1])
    assert later["data"]["hours_after_interview"] == 24.5  # a new thank-you sees the held interview


def test_a_redelivered_event_is_translated_again_to_the_same_bytes_activation_included(
        translator: Translator) -> None:
    translator.handle([ADDED, REQUESTED, SCHEDULED])
    translator.handle([ADDED, SCHEDULED, HELD])  # a crash before the commit: the batch comes again, and more
    values = published(translator, 8)
    types = [json.loads(v)["type"].split(".")[2] for v in values]
    assert types == ["StudentActivated", "ContactAdded", "InterviewRequested", "InterviewScheduled",
                     "StudentActivated", "ContactAdded", "InterviewScheduled", "InterviewHeld"]
    assert values[0] == values[4] and values[1] == values[5] and values[3] == values[6]
    scheduled = json.loads(values[3])["data"]
    assert (scheduled["format"], scheduled["lead_time_hours"]) == ("video", 96.0)  # the format, from the request
    assert translator.students.get(PSEUDONYMS.student("s-1")) == {
        "_id": PSEUDONYMS.student("s-1"), "activated_by": PSEUDONYMS.event_token(json.loads(ADDED.value)["id"], "s-1")}


def test_an_older_version_of_an_event_is_upcast_before_translation(translator: Translator) -> None:
    envelope = json.loads(REQUESTED.value)
    envelope["type"] = envelope["type"].replace(".v2", ".v1")  # InterviewRequested v1: no addresses yet
    for field in ("student_email", "student_name", "contact_email"):
        envelope["data"].pop(field, None)
    old = Message(REQUESTED.topic, 0, 0, "i-1", json.dumps(envelope).encode())
    assert translator.decode(old)[1] is not None and translator.decode(REQUESTED)[1] is not None
    translator.handle([old])
    requested = json.loads(published(translator, 2)[-1])
    assert requested["type"] == "careerloop.analytics.InterviewRequested.v1"
    assert (requested["data"]["format"], requested["data"]["duration_minutes"]) == ("video", 30)
