"""Standard Webhooks signatures: the published test vector, and every way verification must fail."""
from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from services.notifications.channels import (
    Outgoing,
    WebhookChannel,
    WebhookVerificationError,
    body_of,
    new_webhook_secret,
    sign,
    verify,
)

# The vector of the specification's reference libraries (Python and Go tests of
# github.com/standard-webhooks/standard-webhooks): secret, id, timestamp and body -> signature.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
BODY = b'{"test": 2432232314}'
SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
AT_THE_TIME = datetime.fromtimestamp(TIMESTAMP, UTC)


def headers(signature: str = SIGNATURE, msg_id: str = MSG_ID, timestamp: int | str = TIMESTAMP) -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp), "webhook-signature": signature}


def test_signing_reproduces_the_specifications_test_vector() -> None:
    assert sign(SECRET, MSG_ID, TIMESTAMP, BODY) == SIGNATURE


def test_the_secret_works_with_or_without_its_prefix() -> None:
    assert sign(SECRET.removeprefix("whsec_"), MSG_ID, TIMESTAMP, BODY) == SIGNATURE


def test_a_genuine_webhook_verifies_within_the_tolerance_either_way() -> None:
    verify(SECRET, headers(), BODY, now=AT_THE_TIME)
    verify(SECRET, headers(), BODY, now=AT_THE_TIME + timedelta(seconds=299))
    verify(SECRET, headers(), BODY.decode(), now=AT_THE_TIME - timedelta(seconds=299))


def test_header_names_are_matched_case_insensitively() -> None:
    verify(SECRET, {k.title(): v for k, v in headers().items()}, BODY, now=AT_THE_TIME)


def test_any_one_of_several_signatures_may_match_as_during_secret_rotation() -> None:
    old_secret_signature = sign(new_webhook_secret(), MSG_ID, TIMESTAMP, BODY)
    several = f"v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw== {old_secret_signature} v1,not-base64! {SIGNATURE}"
    verify(SECRET, headers(several), BODY, now=AT_THE_TIME)


@pytest.mark.parametrize("case, secret, body, hdrs, now", [
    ("a tampered body", SECRET, b'{"test": 2432232315}', headers(), AT_THE_TIME),
    ("a body re-serialised after signing", SECRET, b'{"test":2432232314}', headers(), AT_THE_TIME),
    ("the wrong secret", new_webhook_secret(), BODY, headers(), AT_THE_TIME),
    ("another id", SECRET, BODY, headers(msg_id="msg_other"), AT_THE_TIME),
    ("another timestamp", SECRET, BODY, headers(timestamp=TIMESTAMP + 1), AT_THE_TIME),
    ("an old timestamp", SECRET, BODY, headers(), AT_THE_TIME + timedelta(seconds=301)),
    ("a timestamp from the future", SECRET, BODY, headers(), AT_THE_TIME - timedelta(seconds=301)),
    ("a timestamp that is not an integer", SECRET, BODY, headers(timestamp="1614265330.5"), AT_THE_TIME),
    ("only a signature of another scheme", SECRET, BODY, headers(SIGNATURE.replace("v1,", "v1a,")), AT_THE_TIME),
    ("a missing signature header", SECRET, BODY, {"webhook-id": MSG_ID, "webhook-timestamp": str(TIMESTAMP)},
     AT_THE_TIME),
    ("an id with a dot", SECRET, BODY, headers(msg_id="msg.1"), AT_THE_TIME),
])
def test_verification_refuses(case: str, secret: str, body: bytes, hdrs: dict[str, str], now: datetime) -> None:
    with pytest.raises(WebhookVerificationError):
        verify(secret, hdrs, body, now=now)


def test_the_tolerance_can_be_tightened() -> None:
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify(SECRET, headers(), BODY, now=AT_THE_TIME + timedelta(seconds=61), tolerance_seconds=60)


def test_new_secrets_are_prefixed_random_32_bytes() -> None:
    first, second = new_webhook_secret(), new_webhook_secret()
    assert first.startswith("whsec_") and first != second
    assert len(base64.b64decode(first.removeprefix("whsec_"), validate=True)) == 32


def test_ids_with_a_dot_and_empty_secrets_cannot_be_signed() -> None:
    with pytest.raises(ValueError):
        sign(SECRET, "ntf.1", TIMESTAMP, BODY)
    with pytest.raises(ValueError):
        sign("whsec_", MSG_ID, TIMESTAMP, BODY)


def test_the_channel_signs_exactly_the_bytes_it_sends_with_the_notification_id() -> None:
    outgoing = Outgoing("ntf_abc", "interview_reminder_1h", "s", "t", "<p>t</p>",
                        {"type": "careerloop.notification.interview_reminder_1h", "id": "ntf_abc",
                         "data": {"contact": "Zoë", "b": 1, "a": 2}})
    secret = new_webhook_secret()
    body = body_of(outgoing)
    assert body == ('{"data":{"a":2,"b":1,"contact":"Zoë"},"id":"ntf_abc",'
                    '"type":"careerloop.notification.interview_reminder_1h"}').encode()
    sent = WebhookChannel().headers(outgoing, secret, body, now=AT_THE_TIME)
    assert sent["webhook-id"] == "ntf_abc" and sent["webhook-timestamp"] == str(TIMESTAMP)
    verify(secret, sent, body, now=AT_THE_TIME)
