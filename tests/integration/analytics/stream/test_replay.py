"""The translator on every bus and read store: a restart (a crash after publishing, before the offsets
were committed) republishes byte-identical events under the same ids; a rebuild from the start of the
topics gives the same ids and bytes; each student's events share one partition, in their order; and
the translator never creates the integration topic itself."""
from __future__ import annotations

import json
import threading
import uuid
from collections import defaultdict
from typing import Any

import pytest

from services.analytics.integration import TOPIC
from services.analytics.translator import Translator
from shared.bus import Message
from shared.config import Settings
from shared.consumer import ConsumerRunner
from shared.contracts.contacts import CONTACTS
from shared.contracts.notes import NOTES
from shared.contracts.scheduling import INTERVIEWS
from shared.errors import UnknownTopic
from shared.events import EventCatalog, Metadata, Recorded
from shared.runtime import ensure_all_topics
from tests.analytics_stream import parse_and_validate
from tests.integration.analytics.stream.conftest import PSEUDONYMS
from tests.support import poll_at_least


class Domain:
    """Domain events published straight onto the domain topics, as the relays would."""

    def __init__(self, bus: Any, namespace: str) -> None:
        self.bus, self.namespace = bus, namespace
        self.versions: dict[str, int] = defaultdict(int)
        self.producer = bus.producer()

    def publish(self, catalog: EventCatalog, name: str, data: dict[str, Any], *, stream: str, student: str,
                at: str = "2026-03-01T10:00:00Z") -> None:
        self.versions[stream] += 1
        from shared.times import parse
        envelope = catalog.envelope(Recorded(name, data), stream_id=stream, stream_version=self.versions[stream],
                                    owner_id=student, meta=Metadata(actor=student), at=parse(at))
        self.producer.send(self.namespace + catalog.topic, stream, json.dumps(envelope).encode())
        self.producer.flush()


def two_students(domain: Domain) -> None:
    for student in ("s-ada", "s-bo"):
        contact, interview, note = f"c-{student}", f"i-{student}", f"n-{student}"
        domain.publish(CONTACTS, "ContactAdded", {"student_id": student, "name": "N", "industry": "Law",
                                                  "organisation": "Hooli"}, stream=contact, student=student)
        domain.publish(CONTACTS, "TouchpointLogged", {"touchpoint_id": "t1", "kind": "outreach",
                                                      "occurred_at": "2026-03-01T11:00:00Z"},
                       stream=contact, student=student)
        domain.publish(CONTACTS, "TouchpointLogged", {"touchpoint_id": "t2", "kind": "reply",
                                                      "occurred_at": "2026-03-02T11:00:00Z"},
                       stream=contact, student=student)
        times = {"student_id": student, "contact_id": contact, "student_time_zone": "UTC", "contact_time_zone": "UTC"}
        domain.publish(INTERVIEWS, "InterviewRequested", {
            **times, "objectives": ["o"], "questions": [], "format": "phone", "duration_minutes": 30},
            stream=interview, student=student, at="2026-03-02T12:00:00Z")
        slot = {**times, "start": "2026-03-05T10:00:00Z", "end": "2026-03-05T10:30:00Z", "time_zone": "UTC",
                "sequence": 0}
        domain.publish(INTERVIEWS, "InterviewScheduled", {**slot, "slot_id": None}, stream=interview, student=student,
                       at="2026-03-03T10:00:00Z")
        domain.publish(INTERVIEWS, "InterviewRescheduled", {
            **slot, "start": "2026-03-06T10:00:00Z", "end": "2026-03-06T10:30:00Z", "sequence": 1,
            "previous_start": slot["start"], "previous_end": slot["end"]}, stream=interview, student=student,
            at="2026-03-04T10:00:00Z")
        domain.publish(INTERVIEWS, "InterviewCompleted", {
            "student_id": student, "contact_id": contact, "start": "2026-03-06T10:00:00Z",
            "end": "2026-03-06T10:30:00Z",
            "student_time_zone": "UTC"}, stream=interview, student=student, at="2026-03-06T11:00:00Z")
        domain.publish(NOTES, "NoteRecorded", {
            "student_id": student, "interview_id": interview, "contact_id": contact, "visibility": "private",
            "revision": 1, "text": "t", "insights": [{"category": "advice", "text": "x"}], "tags": [],
            "objectives_covered": [], "action_items": []}, stream=note, student=student, at="2026-03-06T12:00:00Z")


INTERVIEW_ORDER = ["InterviewRequested", "InterviewScheduled", "InterviewRescheduled", "InterviewHeld"]
CONTACT_ORDER = ["ContactAdded", "OutreachSent", "ReplyReceived"]


def read_all(bus: Any, topic: str, count: int) -> list[Message]:
    consumer = bus.consumer(f"test-reader-{uuid.uuid4().hex[:8]}", [topic])
    try:
        messages = poll_at_least(consumer, count)
    finally:
        consumer.close()
    return sorted(messages, key=lambda m: (m.partition, m.offset))


@pytest.fixture
def namespace(bus: Any) -> str:
    namespace = f"t{uuid.uuid4().hex[:10]}."
    ensure_all_topics(bus, Settings({"BUS_NAMESPACE": namespace, "TOPIC_PARTITIONS": "3"}))
    return namespace


def test_a_restart_republishes_byte_identical_events_and_a_rebuild_gives_the_same_ones(
        bus: Any, read_store: Any, namespace: str) -> None:
    two_students(Domain(bus, namespace))
    translator = Translator(read_store, bus=bus, pseudonyms=PSEUDONYMS, namespace=namespace)
    runner = ConsumerRunner(bus, translator, read_store)
    # a crash after the bus acknowledged the first batch but before its offsets were committed
    consumer = bus.consumer(translator.group_id, translator.topics)
    first_batch = poll_at_least(consumer, 1)
    translator.handle(first_batch)
    consumer.close()
    published_before_crash = len(read_all(bus, translator.topic, 1))
    # the restarted translator gets the batch again, and everything after it
    runner.run(threading.Event(), until_idle=True)
    translator.close()
    expected = 2 * (1 + len(CONTACT_ORDER) + len(INTERVIEW_ORDER) + 1)  # activation + contact + interview + note
    messages = read_all(bus, translator.topic, expected + published_before_crash)
    assert len(messages) == expected + published_before_crash
    by_id: dict[str, set[bytes]] = defaultdict(set)
    for message in messages:
        by_id[json.loads(message.value)["id"]].add(message.value)
    assert len(by_id) == expected  # the redelivered batch came out again under the same ids ...
    assert all(len(values) == 1 for values in by_id.values())  # ... byte for byte

    events = [(m, parse_and_validate(m.value, key=m.key)) for m in messages]
    for student in ("s-ada", "s-bo"):
        pseudonym = PSEUDONYMS.student(student)
        mine = [(m, e) for m, e in events if m.key == pseudonym]
        assert {m.partition for m, _ in mine} == {mine[0][0].partition}  # one partition per student
        names = [e["type"].split(".")[2] for _, e in dict((e["id"], (m, e)) for m, e in mine).values()]
        assert names[0] == "StudentActivated"
        assert [n for n in names if n in CONTACT_ORDER] == CONTACT_ORDER
        assert [n for n in names if n in INTERVIEW_ORDER] == INTERVIEW_ORDER

    # a rebuild (a new translator version: its own group and a fresh read store) republishes the same events
    class Rebuilt(Translator):
        version = 2

    for collection in ("analytics_translator_streams", "analytics_translator_pairs", "analytics_translator_students",
                       "analytics_translator_published"):
        read_store.drop(collection)
    rebuilt = Rebuilt(read_store, bus=bus, pseudonyms=PSEUDONYMS, namespace=namespace)
    ConsumerRunner(bus, rebuilt, read_store).run(threading.Event(), until_idle=True)
    rebuilt.close()
    again = read_all(bus, translator.topic, len(messages) + expected)
    assert len(again) == len(messages) + expected
    for message in again:
        by_id[json.loads(message.value)["id"]].add(message.value)
    assert len(by_id) == expected and all(len(values) == 1 for values in by_id.values())


def test_the_integration_topic_is_created_with_the_others_and_never_by_the_translator(
        bus: Any, read_store: Any) -> None:
    namespace = f"t{uuid.uuid4().hex[:10]}."
    domain_only = {namespace + CONTACTS.topic: 1}
    bus.ensure_topics(domain_only)
    Domain(bus, namespace).publish(CONTACTS, "ContactAdded", {"student_id": "s", "name": "N"}, stream="c", student="s")
    translator = Translator(read_store, bus=bus, pseudonyms=PSEUDONYMS, namespace=namespace)
    consumer = bus.consumer(translator.group_id, [namespace + CONTACTS.topic])
    try:
        with pytest.raises(UnknownTopic):  # the producer may not create it
            translator.handle(poll_at_least(consumer, 1))
    finally:
        consumer.close()
        translator.close()
    ensure_all_topics(bus, Settings({"BUS_NAMESPACE": namespace, "TOPIC_PARTITIONS": "2"}))
    assert len(bus.end_offsets(namespace + TOPIC)) == 2  # created with the others, with their partition count
