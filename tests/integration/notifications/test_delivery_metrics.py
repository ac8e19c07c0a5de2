"""What the notifications service tells Prometheus: the dispatcher counts each delivery by channel and
outcome and times the channel; the API reports (from its read models, at scrape time) what is due and
waiting, and the webhook endpoints by state. Read with Prometheus' own parser."""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from services.notifications.projections import queue_gauges
from tests.integration.notifications.harness import Notifications
from tests.integration.notifications.peers import WebhookReceiver

DUE = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted((k, v) for k, v in s.labels.items() if k != "process"))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def delivered(world: Notifications) -> dict[str, float]:
    """The dispatcher's webhook deliveries by outcome."""
    found = samples(generate_latest(world.dispatcher.deliveries.registry).decode())
    return {labels[1][1]: value for (name, labels), value in found.items()
            if name == "careerloop_notification_deliveries_total" and dict(labels)["channel"] == "webhook"}


def gauges(world: Notifications, at: datetime) -> dict[tuple[str, str], float]:
    found = {}
    for family in queue_gauges(world.api.read_store, at.timestamp()):
        for sample in family.samples:
            found[(sample.name, next(iter(sample.labels.values())))] = sample.value
    return found


def register(world: Notifications, receiver: WebhookReceiver, auth: str) -> dict[str, Any]:
    world.prefer(auth, channels={"check_in_due": ["webhook"]})
    endpoint = world.ok(world.post("/webhooks", auth, {"url": receiver.url_for("/hooks")}), 201)
    receiver.secret = endpoint["secret"]
    world.sync()
    return endpoint


def test_deliveries_are_counted_by_outcome_and_the_api_reports_the_waiting_queue_and_disabled_endpoints(
        notifications: Callable[..., Notifications], webhook_receiver: WebhookReceiver,
        token: Callable[..., str]) -> None:
    world = notifications()
    first, second = token("student-1"), token("student-2")
    register(world, webhook_receiver, first)
    world.clock.now = DUE
    world.announce_due("student-1", "stay_in_touch", "c1:t1", reason="Check in with Jane", due_at=DUE)

    # due for five minutes and not yet sent: the dispatcher is behind
    waiting = gauges(world, DUE + timedelta(minutes=5))
    assert waiting[("careerloop_notifications_due", "webhook")] == 1
    assert waiting[("careerloop_notifications_oldest_due_age_seconds", "webhook")] == 300
    assert waiting[("careerloop_notifications_due", "email")] == 0
    assert gauges(world, DUE - timedelta(minutes=1))[("careerloop_notifications_due", "webhook")] == 0  # not yet due

    # the receiver is unavailable once (retried later), then gone for good (given up, endpoint disabled)
    webhook_receiver.respond_next(503)
    world.dispatch(DUE + timedelta(minutes=5))
    assert delivered(world) == {"failed": 1}
    assert gauges(world, DUE + timedelta(minutes=5))[("careerloop_notifications_due", "webhook")] == 0  # retry later
    webhook_receiver.respond_next(410)
    world.dispatch(DUE + timedelta(hours=2))
    assert delivered(world) == {"failed": 1, "abandoned": 1}

    # another student's receiver takes theirs
    world.clock.now = DUE + timedelta(hours=2)
    register(world, webhook_receiver, second)
    world.announce_due("student-2", "stay_in_touch", "c2:t1", reason="Check in with Sam", due_at=world.clock.now)
    world.dispatch()
    webhook_receiver.wait_for(3)
    assert delivered(world) == {"failed": 1, "abandoned": 1, "sent": 1}
    timed = samples(generate_latest(world.dispatcher.deliveries.registry).decode())
    assert timed[("careerloop_notification_delivery_seconds_count", (("channel", "webhook"),))] == 3

    # and the API's /metrics says one endpoint is disabled (from the read model: any replica says the same)
    scraped = world.api.client.get("/metrics")
    assert scraped.status_code == 200
    endpoints = {labels: value for (name, labels), value in samples(scraped.get_data(as_text=True)).items()
                 if name == "careerloop_webhook_endpoints"}
    assert endpoints == {(("state", "disabled"),): 1, (("state", "enabled"),): 1}
    assert ("careerloop_up", (("backend", "read_store"),)) in samples(scraped.get_data(as_text=True))
