"""Shapes of the followups API's requests (marshmallow)."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates

from services.followups.projections import TIMELINE_KINDS

_CURSOR = validate.Regexp(r"^[A-Za-z0-9_\-]{1,1000}$", error="malformed cursor")
# `<stream id>:<version>` from any command's answer: a contact, interview, note or follow-up item
_MIN_VERSION = validate.Regexp(r"^[A-Za-z0-9_\-:]{1,300}:\d{1,9}$", error="give <id>:<version>")
def _student_id() -> fields.String:
    """A new field each time: a marshmallow field belongs to one schema."""
    return fields.String(validate=validate.Length(1, 128), metadata={
        "description": "admins: any student; advisors: a student assigned to them (read-only)"})


STATES = ("open", "snoozed", "dismissed", "done")
RULES = ("thank_you", "outreach_next_contact", "outreach_follow_up", "stay_in_touch", "action_item")


class TimelineQuery(Schema):
    kind = fields.String(metadata={"description": "comma-separated kinds: " + ", ".join(TIMELINE_KINDS)})
    from_ = fields.AwareDateTime(data_key="from", metadata={"description": "on or after (RFC 3339)"})
    to = fields.AwareDateTime(metadata={"description": "before (RFC 3339)"})
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    cursor = fields.String(validate=_CURSOR)
    student_id = _student_id()
    min_version = fields.String(validate=_MIN_VERSION)

    @validates("kind")
    def known_kinds(self, value: str, **kwargs: object) -> None:
        unknown = [k for k in value.split(",") if k not in TIMELINE_KINDS]
        if unknown:
            raise ValidationError(f"unknown kinds: {', '.join(unknown)[:200]}")


class FollowUpsQuery(Schema):
    state = fields.String(load_default="open", validate=validate.OneOf(STATES))
    rule = fields.String(validate=validate.OneOf(RULES))
    contact_id = fields.String(validate=validate.Length(1, 128))
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    cursor = fields.String(validate=_CURSOR)
    student_id = _student_id()
    min_version = fields.String(validate=_MIN_VERSION)


class Snooze(Schema):
    until = fields.AwareDateTime(required=True, metadata={"description": "RFC 3339 with an offset"})


class Dismiss(Schema):
    reason = fields.String(allow_none=True, validate=validate.Length(max=1000))


class AdviseesQuery(Schema):
    limit = fields.Integer(load_default=20, validate=validate.Range(1, 50),
                           metadata={"description": "students per page"})
    items = fields.Integer(load_default=10, validate=validate.Range(0, 50),
                           metadata={"description": "open items shown per student, overdue first"})
    cursor = fields.String(validate=_CURSOR)
    min_version = fields.String(validate=_MIN_VERSION)
