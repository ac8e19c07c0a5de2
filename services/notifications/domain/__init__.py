"""The notifications domain (pure Python): one module per aggregate, plus the rules they share.

- `notification`: a message to one recipient through one channel, and its delivery (statuses)
- `preferences`: a user's channels per kind, e-mail address, zone, quiet hours and digest
- `webhook_endpoint`: a user's endpoint, counting failed deliveries and disabling itself
- `template`: one kind's templates, its placeholders and the template grammar
- `time_rules`: reminder times, quiet hours, the digest hour, retry backoff
- `keys`: dedupe keys and the stream ids derived from them; `errors`: DomainError

Everything is importable from this package, as the processes do.
"""
from services.notifications.domain.errors import DomainError
from services.notifications.domain.keys import dedupe_key, digest_key, notification_id, notification_ids
from services.notifications.domain.notification import (
                                                        BUNDLED,
                                                        FAILED,
                                                        PUSH_CHANNELS,
                                                        SCHEDULED,
                                                        SENT,
                                                        STATUSES,
                                                        SUPPRESSED,
                                                        Notification,
)
from services.notifications.domain.preferences import DEFAULT_CHANNELS, USER_KINDS, Preferences
from services.notifications.domain.template import PLACEHOLDERS, Template, check_template
from services.notifications.domain.time_rules import (
                                                        hhmm,
                                                        local_day,
                                                        next_digest_at,
                                                        quiet_until,
                                                        reminder_times,
                                                        retry_delay,
                                                        wall_to_utc,
)
from services.notifications.domain.webhook_endpoint import WebhookEndpoint
from shared.contracts.notifications import CHANNELS, FOLLOW_UP_KINDS, KINDS, REMINDER_KINDS
from shared.times import parse, zone  # the processes take these from here too

__all__ = [
    "BUNDLED", "CHANNELS", "DEFAULT_CHANNELS", "FAILED", "FOLLOW_UP_KINDS", "KINDS", "PLACEHOLDERS", "PUSH_CHANNELS",
    "REMINDER_KINDS", "SCHEDULED", "SENT", "STATUSES", "SUPPRESSED", "USER_KINDS", "DomainError", "Notification",
    "Preferences", "Template", "WebhookEndpoint", "check_template", "dedupe_key", "digest_key", "hhmm", "local_day",
    "next_digest_at", "notification_id", "notification_ids", "parse", "quiet_until", "reminder_times",
    "retry_delay", "wall_to_utc", "zone",
]
