"""Trace context: commands record the active trace in their events (the CloudEvents distributed-tracing
extension), a projection applies an event inside a consumer span parented to it, log lines name the
active span; headers are read back with OpenTelemetry's own W3C propagator and envelopes with the
CloudEvents SDK."""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_structured
from cloudevents.core.formats.json import JSONFormat
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from shared import tracing
from shared.bus import Message
from shared.config import Settings
from shared.contracts.contacts import CONTACTS
from shared.events import Metadata, Recorded
from shared.eventstore import open_event_store
from shared.projection import Projection, on
from shared.readstore import ReadStore, Update, open_read_store
from shared.web.logs import JsonFormatter
from tests.tracing import span_context, trace_id

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = f"00-{TRACE}-00f067aa0ba902b7-01"
ADDED = Recorded("ContactAdded", {"student_id": "s-1", "name": "Ada"})


def envelope(meta: Metadata, version: int = 1, event: Recorded = ADDED) -> dict[str, Any]:
    return CONTACTS.envelope(event, stream_id="c-1", stream_version=version, owner_id="s-1", meta=meta)


def cloudevent(value: dict[str, Any]) -> dict[str, Any]:
    """The attributes a CloudEvents SDK reads from the envelope as the relay publishes it."""
    message = KafkaMessage(headers={"content-type": b"application/cloudevents+json"}, key=b"c-1",
                           value=json.dumps(value).encode())
    return from_structured(message, JSONFormat()).get_attributes()


def test_an_event_carries_its_commands_trace_context_as_the_distributed_tracing_extension() -> None:
    attributes = cloudevent(envelope(Metadata(actor="s-1", traceparent=PARENT, tracestate="vendor=1")))
    assert attributes["traceparent"] == PARENT and attributes["tracestate"] == "vendor=1"
    assert trace_id(attributes) == TRACE


def test_an_event_recorded_outside_any_trace_has_no_trace_attributes_and_an_empty_tracestate_is_left_out() -> None:
    assert not {"traceparent", "tracestate"} & set(cloudevent(envelope(Metadata(actor="s-1"))))
    attributes = cloudevent(envelope(Metadata(actor="s-1", traceparent=PARENT, tracestate="")))
    assert attributes["traceparent"] == PARENT and "tracestate" not in attributes


def test_traced_metadata_takes_the_active_span_and_keeps_a_context_it_already_names() -> None:
    assert tracing.traced(Metadata(actor="a")).traceparent is None  # no span: nothing to carry
    with tracing.tracer().start_as_current_span("command") as span:
        meta = tracing.traced(Metadata(actor="a", correlation_id="c"))
        kept = tracing.traced(Metadata(actor="a", traceparent=PARENT))
    context = span_context({"traceparent": meta.traceparent or ""})
    assert (context.trace_id, context.span_id) == (span.get_span_context().trace_id, span.get_span_context().span_id)
    assert meta.correlation_id == "c" and kept.traceparent == PARENT


def test_a_saved_command_stores_its_trace_in_every_event_of_the_commit(tmp_path: Path) -> None:
    from services.contacts.domain import Contact  # a real aggregate through the real repository
    from shared.repository import Repository

    store = open_event_store(f"sqlite:///{tmp_path}/events.db")
    try:
        contacts = Repository(store, CONTACTS, Contact)
        contact = Contact("c-1")
        contact.record("ContactAdded", student_id="s-1", name="Ada")
        contact.record("ContactTagged", tags=["alumni"])
        contact.owner_id = "s-1"
        with tracing.continuing({"traceparent": PARENT}, "request"):
            contacts.save(contact, Metadata(actor="s-1"))
        stored = store.load("c-1")
        assert [trace_id(cloudevent(e)) for e in stored] == [TRACE, TRACE]
        assert all(span_context(e).span_id != span_context({"traceparent": PARENT}).span_id for e in stored)
    finally:
        store.close()


class Names(Projection):
    name = "test-traced-names"
    catalogs = (CONTACTS,)

    def __init__(self, read_store: ReadStore, **options: Any) -> None:
        super().__init__(read_store, **options)
        self.docs = read_store.collection("test_names")
        self.versioned = {CONTACTS.aggregate: self.docs}
        self.seen: list[tuple[str, dict[str, str]]] = []

    @on("ContactAdded")
    def added(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.seen.append((event.name, tracing.ids()))
        logging.getLogger("careerloop.test").info("applied")
        self.write(envelope, Update(set={"name": event.data["name"]}))

    @on("ContactDetailsChanged")
    def changed(self, envelope: dict[str, Any], event: Recorded) -> None:
        raise RuntimeError("refused")


def test_a_projection_applies_each_event_in_a_consumer_span_whose_parent_is_the_events_traceparent(
        tmp_path: Path, spans: InMemorySpanExporter) -> None:
    store = open_read_store(f"sqlite:///{tmp_path}/read.db")
    try:
        names = Names(store)
        traced = envelope(Metadata(actor="s-1", traceparent=PARENT))
        untraced = {**envelope(Metadata(actor="s-1")), "subject": "c-2"}
        tagged = envelope(Metadata(actor="s-1", traceparent=PARENT), 2, Recorded("ContactTagged", {"tags": ["x"]}))
        names.handle([Message(CONTACTS.topic, 0, i, e["subject"], json.dumps(e).encode())
                      for i, e in enumerate([traced, untraced, tagged])])
    finally:
        store.close()
    applied = [s for s in spans.get_finished_spans() if s.name == "apply ContactAdded"]
    assert len(applied) == 2  # a span per event it reacts to; none for the one it only skips
    first, second = applied
    assert first.kind == SpanKind.CONSUMER and first.parent is not None
    assert trace.format_trace_id(first.context.trace_id) == TRACE
    assert first.parent.span_id == span_context({"traceparent": PARENT}).span_id
    assert first.attributes is not None and first.attributes["cloudevents.event_id"] == traced["id"]
    assert first.attributes["messaging.consumer.group.name"] == names.group_id
    assert second.parent is None and trace.format_trace_id(second.context.trace_id) != TRACE  # a trace of its own
    assert names.seen[0][1]["trace_id"] == TRACE  # what the handler runs in


def test_a_failing_apply_marks_its_span_as_an_error(tmp_path: Path, spans: InMemorySpanExporter) -> None:
    store = open_read_store(f"sqlite:///{tmp_path}/read.db")
    try:
        names = Names(store)
        renamed = envelope(Metadata(actor="s-1", traceparent=PARENT), 1,
                           Recorded("ContactDetailsChanged", {"name": "Ada L."}))
        with pytest.raises(RuntimeError, match="refused"):
            names.handle([Message(CONTACTS.topic, 0, 0, "c-1", json.dumps(renamed).encode())])
    finally:
        store.close()
    [failed] = [s for s in spans.get_finished_spans() if s.name == "apply ContactDetailsChanged"]
    assert failed.status.status_code == StatusCode.ERROR and failed.events[0].name == "exception"


def test_a_malformed_traceparent_starts_a_new_trace_instead_of_failing(spans: InMemorySpanExporter) -> None:
    with tracing.consuming({"traceparent": "00-not-a-trace-01", "id": "e-1"}, "apply X") as span:
        assert span.get_span_context().is_valid
    [finished] = spans.get_finished_spans()
    assert finished.parent is None


def test_with_nothing_receiving_spans_a_consumed_event_carries_its_trace_on_without_recording_a_span(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The per-event span is skipped when no exporter would receive it; what it carries on is unchanged:
    the event's trace and sampling flag under a span id of its own, or a new trace for an event with none."""
    fresh = tracing._Provider()
    monkeypatch.setattr(tracing, "_provider", fresh)
    monkeypatch.setattr(tracing, "_pid", os.getpid())
    parent = span_context({"traceparent": PARENT})
    with tracing.consuming({"traceparent": PARENT, "tracestate": "vendor=1", "id": "e-1"}, "apply X") as span:
        carried = tracing.current()
        assert not span.is_recording()
    assert trace_id(carried) == TRACE and carried["tracestate"] == "vendor=1"
    assert span_context(carried).span_id != parent.span_id and span_context(carried).trace_flags.sampled
    with tracing.consuming({"id": "e-2"}, "apply X"):
        new_trace = tracing.current()
    assert trace_id(new_trace) != TRACE
    assert tracing.current() == {}  # nothing left active after the block
    recorded = InMemorySpanExporter()
    fresh.add_span_processor(SimpleSpanProcessor(recorded))  # something receives spans: they are recorded again
    with tracing.consuming({"traceparent": PARENT, "id": "e-3"}, "apply X") as span:
        assert span.is_recording()
    assert [s.name for s in recorded.get_finished_spans()] == ["apply X"]


def test_log_lines_name_the_active_trace_and_span_and_nothing_outside_one() -> None:
    formatter = JsonFormatter()
    record = logging.LogRecord("careerloop.test", logging.INFO, __file__, 1, "hello", None, None)
    assert not {"trace_id", "span_id"} & set(json.loads(formatter.format(record)))
    with tracing.continuing({"traceparent": PARENT}, "work") as span:
        line = json.loads(formatter.format(record))
    assert line["trace_id"] == TRACE
    assert line["span_id"] == trace.format_span_id(span.get_span_context().span_id)


def test_the_webhook_channel_sends_the_traceparent_of_its_client_span(spans: InMemorySpanExporter) -> None:
    from services.notifications.channels import Outgoing, WebhookChannel

    sent: dict[str, str] = {}

    class Guard:
        def post(self, url: str, body: bytes, headers: dict[str, str], **_: Any) -> tuple[int, dict[str, str]]:
            sent.update(headers)
            return 204, {}

    outgoing = Outgoing("ntf_1", "follow_up_due", "s", "t", "<p>h</p>", payload={"id": "ntf_1"})
    with tracing.continuing({"traceparent": PARENT}, "dispatch notification"):
        WebhookChannel(guard=Guard()).send(outgoing, "https://hooks.example/x", "whsec_" + "A" * 44)  # type: ignore[arg-type]
    [client] = [s for s in spans.get_finished_spans() if s.kind == SpanKind.CLIENT]
    assert trace_id(sent) == TRACE and span_context(sent).span_id == client.context.span_id
    assert client.attributes is not None and client.attributes["http.response.status_code"] == 204


@pytest.mark.parametrize(("variables", "description"), [
    ({}, "ParentBased{root:AlwaysOnSampler,"),
    ({"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25"},
     "ParentBased{root:TraceIdRatioBased{0.25},"),
    ({"OTEL_TRACES_SAMPLER": "traceidratio"}, "TraceIdRatioBased{1.0}"),
    ({"OTEL_TRACES_SAMPLER": "ALWAYS_OFF"}, "AlwaysOffSampler"),
])
def test_the_sampler_is_the_one_the_standard_variables_name(variables: dict[str, str], description: str) -> None:
    assert tracing.sampler(Settings(variables)).get_description().startswith(description)


@pytest.mark.parametrize(("variables", "named"), [
    ({"OTEL_TRACES_SAMPLER": "sometimes"}, "OTEL_TRACES_SAMPLER must be one of"),
    ({"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "1.5"}, "OTEL_TRACES_SAMPLER_ARG"),
    ({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "half"}, "OTEL_TRACES_SAMPLER_ARG"),
])
def test_a_sampler_setting_the_process_cannot_use_stops_it_naming_the_variable(variables: dict[str, str],
                                                                               named: str) -> None:
    with pytest.raises(tracing.TracingMisconfigured, match=named):
        tracing.sampler(Settings(variables))
