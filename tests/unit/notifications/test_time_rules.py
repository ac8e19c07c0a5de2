"""The notifications' time rules, pure: reminder times in the recipient's zone, quiet hours, the
digest hour, backoff, and the deterministic dedupe ids."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.notifications.domain import (
    DomainError,
    dedupe_key,
    digest_key,
    hhmm,
    next_digest_at,
    notification_id,
    notification_ids,
    quiet_until,
    reminder_times,
    retry_delay,
)

UTC = UTC


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_the_day_before_reminder_keeps_the_wall_clock_time_across_a_daylight_saving_change() -> None:
    # New York springs forward on Sunday 8 March 2026: Monday 10:00 EDT is 14:00 UTC,
    # and "the day before, same time" is Sunday 10:00 EDT (14:00 UTC), 23 hours earlier
    times = reminder_times(at("2026-03-09T10:00:00-04:00"), "America/New_York")
    assert times["interview_reminder_24h"] == at("2026-03-08T10:00:00-04:00")
    assert times["interview_reminder_1h"] == at("2026-03-09T09:00:00-04:00")
    # in a zone without a change that day it is exactly 24 hours
    berlin = reminder_times(at("2026-03-09T10:00:00+01:00"), "Europe/Berlin")
    assert at("2026-03-09T10:00:00+01:00") - berlin["interview_reminder_24h"] == timedelta(hours=24)


@pytest.mark.parametrize(("local", "until"), [
    ("2026-03-02T23:30:00+01:00", "2026-03-03T07:00:00+01:00"),  # after the start: the next morning
    ("2026-03-03T06:59:00+01:00", "2026-03-03T07:00:00+01:00"),  # after midnight: this morning
    ("2026-03-02T22:00:00+01:00", "2026-03-03T07:00:00+01:00"),  # the start is inside
    ("2026-03-03T07:00:00+01:00", None),                         # the end is outside
    ("2026-03-02T12:00:00+01:00", None),
])
def test_quiet_hours_past_midnight_delay_until_their_end(local: str, until: str | None) -> None:
    quiet = {"start": "22:00", "end": "07:00"}
    expected = at(until) if until else None
    assert quiet_until(at(local), "Europe/Berlin", quiet) == expected


def test_quiet_hours_within_a_day_and_none_at_all() -> None:
    lunch = {"start": "12:00", "end": "13:30"}
    assert quiet_until(at("2026-03-02T12:15:00+00:00"), "UTC", lunch) == at("2026-03-02T13:30:00+00:00")
    assert quiet_until(at("2026-03-02T11:59:00+00:00"), "UTC", lunch) is None
    assert quiet_until(at("2026-03-02T03:00:00+00:00"), "UTC", None) is None


def test_quiet_hours_ending_in_a_skipped_hour_end_just_after_the_jump() -> None:
    # New York skips 02:00-03:00 on 8 March 2026; quiet hours until 02:30 end at 03:30 EDT (07:30 UTC)
    until = quiet_until(at("2026-03-08T01:00:00-05:00"), "America/New_York", {"start": "23:00", "end": "02:30"})
    assert until == at("2026-03-08T07:30:00+00:00")


def test_the_digest_goes_out_at_the_next_local_digest_hour() -> None:
    assert next_digest_at(at("2026-03-02T06:00:00-05:00"), "America/New_York", 8) == at("2026-03-02T08:00:00-05:00")
    assert next_digest_at(at("2026-03-02T08:00:00-05:00"), "America/New_York", 8) == at("2026-03-03T08:00:00-05:00")
    # across the change to daylight saving time the local hour stays 08:00
    assert next_digest_at(at("2026-03-07T09:00:00-05:00"), "America/New_York", 8) == at("2026-03-08T08:00:00-04:00")


def test_retries_back_off_exponentially_up_to_a_cap() -> None:
    assert [retry_delay(n, 30, 600).total_seconds() for n in range(1, 7)] == [30, 60, 120, 240, 480, 600]


def test_the_same_key_always_names_the_same_stream_and_each_part_of_the_key_matters() -> None:
    key = dedupe_key("event-1", "interview_reminder_1h", "email", "student-1")
    assert notification_id(key) == notification_id(key) and notification_id(key).startswith("ntf_")
    others = {notification_id(dedupe_key(*parts)) for parts in [
        ("event-2", "interview_reminder_1h", "email", "student-1"),
        ("event-1", "interview_reminder_24h", "email", "student-1"),
        ("event-1", "interview_reminder_1h", "webhook", "student-1"),
        ("event-1", "interview_reminder_1h", "email", "student-2")]}
    assert len(others) == 4 and notification_id(key) not in others
    assert notification_id(key) in notification_ids("event-1", ["interview_reminder_1h"], "student-1")
    day = at("2026-03-02T08:00:00+00:00").date()
    assert notification_id(digest_key("student-1", "email", day)) != notification_id(
        digest_key("student-1", "webhook", day)
    )


def test_a_time_of_day_is_hh_mm() -> None:
    assert hhmm("07:05").minute == 5
    with pytest.raises(DomainError):
        hhmm("7:5")
