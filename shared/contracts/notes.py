"""Events of the notes service: what a student learned from each conversation, who may read it, and
the follow-up work it asks for.

Three streams, three topics:

- `note` (careerloop.notes.note.v1), one stream per note. `NoteRecorded` and `NoteRevised` each
  carry the *full* content and its revision number, so any single revision can be read from one
  event and a consumer never has to merge partial changes. Action items are part of that content
  *and* are published as their own events (`ActionItemAdded`, `ActionItemChanged`,
  `ActionItemCompleted`, `ActionItemReopened`, `ActionItemRemoved`) in the same commit, each with
  its `due_on` date and the student's IANA `time_zone`: the follow-up side (reminders, a to-do
  list) consumes those alone and never diffs two revisions of a note to find out what changed.
  `NoteDeleted` carries no content; the content events before it are still in the event store
  (their personal-data fields are marked `pii` for the per-student encryption that will shred them).
- `note_access_log` (careerloop.notes.note_access_log.v1), one stream per student: `NoteAccessed`
  each time an advisor reads one of the student's shared notes. A read is not a change of the note:
  on the note's own stream it would bump the note's version (its ETag), so a student's `If-Match`
  would fail merely because an advisor looked. One log per student is also exactly what the student
  lists ("who read my notes").
- `advising` (careerloop.notes.advising.v1), one stream per student: `AdvisorAssigned` and
  `AdvisorUnassigned`. Any service that lets advisors in projects these; none asks the notes service.
"""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from shared.events import EventCatalog, pii

NOTES = EventCatalog("notes", "note")
NOTE_ACCESS_LOGS = EventCatalog("notes", "note_access_log")
ADVISING = EventCatalog("notes", "advising")

INSIGHT_CATEGORIES = ("industry_trends", "organisation_culture", "career_paths", "challenges", "advice",
                      "resources", "assignments")
VISIBILITIES = ("private", "shared")
REMOVAL_REASONS = ("revised", "note_deleted")


class Insight(Schema):
    category = fields.String(required=True, validate=validate.OneOf(INSIGHT_CATEGORIES))
    text = pii(fields.String(required=True))


class ActionItem(Schema):
    item_id = fields.String(required=True, metadata={"description": "stable across revisions"})
    text = pii(fields.String(required=True))
    due_on = fields.String(allow_none=True, metadata={"description": "a date, YYYY-MM-DD, in the note's time_zone"})
    completed = fields.Boolean(required=True)


class NoteContent(Schema):
    """Everything the student wrote, as of one revision."""

    revision = fields.Integer(required=True, metadata={"description": "1 for the first version, +1 per revision"})
    text = pii(fields.String(required=True))
    insights = pii(fields.List(fields.Nested(Insight), required=True))
    action_items = pii(fields.List(fields.Nested(ActionItem), required=True))
    tags = fields.List(fields.String(), required=True)
    objectives_covered = pii(fields.List(fields.String(), required=True,
                                         metadata={"description": "the interview's objectives this note covers"}))
    time_zone = fields.String(allow_none=True, metadata={"description": "the student's IANA zone, for due dates"})


@NOTES.event("NoteRecorded", 1)
class NoteRecordedV1(NoteContent):
    """A student recorded what they learned, about an interview, a contact or both."""

    student_id = fields.String(required=True)
    interview_id = fields.String(allow_none=True)
    contact_id = fields.String(allow_none=True)
    visibility = fields.String(required=True, validate=validate.OneOf(VISIBILITIES))


@NOTES.event("NoteRevised", 1)
class NoteRevisedV1(NoteContent):
    """The student revised the note: the full new content; earlier revisions stay readable."""


@NOTES.event("NoteVisibilityChanged", 1)
class NoteVisibilityChangedV1(Schema):
    """The note became shared with the student's advisors, or private again."""

    student_id = fields.String(required=True)
    visibility = fields.String(required=True, validate=validate.OneOf(VISIBILITIES))


@NOTES.event("NoteDeleted", 1)
class NoteDeletedV1(Schema):
    """The note was deleted: its content leaves every read model; only this fact stays."""

    student_id = fields.String(required=True)


class ActionItemEvent(Schema):
    item_id = fields.String(required=True)
    student_id = fields.String(required=True)


class ActionItemDue(ActionItemEvent):
    text = pii(fields.String(required=True))
    due_on = fields.String(allow_none=True, metadata={"description": "YYYY-MM-DD, a day in `time_zone`"})
    time_zone = fields.String(allow_none=True, metadata={"description": "the student's IANA zone"})


@NOTES.event("ActionItemAdded", 1)
class ActionItemAddedV1(ActionItemDue):
    """Something to do after the conversation, with an optional due date."""

    contact_id = fields.String(allow_none=True)
    interview_id = fields.String(allow_none=True)


@NOTES.event("ActionItemChanged", 1)
class ActionItemChangedV1(ActionItemDue):
    """An action item's text, due date or the student's zone changed (in a revision)."""


@NOTES.event("ActionItemCompleted", 1)
class ActionItemCompletedV1(ActionItemEvent):
    """The student did it."""


@NOTES.event("ActionItemReopened", 1)
class ActionItemReopenedV1(ActionItemDue):
    """A completed action item is open again (with its due date, to re-arm reminders)."""


@NOTES.event("ActionItemRemoved", 1)
class ActionItemRemovedV1(ActionItemEvent):
    """The action item is gone: dropped in a revision, or its note was deleted."""

    reason = fields.String(required=True, validate=validate.OneOf(REMOVAL_REASONS))


@NOTE_ACCESS_LOGS.event("NoteAccessed", 1)
class NoteAccessedV1(Schema):
    """An advisor read one of the student's shared notes (when: the event's `time`)."""

    student_id = fields.String(required=True)
    note_id = fields.String(required=True)
    advisor_id = fields.String(required=True)


@ADVISING.event("AdvisorAssigned", 1)
class AdvisorAssignedV1(Schema):
    """An admin made this advisor one of the student's advisors."""

    student_id = fields.String(required=True)
    advisor_id = fields.String(required=True)


@ADVISING.event("AdvisorUnassigned", 1)
class AdvisorUnassignedV1(Schema):
    """The advisor no longer advises the student."""

    student_id = fields.String(required=True)
    advisor_id = fields.String(required=True)
