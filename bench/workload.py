"""A synthetic but realistic history for the read side: students, their contacts, outreach, replies,
interviews, thank-yous and notes with action items, as the real services would publish it.

Every event type is validated once against its contract (`EventCatalog.envelope`); the rest are
copies of those templates with fresh ids, stream versions and times, so that generating a million
events takes seconds rather than minutes of marshmallow. About 50 events per student, streams
interleaved across students in time order, each event keyed by its stream id as the relay does.
"""
from __future__ import annotations

import copy
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.bus import EventBus
from shared.contracts.contacts import CONTACTS
from shared.contracts.notes import NOTES
from shared.contracts.scheduling import INTERVIEWS
from shared.events import EventCatalog, Metadata, Recorded, isoformat
from shared.relay import encode

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
CONTACTS_PER_STUDENT = 10
INTERVIEWS_PER_STUDENT = 3
NOTES_PER_STUDENT = 2
ZONES = ("America/New_York", "Europe/London", "Asia/Singapore", "America/Los_Angeles")
ORGANISATIONS = ("Acme Corp", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries", "Wayne Enterprises")

_META = Metadata(actor="bench")
HEADERS = {"content-type": "application/cloudevents+json; charset=utf-8"}  # as the relay sends


def _template(catalog: EventCatalog, name: str, data: dict[str, Any]) -> dict[str, Any]:
    return catalog.envelope(Recorded(name, data), stream_id="template", stream_version=1, owner_id="s", meta=_META)


class Workload:
    """Envelopes for `students` students; `len(workload)` events in all."""

    def __init__(self, students: int, seed: int = 7) -> None:
        self.students = students
        self.seed = seed
        self._templates = self._make_templates()

    @staticmethod
    def _make_templates() -> dict[str, dict[str, Any]]:
        when = isoformat(START)
        return {
            "ContactAdded": _template(CONTACTS, "ContactAdded", {
                "student_id": "s", "name": "Jane Doe", "emails": ["jane@example.com"], "organisation": "Acme Corp",
                "title": "Engineer", "time_zone": "Europe/London", "tags": []}),
            "TouchpointLogged": _template(CONTACTS, "TouchpointLogged", {
                "touchpoint_id": "t", "kind": "outreach", "occurred_at": when, "channel": "email"}),
            "InterviewRequested": _template(INTERVIEWS, "InterviewRequested", {
                "student_id": "s", "contact_id": "c", "contact_name": "Jane Doe", "objectives": ["Career paths"],
                "questions": [], "format": "video", "link": "https://meet.example.com/x", "place": None,
                "duration_minutes": 30, "student_time_zone": "America/New_York", "contact_time_zone": "Europe/London"}),
            "InterviewScheduled": _template(INTERVIEWS, "InterviewScheduled", {
                "start": when, "end": when, "time_zone": "America/New_York", "student_id": "s", "contact_id": "c",
                "student_time_zone": "America/New_York", "contact_time_zone": "Europe/London", "sequence": 0,
                "slot_id": None}),
            "InterviewCompleted": _template(INTERVIEWS, "InterviewCompleted", {
                "student_id": "s", "contact_id": "c", "start": when, "end": when,
                "student_time_zone": "America/New_York"}),
            "NoteRecorded": _template(NOTES, "NoteRecorded", {
                "revision": 1, "text": "Learned a lot about product roles.", "insights": [], "action_items": [],
                "tags": [], "objectives_covered": [], "time_zone": "America/New_York", "student_id": "s",
                "interview_id": None, "contact_id": "c", "visibility": "private"}),
            "ActionItemAdded": _template(NOTES, "ActionItemAdded", {
                "item_id": "i", "student_id": "s", "text": "Read the book she recommended", "due_on": "2026-02-01",
                "time_zone": "America/New_York", "contact_id": "c", "interview_id": None}),
        }

    def __len__(self) -> int:
        per_contact = 2.5  # added, outreach, and a reply for half of them
        per_student = (CONTACTS_PER_STUDENT * per_contact + INTERVIEWS_PER_STUDENT * 4 + NOTES_PER_STUDENT * 2)
        return int(self.students * per_student)

    def _event(self, name: str, stream: str, version: int, owner: str, at: datetime,
               data: dict[str, Any]) -> dict[str, Any]:
        envelope = copy.deepcopy(self._templates[name])
        envelope.update(id=str(uuid.uuid4()), subject=stream, streamversion=version, ownerid=owner, time=isoformat(at))
        envelope["data"].update(data)
        return envelope

    def student_history(self, index: int) -> list[dict[str, Any]]:
        """One student's events, in the order the services would have published them."""
        rng = random.Random(self.seed * 1_000_003 + index)
        student = f"student-{index:07d}"
        zone = ZONES[index % len(ZONES)]
        at = START + timedelta(minutes=index % 600)
        events: list[dict[str, Any]] = []
        contacts = []
        for c in range(CONTACTS_PER_STUDENT):
            contact = f"contact-{index:07d}-{c:02d}"
            name = f"Contact {index}-{c}"
            contacts.append((contact, name))
            version = 1
            events.append(self._event("ContactAdded", contact, version, student, at, {
                "student_id": student, "name": name, "organisation": rng.choice(ORGANISATIONS), "time_zone": zone}))
            kinds = ["outreach"] + (["reply"] if c % 2 == 0 else [])
            for kind in kinds:
                version += 1
                at += timedelta(hours=rng.randint(2, 60))
                events.append(self._event("TouchpointLogged", contact, version, student, at, {
                    "touchpoint_id": str(uuid.uuid4()), "kind": kind, "occurred_at": isoformat(at)}))
        for n in range(INTERVIEWS_PER_STUDENT):
            contact, name = contacts[n * 2]
            interview = f"interview-{index:07d}-{n}"
            start = at + timedelta(days=3 + n)
            end = start + timedelta(minutes=30)
            times = {"student_id": student, "contact_id": contact, "student_time_zone": zone}
            events.append(self._event("InterviewRequested", interview, 1, student, at, {
                **times, "contact_name": name}))
            events.append(self._event("InterviewScheduled", interview, 2, student, at + timedelta(hours=1), {
                **times, "start": isoformat(start), "end": isoformat(end), "time_zone": zone}))
            events.append(self._event("InterviewCompleted", interview, 3, student, end, {
                **times, "start": isoformat(start), "end": isoformat(end)}))
            thanked = end + timedelta(hours=rng.randint(3, 40))
            events.append(self._event("TouchpointLogged", contact, 0, student, thanked, {
                "touchpoint_id": str(uuid.uuid4()), "kind": "thank_you", "occurred_at": isoformat(thanked)}))
        for n in range(NOTES_PER_STUDENT):
            note = f"note-{index:07d}-{n}"
            contact = contacts[n][0]
            events.append(self._event("NoteRecorded", note, 1, student, at, {"student_id": student,
                                                                                "contact_id": contact}))
            events.append(self._event("ActionItemAdded", note, 2, student, at, {
                "item_id": f"{note}-a", "student_id": student, "contact_id": contact,
                "due_on": (at + timedelta(days=14)).date().isoformat(), "time_zone": zone}))
        return self._fix_versions(events)

    @staticmethod
    def _fix_versions(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Stream versions strictly 1, 2, 3… per stream in publication order (the projections check)."""
        seen: dict[str, int] = {}
        for envelope in events:
            seen[envelope["subject"]] = seen.get(envelope["subject"], 0) + 1
            envelope["streamversion"] = seen[envelope["subject"]]
        return events

    def envelopes(self) -> Iterator[dict[str, Any]]:
        """Every student's history, students interleaved in blocks (as a busy term looks on the bus)."""
        block = 50
        for first in range(0, self.students, block):
            histories = [self.student_history(i) for i in range(first, min(first + block, self.students))]
            longest = max(len(h) for h in histories)
            for position in range(longest):
                for history in histories:
                    if position < len(history):
                        yield history[position]


def publish(workload: Workload, bus: EventBus, namespace: str) -> int:
    """Publish the workload to the bus as the relays would (keyed by stream id); the count."""
    topics = {c.aggregate: namespace + c.topic for c in (CONTACTS, INTERVIEWS, NOTES)}
    producer = bus.producer()
    count = 0
    try:
        for envelope in workload.envelopes():
            producer.send(topics[envelope["streamtype"]], envelope["subject"], encode(envelope), HEADERS)
            count += 1
            if count % 20_000 == 0:
                producer.flush()
        producer.flush()
    finally:
        producer.close()
    return count
