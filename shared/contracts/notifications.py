"""Events of the notifications service: what is sent to whom, when, through which channel, and why not.

Four streams, four topics:

- `notification` (careerloop.notifications.notification.v1), one stream per message to one recipient
  through one channel. The stream id is derived from a deterministic *dedupe key* (source event id,
  kind, channel, recipient): `ntf_` + the first 32 hex digits of its SHA-256. `NotificationScheduled`
  is always the stream's first event, appended at expected version 0, so the key is recorded before
  anything is sent and a replayed source event finds the stream taken (a concurrency conflict) and
  does nothing. The rest of the stream is the delivery: `NotificationDeferred` (quiet hours),
  `NotificationBundled` (collected into a daily digest), `NotificationSent` (`late` when the
  dispatcher sent it more than a grace after it was due), `NotificationFailed` (with `retry_at`, or
  `final`), `NotificationSuppressed` (with the reason it will never be sent) and, for the in-app inbox,
  `NotificationAcknowledged` (the recipient marked it read). A digest is a notification of kind
  `digest` whose stream also holds `DigestItemAdded` for each notification collected into it.
  A webhook notification goes to each of the recipient's enabled endpoints; its `Sent`/`Failed`
  events name the endpoint.
- `preferences` (careerloop.notifications.preferences.v1), one stream per user:
  `NotificationPreferencesChanged` carries the *full* preferences (channels per kind, e-mail address,
  time zone, quiet hours, digest), so one event is enough to know them.
- `webhook_endpoint` (careerloop.notifications.webhook_endpoint.v1), one stream per endpoint: registered
  (its URL was checked to reach only public addresses, or WEBHOOK_ALLOWED_NETWORKS),
  each failed delivery (`WebhookDeliveryFailed` with the consecutive count), recovered, disabled (by the
  dispatcher after too many consecutive failures, with the reason), enabled again, removed. The signing
  secret is never in an event: it is derived from a server key and the endpoint's `secret_salt`.
- `template` (careerloop.notifications.template.v1), one stream per kind: `NotificationTemplateChanged`
  with the full subject, text and HTML templates an admin set.

Every time is RFC 3339 UTC with a `Z`. Personal data (addresses, names, rendered text) is marked `pii`.
"""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from shared.events import EventCatalog, pii

NOTIFICATIONS = EventCatalog("notifications", "notification")
NOTIFICATION_PREFERENCES = EventCatalog("notifications", "preferences")
WEBHOOK_ENDPOINTS = EventCatalog("notifications", "webhook_endpoint")
NOTIFICATION_TEMPLATES = EventCatalog("notifications", "template")

REMINDER_KINDS = ("interview_reminder_24h", "interview_reminder_1h")
FOLLOW_UP_KINDS = ("thank_you_due", "follow_up_due", "check_in_due")
KINDS = REMINDER_KINDS + FOLLOW_UP_KINDS + ("digest",)
CHANNELS = ("email", "webhook", "in_app")
_UTC = {"description": "RFC 3339 UTC"}
_REASON = ("why, in our words: for a webhook the HTTP status and a fixed text (`HTTP 503 from the endpoint`, "
           "`connection refused`, `address not allowed: loopback`), never what the receiver answered")


class Source(Schema):
    """The event a notification was scheduled from (or, for a digest, the day it collects)."""

    service = fields.String(required=True)
    type = fields.String(required=True, metadata={"description": "the source stream's type, e.g. interview"})
    id = fields.String(required=True, metadata={"description": "the source stream's id"})
    event_id = fields.String(allow_none=True, metadata={"description": "the source event's id (the dedupe key's)"})
    event_type = fields.String(allow_none=True)


class Context(Schema):
    """What the templates are rendered with, as known when the notification was scheduled."""

    interview_id = fields.String(allow_none=True)
    contact_id = fields.String(allow_none=True)
    contact_name = pii(fields.String(allow_none=True), subject="contact")
    contact_organisation = fields.String(allow_none=True)
    start = fields.String(allow_none=True, metadata=_UTC)
    end = fields.String(allow_none=True, metadata=_UTC)
    time_zone = fields.String(allow_none=True, metadata={"description": "the recipient's IANA zone, if known"})
    format = fields.String(allow_none=True)
    link = fields.String(allow_none=True, metadata={"description": "path of the source, e.g. /interviews/<id>"})
    meeting_url = pii(fields.String(allow_none=True, metadata={"description": "the video call's link"}))
    place = pii(fields.String(allow_none=True))
    objectives = pii(fields.List(fields.String(), allow_none=True))
    sequence = fields.Integer(allow_none=True, metadata={"description": "iCalendar SEQUENCE of the invite"})
    rule = fields.String(allow_none=True, metadata={"description": "the follow-up rule that fell due"})
    reason = pii(fields.String(allow_none=True))
    due_at = fields.String(allow_none=True, metadata=_UTC)
    overdue_at = fields.String(allow_none=True, metadata=_UTC)
    date = fields.String(allow_none=True, metadata={"description": "a digest's local day, YYYY-MM-DD"})


@NOTIFICATIONS.event("NotificationScheduled", 1)
class NotificationScheduledV1(Schema):
    """A notification will be sent to the recipient through one channel at `send_at` (recorded before sending)."""

    recipient_id = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    send_at = fields.String(required=True, metadata=_UTC)
    dedupe_key = fields.String(required=True, metadata={"description": "source event id|kind|channel|recipient"})
    source = fields.Nested(Source, required=True)
    context = fields.Nested(Context, required=True)


@NOTIFICATIONS.event("NotificationDeferred", 1)
class NotificationDeferredV1(Schema):
    """Sending waits until `until` (the end of the recipient's quiet hours); it is delayed, never dropped."""

    recipient_id = fields.String(required=True)
    until = fields.String(required=True, metadata=_UTC)
    reason = fields.String(required=True)


@NOTIFICATIONS.event("NotificationBundled", 1)
class NotificationBundledV1(Schema):
    """The notification will go out in the recipient's daily digest instead of on its own."""

    recipient_id = fields.String(required=True)
    digest_id = fields.String(required=True)
    digest_at = fields.String(required=True, metadata=_UTC)


@NOTIFICATIONS.event("DigestItemAdded", 1)
class DigestItemAddedV1(Schema):
    """A notification was collected into this digest."""

    recipient_id = fields.String(required=True)
    notification_id = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(FOLLOW_UP_KINDS))


@NOTIFICATIONS.event("NotificationSent", 1)
class NotificationSentV1(Schema):
    """A channel accepted the message (the SMTP server, a webhook endpoint) or the inbox shows it."""

    recipient_id = fields.String(required=True)
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    sent_at = fields.String(required=True, metadata=_UTC)
    due_at = fields.String(required=True, metadata={"description": "when this attempt was due (RFC 3339 UTC)"})
    late = fields.Boolean(required=True, metadata={"description": "sent more than the grace after it was due"})
    attempt = fields.Integer(required=True)
    endpoint_id = fields.String(allow_none=True, metadata={"description": "the webhook endpoint, for webhooks"})
    subject = pii(fields.String(required=True))
    text = pii(fields.String(required=True))
    digest_id = fields.String(allow_none=True, metadata={"description": "set when it went out in a digest"})
    # not "items": when dumping a dict without the key, marshmallow would fall back to dict.items
    digest_items = fields.List(fields.String(), load_default=list, metadata={"description": "a digest's notifications"})


@NOTIFICATIONS.event("NotificationFailed", 1)
class NotificationFailedV1(Schema):
    """An attempt failed; it is retried at `retry_at` unless the failure is `final`."""

    recipient_id = fields.String(required=True)
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    attempt = fields.Integer(required=True)
    reason = fields.String(required=True, metadata={"description": _REASON})
    retry_at = fields.String(allow_none=True, metadata=_UTC)
    final = fields.Boolean(required=True)
    endpoint_id = fields.String(allow_none=True)


@NOTIFICATIONS.event("NotificationSuppressed", 1)
class NotificationSuppressedV1(Schema):
    """The notification will not be sent, and why (rescheduled, cancelled, too late, channel off, ...)."""

    recipient_id = fields.String(required=True)
    reason = fields.String(required=True)


@NOTIFICATIONS.event("NotificationAcknowledged", 1)
class NotificationAcknowledgedV1(Schema):
    """The recipient marked the in-app notification read."""

    recipient_id = fields.String(required=True)
    read_at = fields.String(required=True, metadata=_UTC)


class QuietHours(Schema):
    start = fields.String(required=True, metadata={"description": "local HH:MM"})
    end = fields.String(required=True, metadata={"description": "local HH:MM (before start: the next day)"})


@NOTIFICATION_PREFERENCES.event("NotificationPreferencesChanged", 1)
class NotificationPreferencesChangedV1(Schema):
    """The user's notification preferences, in full, as of this change."""

    user_id = fields.String(required=True)
    email = pii(fields.String(allow_none=True))
    time_zone = fields.String(allow_none=True, metadata={"description": "IANA zone"})
    channels = fields.Dict(keys=fields.String(validate=validate.OneOf(KINDS[:-1])),
                           values=fields.List(fields.String(validate=validate.OneOf(CHANNELS))), required=True,
                           metadata={"description": "the channels of each kind"})
    quiet_hours = fields.Nested(QuietHours, allow_none=True)
    digest = fields.Boolean(required=True, metadata={"description": "follow-up kinds go out in one daily digest"})


@WEBHOOK_ENDPOINTS.event("WebhookEndpointRegistered", 1)
class WebhookEndpointRegisteredV1(Schema):
    """A user registered an HTTPS endpoint for their notifications (signed per Standard Webhooks)."""

    user_id = fields.String(required=True)
    url = pii(fields.String(required=True))
    description = pii(fields.String(allow_none=True))
    secret_salt = fields.String(
        required=True, metadata={"description": "not the secret: it is derived from a server key"}
    )


@WEBHOOK_ENDPOINTS.event("WebhookDeliveryFailed", 1)
class WebhookDeliveryFailedV1(Schema):
    """A delivery to the endpoint failed; `consecutive_failures` counts since its last success."""

    user_id = fields.String(required=True)
    notification_id = fields.String(required=True)
    reason = fields.String(required=True, metadata={"description": _REASON})
    consecutive_failures = fields.Integer(required=True)


@WEBHOOK_ENDPOINTS.event("WebhookEndpointRecovered", 1)
class WebhookEndpointRecoveredV1(Schema):
    """A delivery succeeded after failures: the count of consecutive failures starts again."""

    user_id = fields.String(required=True)
    notification_id = fields.String(required=True)


@WEBHOOK_ENDPOINTS.event("WebhookEndpointDisabled", 1)
class WebhookEndpointDisabledV1(Schema):
    """The endpoint kept failing and receives nothing until it is enabled again."""

    user_id = fields.String(required=True)
    reason = fields.String(required=True)
    consecutive_failures = fields.Integer(required=True)


@WEBHOOK_ENDPOINTS.event("WebhookEndpointEnabled", 1)
class WebhookEndpointEnabledV1(Schema):
    """A disabled endpoint receives notifications again."""

    user_id = fields.String(required=True)


@WEBHOOK_ENDPOINTS.event("WebhookEndpointRemoved", 1)
class WebhookEndpointRemovedV1(Schema):
    """The user removed the endpoint; it never receives anything again."""

    user_id = fields.String(required=True)


@NOTIFICATION_TEMPLATES.event("NotificationTemplateChanged", 1)
class NotificationTemplateChangedV1(Schema):
    """An admin changed the templates of one kind of notification."""

    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    subject = fields.String(required=True)
    text = fields.String(required=True)
    html = fields.String(required=True)
