"""The Note, Advising and NoteAccessLog aggregates as given events / when command / then events."""
from __future__ import annotations

from itertools import count
from typing import Any

import pytest

from services.notes.domain import Advising, Note, NoteAccessLog
from shared.contracts.notes import NOTES
from shared.errors import NotFound, RuleViolated
from shared.events import Metadata, Recorded


def ids() -> Any:
    numbers = count(1)
    return lambda: f"item-{next(numbers)}"


def recorded(**overrides: object) -> Recorded:
    return Recorded("NoteRecorded", {
        "student_id": "s-1", "interview_id": "i-1", "contact_id": "c-1", "visibility": "private", "revision": 1,
        "time_zone": "Europe/London", "text": "Product teams ship weekly.",
        "insights": [{"category": "advice", "text": "Learn SQL"}],
        "action_items": [{"item_id": "item-1", "text": "Send thanks", "due_on": "2026-03-10", "completed": False}],
        "tags": ["product"], "objectives_covered": ["How do product teams work?"], **overrides})


def given(*events: Recorded) -> Note:
    return Note.from_history("n-1", events)


def content(**overrides: object) -> dict[str, Any]:
    return {"text": "Product teams ship weekly.", "insights": [{"category": "advice", "text": "Learn SQL"}],
            "action_items": [{"item_id": "item-1", "text": "Send thanks", "due_on": "2026-03-10"}],
            "tags": ["product"], "objectives_covered": ["How do product teams work?"], **overrides}


def names(note: Note) -> list[str]:
    return [event.name for event in note.pending]


# -- recording -------------------------------------------------------------------------------------
def test_recording_a_note_publishes_each_action_item_with_its_due_date_and_zone() -> None:
    note = Note.record_new("n-1", "s-1", content(action_items=[{"text": "Send thanks", "due_on": "2026-03-10"},
                                                               {"text": "Read the book"}]),
                           interview_id="i-1", contact_id="c-1", visibility="private", time_zone="Europe/London",
                           new_item_id=ids())
    assert names(note) == ["NoteRecorded", "ActionItemAdded", "ActionItemAdded"]
    first = note.pending[0].data
    assert first["revision"] == 1 and first["action_items"][0] == {
        "item_id": "item-1", "text": "Send thanks", "due_on": "2026-03-10", "completed": False}
    added = note.pending[1].data
    assert (added["item_id"], added["due_on"], added["time_zone"], added["contact_id"]) == (
        "item-1", "2026-03-10", "Europe/London", "c-1")
    assert note.pending[2].data["due_on"] is None


def test_every_recorded_event_keeps_its_contract() -> None:
    note = Note.record_new("n-1", "s-1", content(action_items=[{"text": "Send thanks", "due_on": "2026-03-10"}]),
                           interview_id=None, contact_id="c-1", visibility="shared", time_zone="Europe/London",
                           new_item_id=ids())
    note.revise(content(text="More", action_items=[{"text": "New one"}]), "America/New_York", ids())
    note.complete_item(note.content["action_items"][0]["item_id"])
    note.delete()
    for version, event in enumerate(note.pending, start=1):  # envelope() raises if data breaks its schema
        NOTES.envelope(event, stream_id="n-1", stream_version=version, owner_id="s-1", meta=Metadata(actor="s-1"))


def test_a_note_needs_a_subject_and_some_content() -> None:
    with pytest.raises(RuleViolated, match="about an interview or a contact"):
        Note.record_new("n-1", "s-1", content(), interview_id=None, contact_id=None, visibility="private",
                        time_zone=None, new_item_id=ids())
    with pytest.raises(RuleViolated, match="needs some text"):
        Note.record_new("n-1", "s-1", content(text=" ", insights=[], action_items=[]), interview_id=None,
                        contact_id="c-1", visibility="private", time_zone=None, new_item_id=ids())


def test_a_due_date_needs_the_students_time_zone() -> None:
    with pytest.raises(RuleViolated, match="time zone"):
        Note.record_new("n-1", "s-1", content(action_items=[{"text": "x", "due_on": "2026-03-10"}]),
                        interview_id=None, contact_id="c-1", visibility="private", time_zone=None, new_item_id=ids())


# -- revising --------------------------------------------------------------------------------------
def test_a_revision_carries_the_full_new_content_and_keeps_every_earlier_revision() -> None:
    note = given(recorded())
    note.revise(content(text="Product teams ship daily."), "Europe/London", ids())
    assert names(note) == ["NoteRevised"]
    assert note.pending[0].data["revision"] == 2 and note.pending[0].data["text"] == "Product teams ship daily."
    assert [r["text"] for r in note.revisions] == ["Product teams ship weekly.", "Product teams ship daily."]


def test_a_revision_that_changes_nothing_records_nothing() -> None:
    note = given(recorded())
    note.revise(content(), "Europe/London", ids())
    assert note.pending == []


def test_a_revision_publishes_which_action_items_were_added_changed_and_removed() -> None:
    note = given(recorded(action_items=[
        {"item_id": "keep", "text": "Same", "due_on": None, "completed": False},
        {"item_id": "move", "text": "Follow up", "due_on": "2026-03-10", "completed": False},
        {"item_id": "drop", "text": "Old", "due_on": None, "completed": False}]))
    note.revise(content(action_items=[{"item_id": "keep", "text": "Same"},
                                      {"item_id": "move", "text": "Follow up", "due_on": "2026-03-12"},
                                      {"text": "Brand new"}]), "Europe/London", lambda: "new-1")
    assert names(note) == ["NoteRevised", "ActionItemChanged", "ActionItemAdded", "ActionItemRemoved"]
    changed, added, removed = (e.data for e in note.pending[1:])
    assert (changed["item_id"], changed["due_on"]) == ("move", "2026-03-12")
    assert added["item_id"] == "new-1"
    assert (removed["item_id"], removed["reason"]) == ("drop", "revised")


def test_moving_to_another_time_zone_re_announces_the_dated_items_only() -> None:
    note = given(recorded(action_items=[
        {"item_id": "dated", "text": "a", "due_on": "2026-03-10", "completed": False},
        {"item_id": "undated", "text": "b", "due_on": None, "completed": False}]))
    note.revise(content(action_items=[{"item_id": "dated", "text": "a", "due_on": "2026-03-10"},
                                      {"item_id": "undated", "text": "b"}]), "Asia/Tokyo", ids())
    assert names(note) == ["NoteRevised", "ActionItemChanged"]
    assert note.pending[1].data == {"item_id": "dated", "student_id": "s-1", "text": "a", "due_on": "2026-03-10",
                                    "time_zone": "Asia/Tokyo"}


def test_a_completed_item_stays_completed_through_a_revision() -> None:
    note = given(recorded(), Recorded("ActionItemCompleted", {"item_id": "item-1", "student_id": "s-1"}))
    note.revise(content(text="Edited"), "Europe/London", ids())
    assert note.pending[0].data["action_items"][0]["completed"] is True
    assert note.revisions[0]["action_items"][0]["completed"] is False  # revision 1 as it was written


def test_an_unknown_item_id_in_a_revision_is_refused() -> None:
    with pytest.raises(RuleViolated, match="no action item nope"):
        given(recorded()).revise(content(action_items=[{"item_id": "nope", "text": "x"}]), "Europe/London", ids())


# -- action items ----------------------------------------------------------------------------------
def test_completing_and_reopening_an_item_is_not_a_revision() -> None:
    note = given(recorded())
    note.complete_item("item-1")
    note.complete_item("item-1")  # already done: nothing more
    note.reopen_item("item-1")
    assert names(note) == ["ActionItemCompleted", "ActionItemReopened"]
    assert note.pending[1].data["due_on"] == "2026-03-10" and note.pending[1].data["time_zone"] == "Europe/London"
    assert note.revision == 1 and note.content["action_items"][0]["completed"] is False


def test_an_unknown_item_is_not_found() -> None:
    with pytest.raises(NotFound):
        given(recorded()).complete_item("nope")


# -- visibility and deletion -----------------------------------------------------------------------
def test_sharing_twice_records_one_change() -> None:
    note = given(recorded())
    note.set_visibility("shared")
    note.set_visibility("shared")
    assert names(note) == ["NoteVisibilityChanged"] and note.visibility == "shared"


def test_deleting_withdraws_every_item_then_keeps_only_the_fact() -> None:
    note = given(recorded(), Recorded("NoteRevised", {**recorded().data, "revision": 2, "text": "v2"}))
    note.delete()
    assert names(note) == ["ActionItemRemoved", "NoteDeleted"]
    assert note.pending[0].data["reason"] == "note_deleted"
    assert note.pending[1].data == {"student_id": "s-1"}
    assert note.deleted and note.content == {} and note.revisions == []
    with pytest.raises(RuleViolated, match="deleted"):
        note.revise(content(), "Europe/London", ids())


# -- advisors and the access log -------------------------------------------------------------------
def test_assigning_an_advisor_twice_records_it_once_and_unassigning_a_stranger_records_nothing() -> None:
    advising = Advising("advising-s-1")
    advising.assign("s-1", "adv-1")
    advising.assign("s-1", "adv-1")
    advising.unassign("s-1", "adv-2")
    advising.unassign("s-1", "adv-1")
    assert [e.name for e in advising.pending] == ["AdvisorAssigned", "AdvisorUnassigned"]
    assert advising.advisors == [] and advising.owner_id == "s-1"


def test_a_student_cannot_advise_themselves() -> None:
    with pytest.raises(RuleViolated, match="own advisor"):
        Advising("advising-s-1").assign("s-1", "s-1")


def test_the_access_log_appends_at_the_streams_version_without_replaying_it() -> None:
    log = NoteAccessLog.at_version("s-1", 41)
    log.note_read("n-1", "adv-1")
    assert log.version == 42 and log.id == "note-access-s-1"
    assert log.pending[0].data == {"student_id": "s-1", "note_id": "n-1", "advisor_id": "adv-1"}
