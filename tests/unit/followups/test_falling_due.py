"""When an item falls due: which items the announcer selects as of a given moment, the announcement it
records, and the item aggregate's rule that each due time is announced once, never for a dismissed
or snoozed item. Pure functions and the aggregate; the clock is always passed in."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.followups.domain import NEVER, FollowUp, announceable, announcement, build_queue, due_filter
from shared.contracts.followups import FOLLOWUPS
from shared.errors import RuleViolated
from shared.events import Metadata, Recorded, isoformat

UTC = UTC
END = "2026-03-02T15:30:00.000000Z"  # the interview ended; the thank-you is due a day later
DUE = "2026-03-03T15:30:00.000000Z"
BEFORE, AFTER, LATER = "2026-03-03T15:29:59.000000Z", "2026-03-03T16:00:00.000000Z", "2026-03-05T00:00:00.000000Z"


def facts(*decisions: dict[str, Any], note: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    contact = {"_id": "jane", "type": "contact", "student_id": "s", "name": "Jane", "organisation": None,
               "status": "active", "tags": [], "touchpoints": []}
    interview = {"_id": "i1", "type": "interview", "student_id": "s", "contact_id": "jane", "state": "completed",
                 "start": END, "end": END, "student_time_zone": "UTC", "zone_at": END}
    return [contact, interview, *decisions, *([note] if note else [])]


def thank_you(*decisions: dict[str, Any]) -> dict[str, Any]:
    return {i["_id"]: i for i in build_queue("s", facts(*decisions))}["thank_you:i1"]


def decision(**fields: Any) -> dict[str, Any]:
    return {"_id": "thank_you:i1", "type": "followup", "student_id": "s", **fields}


def matches(doc: dict[str, Any], filter: dict[str, Any]) -> bool:
    """The read store's filter language, for the operators `due_filter` uses (the adapters' own
    semantics are covered by their contract tests)."""
    tests = {"$lte": lambda a, b: a <= b, "$lt": lambda a, b: a < b, "$gte": lambda a, b: a >= b,
             "$gt": lambda a, b: a > b}
    for name, condition in filter.items():
        value = doc.get(name)
        if isinstance(condition, dict):
            if value is None or not all(tests[op](value, bound) for op, bound in condition.items()):
                return False
        elif value != condition:
            return False
    return True


# -- selection --------------------------------------------------------------------------------
def test_an_open_item_is_selected_once_its_due_time_has_passed_and_not_before() -> None:
    item = thank_you()
    assert item["due_at"] == DUE and item["due_announced"] is False
    assert not announceable(item, BEFORE)
    assert announceable(item, DUE) and announceable(item, AFTER)


def test_an_announced_due_time_is_not_selected_again_but_a_new_due_time_is() -> None:
    assert not announceable(thank_you(decision(announced=[DUE])), AFTER)
    # an announcement of an earlier due time (before a rule moved the item) does not count
    moved = thank_you(decision(announced=["2026-03-01T00:00:00.000000Z"]))
    assert moved["due_announced"] is False and announceable(moved, AFTER)


def test_a_snoozed_item_is_selected_only_once_its_snooze_has_passed() -> None:
    snoozed = thank_you(decision(snoozed_until="2026-03-04T09:00:00.000000Z"))
    assert not announceable(snoozed, AFTER)
    assert announceable(snoozed, "2026-03-04T09:00:00.000000Z")


def test_dismissed_and_done_items_are_never_selected() -> None:
    assert not announceable(thank_you(decision(dismissed=True)), LATER)
    thanked = facts()
    thanked[0]["touchpoints"] = [{"id": "t1", "kind": "thank_you", "at": "2026-03-02T18:00:00.000000Z"}]
    done = {i["_id"]: i for i in build_queue("s", thanked)}["thank_you:i1"]
    assert done["status"] == "done" and not announceable(done, LATER)


@pytest.mark.parametrize("now", [BEFORE, DUE, AFTER, "2026-03-04T09:00:00.000000Z", LATER])
def test_the_read_store_query_selects_exactly_what_the_rule_selects(now: str) -> None:
    items = [thank_you(), thank_you(decision(announced=[DUE])), thank_you(decision(dismissed=True)),
             thank_you(decision(snoozed_until="2026-03-04T09:00:00.000000Z")),
             thank_you(decision(snoozed_until="2026-03-01T00:00:00.000000Z"))]
    assert [matches(i, due_filter(now)) for i in items] == [announceable(i, now) for i in items]


# -- the announcement -------------------------------------------------------------------------
def test_the_announcement_carries_what_a_reminder_needs_and_fits_the_contract() -> None:
    data = announcement(thank_you())
    assert data == {"student_id": "s", "rule": "thank_you", "reason": "Send Jane a thank-you for the conversation",
                    "due_at": DUE, "overdue_at": "2026-03-04T15:30:00.000000Z", "contact_id": "jane",
                    "link": "/interviews/i1", "source": {"service": "scheduling", "type": "interview", "id": "i1"}}
    assert FOLLOWUPS.latest("FollowUpBecameDue").schema().validate(data) == {}
    undated = announcement({**thank_you(), "rule": "action_item", "overdue_at": NEVER})
    assert undated["overdue_at"] is None and FOLLOWUPS.latest("FollowUpBecameDue").schema().validate(undated) == {}


# -- the aggregate: once per due time ----------------------------------------------------------
def at(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


def test_the_item_announces_a_due_time_once_and_a_new_due_time_again() -> None:
    item = FollowUp("thank_you:i1")
    item.become_due(announcement(thank_you()), at(AFTER))
    assert (item.owner_id, item.version, item.announced) == ("s", 1, {DUE})
    with pytest.raises(RuleViolated, match="already announced"):
        item.become_due(announcement(thank_you()), at(LATER))
    item.become_due({**announcement(thank_you()), "due_at": "2026-03-04T10:00:00Z"}, at(LATER))
    assert [e.data["due_at"] for e in item.pending] == [DUE, "2026-03-04T10:00:00.000000Z"]


def test_the_rule_holds_for_an_item_loaded_from_its_stream() -> None:
    """What another announcer recorded is in the stream: loading it is enough to refuse."""
    first = FollowUp("thank_you:i1")
    first.become_due(announcement(thank_you()), at(AFTER))
    envelopes = [FOLLOWUPS.envelope(e, stream_id=first.id, stream_version=1, owner_id="s", meta=Metadata(actor="x"))
                 for e in first.pending]
    loaded = FollowUp.from_history(first.id, [FOLLOWUPS.read(e) for e in envelopes])
    with pytest.raises(RuleViolated):
        loaded.become_due(announcement(thank_you()), at(LATER))  # type: ignore[attr-defined]


def test_a_dismissed_item_a_snoozed_one_and_one_not_due_yet_are_refused() -> None:
    dismissed = FollowUp.from_history(
        "thank_you:i1", [Recorded("FollowUpDismissed", {"student_id": "s", "reason": None})]
    )
    with pytest.raises(RuleViolated, match="dismissed"):
        dismissed.become_due(announcement(thank_you()), at(LATER))  # type: ignore[attr-defined]
    snoozed = FollowUp("thank_you:i1")
    snoozed.snooze("s", datetime(2026, 3, 4, 9, tzinfo=UTC), at(AFTER))
    with pytest.raises(RuleViolated, match="snoozed"):
        snoozed.become_due(announcement(thank_you()), at(AFTER))
    snoozed.become_due(announcement(thank_you()), datetime(2026, 3, 4, 9, tzinfo=UTC))  # the snooze has passed
    with pytest.raises(RuleViolated, match="not due yet"):
        FollowUp("thank_you:i1").become_due(announcement(thank_you()), at(BEFORE))
    assert isoformat(at(DUE)) == DUE


# -- advisors' privacy ------------------------------------------------------------------------
def test_action_items_of_notes_not_shared_with_advisors_are_marked_private() -> None:
    note = {"_id": "n1", "type": "note", "student_id": "s", "contact_id": "jane", "deleted": False, "action_items": [
        {"item_id": "a1", "text": "Ask about visas", "due_on": "2026-03-10", "time_zone": None, "completed": False,
         "added_at": "2026-03-01T00:00:00.000000Z"}]}
    for visibility, private in ((None, True), ("private", True), ("shared", False)):
        items = {i["_id"]: i for i in build_queue("s", facts(note={**note, "visibility": visibility}))}
        assert items["action_item:a1"]["private"] is private
        assert items["thank_you:i1"]["private"] is False
