"""Events of the followups service: what a student decided about one item of their follow-up queue.

One stream per queue item (aggregate `followup`, topic careerloop.followups.followup.v1); the stream
id is the item's deterministic id (`<rule>:<source id>`, e.g. `thank_you:<interview id>`), so a
decision names exactly the item it is about and replays never duplicate it. The queue itself is
derived by the followups projection from the contacts, scheduling and notes streams; these events
overlay the student's decisions on it, and record when an item fell due.

`FollowUpBecameDue` and `FollowUpCompleted` are written by the announcer process (`python -m
services.followups.announcer`), not by a student: once an open item's `due_at` has passed (and any
snooze has ended) it is announced exactly once per (item, due_at) -- the aggregate refuses a second
announcement of the same `due_at`, and the stream's optimistic concurrency turns a race between two
announcers into one event. A rule that later moves the item to a new `due_at` (a new thank-you
deadline, a changed action-item due date) may announce it again. Dismissed and done items are never
announced. It is the input of the notifications service (thank-you due, follow-up due, check-in
due): the event carries everything a reminder needs, so a consumer never has to ask the followups
service.

`FollowUpCompleted` closes the loop of an announced item: once an item that fell due is done (the
thank-you sent, the follow-up or check-in made, the action item completed: the queue's rules decide,
and `closed_by` in the queue says which act), the announcer records it, once per (item, due_at).
An item never announced is not recorded as completed: what was never due needs no closing.
"""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from shared.events import EventCatalog, pii

FOLLOWUPS = EventCatalog("followups", "followup")

# the queue's rules, as named in `FollowUpBecameDue.rule` (and in each item's id prefix)
RULES = ("thank_you", "outreach_next_contact", "outreach_follow_up", "stay_in_touch", "action_item")


@FOLLOWUPS.event("FollowUpSnoozed", 1)
class FollowUpSnoozedV1(Schema):
    """The student put the item aside until a time; it is open again from then."""

    student_id = fields.String(required=True)
    until = fields.String(required=True, metadata={"description": "RFC 3339 UTC"})


@FOLLOWUPS.event("FollowUpDismissed", 1)
class FollowUpDismissedV1(Schema):
    """The student decided the item needs no action; it leaves the open queue for good."""

    student_id = fields.String(required=True)
    reason = pii(fields.String(allow_none=True))


@FOLLOWUPS.event("FollowUpBecameDue", 1)
class FollowUpBecameDueV1(Schema):
    """An open queue item reached its due time: announced once per (item, due_at), for reminders."""

    student_id = fields.String(required=True)
    rule = fields.String(required=True, validate=validate.OneOf(RULES),
                         metadata={"description": "thank_you | outreach_next_contact | outreach_follow_up | "
                                                  "stay_in_touch (check-in) | action_item"})
    reason = pii(fields.String(required=True, metadata={"description": "the one-line text of the item"}),
                 subject="contact")
    due_at = fields.String(required=True, metadata={"description": "RFC 3339 UTC; the due time announced"})
    overdue_at = fields.String(allow_none=True, required=True,
                               metadata={"description": "RFC 3339 UTC, or null when the item never becomes overdue"})
    contact_id = fields.String(allow_none=True, required=True)
    link = fields.String(required=True, metadata={"description": "path of the source, e.g. /interviews/<id>"})
    source = fields.Dict(required=True, metadata={"description": "the source: {service, type, id, ...}"})


@FOLLOWUPS.event("FollowUpCompleted", 1)
class FollowUpCompletedV1(Schema):
    """An item that had fallen due was done by the student (recorded by the announcer)."""

    student_id = fields.String(required=True)
    rule = fields.String(required=True, validate=validate.OneOf(RULES))
    due_at = fields.String(required=True, metadata={"description": "RFC 3339 UTC; the due time it was announced at"})
    completed_at = fields.String(required=True, metadata={
        "description": "RFC 3339 UTC; when the act that closed it happened (e.g. the thank-you touchpoint)"})
    closed_by = fields.String(required=True, metadata={
        "description": "what closed it: thank_you, reply, outreach, check_in, action_item_completed, ..."})
    contact_id = fields.String(allow_none=True, required=True)
