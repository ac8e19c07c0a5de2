"""Shapes of the notifications API's requests (marshmallow)."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate

from services.notifications.domain import STATUSES, USER_KINDS
from shared.contracts.notifications import CHANNELS, KINDS
from shared.outbound import UnsafeUrl, parse_url
from shared.web.validators import check_time_zone

_CURSOR = validate.Regexp(r"^[A-Za-z0-9_\-]{1,1000}$", error="malformed cursor")
# `<id>:<version>` from a command's answer: a notification (ntf_...) or a webhook endpoint (whe_...)
_MIN_VERSION = validate.Regexp(r"^[A-Za-z0-9_\-]{1,128}:\d{1,9}$", error="give <id>:<version>")
_HHMM = validate.Regexp(r"^([01]\d|2[0-3]):[0-5]\d$", error="a local time of day as HH:MM")


def _student_id() -> fields.String:
    """A new field each time: a marshmallow field belongs to one schema."""
    return fields.String(validate=validate.Length(1, 128), metadata={"description": "admins only: whose"})


class QuietHours(Schema):
    start = fields.String(required=True, validate=_HHMM, metadata={"description": "local HH:MM, e.g. 22:00"})
    end = fields.String(required=True, validate=_HHMM,
                        metadata={"description": "local HH:MM, e.g. 07:00 (before start: the next morning)"})


class PreferencesBody(Schema):
    email = fields.Email(allow_none=True, load_default=None, validate=validate.Length(max=254))
    time_zone = fields.String(allow_none=True, load_default=None, validate=check_time_zone,
                              metadata={"description": "IANA zone; reminders and quiet hours follow it"})
    channels = fields.Dict(keys=fields.String(validate=validate.OneOf(USER_KINDS)),
                           values=fields.List(fields.String(validate=validate.OneOf(CHANNELS)),
                                              validate=validate.Length(max=len(CHANNELS))),
                           load_default=dict,
                           metadata={"description": "kind -> channels (email, webhook, in_app); kinds left out "
                                                    "keep theirs"})
    quiet_hours = fields.Nested(QuietHours, allow_none=True, load_default=None,
                                metadata={"description": "push channels wait until the end of this period"})
    digest = fields.Boolean(load_default=False,
                            metadata={"description": "follow-ups by e-mail and webhook go out in one daily digest"})
    student_id = _student_id()


class StudentQuery(Schema):
    student_id = _student_id()


class InboxQuery(Schema):
    unread = fields.Boolean(metadata={"description": "true: only what is not marked read"})
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    cursor = fields.String(validate=_CURSOR)
    student_id = _student_id()
    min_version = fields.String(validate=_MIN_VERSION)


class HistoryQuery(Schema):
    status = fields.String(validate=validate.OneOf(STATUSES))
    kind = fields.String(validate=validate.OneOf(KINDS))
    channel = fields.String(validate=validate.OneOf(CHANNELS))
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    cursor = fields.String(validate=_CURSOR)
    student_id = _student_id()
    min_version = fields.String(validate=_MIN_VERSION)


def _webhook_url(value: str) -> None:
    """The URL's shape (where its host resolves to is checked by the service)."""
    try:
        parse_url(value)
    except UnsafeUrl as unsafe:
        raise ValidationError(unsafe.reason) from None


class RegisterWebhook(Schema):
    url = fields.String(required=True, validate=[validate.Length(max=2000), _webhook_url],
                        metadata={"description": "where notifications are POSTed: http(s), no user:password@, "
                                                 "a host with a public address (https in production)"})
    description = fields.String(allow_none=True, validate=validate.Length(max=300))
    student_id = _student_id()


class WebhooksQuery(Schema):
    student_id = _student_id()
    min_version = fields.String(validate=_MIN_VERSION)


class TemplateBody(Schema):
    subject = fields.String(required=True, validate=validate.Length(1, 300))
    text = fields.String(required=True, validate=validate.Length(1, 20000))
    html = fields.String(required=True, validate=validate.Length(1, 50000))
