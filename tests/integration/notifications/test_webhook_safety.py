"""Webhooks cannot be pointed inside: an address that is not public is refused when the endpoint is
registered (422 naming `url` and why) and again at every delivery, where a name that has come to
point inside since registration (DNS rebinding) is refused and its receiver gets nothing."""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from tests.integration.notifications.harness import PUBLIC_ADDRESS, Notifications
from tests.integration.notifications.peers import WebhookReceiver


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


INSIDE = "; webhooks reach only public addresses"


@pytest.mark.parametrize("profile", ["embedded"])
@pytest.mark.parametrize(("url", "why"), [
    ("http://127.0.0.1:8080/hook", "address not allowed: loopback" + INSIDE),
    ("http://[::1]/hook", "address not allowed: loopback" + INSIDE),
    ("https://10.1.2.3/hook", "address not allowed: private" + INSIDE),
    ("https://172.16.0.9/hook", "address not allowed: private" + INSIDE),
    ("https://192.168.1.20/hook", "address not allowed: private" + INSIDE),
    ("http://169.254.169.254/latest/meta-data/", "address not allowed: cloud metadata service" + INSIDE),
    ("http://169.254.10.1/hook", "address not allowed: link-local" + INSIDE),
    ("https://100.64.0.7/hook", "address not allowed: shared address space (CGNAT)" + INSIDE),
    ("http://224.0.0.1/hook", "address not allowed: multicast" + INSIDE),
    ("https://[fd00::1]/hook", "address not allowed: unique-local" + INSIDE),
    ("https://[fe80::1]/hook", "address not allowed: link-local" + INSIDE),
    ("http://[::ffff:127.0.0.1]/hook", "address not allowed: loopback (as an IPv6 address)" + INSIDE),
    ("http://[64:ff9b::a9fe:a9fe]/hook", "address not allowed: cloud metadata service (as an IPv6 address)" + INSIDE),
    ("http://0.0.0.0:9000/hook", "address not allowed: unspecified" + INSIDE),
    ("http://255.255.255.255/hook", "address not allowed: broadcast" + INSIDE),
    ("http://localhost:8080/hook", "address not allowed: loopback" + INSIDE),  # a name resolving to loopback
    ("https://nowhere.invalid/hook", "the host name does not resolve" + INSIDE),
    # the URL's shape (the schema)
    ("http://admin:secret@hooks.example.org/hook", "a user name or password in the URL is not allowed"),
    ("ftp://hooks.example.org/hook", "only http and https URLs are allowed"),
    ("http://2130706433/hook", "not a valid host name: an IP address must be written as one"),
    ("http://0x7f.1/hook", "not a valid host name: an IP address must be written as one"),
])
def test_a_webhook_that_is_not_plainly_a_public_http_url_is_refused_at_registration(
        notifications: Callable[..., Notifications], token: Callable[..., str], url: str, why: str) -> None:
    world = notifications(WEBHOOK_ALLOWED_NETWORKS="")
    response = world.post("/webhooks", token("student-1"), {"url": url})
    assert response.status_code == 422, response.json
    assert response.json["fields"] == {"url": [why]}
    world.sync()
    assert world.ok(world.get("/webhooks", token("student-1")))["items"] == []


@pytest.mark.parametrize("profile", ["embedded"])
def test_a_resolver_that_does_not_answer_is_a_503_not_a_refusal(
        notifications: Callable[..., Notifications], token: Callable[..., str]) -> None:
    world = notifications()
    world.names.silent.add("hooks.example.org")
    response = world.post("/webhooks", token("student-1"), {"url": "https://hooks.example.org/h"})
    assert response.status_code == 503 and response.headers["Retry-After"] == "1", response.json
    assert response.json["message"] == "webhook URL: the host name could not be resolved just now"
    world.names.silent.clear()
    assert world.post("/webhooks", token("student-1"), {"url": "https://hooks.example.org/h"}).status_code == 201


def test_a_name_that_points_inside_after_registration_is_refused_at_delivery(
        notifications: Callable[..., Notifications], webhook_receiver: WebhookReceiver,
        token: Callable[..., str]) -> None:
    world = notifications(WEBHOOK_ALLOWED_NETWORKS="")
    auth = token("student-1")
    world.names.table["hooks.rebind.test"] = [PUBLIC_ADDRESS]
    world.prefer(auth, channels={"check_in_due": ["webhook"]})
    url = webhook_receiver.url_for("/hooks", "hooks.rebind.test")
    endpoint = world.ok(world.post("/webhooks", auth, {"url": url}), 201)
    world.sync()

    world.names.table["hooks.rebind.test"] = ["127.0.0.1"]  # the owner of the name rebinds it
    world.clock.now = utc("2031-03-03T09:00:00")
    world.announce_due("student-1", "stay_in_touch", "c1:t1", reason="Check in with Jane", due_at=world.clock.now)
    world.dispatch()

    assert webhook_receiver.requests == []
    [notification] = world.history(auth)
    assert notification["status"] == "failed" and notification["reason"] == "address not allowed: loopback"
    [listed] = world.ok(world.get("/webhooks", auth))["items"]
    assert listed["id"] == endpoint["id"] and listed["status"] == "disabled"  # refused for good, not retried
    assert listed["disabled_reason"] == "a delivery failed for good: address not allowed: loopback"


def test_an_allow_listed_campus_receiver_gets_its_webhooks_under_its_name(
        notifications: Callable[..., Notifications], webhook_receiver: WebhookReceiver,
        token: Callable[..., str]) -> None:
    world = notifications(WEBHOOK_ALLOWED_NETWORKS="127.0.0.0/8")
    auth = token("student-1")
    world.names.table["hooks.campus.test"] = ["127.0.0.1"]
    world.prefer(auth, channels={"check_in_due": ["webhook"]})
    endpoint = world.ok(world.post("/webhooks", auth, {"url": webhook_receiver.url_for("/h", "hooks.campus.test")}),
                        201)
    webhook_receiver.secret = endpoint["secret"]
    world.sync()
    world.clock.now = utc("2031-03-03T09:00:00")
    world.announce_due("student-1", "stay_in_touch", "c1:t1", reason="Check in with Jane", due_at=world.clock.now)
    world.dispatch()
    [request] = webhook_receiver.wait_for(1)
    assert request.verified and request.headers["host"] == f"hooks.campus.test:{webhook_receiver.port}"
    assert world.history(auth)[0]["status"] == "sent"
