"""Shapes of the notifications API's requests and responses (marshmallow)."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate

from services.notifications.domain import STATUSES, USER_KINDS
from shared.contracts import notifications as contract
from shared.contracts.notifications import CHANNELS, KINDS
from shared.outbound import UnsafeUrl, parse_url
from shared.subject_export import part_schema
from shared.web.api import page_of
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


class PreferencesView(Schema):
    """`GET /preferences`: the defaults until the user changes them."""

    student_id = fields.String(required=True)
    version = fields.Integer(required=True, metadata={"description": "0 while the defaults apply"})
    email = fields.String(allow_none=True, required=True)
    time_zone = fields.String(allow_none=True, required=True)
    channels = fields.Dict(keys=fields.String(validate=validate.OneOf(USER_KINDS)),
                           values=fields.List(fields.String(validate=validate.OneOf(CHANNELS))), required=True)
    quiet_hours = fields.Nested(QuietHours, allow_none=True, required=True)
    digest = fields.Boolean(required=True)


INBOX_FIELDS = ("id", "version", "kind", "subject", "text", "link", "sent_at", "late", "read", "read_at")  # the inbox's


class Delivery(Schema):
    target = fields.String(required=True, metadata={"description": "email, in_app, or a webhook endpoint id"})
    state = fields.String(required=True, validate=validate.OneOf(("sent", "retrying", "failed")))
    attempts = fields.Integer(required=True)
    retry_at = fields.String(allow_none=True, required=True)


class NotificationSourceView(contract.Source):
    """The source as its `NotificationScheduled` event recorded it (own name: the contract's is `Source`)."""


class NotificationView(Schema):
    """A notification as `api.item_view` shows it, in the history and on its own."""

    id = fields.String(required=True)
    version = fields.Integer(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    send_at = fields.String(required=True)
    due_at = fields.String(required=True, metadata={"description": "when the next attempt is due"})
    sent_at = fields.String(allow_none=True, required=True)
    late = fields.Boolean(required=True)
    reason = fields.String(allow_none=True, required=True, metadata={"description": "why suppressed or failed"})
    subject = fields.String(allow_none=True, required=True)
    text = fields.String(allow_none=True, required=True)
    link = fields.String(allow_none=True, required=True)
    read = fields.Boolean(required=True)
    read_at = fields.String(allow_none=True, required=True)
    digest_id = fields.String(allow_none=True, required=True)
    attempts = fields.Integer(required=True)
    deliveries = fields.List(fields.Nested(Delivery), required=True)
    source = fields.Nested(NotificationSourceView, required=True)
    scheduled_at = fields.String(allow_none=True, required=True,
                                 metadata={"description": "the history's; null for a single notification"})


NotificationsPage = page_of(NotificationView, "NotificationsPage")


class InboxItem(NotificationView):
    """An in-app notification: the history's view, only what an inbox shows."""

    class Meta:
        fields = INBOX_FIELDS


InboxPage = page_of(InboxItem, "InboxPage", unread=fields.Integer(
    required=True, metadata={"description": "all unread in-app notifications, not only the page's"}))


class WebhookRegistered(Schema):
    id = fields.String(required=True)
    version = fields.Integer(required=True)
    secret = fields.String(required=True, metadata={"description": "the signing secret: shown this once"})


ENDPOINT_STATES = ("enabled", "disabled", "removed")


class WebhookView(Schema):
    id = fields.String(required=True)
    version = fields.Integer(required=True)
    url = fields.String(required=True)
    description = fields.String(allow_none=True, required=True)
    status = fields.String(required=True, validate=validate.OneOf(ENDPOINT_STATES))
    consecutive_failures = fields.Integer(required=True)
    disabled_reason = fields.String(allow_none=True, required=True)


class LastFailure(Schema):
    at = fields.String(required=True)
    reason = fields.String(required=True)
    notification_id = fields.String(required=True)


class WebhookEntry(WebhookView):
    """One endpoint in `GET /webhooks`, as the read model holds it."""

    last_failure = fields.Nested(LastFailure, allow_none=True, required=True)
    registered_at = fields.String(required=True)


class WebhooksList(Schema):
    items = fields.List(fields.Nested(WebhookEntry), required=True)


class TemplateView(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    version = fields.Integer(required=True, metadata={"description": "0 while the default applies"})
    subject = fields.String(required=True)
    text = fields.String(required=True)
    html = fields.String(required=True)
    default = fields.Boolean(required=True, metadata={"description": "the built-in templates, never changed"})
    placeholders = fields.Dict(keys=fields.String(), values=fields.String(), required=True,
                               metadata={"description": "name -> what it stands for"})


class TemplatesList(Schema):
    items = fields.List(fields.Nested(TemplateView), required=True)


class ExportData(Schema):
    preferences = fields.Nested(PreferencesView, required=True)
    notifications = fields.List(fields.Nested(NotificationView), required=True, metadata={
        "description": "every notification to you on any channel (the in-app inbox included), by send time"})
    webhooks = fields.List(fields.Nested(WebhookEntry), required=True, metadata={
        "description": "the endpoints you registered, removed ones too (no secrets: none is stored)"})


ExportPart = part_schema(ExportData, "NotificationsExportPart")
