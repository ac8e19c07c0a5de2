"""Translation, domain event by domain event (given a domain event and the translator's facts, when it
is translated, then these integration events), and the wire form of what comes out: every event
parses with the CloudEvents SDK and validates against its JSON Schema."""
from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from services.analytics.integration import (
    INDUSTRIES,
    VOCABULARY,
    Source,
    envelope,
    event_id,
    normalise_industry,
    read,
    serialise,
    translate,
)
from services.analytics.pseudonyms import Pseudonymiser
from shared.contracts.contacts import CONTACTS
from shared.contracts.followups import FOLLOWUPS
from shared.contracts.notes import NOTES
from shared.contracts.scheduling import INTERVIEWS
from shared.events import EventCatalog, Metadata, Recorded
from shared.times import parse
from tests.analytics_stream import parse_and_validate, validators

PSEUDONYMS = Pseudonymiser("a-test-key-that-is-long-enough-for-hkdf", "k7")
AT = parse("2026-03-02T09:00:00Z")


def domain(catalog: EventCatalog, name: str, data: dict[str, Any], *, subject: str = "x-1",
           version: int = 1, owner: str = "s-1") -> Source:
    """A domain event as its service publishes it (validated by its contract), read back upcast."""
    env = catalog.envelope(Recorded(name, data), stream_id=subject, stream_version=version, owner_id=owner,
                           meta=Metadata(actor=owner), at=AT)
    return Source(env, catalog.read(env).data)


def published(source: Source, **facts: Any) -> list[dict[str, Any]]:
    """The translated events in their wire form, each parsed by the CloudEvents SDK and validated."""
    source = Source(source.envelope, source.data, **facts)
    out = []
    for emitted in translate(source):
        wire = serialise(envelope(emitted, source_event_id=source.envelope["id"], time=source.time,
                                  student_id=source.student_id, pseudonyms=PSEUDONYMS))
        out.append(parse_and_validate(wire, key=PSEUDONYMS.student(source.student_id), schemas=SCHEMAS))
    return out


SCHEMAS = validators()
STUDENT = PSEUDONYMS.student("s-1")


def only(events: list[dict[str, Any]], name: str) -> dict[str, Any]:
    [event] = events
    assert event["type"] == f"careerloop.analytics.{name}.v1"
    assert event["data"]["student"] == STUDENT and event["data"]["pseudonym_key_id"] == "k7"
    return event["data"]


CONTACT = {"student_id": "s-1", "name": "Ximena Quillfeather", "emails": ["xq@example.org"], "phone": "+1 555 0100",
           "linkedin_url": "https://linkedin.com/in/xq", "organisation": "  Acme   Corp ", "industry": "Software",
           "note": "met at the fair"}


def test_a_contact_added_by_hand_keeps_organisation_and_industry_as_categories_and_nothing_personal() -> None:
    data = only(published(domain(CONTACTS, "ContactAdded", CONTACT, subject="c-1")), "ContactAdded")
    assert data == {"student": STUDENT, "pseudonym_key_id": "k7", "occurred_at": "2026-03-02T09:00:00.000000Z",
                    "contact": PSEUDONYMS.contact("c-1", "s-1"), "industry": "technology", "organisation": "Acme Corp",
                    "source": "manual"}


def test_an_imported_contact_says_so_and_an_unknown_industry_is_other() -> None:
    source = domain(CONTACTS, "ContactAdded", {**CONTACT, "industry": "Underwater basket weaving", "import_id": "i-1"})
    data = only(published(source), "ContactAdded")
    assert (data["source"], data["industry"]) == ("import", "other")
    no_industry = only(published(domain(CONTACTS, "ContactAdded", {"student_id": "s-1", "name": "A"})), "ContactAdded")
    assert (no_industry["industry"], no_industry["organisation"]) == (None, None)


@pytest.mark.parametrize("typed, category", [("Investment Banking", "finance"), ("  health care ", "healthcare"),
                                             ("Oil & Gas", "energy_environment"), ("NGO", "nonprofit"), ("", None)])
def test_industries_are_normalised_to_the_documented_vocabulary(typed: str, category: str | None) -> None:
    assert normalise_industry(typed) == category
    assert category is None or category in INDUSTRIES


@pytest.mark.parametrize("kind, name", [("outreach", "OutreachSent"), ("reply", "ReplyReceived"),
                                        ("check_in", "CheckInMade")])
def test_touchpoints_become_outreach_reply_and_check_in_at_the_time_they_happened(kind: str, name: str) -> None:
    source = domain(CONTACTS, "TouchpointLogged", {"touchpoint_id": "t-1", "kind": kind, "text": "Dear Ximena",
                                                   "url": "https://mail.example/x",
                                                   "occurred_at": "2026-03-01T08:00:00-05:00"},
                    subject="c-1", version=2)
    data = only(published(source), name)
    assert data == {"student": STUDENT, "pseudonym_key_id": "k7", "occurred_at": "2026-03-01T13:00:00.000000Z",
                    "contact": PSEUDONYMS.contact("c-1", "s-1")}


def test_other_touchpoints_are_not_in_the_published_language() -> None:
    for kind in ("conversation", "update", "article", "intro"):
        source = domain(CONTACTS, "TouchpointLogged", {"touchpoint_id": "t", "kind": kind,
                                                       "occurred_at": "2026-03-01T08:00:00Z"})
        assert published(source) == []


def test_a_thank_you_counts_the_hours_since_the_latest_held_interview_with_that_contact() -> None:
    source = domain(CONTACTS, "TouchpointLogged", {"touchpoint_id": "t-1", "kind": "thank_you",
                                                   "occurred_at": "2026-03-03T12:30:00Z"}, subject="c-1", version=3)
    data = only(published(source, pair={"interview_end": "2026-03-02T15:30:00.000000Z"}), "ThankYouSent")
    assert data["hours_after_interview"] == 21.0
    assert only(published(source), "ThankYouSent")["hours_after_interview"] is None  # no interview held


REQUEST = {"student_id": "s-1", "contact_id": "c-1", "contact_name": "Ximena Quillfeather",
           "objectives": ["Learn how Zephyrine teams plan"],
           "questions": [{"text": "What surprised you?", "category": "advice"}],
           "format": "video", "link": "https://meet.example/abc", "place": None, "duration_minutes": 30,
           "student_time_zone": "America/New_York", "contact_time_zone": "Europe/London",
           "student_email": "student@uni.example", "student_name": "Sam Student", "contact_email": "xq@example.org"}
TIMES = {"start": "2026-03-05T15:00:00Z", "end": "2026-03-05T15:20:00Z", "time_zone": "America/New_York",
         "student_id": "s-1", "contact_id": "c-1", "student_time_zone": "America/New_York",
         "contact_time_zone": "Europe/London", "sequence": 0}


def test_an_interview_request_keeps_format_and_duration_only() -> None:
    data = only(published(domain(INTERVIEWS, "InterviewRequested", REQUEST, subject="i-1")), "InterviewRequested")
    assert data == {"student": STUDENT, "pseudonym_key_id": "k7", "occurred_at": "2026-03-02T09:00:00.000000Z",
                    "contact": PSEUDONYMS.contact("c-1", "s-1"), "interview": PSEUDONYMS.interview("i-1", "s-1"),
                    "format": "video", "duration_minutes": 30}


def test_a_scheduled_interview_has_its_agreed_length_and_the_lead_time_from_agreement_to_start() -> None:
    source = domain(INTERVIEWS, "InterviewScheduled", {**TIMES, "slot_id": None}, subject="i-1", version=2)
    data = only(published(source, stream={"format": "phone", "contact_id": "c-1"}), "InterviewScheduled")
    assert (data["format"], data["duration_minutes"], data["lead_time_hours"]) == ("phone", 20, 78.0)
    assert data["interview"] == PSEUDONYMS.interview("i-1", "s-1")


def test_a_rescheduled_interview_has_its_new_lead_time() -> None:
    source = domain(INTERVIEWS, "InterviewRescheduled", {**TIMES, "start": "2026-03-02T21:00:00Z",
                                                         "end": "2026-03-02T21:30:00Z",
                                                         "previous_start": TIMES["start"],
                                                         "previous_end": TIMES["end"]},
                    subject="i-1", version=3)
    assert only(published(source), "InterviewRescheduled")["lead_time_hours"] == 12.0


@pytest.mark.parametrize("by", ["student", "contact"])
def test_a_cancellation_says_by_whom_and_never_why(by: str) -> None:
    source = domain(INTERVIEWS, "InterviewCancelled", {"by": by, "reason": "Ximena moved to Zephyrine",
                                                       "student_id": "s-1", "contact_id": "c-1", "sequence": 1},
                    subject="i-1", version=3)
    data = only(published(source), "InterviewCancelled")
    assert data["cancelled_by"] == by and "reason" not in data


def test_a_completed_interview_is_held_at_its_end_and_a_missed_one_names_who_missed_it() -> None:
    held = domain(INTERVIEWS, "InterviewCompleted", {"student_id": "s-1", "contact_id": "c-1", "start": TIMES["start"],
                                                     "end": TIMES["end"], "student_time_zone": "UTC"},
                  subject="i-1", version=3)
    assert only(published(held), "InterviewHeld")["occurred_at"] == "2026-03-05T15:20:00.000000Z"
    missed = domain(INTERVIEWS, "InterviewMissed", {"who": "contact", "student_id": "s-1", "contact_id": "c-1",
                                                    "start": TIMES["start"]}, subject="i-1", version=3)
    data = only(published(missed), "InterviewMissed")
    assert (data["missed_by"], data["occurred_at"]) == ("contact", "2026-03-05T15:00:00.000000Z")


NOTE = {"student_id": "s-1", "interview_id": "i-1", "contact_id": None, "visibility": "private", "revision": 1,
        "text": "Ximena said the Zephyrine merger is secret", "tags": ["fintech"], "objectives_covered": ["Learn"],
        "insights": [{"category": "advice", "text": "Network early"}, {"category": "career_paths", "text": "Rotate"},
                     {"category": "advice", "text": "Write weekly"}],
        "action_items": [{"item_id": "a-1", "text": "Email Quillfeather's team", "due_on": None, "completed": False}]}


def test_a_note_publishes_its_insight_categories_and_action_item_count_never_its_text() -> None:
    data = only(published(domain(NOTES, "NoteRecorded", NOTE, subject="n-1")), "NoteRecorded")
    assert data == {"student": STUDENT, "pseudonym_key_id": "k7", "occurred_at": "2026-03-02T09:00:00.000000Z",
                    "contact": None, "interview": PSEUDONYMS.interview("i-1", "s-1"),
                    "insight_categories": ["advice", "career_paths"], "action_item_count": 1}


def test_a_completed_action_item_names_the_contact_of_its_note() -> None:
    source = domain(NOTES, "ActionItemCompleted", {"item_id": "a-1", "student_id": "s-1"}, subject="n-1", version=3)
    assert only(published(source, stream={"contact_id": "c-1"}), "ActionItemCompleted")["contact"] == \
        PSEUDONYMS.contact("c-1", "s-1")
    assert only(published(source), "ActionItemCompleted")["contact"] is None


def test_follow_ups_falling_due_dismissed_and_completed() -> None:
    due = domain(FOLLOWUPS, "FollowUpBecameDue", {
        "student_id": "s-1", "rule": "thank_you", "reason": "Thank Ximena Quillfeather",
        "due_at": "2026-03-03T15:30:00Z",
        "overdue_at": None, "contact_id": "c-1", "link": "/interviews/i-1", "source": {"id": "i-1"}},
        subject="thank_you:i-1")
    assert only(published(due), "FollowUpBecameDue") == {
        "student": STUDENT, "pseudonym_key_id": "k7", "occurred_at": "2026-03-02T09:00:00.000000Z",
        "contact": PSEUDONYMS.contact("c-1", "s-1"), "rule": "thank_you"}
    dismissed = domain(FOLLOWUPS, "FollowUpDismissed", {"student_id": "s-1", "reason": "Ximena left"},
                       subject="stay_in_touch:c-1:2026-01-01", version=2)
    data = only(published(dismissed, stream={"contact_id": "c-1"}), "FollowUpDone")
    assert (data["rule"], data["outcome"]) == ("stay_in_touch", "dismissed")
    assert data["contact"] == PSEUDONYMS.contact("c-1", "s-1")
    completed = domain(FOLLOWUPS, "FollowUpCompleted", {
        "student_id": "s-1", "rule": "thank_you", "due_at": "2026-03-03T15:30:00Z",
        "completed_at": "2026-03-04T08:15:00Z", "closed_by": "thank_you", "contact_id": "c-1"},
        subject="thank_you:i-1", version=2)
    assert only(published(completed), "FollowUpDone") == {
        "student": STUDENT, "pseudonym_key_id": "k7", "occurred_at": "2026-03-04T08:15:00.000000Z",
        "contact": PSEUDONYMS.contact("c-1", "s-1"), "rule": "thank_you", "outcome": "done"}


def test_events_outside_the_published_language_translate_to_nothing() -> None:
    assert published(domain(CONTACTS, "ContactTagged", {"tags": ["x"]}, version=2)) == []
    assert published(domain(NOTES, "NoteDeleted", {"student_id": "s-1"}, version=2)) == []


def test_ids_derive_from_the_source_event_and_type_and_the_bytes_are_canonical() -> None:
    source = domain(INTERVIEWS, "InterviewRequested", REQUEST, subject="i-1")
    [emitted] = translate(source)
    make = dict(source_event_id=source.envelope["id"], time=source.time, student_id="s-1", pseudonyms=PSEUDONYMS)
    first, again = serialise(envelope(emitted, **make)), serialise(envelope(emitted, **make))
    assert first == again == json.dumps(json.loads(first), sort_keys=True, separators=(",", ":")).encode()
    parsed = read(first)
    token = PSEUDONYMS.event_token(source.envelope["id"], "s-1")
    assert parsed is not None and parsed.id == event_id(token, "InterviewRequested")
    assert uuid.UUID(parsed.id).version == 5
    assert parsed.id != event_id(token, "StudentActivated")
    assert list(parsed.data) == sorted(parsed.data)


def test_every_type_in_the_vocabulary_has_a_valid_schema_named_by_its_dataschema() -> None:
    assert {t.dataschema for t in VOCABULARY.values()} <= set(SCHEMAS)
    assert all(t.schema_path.exists() and t.summary for t in VOCABULARY.values())


def test_the_readme_documents_every_published_type_and_the_topic() -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    section = readme[readme.index("## The integration stream (analytics)"):]
    assert "careerloop.analytics.journey.v1" in section
    for name in VOCABULARY:
        assert f"`{name}`" in section, name
