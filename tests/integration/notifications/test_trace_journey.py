"""One trace from an HTTP request to a webhook delivery, on each backend profile: the request that
schedules an interview names a `traceparent`; its event on the bus carries that trace (read with the
CloudEvents SDK), the policy worker applies it and schedules the reminder in the same trace, the
views apply the reminder's event in it, the dispatcher sends in it and the webhook receiver gets a
`traceparent` of that trace whose parent is the delivery's client span."""
from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from cloudevents.core.bindings.kafka import KafkaMessage, from_structured
from cloudevents.core.formats.json import JSONFormat
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from shared.contracts.notifications import NOTIFICATIONS
from shared.contracts.scheduling import INTERVIEWS
from tests.integration.notifications.harness import Notifications
from tests.integration.notifications.peers import WebhookReceiver
from tests.support import wait_until
from tests.tracing import span_context, trace_id

TRACE = "0af7651916cd43dd8448eb211c80319c"
PARENT = f"00-{TRACE}-b7ad6b7169203331-01"


def published(world: Notifications, topic: str, event_type: str) -> list[dict[str, Any]]:
    """The events of `event_type` on the bus, as the CloudEvents SDK reads the messages."""
    consumer = world.api.bus.consumer(f"{world.namespace}trace-test.{uuid.uuid4().hex[:8]}", [world.namespace + topic])
    found: list[dict[str, Any]] = []
    try:
        def read() -> list[dict[str, Any]]:
            for message in consumer.poll(500, timeout=0.5):
                event = from_structured(KafkaMessage(headers={"content-type": b"application/cloudevents+json"},
                                                     key=message.key, value=message.value), JSONFormat())
                if event.get_attributes()["type"].startswith(event_type):
                    found.append(event.get_attributes())
            return found
        return wait_until(read, what=f"{event_type} on {topic}")
    finally:
        consumer.close()


def in_trace(spans: InMemorySpanExporter, name: str) -> list[Any]:
    return [s for s in spans.get_finished_spans()
            if s.name == name and trace.format_trace_id(s.context.trace_id) == TRACE]


def test_one_trace_goes_from_the_request_through_the_events_and_projections_to_the_webhook(
        notifications: Callable[..., Notifications], webhook_receiver: WebhookReceiver, token: Callable[..., str],
        spans: InMemorySpanExporter) -> None:
    world = notifications()
    auth = token("student-1")
    world.prefer(auth, time_zone="UTC", channels={"interview_reminder_1h": ["webhook"], "interview_reminder_24h": []})
    registered = world.ok(world.post("/webhooks", auth, {"url": webhook_receiver.url}), 201)
    webhook_receiver.secret = registered["secret"]
    jane = world.add_contact(auth, emails=["jane@acme.example"])
    world.sync()
    requested = world.call("scheduling", "POST", "/interviews", auth, {
        "contact_id": jane, "objectives": ["How do product teams work?"], "format": "phone", "time_zone": "UTC"})
    interview = world.ok(requested, 201)["id"]

    # when the interview is scheduled by a request in a caller's trace
    scheduled = world.call("scheduling", "POST", f"/interviews/{interview}/schedule", auth,
                           {"start": "2031-03-06T10:00:00", "time_zone": "UTC"}, traceparent=PARENT,
                           tracestate="campus=portal")
    world.ok(scheduled)
    assert trace_id({"traceparent": scheduled.headers["traceresponse"]}) == TRACE
    [server] = in_trace(spans, "POST /interviews/<interview_id>/schedule")
    assert server.kind == SpanKind.SERVER and server.parent is not None
    assert server.parent.span_id == span_context({"traceparent": PARENT}).span_id

    # then its event on the bus carries the trace (the CloudEvents distributed-tracing extension)
    world.sync()
    [event] = published(world, INTERVIEWS.topic, "careerloop.scheduling.InterviewScheduled.")
    assert trace_id(event) == TRACE and event["tracestate"] == "campus=portal"
    assert span_context(event).span_id == server.context.span_id  # recorded by the request's span

    # and the policy worker schedules the reminder in it, whose own event carries it on
    [policy] = [s for s in in_trace(spans, "apply InterviewScheduled")
                if s.attributes["careerloop.projection"] == "notifications-policies"]
    assert policy.kind == SpanKind.CONSUMER and policy.parent.span_id == server.context.span_id
    [reminder] = published(world, NOTIFICATIONS.topic, "careerloop.notifications.NotificationScheduled.")
    assert trace_id(reminder) == TRACE and span_context(reminder).span_id == policy.context.span_id
    assert [s.attributes["careerloop.projection"] for s in in_trace(spans, "apply NotificationScheduled")] == [
        "notifications-views"]

    # when the reminder falls due, the dispatcher sends it in the same trace, and the receiver gets it
    assert world.dispatch(datetime(2031, 3, 6, 9, 0, tzinfo=UTC)) == 1
    [hook] = webhook_receiver.wait_for(1)
    assert hook.verified, hook.error  # the traceparent header leaves the signature intact
    [dispatched] = in_trace(spans, "dispatch notification")
    [delivery] = in_trace(spans, "POST webhook")
    assert delivery.kind == SpanKind.CLIENT and delivery.parent.span_id == dispatched.context.span_id
    assert trace_id(hook.headers) == TRACE and span_context(hook.headers).span_id == delivery.context.span_id
    assert json.loads(hook.body)["id"] == dispatched.attributes["careerloop.notification_id"]
