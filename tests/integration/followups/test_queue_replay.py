"""Property: duplicates, redeliveries and any per-key interleaving of the contacts, scheduling, notes,
advising and followups streams give the same follow-up queues, timelines and advisees as delivering
every event once, stream after stream."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.followups.projections import FollowUpViews, advisees, items, sources, timeline, versions
from shared.bus import Message
from shared.contracts.contacts import CONTACTS
from shared.contracts.followups import FOLLOWUPS
from shared.contracts.notes import ADVISING, NOTES
from shared.contracts.scheduling import INTERVIEWS
from shared.events import EventCatalog, Metadata, Recorded, isoformat
from tests.backends import READ_STORE_PARAMS
from tests.integration.replay import at_least_once, project

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
STUDENT = "student-1"
TOUCH_KINDS = ("outreach", "reply", "conversation", "thank_you", "check_in", "article")
ZONES = ("America/New_York", "Europe/Berlin", "Asia/Tokyo")


def at(hours: float) -> str:
    return isoformat(T0 + timedelta(hours=hours))


def envelopes(catalog: EventCatalog, stream_id: str, events: list[tuple[str, dict[str, Any]]],
              clock: int) -> list[Message]:
    meta = Metadata(actor=STUDENT, correlation_id="c")
    return [Message(catalog.topic, 0, n, stream_id, json.dumps(catalog.envelope(
        Recorded(name, data), stream_id=stream_id, stream_version=n + 1, owner_id=STUDENT, meta=meta,
        at=T0 + timedelta(minutes=clock * 100 + n))).encode()) for n, (name, data) in enumerate(events)]


@st.composite
def contact_stream(draw: st.DrawFn, contact_id: str, organisation: str, clock: int) -> list[Message]:
    events: list[tuple[str, dict[str, Any]]] = [("ContactAdded", {
        "student_id": STUDENT, "name": f"Name {contact_id}", "organisation": organisation,
        "time_zone": draw(st.sampled_from(ZONES)), "tags": []})]
    for i in range(draw(st.integers(0, 6))):
        action = draw(st.sampled_from(["touch", "touch", "touch", "tag", "cadence", "archive", "restore"]))
        if action == "touch":
            events.append(
                (
                    "TouchpointLogged",
                    {
                        "touchpoint_id": f"{contact_id}-t{i}",
                        "kind": draw(st.sampled_from(TOUCH_KINDS)),
                        "occurred_at": at(draw(st.integers(-200, 200))),
                    },
                )
            )
        elif action == "tag":
            events.append(("ContactTagged", {"tags": ["checkin-4w"]}))
        elif action == "cadence":
            events.append(("CheckInCadenceChanged", {"every_weeks": draw(st.sampled_from([None, 2, 6]))}))
        elif action == "archive":
            events.append(("ContactArchived", {"reason": None}))
        else:
            events.append(("ContactRestored", {}))
    return envelopes(CONTACTS, contact_id, events, clock)


@st.composite
def interview_stream(draw: st.DrawFn, interview_id: str, contact_id: str, clock: int) -> list[Message]:
    zone = draw(st.sampled_from(ZONES))
    start = draw(st.integers(-100, 100))
    who = {"student_id": STUDENT, "contact_id": contact_id}
    times = {**who, "start": at(start), "end": at(start + 0.5), "student_time_zone": zone}
    events: list[tuple[str, dict[str, Any]]] = [("InterviewRequested", {
        **who, "contact_name": "Jane", "objectives": ["x"], "questions": [], "format": "phone", "link": None,
        "place": None, "duration_minutes": 30, "student_time_zone": zone, "contact_time_zone": zone})]
    steps = draw(st.integers(0, 2))
    if steps >= 1:
        events.append(("InterviewScheduled", {**times, "time_zone": zone, "contact_time_zone": zone, "sequence": 0,
                                              "slot_id": None}))
    if steps >= 2:
        outcome = draw(st.sampled_from(["completed", "cancelled", "missed"]))
        events.append({"completed": ("InterviewCompleted", times),
                       "cancelled": ("InterviewCancelled", {**who, "by": "contact", "reason": None, "sequence": 1}),
                       "missed": ("InterviewMissed", {**who, "who": "contact", "start": times["start"]})}[outcome])
    return envelopes(INTERVIEWS, interview_id, events, clock)


@st.composite
def note_stream(draw: st.DrawFn, note_id: str, contact_id: str, clock: int) -> list[Message]:
    zone = draw(st.sampled_from(ZONES))
    content = {"revision": 1, "text": "t", "insights": [], "action_items": [], "tags": [], "objectives_covered": [],
               "time_zone": zone}
    events: list[tuple[str, dict[str, Any]]] = [("NoteRecorded", {
        **content, "student_id": STUDENT, "interview_id": None, "contact_id": contact_id, "visibility": "private"})]
    for i in range(draw(st.integers(0, 3))):
        item = {"item_id": f"{note_id}-a{i}", "student_id": STUDENT}
        due = {
            "text": f"do {i}",
            "due_on": draw(st.sampled_from([None, "2026-03-04", "2026-03-09"])),
            "time_zone": zone,
        }
        events.append(("ActionItemAdded", {**item, **due, "contact_id": contact_id, "interview_id": None}))
        follow = draw(st.sampled_from(["none", "complete", "reopen", "change", "remove"]))
        if follow in ("complete", "reopen"):
            events.append(("ActionItemCompleted", item))
        if follow == "reopen":
            events.append(("ActionItemReopened", {**item, **due}))
        if follow == "change":
            events.append(("ActionItemChanged", {**item, **due, "due_on": "2026-03-20"}))
        if follow == "remove":
            events.append(("ActionItemRemoved", {**item, "reason": "revised"}))
    if draw(st.booleans()):
        events.append(
            (
                "NoteVisibilityChanged",
                {"student_id": STUDENT, "visibility": draw(st.sampled_from(["shared", "private"]))},
            )
        )
    if draw(st.booleans()):
        events.append(("NoteRevised", {**content, "revision": 2}))
    if draw(st.integers(0, 4)) == 0:
        events.append(("NoteDeleted", {"student_id": STUDENT}))
    return envelopes(NOTES, note_id, events, clock)


@st.composite
def decision_stream(draw: st.DrawFn, item_id: str, clock: int) -> list[Message]:
    events: list[tuple[str, dict[str, Any]]] = []
    for _ in range(draw(st.integers(0, 2))):
        events.append(("FollowUpSnoozed", {"student_id": STUDENT, "until": at(draw(st.integers(0, 300)))}))
    for due in draw(st.lists(st.sampled_from([24, 29.5, 100]), max_size=2, unique=True)):
        # announced due times: some are the item's current due time, some are not
        events.append(("FollowUpBecameDue", {"student_id": STUDENT, "rule": item_id.split(":")[0], "reason": "r",
                                             "due_at": at(due), "overdue_at": None, "contact_id": None, "link": "/x",
                                             "source": {}}))
    if draw(st.booleans()):
        events.append(("FollowUpDismissed", {"student_id": STUDENT, "reason": None}))
    return envelopes(FOLLOWUPS, item_id, events, clock)


@st.composite
def advising_stream(draw: st.DrawFn, clock: int) -> list[Message]:
    events: list[tuple[str, dict[str, Any]]] = []
    current: set[str] = set()
    for advisor in draw(st.lists(st.sampled_from(["a1", "a2"]), max_size=4)):  # each toggles assigned/unassigned
        events.append(("AdvisorUnassigned" if advisor in current else "AdvisorAssigned",
                       {"student_id": STUDENT, "advisor_id": advisor}))
        current ^= {advisor}
    return envelopes(ADVISING, f"advising-{STUDENT}", events, clock)


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[list[Message], list[Message]]:
    streams = [
        draw(contact_stream("c1", "Acme", 1)), draw(contact_stream("c2", "acme", 2)),
        draw(contact_stream("c3", "Beta", 3)),
        draw(interview_stream("i1", "c1", 4)), draw(interview_stream("i2", "c3", 5)),
        draw(note_stream("n1", "c1", 6)),
        draw(decision_stream("thank_you:i1", 7)), draw(decision_stream("action_item:n1-a0", 8)),
        draw(decision_stream("outreach_follow_up:c1-t0", 9)), draw(advising_stream(10)),
    ]
    streams = [s for s in streams if s]
    in_order = [m for s in streams for m in s]
    return in_order, at_least_once(draw, streams)


def build(backend: str, messages: list[Message], batch: int) -> dict[str, list[dict[str, Any]]]:
    return project(backend, FollowUpViews, messages, batch,
                   {"items": items, "timeline": timeline, "sources": sources, "versions": versions,
                    "advisees": advisees})


@pytest.mark.parametrize("backend", READ_STORE_PARAMS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.large_base_example, HealthCheck.too_slow])
@given(case=deliveries(), batch=st.integers(1, 7))
def test_redelivery_and_interleaving_give_the_same_queues_and_timelines(backend: str, case: tuple, batch: int) -> None:
    in_order, mixed = case
    assert build(backend, mixed, batch) == build(backend, in_order, 1000)


def test_the_generated_histories_reach_every_rule() -> None:
    """A guard on the property above: a typical history yields items of every rule."""
    touch = [("TouchpointLogged", {"touchpoint_id": f"c1-t{i}", "kind": k, "occurred_at": at(i)})
             for i, k in enumerate(["outreach", "conversation"])]
    messages = envelopes(
        CONTACTS,
        "c1",
        [("ContactAdded", {"student_id": STUDENT, "name": "Jane", "organisation": "Acme", "tags": []}), *touch],
        1,
    )
    messages += envelopes(
        CONTACTS,
        "c2",
        [
            ("ContactAdded", {"student_id": STUDENT, "name": "John", "organisation": "Beta", "tags": []}),
            ("TouchpointLogged", {"touchpoint_id": "c2-t0", "kind": "outreach", "occurred_at": at(3)}),
        ],
        2,
    )
    who = {"student_id": STUDENT, "contact_id": "c1"}
    messages += envelopes(INTERVIEWS, "i1", [("InterviewCompleted", {**who, "start": at(5), "end": at(5.5),
                                                                    "student_time_zone": "Europe/Berlin"})], 3)
    messages += envelopes(NOTES, "n1", [
        ("NoteRecorded", {"revision": 1, "text": "t", "insights": [], "action_items": [], "tags": [],
                          "objectives_covered": [], "time_zone": None, "student_id": STUDENT, "interview_id": None,
                          "contact_id": "c1", "visibility": "private"}),
        ("ActionItemAdded", {"item_id": "a1", "student_id": STUDENT, "text": "x", "due_on": None, "time_zone": None,
                             "contact_id": "c1", "interview_id": None})], 4)
    rules = {i["rule"] for i in build("sqlite", messages, 1000)["items"]}
    assert rules == {"thank_you", "outreach_next_contact", "outreach_follow_up", "stay_in_touch", "action_item"}


def test_a_live_batch_reads_its_few_students_facts_by_equality(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    # FerretDB filters an equality in PostgreSQL and reads the whole collection for a `$in`
    from shared.readstore import open_read_store
    from shared.readstore.sqlite import SQLiteCollection

    asked: list[tuple[str, dict[str, Any]]] = []
    find = SQLiteCollection.find
    monkeypatch.setattr(SQLiteCollection, "find", lambda self, filter, *a, **k: (
        asked.append((self.name, dict(filter))), find(self, filter, *a, **k))[1])
    store = open_read_store(f"sqlite:///{tmp_path}/read.db")
    try:
        views = FollowUpViews(store)
        views.handle(envelopes(CONTACTS, "contact-1", [
            ("ContactAdded", {"student_id": STUDENT, "name": "Ada", "organisation": "Acme", "tags": []}),
            ("TouchpointLogged", {"touchpoint_id": "t-1", "kind": "outreach", "occurred_at": at(1)})], 0))
        derived = [f for name, f in asked if name in ("followup_sources", "followup_items")]
        assert derived and all(f == {"student_id": STUDENT} for f in derived)
        assert {i["rule"] for i in items(store).find({"student_id": STUDENT}).items} == {
            "outreach_follow_up", "outreach_next_contact"}
    finally:
        store.close()
