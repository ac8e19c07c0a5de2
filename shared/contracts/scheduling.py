"""Events of the scheduling service: an informational interview from request to outcome.

Every time is stored as UTC (RFC 3339, `Z`) together with the IANA zone it was given in, so a
local time can always be recovered exactly, across daylight-saving changes.
"""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from shared.events import EventCatalog, pii

INTERVIEWS = EventCatalog("scheduling", "interview")
STUDENT_SCHEDULES = EventCatalog("scheduling", "student_schedule")

FORMATS = ("video", "phone", "in_person")
QUESTION_CATEGORIES = ("trends", "insights", "advice", "resources", "assignments", "other")


class Question(Schema):
    text = fields.String(required=True)
    category = fields.String(required=True, validate=validate.OneOf(QUESTION_CATEGORIES))


class Slot(Schema):
    slot_id = fields.String(required=True)
    start = fields.String(required=True, metadata={"description": "UTC, RFC 3339"})
    end = fields.String(required=True, metadata={"description": "UTC, RFC 3339"})
    time_zone = fields.String(required=True, metadata={"description": "IANA zone the slot was proposed in"})


@INTERVIEWS.event("InterviewRequested", 1)
class InterviewRequestedV1(Schema):
    """A student asked a contact for an informational interview."""

    student_id = fields.String(required=True)
    contact_id = fields.String(required=True)
    contact_name = pii(fields.String(allow_none=True), subject="contact")
    objectives = fields.List(fields.String(), required=True)
    questions = fields.List(fields.Nested(Question), required=True)
    format = fields.String(required=True, validate=validate.OneOf(FORMATS))
    link = pii(fields.String(allow_none=True, metadata={"description": "the video call's link"}))
    place = pii(fields.String(allow_none=True))
    duration_minutes = fields.Integer(required=True)
    student_time_zone = fields.String(required=True)
    contact_time_zone = fields.String(required=True)


@INTERVIEWS.event("InterviewRequested", 2)
class InterviewRequestedV2(InterviewRequestedV1):
    """A student asked a contact for an informational interview (with both parties' addresses)."""

    student_email = pii(fields.String(allow_none=True, metadata={
        "description": "the student's address from their token's `email` claim: the invite's ORGANIZER"}))
    student_name = pii(fields.String(allow_none=True, metadata={"description": "from the token's `name` claim"}))
    contact_email = pii(fields.String(allow_none=True, metadata={
        "description": "the contact's first address, as the contacts stream told: the invited ATTENDEE"}),
        subject="contact")


@INTERVIEWS.upcaster("InterviewRequested", 1)
def _addresses_unknown(data: dict) -> dict:
    """Requests recorded before v2 knew no addresses: their invites fall back to the career office."""
    return {"student_email": None, "student_name": None, "contact_email": None, **data}


@INTERVIEWS.event("TimesProposed", 1)
class TimesProposedV1(Schema):
    """Candidate time slots were proposed."""

    slots = fields.List(fields.Nested(Slot), required=True)


class Scheduled(Schema):
    start = fields.String(required=True)
    end = fields.String(required=True)
    time_zone = fields.String(required=True, metadata={"description": "zone the time was agreed in"})
    student_id = fields.String(required=True)
    contact_id = fields.String(required=True)
    student_time_zone = fields.String(required=True)
    contact_time_zone = fields.String(required=True)
    sequence = fields.Integer(required=True, metadata={"description": "iCalendar SEQUENCE of the invite"})


@INTERVIEWS.event("InterviewScheduled", 1)
class InterviewScheduledV1(Scheduled):
    """A time was agreed."""

    slot_id = fields.String(allow_none=True)


@INTERVIEWS.event("InterviewRescheduled", 1)
class InterviewRescheduledV1(Scheduled):
    """The agreed time moved; the previous time stays in history."""

    previous_start = fields.String(required=True)
    previous_end = fields.String(required=True)


@INTERVIEWS.event("InterviewCancelled", 1)
class InterviewCancelledV1(Schema):
    """The interview will not happen; the record stays."""

    by = fields.String(required=True, validate=validate.OneOf(("student", "contact")))
    reason = pii(fields.String(allow_none=True))
    student_id = fields.String(required=True)
    contact_id = fields.String(required=True)
    sequence = fields.Integer(required=True)


@INTERVIEWS.event("InterviewCompleted", 1)
class InterviewCompletedV1(Schema):
    """The conversation took place."""

    student_id = fields.String(required=True)
    contact_id = fields.String(required=True)
    start = fields.String(required=True)
    end = fields.String(required=True)
    student_time_zone = fields.String(required=True)


@INTERVIEWS.event("InterviewMissed", 1)
class InterviewMissedV1(Schema):
    """The conversation did not take place because someone did not show up."""

    who = fields.String(required=True, validate=validate.OneOf(("student", "contact")))
    student_id = fields.String(required=True)
    contact_id = fields.String(required=True)
    start = fields.String(required=True)


@STUDENT_SCHEDULES.event("InterviewSlotBooked", 1)
class InterviewSlotBookedV1(Schema):
    """A student's time was booked for an interview (the no-overlap rule's ledger)."""

    interview_id = fields.String(required=True)
    start = fields.String(required=True)
    end = fields.String(required=True)


@STUDENT_SCHEDULES.event("InterviewSlotReleased", 1)
class InterviewSlotReleasedV1(Schema):
    """A booked time became free again (rescheduled, cancelled or never confirmed)."""

    interview_id = fields.String(required=True)


@STUDENT_SCHEDULES.event("CalendarFeedRotated", 1)
class CalendarFeedRotatedV1(Schema):
    """The student's calendar feed got a new secret URL; the previous one stopped working."""

    student_id = fields.String(required=True)
    generation = fields.Integer(required=True, metadata={
        "description": "counts rotations from 1; the feed token is derived from it, so older URLs fail"})
