"""What every channel is handed, and the one way a channel says it could not deliver.

A channel is a transport only: the dispatcher has already decided *whether* and *what* to send
(templates, preferences, dedupe), and hands over an `Outgoing` whose `notification_id` is
deterministic. Channels put that id on the wire (e-mail Message-ID, webhook-id), so if a crash
between "the peer accepted" and "NotificationSent was appended" makes the dispatcher send again,
the peer sees the same message twice and can recognise it as one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Attachment:
    filename: str  # e.g. "invite.ics"
    content_type: str  # full MIME type with parameters, e.g. "text/calendar; method=REQUEST"
    content: str


@dataclass(frozen=True)
class Outgoing:
    notification_id: str  # deterministic; Message-ID <id@careerloop>, webhook-id
    kind: str
    subject: str
    text: str
    html: str
    payload: dict[str, Any]  # the JSON body of webhooks, sent as given (CloudEvents-like: type, id, data)
    attachments: tuple[Attachment, ...] = ()
    late: bool = False  # carried for the caller's templates and logs; channels send content as given


class DeliveryFailed(Exception):
    """The peer did not take the message.

    `permanent` means sending the same message again cannot succeed (an SMTP 5xx to this message's
    MAIL/RCPT/DATA, HTTP 410 Gone, an unusable address or URL): the dispatcher records a final
    failure. Otherwise (SMTP 4xx, HTTP 5xx/429/3xx, timeouts, refused or dropped connections) it
    retries with backoff. `code` is the SMTP reply code or HTTP status when there was one;
    `retry_after` is the seconds an HTTP peer asked us to wait (Retry-After), if it said.
    """

    def __init__(self, reason: str, *, permanent: bool, code: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.code = code
        self.retry_after = retry_after

    def __repr__(self) -> str:
        kind = "permanent" if self.permanent else "transient"
        return f"DeliveryFailed({self.reason!r}, {kind}, code={self.code})"
