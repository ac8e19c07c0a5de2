"""The Interview aggregate and local-time rules as given events / when command / then events."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.scheduling.domain import Interview, SlotChoice, StudentSchedule, TimeError, local_time, to_utc
from shared.contracts.scheduling import INTERVIEWS
from shared.errors import RuleViolated
from shared.events import Metadata, Recorded

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def requested(**overrides: object) -> Recorded:
    return Recorded("InterviewRequested", {
        "student_id": "s-1", "contact_id": "c-1", "contact_name": "Jane", "objectives": ["learn about UX"],
        "questions": [], "format": "video", "link": "https://meet.example/x", "place": None, "duration_minutes": 30,
        "student_time_zone": "America/New_York", "contact_time_zone": "Europe/London", **overrides})


def scheduled(start: str = "2026-03-09T14:00:00.000000Z", end: str = "2026-03-09T14:30:00.000000Z") -> Recorded:
    return Recorded(
        "InterviewScheduled",
        {
            "slot_id": None,
            "start": start,
            "end": end,
            "time_zone": "America/New_York",
            "student_id": "s-1",
            "contact_id": "c-1",
            "student_time_zone": "America/New_York",
            "contact_time_zone": "Europe/London",
            "sequence": 0,
        },
    )


def given(*events: Recorded) -> Interview:
    return Interview.from_history("i-1", events)


def at(local: str, zone: str) -> SlotChoice:
    return SlotChoice(to_utc(datetime.fromisoformat(local), zone), zone)


# -- local time across daylight saving -------------------------------------------------------
@pytest.mark.parametrize(("local", "zone", "utc"), [
    ("2026-03-06T10:00:00", "America/New_York", "2026-03-06T15:00:00+00:00"),  # EST, before the change
    ("2026-03-09T10:00:00", "America/New_York", "2026-03-09T14:00:00+00:00"),  # EDT, after 8 March
    ("2026-10-23T10:00:00", "Europe/London", "2026-10-23T09:00:00+00:00"),     # BST, before 25 October
    ("2026-10-26T10:00:00", "Europe/London", "2026-10-26T10:00:00+00:00"),     # GMT, after
    ("2026-10-25T01:30:00", "Europe/London", "2026-10-25T00:30:00+00:00"),     # twice that night: the first
])
def test_local_times_are_stored_as_the_right_instant_across_daylight_saving(local: str, zone: str, utc: str) -> None:
    assert to_utc(datetime.fromisoformat(local), zone).isoformat() == utc


def test_a_local_time_the_clocks_jump_over_does_not_exist() -> None:
    with pytest.raises(TimeError, match="does not exist in America/New_York"):
        to_utc(datetime(2026, 3, 8, 2, 30), "America/New_York")


def test_the_same_instant_shows_as_each_partys_local_time() -> None:
    assert local_time("2026-03-09T14:00:00.000000Z", "America/New_York") == "2026-03-09T10:00:00-04:00"
    assert local_time("2026-03-09T14:00:00.000000Z", "Europe/London") == "2026-03-09T14:00:00+00:00"


# -- lifecycle ---------------------------------------------------------------------------------
def test_requesting_adds_the_chosen_starter_questions() -> None:
    interview = Interview.request_with(
        "i-1",
        "s-1",
        "c-1",
        objectives=["x"],
        questions=[{"text": "Mine?", "category": "other"}],
        starter_categories=["advice"],
        format="phone",
        student_time_zone="Europe/London",
    )
    [event] = interview.pending
    assert event.name == "InterviewRequested"
    assert event.data["questions"][0] == {"text": "Mine?", "category": "other"}
    assert {q["category"] for q in event.data["questions"][1:]} == {"advice"}
    assert event.data["contact_time_zone"] == "Europe/London" and event.data["duration_minutes"] == 30


def test_a_slot_in_the_past_is_refused() -> None:
    with pytest.raises(RuleViolated, match="past"):
        given(requested()).propose([("a", at("2026-02-01T10:00:00", "America/New_York"))], NOW)


def test_scheduling_a_proposed_slot_records_both_zones_and_the_parties() -> None:
    interview = given(requested())
    interview.propose([("a", at("2026-03-09T10:00:00", "America/New_York"))], NOW)
    interview.schedule(None, "a", NOW)
    event = interview.pending[-1]
    assert event.name == "InterviewScheduled"
    assert (event.data["start"], event.data["end"]) == ("2026-03-09T14:00:00.000000Z", "2026-03-09T14:30:00.000000Z")
    assert (event.data["student_time_zone"], event.data["contact_time_zone"]) == ("America/New_York", "Europe/London")
    assert (event.data["student_id"], event.data["contact_id"], event.data["sequence"]) == ("s-1", "c-1", 0)


def test_rescheduling_keeps_the_old_time_and_bumps_the_sequence() -> None:
    interview = given(requested(), scheduled())
    interview.reschedule(at("2026-03-10T10:00:00", "America/New_York"), NOW)
    event = interview.pending[-1]
    assert event.name == "InterviewRescheduled"
    assert event.data["previous_start"] == "2026-03-09T14:00:00.000000Z" and event.data["sequence"] == 1
    assert interview.history == [{"start": "2026-03-09T14:00:00.000000Z", "end": "2026-03-09T14:30:00.000000Z"}]


def test_a_cancelled_interview_cannot_be_completed_and_keeps_who_cancelled() -> None:
    interview = given(requested(), scheduled())
    interview.cancel("contact", "travelling")
    assert interview.state == "cancelled" and interview.outcome == {"cancelled_by": "contact", "reason": "travelling"}
    with pytest.raises(RuleViolated, match="a cancelled interview cannot mark it completed"):
        interview.complete(datetime(2026, 3, 10, tzinfo=UTC))


def test_an_interview_is_completed_or_missed_only_after_it_starts() -> None:
    interview = given(requested(), scheduled())
    with pytest.raises(RuleViolated, match="before it starts"):
        interview.complete(NOW)
    interview.miss("contact", datetime(2026, 3, 9, 15, tzinfo=UTC))
    assert interview.state == "missed" and interview.outcome == {"no_show": "contact"}


def test_overlapping_bookings_are_refused_naming_the_clash() -> None:
    schedule = StudentSchedule("schedule-s-1")
    schedule.book("i-1", "2026-03-09T14:00:00Z", "2026-03-09T14:30:00Z")
    with pytest.raises(RuleViolated) as clash:
        schedule.book("i-2", "2026-03-09T14:15:00Z", "2026-03-09T14:45:00Z")
    assert clash.value.details["clashing_interview_id"] == "i-1"
    schedule.book("i-2", "2026-03-09T14:30:00Z", "2026-03-09T15:00:00Z")  # back to back is fine
    schedule.book("i-1", "2026-03-09T13:00:00Z", "2026-03-09T13:30:00Z")  # moving itself is fine
    assert [e.name for e in schedule.pending] == ["InterviewSlotBooked"] * 3


# -- the parties' addresses and the feed ----------------------------------------------------------
def test_a_request_records_both_parties_addresses_for_the_invite() -> None:
    interview = Interview.request_with("i-1", "s-1", "c-1", objectives=["x"], questions=[], format="phone",
                                       student_time_zone="UTC", contact_name="Jane", contact_email="jane@acme.example",
                                       student_email="ann@uni.example", student_name="Ann")
    [event] = interview.pending
    assert {k: event.data[k] for k in ("student_email", "student_name", "contact_email")} == {
        "student_email": "ann@uni.example", "student_name": "Ann", "contact_email": "jane@acme.example"}
    envelope = INTERVIEWS.envelope(event, stream_id="i-1", stream_version=1, owner_id="s-1", meta=Metadata("s-1"))
    assert envelope["type"] == "careerloop.scheduling.InterviewRequested.v2"


def test_a_v1_request_is_upcast_with_unknown_addresses() -> None:
    v1 = {"type": "careerloop.scheduling.InterviewRequested.v1", "data": requested().data}
    recorded = INTERVIEWS.read(v1)
    assert (recorded.data["student_email"], recorded.data["student_name"], recorded.data["contact_email"]) == (
        None,
        None,
        None,
    )
    assert recorded.data["contact_name"] == "Jane" and given(recorded).request["student_email"] is None
    assert all(INTERVIEWS.latest("InterviewRequested").schema().fields[f].metadata["pii"]
               for f in ("student_email", "student_name", "contact_email"))


def test_rotating_the_feed_counts_generations_from_one() -> None:
    schedule = StudentSchedule("schedule-s-1")
    assert schedule.feed_generation == 0
    schedule.rotate_feed("s-1")
    schedule.rotate_feed("s-1")
    assert [(e.name, e.data["generation"]) for e in schedule.pending] == [
        ("CalendarFeedRotated", 1),
        ("CalendarFeedRotated", 2),
    ]
    assert StudentSchedule.from_history("schedule-s-1", schedule.pending).feed_generation == 2
