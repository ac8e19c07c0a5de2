"""The webhook channel against a real HTTP receiver that verifies Standard Webhooks signatures."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from services.notifications.channels import (DeliveryFailed, Outgoing, WebhookChannel, WebhookVerificationError,
                                             body_of, new_webhook_secret, verify)
from tests.integration.notifications.peers import WebhookReceiver, unused_port


def follow_up(notification_id: str = "ntf_9c1e") -> Outgoing:
    return Outgoing(notification_id, "follow_up_due", "Time to follow up with Zoë", "text", "<p>html</p>",
                    payload={"type": "careerloop.notification.follow_up_due", "id": notification_id,
                             "data": {"student_id": "student-1", "reason": "No reply from Zoë Ng for 7 days"}})


def send(receiver: WebhookReceiver, outgoing: Outgoing | None = None, timeout: float = 10, **kwargs: object) -> int:
    return WebhookChannel(timeout=timeout).send(outgoing or follow_up(), receiver.url, receiver.secret, **kwargs)  # type: ignore[arg-type]


def test_a_delivered_webhook_is_signed_json_the_receiver_verifies(webhook_receiver: WebhookReceiver) -> None:
    assert send(webhook_receiver) == 200
    [request] = webhook_receiver.requests
    assert request.verified, request.error
    assert request.method == "POST" and request.path == "/hooks/careerloop"
    assert request.headers["content-type"] == "application/json" and request.id == "ntf_9c1e"
    assert request.body == body_of(follow_up()) and request.json["data"]["reason"] == "No reply from Zoë Ng for 7 days"
    assert abs(int(request.headers["webhook-timestamp"]) - datetime.now(timezone.utc).timestamp()) < 60


def test_a_retry_keeps_the_id_and_is_signed_afresh(webhook_receiver: WebhookReceiver) -> None:
    later = datetime.now(timezone.utc) + timedelta(seconds=30)
    send(webhook_receiver)
    send(webhook_receiver, now=later)
    first, second = webhook_receiver.requests
    assert first.id == second.id == "ntf_9c1e" and first.body == second.body
    assert first.headers["webhook-signature"] != second.headers["webhook-signature"]
    assert webhook_receiver.delivered_ids() == ["ntf_9c1e", "ntf_9c1e"]  # the receiver dedupes on this id


@pytest.mark.parametrize("status, permanent", [(500, False), (503, False), (404, False), (429, False), (410, True)])
def test_non_2xx_answers_fail_only_410_permanently(webhook_receiver: WebhookReceiver, status: int,
                                                   permanent: bool) -> None:
    webhook_receiver.respond_next(status)
    with pytest.raises(DeliveryFailed) as failed:
        send(webhook_receiver)
    assert failed.value.permanent is permanent and failed.value.code == status
    assert send(webhook_receiver) == 200  # the next attempt goes through


def test_retry_after_is_passed_on(webhook_receiver: WebhookReceiver) -> None:
    webhook_receiver.respond_next(503, headers={"Retry-After": "120"})
    with pytest.raises(DeliveryFailed) as failed:
        send(webhook_receiver)
    assert failed.value.retry_after == 120 and not failed.value.permanent


def test_a_redirect_is_not_followed(webhook_receiver: WebhookReceiver) -> None:
    webhook_receiver.respond_next(308, headers={"Location": webhook_receiver.url_for("/elsewhere")})
    with pytest.raises(DeliveryFailed) as moved:
        send(webhook_receiver)
    assert not moved.value.permanent and "/elsewhere" in moved.value.reason
    assert [r.path for r in webhook_receiver.requests] == ["/hooks/careerloop"]


def test_a_receiver_that_does_not_answer_in_time_is_transient(webhook_receiver: WebhookReceiver) -> None:
    webhook_receiver.hang_next()
    with pytest.raises(DeliveryFailed) as silent:
        send(webhook_receiver, timeout=0.5)
    assert not silent.value.permanent and "within 0.5 s" in silent.value.reason
    webhook_receiver.release()
    assert webhook_receiver.wait_until_answered(1)


def test_a_receiver_that_is_down_is_transient_and_a_bad_url_permanent() -> None:
    with pytest.raises(DeliveryFailed) as down:
        WebhookChannel(timeout=5).send(follow_up(), f"http://127.0.0.1:{unused_port()}/hook", new_webhook_secret())
    assert not down.value.permanent
    with pytest.raises(DeliveryFailed) as unusable:
        WebhookChannel().send(follow_up(), "ftp://127.0.0.1/hook", new_webhook_secret())
    assert unusable.value.permanent


def test_a_webhook_signed_with_another_secret_is_refused_by_the_receiver(webhook_receiver: WebhookReceiver) -> None:
    with pytest.raises(DeliveryFailed) as refused:
        WebhookChannel().send(follow_up(), webhook_receiver.url, new_webhook_secret())
    assert refused.value.code == 401 and not refused.value.permanent
    [request] = webhook_receiver.requests
    assert not request.verified and "no signature matches" in (request.error or "")


def test_what_was_received_cannot_be_tampered_with_or_replayed_later(webhook_receiver: WebhookReceiver) -> None:
    send(webhook_receiver)
    [request] = webhook_receiver.requests
    verify(webhook_receiver.secret, request.headers, request.body)
    with pytest.raises(WebhookVerificationError):
        verify(webhook_receiver.secret, request.headers, request.body.replace(b"7 days", b"8 days"))
    with pytest.raises(WebhookVerificationError):
        verify(new_webhook_secret(), request.headers, request.body)
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify(webhook_receiver.secret, request.headers, request.body,
               now=datetime.now(timezone.utc) + timedelta(minutes=6))
