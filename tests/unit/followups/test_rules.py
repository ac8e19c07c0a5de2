"""The follow-up rules as pure functions: business days in the student's zone, due times, closure by
facts (never by arrival order), versioned rules, and the item aggregate."""
from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from services.followups.domain import (
    NEVER,
    RULES,
    FollowUp,
    add_business_days,
    add_weeks,
    build_queue,
    start_of_day,
    student_time_zone,
    view_state,
)
from shared.errors import RuleViolated

UTC = UTC


def contact(cid: str, *touches: tuple[str, str], organisation: str | None = "Acme", **extra: object) -> dict:
    return {"_id": cid, "type": "contact", "student_id": "s", "name": cid.title(), "organisation": organisation,
            "organisation_key": organisation.lower() if organisation else None, "status": "active", "tags": [],
            "touchpoints": [{"id": f"{cid}-{i}", "kind": k, "at": a} for i, (k, a) in enumerate(touches)], **extra}


def interview(iid: str, cid: str, end: str, zone: str = "Europe/Berlin", zone_at: str = "2026-01-01T00:00:00.000000Z",
              state: str = "completed") -> dict:
    return {"_id": iid, "type": "interview", "student_id": "s", "contact_id": cid, "state": state, "start": end,
            "end": end, "student_time_zone": zone, "zone_at": zone_at}


def queue(*facts: dict) -> dict[str, dict]:
    return {i["_id"]: i for i in build_queue("s", list(facts))}


@pytest.mark.parametrize(("start", "days", "zone", "expected"), [
    ("2026-03-02T10:00:00+00:00", 3, "UTC", "2026-03-05T10:00:00+00:00"),      # Monday -> Thursday
    ("2026-03-05T10:00:00+00:00", 3, "UTC", "2026-03-10T10:00:00+00:00"),      # Thursday -> next Tuesday
    ("2026-03-07T10:00:00+00:00", 1, "UTC", "2026-03-09T10:00:00+00:00"),      # Saturday -> Monday
    # Friday 23:30 in Los Angeles is Saturday in UTC: counted from Friday, across the DST change
    ("2026-03-07T07:30:00+00:00", 3, "America/Los_Angeles", "2026-03-12T06:30:00+00:00"),
    ("2026-03-07T07:30:00+00:00", 3, "UTC", "2026-03-11T07:30:00+00:00"),
    # Friday 23:00 in UTC is already Saturday 08:00 in Tokyo: the next business day there is Monday
    ("2026-03-06T23:00:00+00:00", 1, "Asia/Tokyo", "2026-03-08T23:00:00+00:00"),
    ("2026-03-06T23:00:00+00:00", 1, "UTC", "2026-03-09T23:00:00+00:00"),
])
def test_business_days_skip_weekends_in_the_given_zone(start: str, days: int, zone: str, expected: str) -> None:
    assert add_business_days(datetime.fromisoformat(start), days, zone) == datetime.fromisoformat(expected)


def test_weeks_keep_the_local_time_across_daylight_saving() -> None:
    start = datetime(2026, 3, 2, 15, tzinfo=UTC)  # 10:00 in New York, before clocks go forward
    assert add_weeks(start, 2, "America/New_York") == datetime(2026, 3, 16, 14, tzinfo=UTC)
    assert add_weeks(start, 2, None) == datetime(2026, 3, 16, 15, tzinfo=UTC)


def test_a_due_day_starts_at_local_midnight_and_unknown_zones_fall_back_to_utc() -> None:
    assert start_of_day("2026-03-10", "America/New_York") == datetime(2026, 3, 10, 4, tzinfo=UTC)
    assert start_of_day("2026-03-10", "Europe/Berlin", 1) == datetime(2026, 3, 10, 23, tzinfo=UTC)
    assert start_of_day("2026-03-10", "Not/AZone") == datetime(2026, 3, 10, tzinfo=UTC)


def test_thank_you_is_due_after_24_hours_overdue_after_48_and_closed_only_by_a_later_thank_you() -> None:
    end = "2026-03-02T15:30:00.000000Z"
    item = queue(contact("jane"), interview("i1", "jane", end))["thank_you:i1"]
    assert (item["due_at"], item["overdue_at"], item["status"]) == (
        "2026-03-03T15:30:00.000000Z", "2026-03-04T15:30:00.000000Z", "active")
    before = queue(contact("jane", ("thank_you", "2026-03-01T10:00:00.000000Z")), interview("i1", "jane", end))
    assert before["thank_you:i1"]["status"] == "active"  # thanks for an earlier conversation do not count
    after = queue(contact("jane", ("thank_you", "2026-03-02T18:00:00.000000Z")), interview("i1", "jane", end))
    assert after["thank_you:i1"]["closed_by"]["touchpoint_id"] == "jane-0"
    cancelled = queue(contact("jane"), interview("i1", "jane", end, state="cancelled"))
    assert "thank_you:i1" not in cancelled


def test_3b7_uses_the_students_zone_from_their_newest_interview_event() -> None:
    sent = "2026-03-07T07:30:00.000000Z"  # Friday evening in Los Angeles, Saturday morning in Tokyo
    la = interview(
        "i1", "jane", "2026-01-10T10:00:00.000000Z", zone="America/Los_Angeles", zone_at="2026-02-01T00:00:00.000000Z"
    )
    tokyo = interview(
        "i2", "jane", "2026-01-10T10:00:00.000000Z", zone="Asia/Tokyo", zone_at="2026-01-01T00:00:00.000000Z"
    )
    facts = [contact("jane", ("outreach", sent)), tokyo, la]
    assert student_time_zone(facts) == "America/Los_Angeles" == student_time_zone(list(reversed(facts)))
    items = queue(*facts)
    assert items["outreach_next_contact:jane-0"]["due_at"] == "2026-03-12T06:30:00.000000Z"
    assert items["outreach_follow_up:jane-0"]["due_at"] == "2026-03-18T06:30:00.000000Z"


def test_a_reply_closes_the_outreach_items_and_a_second_unanswered_outreach_gets_no_more_follow_ups() -> None:
    replied = queue(
        contact("jane", ("outreach", "2026-03-02T10:00:00.000000Z"), ("reply", "2026-03-03T10:00:00.000000Z"))
    )
    assert {i["status"] for i in replied.values() if i["rule"].startswith("outreach")} == {"done"}
    twice = queue(
        contact("jane", ("outreach", "2026-03-02T10:00:00.000000Z"), ("outreach", "2026-03-12T10:00:00.000000Z"))
    )
    assert [k for k in twice if k.startswith("outreach")] == ["outreach_next_contact:jane-1"]
    no_organisation = queue(contact("jane", ("outreach", "2026-03-02T10:00:00.000000Z"), organisation=None))
    assert [k for k in no_organisation if k.startswith("outreach")] == ["outreach_follow_up:jane-0"]


def test_stay_in_touch_needs_a_conversation_and_follows_the_per_contact_rhythm() -> None:
    assert not [k for k in queue(contact("jane", ("outreach", "2026-01-05T10:00:00.000000Z"))) if k.startswith("stay")]
    talked = contact(
        "jane", ("conversation", "2026-01-12T10:00:00.000000Z"), ("article", "2026-01-20T10:00:00.000000Z")
    )
    [(key, item)] = [(k, v) for k, v in queue(talked).items() if k.startswith("stay")]
    assert key == "stay_in_touch:jane:jane-1" and item["due_at"] == "2026-03-17T10:00:00.000000Z"
    talked["tags"] = ["checkin-2w"]
    assert queue(talked)[key]["due_at"] == "2026-02-03T10:00:00.000000Z"
    talked["check_in_every_weeks"] = 3  # the contact's own cadence (CheckInCadenceChanged) beats a tag
    assert queue(talked)[key]["due_at"] == "2026-02-10T10:00:00.000000Z"
    talked["status"] = "archived"
    assert queue(talked) == {}


def test_action_items_and_the_students_decisions() -> None:
    note = {"_id": "n1", "type": "note", "student_id": "s", "contact_id": "jane", "deleted": False, "action_items": [
        {"item_id": "a1", "text": "Read", "due_on": "2026-03-10", "time_zone": "America/New_York", "completed": False,
         "added_at": "2026-03-01T00:00:00.000000Z"},
        {"item_id": "a2", "text": "CV", "due_on": None, "time_zone": None, "completed": True,
         "completed_at": "2026-03-02T00:00:00.000000Z", "added_at": "2026-03-01T00:00:00.000000Z"}]}
    snooze = {
        "_id": "action_item:a1",
        "type": "followup",
        "student_id": "s",
        "snoozed_until": "2026-03-11T00:00:00.000000Z",
    }
    dismiss = {"_id": "action_item:a2", "type": "followup", "student_id": "s", "dismissed": True}
    items = queue(note, snooze, dismiss)
    assert items["action_item:a1"]["due_at"] == "2026-03-10T04:00:00.000000Z"
    assert view_state(items["action_item:a1"], "2026-03-10T12:00:00.000000Z") == "snoozed"
    assert view_state(items["action_item:a1"], "2026-03-11T12:00:00.000000Z") == "open"
    assert items["action_item:a2"]["status"] == "done" and items["action_item:a2"]["overdue_at"] == NEVER  # done wins
    assert queue({**note, "deleted": True}) == {}


def test_the_queue_is_the_same_whatever_the_order_of_the_facts_and_carries_the_rules_version() -> None:
    facts = [
        contact("jane", ("outreach", "2026-03-02T10:00:00.000000Z"), ("conversation", "2026-03-04T10:00:00.000000Z")),
        contact("john", ("outreach", "2026-03-03T10:00:00.000000Z")),
        interview("i1", "jane", "2026-03-04T10:30:00.000000Z"),
    ]
    assert build_queue("s", facts) == build_queue("s", list(reversed(facts)))
    changed = copy.deepcopy(RULES)
    changed["version"] = 2
    changed["thank_you"]["due_after_hours"] = 12
    item = {i["_id"]: i for i in build_queue("s", facts, changed)}["thank_you:i1"]
    assert (item["due_at"], item["rules_version"]) == ("2026-03-04T22:30:00.000000Z", 2)


def test_the_item_aggregate_snoozes_into_the_future_and_dismisses_once() -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    item = FollowUp("thank_you:i1")
    with pytest.raises(RuleViolated):
        item.snooze("s", now, now)
    item.snooze("s", datetime(2026, 3, 2, tzinfo=UTC), now)
    item.dismiss("s", "done in person")
    assert (item.owner_id, item.dismissed, item.snoozed_until, item.version) == (
        "s",
        True,
        "2026-03-02T00:00:00.000000Z",
        2,
    )
    with pytest.raises(RuleViolated):
        item.dismiss("s", None)
    with pytest.raises(RuleViolated):
        item.snooze("s", datetime(2026, 3, 3, tzinfo=UTC), now)
    assert [e.name for e in item.pending] == ["FollowUpSnoozed", "FollowUpDismissed"]
