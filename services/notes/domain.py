"""The Note aggregate, a student's advisors and a student's note access log. Pure Python.

A note's content is one value (text, insights, action items, tags, objectives covered) that each
revision replaces whole; every revision is kept. Action items keep their id across revisions, so a
revision that edits an item's text or due date changes that item instead of dropping one and adding
another, and completing an item is not a new revision of what the student wrote.
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

from shared.aggregate import Aggregate, applies
from shared.errors import NotFound

CONTENT_FIELDS = ("text", "insights", "action_items", "tags", "objectives_covered")


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


class Note(Aggregate):
    stream_type = "note"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.interview_id: str | None = None
        self.contact_id: str | None = None
        self.visibility = "private"
        self.time_zone: str | None = None
        self.revision = 0
        self.content: dict[str, Any] = {}
        self.revisions: list[dict[str, Any]] = []  # the content as of each revision, oldest first
        self.deleted = False

    # -- commands ---------------------------------------------------------------------------
    @classmethod
    def record_new(cls, note_id: str, student_id: str, content: dict[str, Any], *, interview_id: str | None,
                   contact_id: str | None, visibility: str, time_zone: str | None,
                   new_item_id: Callable[[], str]) -> Note:
        note = cls(note_id)
        note.require(bool(interview_id or contact_id), "a note is about an interview or a contact")
        written = note._written(content, time_zone, new_item_id)
        note.record("NoteRecorded", student_id=student_id, interview_id=interview_id, contact_id=contact_id,
                    visibility=visibility, revision=1, time_zone=time_zone, **written)
        for item in written["action_items"]:
            note._item_added(item)
        return note

    def revise(self, content: dict[str, Any], time_zone: str | None, new_item_id: Callable[[], str]) -> None:
        """Replace the content; a revision that changes nothing records nothing."""
        self._require_live()
        written = self._written(content, time_zone, new_item_id)
        if written == self._current() and time_zone == self.time_zone:
            return
        before = {item["item_id"]: item for item in self.content["action_items"]}
        zone_moved = time_zone != self.time_zone
        self.record("NoteRevised", revision=self.revision + 1, time_zone=time_zone, **written)
        for item in written["action_items"]:
            old = before.pop(item["item_id"], None)
            if old is None:
                self._item_added(item)
            elif (old["text"], old["due_on"]) != (item["text"], item["due_on"]) or (zone_moved and item["due_on"]):
                self.record("ActionItemChanged", item_id=item["item_id"], student_id=self.owner_id,
                            text=item["text"], due_on=item["due_on"], time_zone=self.time_zone)
        for item_id in before:
            self.record("ActionItemRemoved", item_id=item_id, student_id=self.owner_id, reason="revised")

    def set_visibility(self, visibility: str) -> None:
        self._require_live()
        if visibility != self.visibility:
            self.record("NoteVisibilityChanged", student_id=self.owner_id, visibility=visibility)

    def complete_item(self, item_id: str) -> None:
        item = self._item(item_id)
        if not item["completed"]:
            self.record("ActionItemCompleted", item_id=item_id, student_id=self.owner_id)

    def reopen_item(self, item_id: str) -> None:
        item = self._item(item_id)
        if item["completed"]:
            self.record("ActionItemReopened", item_id=item_id, student_id=self.owner_id, text=item["text"],
                        due_on=item["due_on"], time_zone=self.time_zone)

    def delete(self) -> None:
        """Every action item is withdrawn first (the follow-up side drops its reminders), then the
        note: the stream ends with the fact of the deletion and no content."""
        self._require_live()
        for item in self.content["action_items"]:
            self.record("ActionItemRemoved", item_id=item["item_id"], student_id=self.owner_id, reason="note_deleted")
        self.record("NoteDeleted", student_id=self.owner_id)

    # -- rules --------------------------------------------------------------------------------
    def _written(self, content: dict[str, Any], time_zone: str | None,
                 new_item_id: Callable[[], str]) -> dict[str, Any]:
        """The content as the events carry it: items keep their id and completion, new ones get an id."""
        existing = {item["item_id"]: item for item in self.content.get("action_items", [])}
        items = []
        for given in content.get("action_items", []):
            item_id = given.get("item_id")
            if item_id is not None:
                self.require(item_id in existing, f"this note has no action item {item_id}", item_id=item_id)
            items.append({"item_id": item_id or new_item_id(), "text": given["text"],
                          "due_on": given.get("due_on"),
                          "completed": bool(existing[item_id]["completed"]) if item_id else False})
        self.require(time_zone is not None or not any(item["due_on"] for item in items),
                     "an action item with a due date needs the student's time zone")
        written = {
            "text": (content.get("text") or "").strip(),
            "insights": [{"category": i["category"], "text": i["text"]} for i in content.get("insights", [])],
            "action_items": items,
            "tags": _unique(content.get("tags", [])),
            "objectives_covered": _unique(content.get("objectives_covered", [])),
        }
        self.require(bool(written["text"] or written["insights"] or written["action_items"]),
                     "a note needs some text, an insight or an action item")
        return written

    def _current(self) -> dict[str, Any]:
        return {name: self.content[name] for name in CONTENT_FIELDS}

    def _item(self, item_id: str) -> dict[str, Any]:
        self._require_live()
        for item in self.content["action_items"]:
            if item["item_id"] == item_id:
                return item
        raise NotFound(f"note {self.id} has no action item {item_id}")

    def _item_added(self, item: dict[str, Any]) -> None:
        self.record("ActionItemAdded", item_id=item["item_id"], student_id=self.owner_id, text=item["text"],
                    due_on=item["due_on"], time_zone=self.time_zone, contact_id=self.contact_id,
                    interview_id=self.interview_id)

    def _require_live(self) -> None:
        self.require(self.exists and not self.deleted, "the note was deleted")

    # -- state changes ------------------------------------------------------------------------
    @applies("NoteRecorded")
    def _recorded(self, data: dict[str, Any]) -> None:
        self.owner_id = data["student_id"]
        self.interview_id, self.contact_id = data.get("interview_id"), data.get("contact_id")
        self.visibility = data["visibility"]
        self._set_content(data)

    @applies("NoteRevised")
    def _revised(self, data: dict[str, Any]) -> None:
        self._set_content(data)

    @applies("NoteVisibilityChanged")
    def _visibility_changed(self, data: dict[str, Any]) -> None:
        self.visibility = data["visibility"]

    @applies("ActionItemCompleted")
    def _item_completed(self, data: dict[str, Any]) -> None:
        self._set_completed(data["item_id"], True)

    @applies("ActionItemReopened")
    def _item_reopened(self, data: dict[str, Any]) -> None:
        self._set_completed(data["item_id"], False)

    # Added, changed and removed items are already in the revision's content; these events exist
    # for the follow-up side, so they change nothing here.
    @applies("ActionItemAdded")
    def _item_added_applied(self, data: dict[str, Any]) -> None:
        pass

    @applies("ActionItemChanged")
    def _item_changed(self, data: dict[str, Any]) -> None:
        pass

    @applies("ActionItemRemoved")
    def _item_removed(self, data: dict[str, Any]) -> None:
        pass

    @applies("NoteDeleted")
    def _deleted(self, data: dict[str, Any]) -> None:
        # Forget the content in memory too: nothing loaded after this can show it by mistake.
        self.deleted = True
        self.content, self.revisions = {}, []
        self.interview_id = self.contact_id = self.time_zone = None

    def _set_content(self, data: dict[str, Any]) -> None:
        self.revision, self.time_zone = data["revision"], data.get("time_zone")
        self.content = {name: copy.deepcopy(data[name]) for name in CONTENT_FIELDS}
        self.revisions.append({"revision": data["revision"], "time_zone": data.get("time_zone"),
                               **copy.deepcopy(self.content)})

    def _set_completed(self, item_id: str, completed: bool) -> None:
        for item in self.content["action_items"]:
            if item["item_id"] == item_id:
                item["completed"] = completed


class Advising(Aggregate):
    """Who advises one student: the list an advisor's access to shared notes is checked against."""

    stream_type = "advising"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.advisors: list[str] = []

    @staticmethod
    def stream_for(student_id: str) -> str:
        return f"advising-{student_id}"

    def assign(self, student_id: str, advisor_id: str) -> None:
        self.require(advisor_id != student_id, "a student cannot be their own advisor")
        if advisor_id not in self.advisors:
            self.record("AdvisorAssigned", student_id=student_id, advisor_id=advisor_id)

    def unassign(self, student_id: str, advisor_id: str) -> None:
        if advisor_id in self.advisors:
            self.record("AdvisorUnassigned", student_id=student_id, advisor_id=advisor_id)

    @applies("AdvisorAssigned")
    def _assigned(self, data: dict[str, Any]) -> None:
        self.owner_id = data["student_id"]
        self.advisors.append(data["advisor_id"])

    @applies("AdvisorUnassigned")
    def _unassigned(self, data: dict[str, Any]) -> None:
        self.advisors.remove(data["advisor_id"])


class NoteAccessLog(Aggregate):
    """Every read of a student's notes by an advisor: an append-only log with no rule on its past.

    Because nothing it decides depends on earlier entries, it is appended to at the stream's current
    version without replaying it (`at_version`): a log read on every advisor visit would otherwise
    cost more with each visit."""

    stream_type = "note_access_log"

    @staticmethod
    def stream_for(student_id: str) -> str:
        return f"note-access-{student_id}"

    @classmethod
    def at_version(cls, student_id: str, version: int) -> NoteAccessLog:
        log = cls(cls.stream_for(student_id))
        log.owner_id, log.version = student_id, version
        return log

    def note_read(self, note_id: str, advisor_id: str) -> None:
        self.record("NoteAccessed", student_id=self.owner_id, note_id=note_id, advisor_id=advisor_id)

    @applies("NoteAccessed")
    def _accessed(self, data: dict[str, Any]) -> None:
        self.owner_id = data["student_id"]
