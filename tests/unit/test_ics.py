"""shared/ics.py: the one iCalendar implementation of the scheduling and notifications services."""
from __future__ import annotations

from datetime import datetime, timezone

from shared import ics

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
INTERVIEW = {"id": "int_1", "state": "scheduled", "contact_name": "Zoë Ng", "objectives": ["careers in UX"],
             "questions": [{"text": "How did you start?"}], "start": "2026-03-09T14:00:00.000000Z",
             "end": "2026-03-09T14:30:00.000000Z", "sequence": 1, "place": None, "link": "https://meet.example/x"}


def lines(calendar: str) -> list[str]:
    return calendar.replace("\r\n ", "").split("\r\n")


def test_an_invite_has_a_stable_uid_utc_times_and_the_request_method() -> None:
    invite = lines(ics.invite(INTERVIEW, NOW))
    assert {"METHOD:REQUEST", "UID:int_1@careerloop", "DTSTART:20260309T140000Z", "DTEND:20260309T143000Z",
            "SEQUENCE:1", "STATUS:CONFIRMED", "DTSTAMP:20260301T120000Z"} <= set(invite)


def test_a_cancelled_interview_gives_a_cancel() -> None:
    cancelled = {**INTERVIEW, "state": "cancelled"}
    assert ics.method_of(cancelled) == "CANCEL" and ics.method_of(INTERVIEW) == "REQUEST"
    assert {"METHOD:CANCEL", "STATUS:CANCELLED"} <= set(lines(ics.invite(cancelled, NOW)))


def test_times_with_an_offset_or_as_datetimes_are_written_in_utc() -> None:
    offset = {**INTERVIEW, "start": "2026-03-09T10:00:00-04:00",
              "end": datetime(2026, 3, 9, 14, 30, tzinfo=timezone.utc)}
    assert {"DTSTART:20260309T140000Z", "DTEND:20260309T143000Z"} <= set(lines(ics.invite(offset, NOW)))


def test_the_feed_lists_only_interviews_that_have_a_time() -> None:
    feed = ics.feed([INTERVIEW, {**INTERVIEW, "id": "int_2", "start": None}], NOW)
    assert "UID:int_1@careerloop" in feed and "int_2" not in feed and "METHOD" not in feed
