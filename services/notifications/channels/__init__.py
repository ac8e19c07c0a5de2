"""The notification channels: transports that take a rendered `Outgoing` to a peer.

    EmailChannel(smtp_url, sender, timeout=30).send(outgoing, to_address)
    WebhookChannel(timeout=10, guard=OutboundGuard(...)).send(outgoing, url, secret, now=...)
        (only to addresses the guard allows: see shared.outbound)
    new_webhook_secret(), sign(secret, msg_id, timestamp, body), verify(secret, headers, body, ...)

Both raise DeliveryFailed(reason, permanent=...) when the peer did not take the message, and put
the deterministic notification id on the wire (Message-ID, webhook-id) so that a send repeated
after a crash is recognisably the same message. The in-app inbox is not a transport: it is the
notifications' own read model.
"""
from services.notifications.channels.email import EmailChannel, SmtpTarget, message_id, parse_smtp_url
from services.notifications.channels.message import Attachment, DeliveryFailed, Outgoing
from services.notifications.channels.webhook import (
                                                     WebhookChannel,
                                                     WebhookVerificationError,
                                                     body_of,
                                                     new_webhook_secret,
                                                     sign,
                                                     verify,
)

__all__ = [
    "Attachment", "DeliveryFailed", "EmailChannel", "Outgoing", "SmtpTarget", "WebhookChannel",
    "WebhookVerificationError", "body_of", "message_id", "new_webhook_secret", "parse_smtp_url", "sign", "verify",
]
