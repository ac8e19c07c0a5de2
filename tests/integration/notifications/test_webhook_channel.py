"""The webhook channel against a real HTTP(S) receiver that verifies Standard Webhooks signatures.

The receivers listen on loopback, so the channel here allows 127.0.0.0/8 (as WEBHOOK_ALLOWED_NETWORKS
would); the tests at the end show what happens without that, and that the address checked is the one
connected to while the request keeps the host name (Host header, TLS SNI and certificate)."""
from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.notifications.channels import (
    DeliveryFailed,
    Outgoing,
    WebhookChannel,
    WebhookVerificationError,
    body_of,
    new_webhook_secret,
    verify,
)
from shared.outbound import OutboundGuard, parse_networks
from tests.integration.notifications.peers import WebhookReceiver, tls_pair, unused_port

LOOPBACK_ALLOWED = OutboundGuard(parse_networks("127.0.0.0/8"))


def follow_up(notification_id: str = "ntf_9c1e") -> Outgoing:
    return Outgoing(notification_id, "follow_up_due", "Time to follow up with Zoë", "text", "<p>html</p>",
                    payload={"type": "careerloop.notification.follow_up_due", "id": notification_id,
                             "data": {"student_id": "student-1", "reason": "No reply from Zoë Ng for 7 days"}})


def send(receiver: WebhookReceiver, outgoing: Outgoing | None = None, timeout: float = 10, **kwargs: object) -> int:
    return WebhookChannel(timeout=timeout, guard=LOOPBACK_ALLOWED).send(outgoing or follow_up(), receiver.url,
                                                                      receiver.secret, **kwargs)  # type: ignore[arg-type]


def test_a_delivered_webhook_is_signed_json_the_receiver_verifies(webhook_receiver: WebhookReceiver) -> None:
    assert send(webhook_receiver) == 200
    [request] = webhook_receiver.requests
    assert request.verified, request.error
    assert request.method == "POST" and request.path == "/hooks/careerloop"
    assert request.headers["content-type"] == "application/json" and request.id == "ntf_9c1e"
    assert request.body == body_of(follow_up()) and request.json["data"]["reason"] == "No reply from Zoë Ng for 7 days"
    assert abs(int(request.headers["webhook-timestamp"]) - datetime.now(UTC).timestamp()) < 60


def test_a_retry_keeps_the_id_and_is_signed_afresh(webhook_receiver: WebhookReceiver) -> None:
    later = datetime.now(UTC) + timedelta(seconds=30)
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
    assert failed.value.reason.startswith(f"HTTP {status} from the endpoint")
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
    assert not moved.value.permanent and moved.value.code == 308
    # the answer's headers are the receiver's words: the reason holds the status and fixed text only
    assert moved.value.reason == "HTTP 308 from the endpoint: redirects are not followed, update the URL"
    assert [r.path for r in webhook_receiver.requests] == ["/hooks/careerloop"]


def test_a_receiver_that_does_not_answer_in_time_is_transient(webhook_receiver: WebhookReceiver) -> None:
    webhook_receiver.hang_next()
    with pytest.raises(DeliveryFailed) as silent:
        send(webhook_receiver, timeout=0.5)
    assert not silent.value.permanent and silent.value.reason == "no answer from the endpoint within 0.5 s"
    webhook_receiver.release()
    assert webhook_receiver.wait_until_answered(1)


def test_a_receiver_that_is_down_is_transient_and_a_bad_url_permanent() -> None:
    with pytest.raises(DeliveryFailed) as down:
        WebhookChannel(timeout=5, guard=LOOPBACK_ALLOWED).send(follow_up(), f"http://127.0.0.1:{unused_port()}/hook",
                                                               new_webhook_secret())
    assert not down.value.permanent and down.value.reason == "connection refused"
    for url, why in (("ftp://127.0.0.1/hook", "only http and https URLs are allowed"),
                     ("http://user:pw@127.0.0.1/hook", "a user name or password in the URL is not allowed")):
        with pytest.raises(DeliveryFailed) as unusable:
            WebhookChannel(guard=LOOPBACK_ALLOWED).send(follow_up(), url, new_webhook_secret())
        assert unusable.value.permanent and unusable.value.reason == why


def test_a_webhook_signed_with_another_secret_is_refused_by_the_receiver(webhook_receiver: WebhookReceiver) -> None:
    with pytest.raises(DeliveryFailed) as refused:
        WebhookChannel(guard=LOOPBACK_ALLOWED).send(follow_up(), webhook_receiver.url, new_webhook_secret())
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
               now=datetime.now(UTC) + timedelta(minutes=6))


# -- where a webhook may go ------------------------------------------------------------------------
def resolving(table: dict[str, list[str]], allowed: str = "") -> OutboundGuard:
    """A guard whose resolver knows only `table` (no network)."""
    def resolver(host: str, port: int) -> list[str]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]
    return OutboundGuard(parse_networks(allowed), resolver)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]"])
def test_without_an_allow_list_a_loopback_receiver_gets_nothing(webhook_receiver: WebhookReceiver, host: str) -> None:
    channel = WebhookChannel(guard=resolving({"localhost": ["127.0.0.1", "::1"]}))
    with pytest.raises(DeliveryFailed) as refused:
        channel.send(follow_up(), webhook_receiver.url_for("/hooks", host), webhook_receiver.secret)
    assert refused.value.permanent and refused.value.reason.startswith("address not allowed: loopback")
    assert webhook_receiver.requests == []


def test_the_request_goes_to_the_checked_address_and_keeps_the_host_name(webhook_receiver: WebhookReceiver) -> None:
    answers = {"hooks.campus.test": ["127.0.0.1"]}
    calls: list[str] = []

    def once(host: str, port: int) -> list[str]:
        calls.append(host)
        return answers[host]

    channel = WebhookChannel(guard=OutboundGuard(parse_networks("127.0.0.0/8"), once))
    assert channel.send(follow_up(), webhook_receiver.url_for("/hooks?x=1", "hooks.campus.test"),
                        webhook_receiver.secret) == 200
    [request] = webhook_receiver.requests
    assert request.headers["host"] == f"hooks.campus.test:{webhook_receiver.port}" and request.path == "/hooks?x=1"
    assert calls == ["hooks.campus.test"]  # resolved once: the connection used that answer, no second lookup


def test_https_is_pinned_to_the_address_and_verified_for_the_name(tmp_path: Path) -> None:
    server_tls, client_tls = tls_pair(tmp_path)  # a certificate for "localhost" and 127.0.0.1
    receiver = WebhookReceiver(tls=server_tls).start()
    try:
        guard = resolving({"localhost": ["127.0.0.1"], "hooks.other.test": ["127.0.0.1"]}, "127.0.0.0/8")
        channel = WebhookChannel(guard=guard, ssl_context=client_tls)
        assert channel.send(follow_up(), receiver.url_for("/hooks", "localhost"), receiver.secret) == 200
        assert receiver.server_names == ["localhost"]  # SNI names the host, although we connected to the IP
        assert receiver.requests[0].headers["host"] == f"localhost:{receiver.port}"
        # the same address under a name the certificate does not hold: verified for the name, refused
        with pytest.raises(DeliveryFailed) as wrong_name:
            channel.send(follow_up(), receiver.url_for("/hooks", "hooks.other.test"), receiver.secret)
        assert not wrong_name.value.permanent and wrong_name.value.reason.startswith("TLS failed")
        # and a certificate nobody vouches for is refused with the default (system) trust
        with pytest.raises(DeliveryFailed) as untrusted:
            WebhookChannel(guard=guard).send(follow_up(), receiver.url_for("/hooks", "localhost"), receiver.secret)
        assert untrusted.value.reason.startswith("TLS failed")
        assert len(receiver.requests) == 1
    finally:
        receiver.stop()


def test_an_address_that_refuses_at_once_makes_way_for_the_next_checked_one(webhook_receiver: WebhookReceiver) -> None:
    # nothing listens on 127.0.0.3 at the receiver's port: refused at once, then 127.0.0.1 takes it
    guard = resolving({"hooks.twice.test": ["127.0.0.3", "127.0.0.1"]}, "127.0.0.0/8")
    assert WebhookChannel(guard=guard).send(follow_up(), webhook_receiver.url_for("/h", "hooks.twice.test"),
                                            webhook_receiver.secret) == 200
    assert len(webhook_receiver.requests) == 1
    with pytest.raises(DeliveryFailed) as refused:  # every address refused: the last reason, transient
        WebhookChannel(guard=resolving({"hooks.down.test": ["127.0.0.3", "127.0.0.4"]}, "127.0.0.0/8")).send(
            follow_up(), webhook_receiver.url_for("/h", "hooks.down.test"), webhook_receiver.secret)
    assert refused.value.reason == "connection refused" and not refused.value.permanent
