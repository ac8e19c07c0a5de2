"""Webhooks signed per the Standard Webhooks specification (standardwebhooks.com).

Each delivery is an HTTP POST of the notification's JSON payload with three headers:
  webhook-id         the notification id: stable across retries, the receiver's idempotency key
  webhook-timestamp  integer Unix seconds of *this attempt* (a retry is re-signed with a new one)
  webhook-signature  `v1,<base64 HMAC-SHA256>` over `{id}.{timestamp}.{body}`, keyed with the
                     base64-decoded part of the endpoint's `whsec_...` secret
`verify` is the receiver's side: constant-time comparison, any of several space-separated
signatures may match (secret rotation sends two), other schemes such as `v1a` are skipped, and a
timestamp outside the tolerance (default 5 minutes, either way) is refused against replays.

The body is serialised once (compact JSON, keys sorted, UTF-8) and those exact bytes are both
signed and sent: re-serialising after signing is the classic way to break signatures.

Outcome, following the specification's status-code etiquette:
- 2xx: delivered.
- 410 Gone: the receiver wants no more webhooks: permanent (the dispatcher disables the endpoint).
- 3xx: *not followed*. The specification counts redirects as failures (update the URL instead),
  and following one would let an endpoint bounce our signed, personal payload to any address, or
  turn a POST into a GET. Transient, with the Location in the reason, so a moved endpoint shows
  up in the failure events and is eventually disabled if nobody updates it.
- any other status (4xx, 5xx, 429), timeouts, refused or reset connections: transient; a
  Retry-After (seconds or an HTTP date) is passed on as DeliveryFailed.retry_after.
- a URL that is not http(s) or cannot be parsed: permanent.

`timeout` bounds connecting and each wait for the receiver (requests has no overall deadline); the
response body is never read, so an answer's headers are all a receiver can drag out.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Mapping
from urllib.parse import urlsplit

import requests

from services.notifications.channels.message import DeliveryFailed, Outgoing

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
    return int((now or datetime.now(timezone.utc)).timestamp())


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
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


class WebhookChannel:
    """WebhookChannel(timeout=10).send(outgoing, url, secret, now=...)."""

    def __init__(self, timeout: float = 10) -> None:
        self.timeout = timeout

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
        """POST the signed payload; return the 2xx status, or raise DeliveryFailed."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise DeliveryFailed(f"{url!r} is not an http(s) URL", permanent=True)
        body = body_of(outgoing)
        headers = self.headers(outgoing, secret, body, now)
        try:
            # stream=True: the status and headers are all we need; a receiver's large (or
            # endless) body is never downloaded.
            response = requests.post(url, data=body, headers=headers, timeout=self.timeout,
                                     allow_redirects=False, stream=True)
        except requests.Timeout:
            raise DeliveryFailed(f"no answer from {parts.hostname} within {self.timeout:g} s", permanent=False) from None
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema):
            raise DeliveryFailed(f"{url!r} is not a usable URL", permanent=True) from None
        except requests.RequestException as error:  # refused, reset, DNS, TLS
            raise DeliveryFailed(f"could not reach {parts.hostname}: {type(error).__name__}", permanent=False) from None
        with response:
            status = response.status_code
            retry_after = _retry_after(response.headers.get("retry-after"), now)
            location = response.headers.get("location")
        if 200 <= status < 300:
            return status
        if status == 410:
            raise DeliveryFailed("410 Gone: the endpoint asked for no more webhooks", permanent=True, code=status)
        if 300 <= status < 400:
            raise DeliveryFailed(f"{status} redirect to {location!r} not followed: update the endpoint URL",
                                 permanent=False, code=status, retry_after=retry_after)
        raise DeliveryFailed(f"HTTP {status} {response.reason or ''}".rstrip(), permanent=False, code=status,
                             retry_after=retry_after)
