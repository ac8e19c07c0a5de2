"""Shapes of the followups API's requests and responses (marshmallow)."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates

from services.followups.projections import TIMELINE_KINDS
from shared.subject_export import part_schema
from shared.web.api import page_of

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


class SourceView(Schema):
    """The record an entry or item comes from; which ids it names depends on its type."""

    service = fields.String(required=True,
                            validate=validate.OneOf(("contacts", "scheduling", "notes", "notifications")))
    type = fields.String(required=True, metadata={"description": "contact, touchpoint, interview, note, notification"})
    id = fields.String(metadata={"description": "absent in an advisor's view of a private note's item"})
    event_id = fields.String(metadata={"description": "timeline entries: the event the entry records"})
    contact_id = fields.String(metadata={"description": "touchpoints"})
    interview_id = fields.String(allow_none=True, metadata={"description": "notes"})
    item_id = fields.String(metadata={"description": "action items: the note's item"})
    last_touch_at = fields.String(allow_none=True, metadata={"description": "stay-in-touch items"})


class TimelineEntry(Schema):
    id = fields.String(required=True, metadata={"description": "the id of the event the entry records"})
    student_id = fields.String(required=True)
    contact_id = fields.String(allow_none=True, required=True)
    kind = fields.String(required=True, validate=validate.OneOf(TIMELINE_KINDS))
    at = fields.String(required=True, metadata={"description": "UTC, RFC 3339"})
    summary = fields.String(required=True)
    link = fields.String(required=True, metadata={"description": "the API path of the record"})
    source = fields.Nested(SourceView, required=True)


TimelinePage = page_of(TimelineEntry, "TimelinePage")


class ClosedBy(Schema):
    kind = fields.String(required=True, metadata={"description": "what closed the item: a reply, a thank-you, ..."})
    touchpoint_id = fields.String()
    at = fields.String(allow_none=True, required=True)


class FollowUpView(Schema):
    """One item of the queue, as `api.item_view` shows it."""

    id = fields.String(required=True)
    rule = fields.String(required=True, validate=validate.OneOf(RULES))
    reason = fields.String(required=True)
    state = fields.String(required=True, validate=validate.OneOf(STATES))
    due_at = fields.String(required=True)
    overdue_at = fields.String(allow_none=True, required=True, metadata={"description": "null: never overdue"})
    due = fields.Boolean(required=True)
    overdue = fields.Boolean(required=True)
    announced = fields.Boolean(required=True, metadata={"description": "a due notice was sent"})
    private = fields.Boolean(required=True, metadata={"description": "from a private note: text hidden from advisors"})
    contact_id = fields.String(allow_none=True, required=True)
    link = fields.String(allow_none=True, required=True)
    source = fields.Nested(SourceView, required=True)
    snoozed_until = fields.String(allow_none=True, required=True)
    closed_by = fields.Nested(ClosedBy, allow_none=True, required=True)
    dismissed_reason = fields.String(allow_none=True, required=True)
    rules_version = fields.Integer(allow_none=True, required=True)


_NOW = "the time the states were computed for"
FollowUpsPage = page_of(FollowUpView, "FollowUpsPage", now=fields.String(required=True, metadata={"description": _NOW}))


class LastActivity(TimelineEntry):
    """The student's newest timeline entry, in brief."""

    class Meta:
        fields = ("at", "kind", "summary", "link")


class AdviseeView(Schema):
    student_id = fields.String(required=True)
    open = fields.Integer(required=True)
    overdue = fields.Integer(required=True)
    items = fields.List(fields.Nested(FollowUpView), required=True, metadata={"description": "open, overdue first"})
    next_due = fields.Nested(FollowUpView, allow_none=True, required=True)
    last_activity = fields.Nested(LastActivity, allow_none=True, required=True)
    queue = fields.String(required=True, metadata={"description": "the API path of the student's queue"})


AdviseesPage = page_of(AdviseeView, "AdviseesPage", now=fields.String(required=True, metadata={"description": _NOW}))


class ExportData(Schema):
    timeline = fields.List(fields.Nested(TimelineEntry), required=True, metadata={"description": "oldest first"})
    followups = fields.List(fields.Nested(FollowUpView), required=True, metadata={
        "description": "every item in any state, by due time; states as of generated_at"})


ExportPart = part_schema(ExportData, "FollowUpsExportPart")
