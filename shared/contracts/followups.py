"""Events of the followups service: what a student decided about one item of their follow-up queue.

One stream per queue item (aggregate `followup`, topic careerloop.followups.followup.v1); the stream
id is the item's deterministic id (`<rule>:<source id>`, e.g. `thank_you:<interview id>`), so a
decision names exactly the item it is about and replays never duplicate it. The queue itself is
derived by the followups projection from the contacts, scheduling and notes streams; these events
only overlay the student's decisions on it.
"""
from __future__ import annotations

from marshmallow import Schema, fields

from shared.events import EventCatalog, pii

FOLLOWUPS = EventCatalog("followups", "followup")


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
