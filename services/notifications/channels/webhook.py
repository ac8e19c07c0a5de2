"""Webhooks signed per the Standard Webhooks specification (standardwebhooks.com).

Each delivery is an HTTP POST of the notification's JSON payload with three headers:
  webhook-id         the notification id: stable across retries, the receiver's idempotency key
  webhook-timestamp  integer Unix seconds of *this attempt* (a retry is re-signed with a new one)
  webhook-signature  `v1,<base64 HMAC-SHA256>` over `{id}.{timestamp}.{body}`, keyed with the
                     base64-decoded part of the endpoint's `whsec_...` secret
and the W3C `traceparent` (and `tracestate`) of the delivery's client span, in the trace of the
request that caused the notification, so a receiver that traces can join it (see `shared.tracing`).
`verify` is the receiver's side: constant-time comparison, any of several space-separated
signatures may match (secret rotation sends two), other schemes such as `v1a` are skipped, and a
timestamp outside the tolerance (default 5 minutes, either way) is refused against replays.

The body is serialised once (compact JSON, keys sorted, UTF-8) and those exact bytes are both
signed and sent: re-serialising after signing is the classic way to break signatures.

Where it goes: `shared.outbound.OutboundGuard` resolves the URL's host once, refuses loopback,
private, link-local, metadata and other non-public addresses (unless WEBHOOK_ALLOWED_NETWORKS lets
them through), and connects to exactly the address it checked, keeping the name for the Host
header, TLS SNI and certificate verification. The same check ran at registration; running it again
here is what stops a name that pointed somewhere public then and points inside now.

Outcome, following the specification's status-code etiquette:
- 2xx: delivered.
- 410 Gone: the receiver wants no more webhooks: permanent (the dispatcher disables the endpoint).
- 3xx: *not followed*. The specification counts redirects as failures (update the URL instead),
  and following one would let an endpoint bounce our signed, personal payload to any address
  (an internal one included), or turn a POST into a GET. Transient, so a moved endpoint shows up
  in the failure events and is eventually disabled if nobody updates it.
- any other status (4xx, 5xx, 429), timeouts, refused or reset connections: transient; a
  Retry-After (seconds or an HTTP date) is passed on as DeliveryFailed.retry_after.
- a URL that is not http(s), holds a user name, or whose host is (now) a refused address:
  permanent.

Every reason is the status plus a fixed text ("HTTP 500 from the endpoint", "connection refused",
"address not allowed: loopback"): the receiver's answer (its body, reason phrase or headers such as
Location) never reaches the events or the history, where it would be somebody else's words.

`timeout` bounds connecting and each wait for the receiver; the response body is never read, so
an answer's headers are all a receiver can drag out.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import ssl
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

from services.notifications.channels.message import DeliveryFailed, Outgoing
from shared import tracing
from shared.outbound import NameNotFound, OutboundGuard, Unreachable, UnsafeUrl

if TYPE_CHECKING:
    from shared.config import Settings

SECRET_PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"
DEFAULT_TOLERANCE_SECONDS = 300
USER_AGENT = "careerloop-webhooks/1"


class WebhookVerificationError(Exception):
    """A webhook whose headers are missing, whose timestamp is out of tolerance, or whose
    signatures all fail to match."""


def new_webhook_secret() -> str:
    """A fresh endpoint secret: `whsec_` + base64 of 32 random bytes (the spec asks for 24-64)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def _key(secret: str) -> bytes:
    raw = secret.removeprefix(SECRET_PREFIX)
    try:
        # "==" tolerates secrets written without their padding; surplus padding is ignored.
        key = base64.b64decode(raw + "==")
    except (binascii.Error, ValueError):
        raise ValueError("the webhook secret is not base64 (expected whsec_<base64>)") from None
    if not key:
        raise ValueError("the webhook secret is empty")
    return key


def _digest(secret: str, msg_id: str, timestamp: int, body: bytes) -> bytes:
    if not msg_id or "." in msg_id:
        # The id is a field of the signed content: a "." in it would make two different
        # (id, timestamp) pairs sign the same bytes.
        raise ValueError("a webhook id must be non-empty and contain no '.'")
    content = f"{msg_id}.{int(timestamp)}.".encode() + body
    return hmac.new(_key(secret), content, hashlib.sha256).digest()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`."""
    return f"{SIGNATURE_VERSION},{base64.b64encode(_digest(secret, msg_id, timestamp, body)).decode('ascii')}"


def _unix(now: datetime | None) -> int:
    return int((now or datetime.now(UTC)).timestamp())


def verify(secret: str, headers: Mapping[str, str], body: bytes | str, *,
           tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS, now: datetime | None = None) -> None:
    """Check a received webhook; raise WebhookVerificationError unless it is authentic and fresh.

    `headers` may be any mapping (names are matched case-insensitively); `body` must be the raw
    bytes received, not re-serialised JSON."""
    lowered = {str(k).lower(): v for k, v in headers.items()}
    msg_id, stamp, signatures = (lowered.get(h) for h in ("webhook-id", "webhook-timestamp", "webhook-signature"))
    if not msg_id or not stamp or not signatures:
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature header")
    if not stamp.isascii() or not stamp.isdigit():
        raise WebhookVerificationError("webhook-timestamp is not integer Unix seconds")
    timestamp = int(stamp)
    age = _unix(now) - timestamp
    if age > tolerance_seconds:
        raise WebhookVerificationError(f"webhook-timestamp is too old ({age} s)")
    if age < -tolerance_seconds:
        raise WebhookVerificationError(f"webhook-timestamp is too far in the future ({-age} s)")
    try:
        expected = _digest(secret, msg_id, timestamp, body.encode() if isinstance(body, str) else body)
    except ValueError as error:  # a "." in the id can never have been signed by us
        raise WebhookVerificationError(str(error)) from None
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        if version != SIGNATURE_VERSION:
            continue  # another scheme (v1a: ed25519) this verifier does not hold a key for
        try:
            given = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            continue
        if hmac.compare_digest(expected, given):
            return
    raise WebhookVerificationError("no signature matches")


def body_of(outgoing: Outgoing) -> bytes:
    """The exact bytes sent (and signed) for a notification."""
    return json.dumps(outgoing.payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode("utf-8")


def _retry_after(value: str | None, now: datetime | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class WebhookChannel:
    """WebhookChannel(timeout=10, guard=OutboundGuard()).send(outgoing, url, secret, now=...).

    `guard` decides which addresses may be reached (by default only public ones); `ssl_context`
    is the trust for https receivers (by default the system's, with verification on)."""

    def __init__(self, timeout: float = 10, *, guard: OutboundGuard | None = None,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.timeout = timeout
        self.guard = guard or OutboundGuard()
        self.ssl_context = ssl_context

    @classmethod
    def from_settings(cls, settings: Settings, *, timeout: float = 10) -> WebhookChannel:
        """The channel with WEBHOOK_ALLOWED_NETWORKS applied."""
        return cls(timeout, guard=OutboundGuard.from_settings(settings))

    def headers(self, outgoing: Outgoing, secret: str, body: bytes, now: datetime | None = None) -> dict[str, str]:
        timestamp = _unix(now)
        return {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": outgoing.notification_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret, outgoing.notification_id, timestamp, body),
        }

    def send(self, outgoing: Outgoing, url: str, secret: str, *, now: datetime | None = None) -> int:
        """POST the signed payload; return the 2xx status, or raise DeliveryFailed. The request is a client
        span of the active trace (the notification's), whose `traceparent` it carries."""
        body = body_of(outgoing)
        headers = self.headers(outgoing, secret, body, now)
        with tracing.client_span("POST webhook", **{"http.request.method": "POST"}) as span:
            tracing.inject(headers)  # W3C trace context (not signed: the signature covers id, timestamp, body)
            status = self._post(url, body, headers, now)
            span.set_attribute("http.response.status_code", status)
            return status

    def _post(self, url: str, body: bytes, headers: dict[str, str], now: datetime | None) -> int:
        try:
            status, answered = self.guard.post(url, body, headers, timeout=self.timeout,
                                               ssl_context=self.ssl_context)
        except NameNotFound as missing:  # DNS trouble may pass: retried, and disabled if it lasts
            raise DeliveryFailed(missing.reason, permanent=False) from None
        except UnsafeUrl as refused:
            raise DeliveryFailed(refused.reason, permanent=True) from None
        except Unreachable as failure:
            raise DeliveryFailed(failure.reason, permanent=False) from None
        if 200 <= status < 300:
            return status
        if status == 410:
            raise DeliveryFailed("HTTP 410 from the endpoint: it asked for no more webhooks", permanent=True,
                                 code=status)
        retry_after = _retry_after(answered.get("retry-after"), now)
        if 300 <= status < 400:
            raise DeliveryFailed(f"HTTP {status} from the endpoint: redirects are not followed, update the URL",
                                 permanent=False, code=status, retry_after=retry_after)
        raise DeliveryFailed(f"HTTP {status} from the endpoint", permanent=False, code=status,
                             retry_after=retry_after)
