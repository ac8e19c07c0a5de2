"""Trace context (W3C Trace Context) from an HTTP request through its events to the projections, the
notifications and the webhook deliveries, with OpenTelemetry; exported only when asked.

One trace follows the work: an API request continues the caller's `traceparent`/`tracestate` or
starts a trace (`server_span`, used by `shared.web.app`); a command records the active trace context
in its events (`traced`, used by `shared.repository`: the envelope's CloudEvents distributed-tracing
extension attributes `traceparent` and `tracestate`); a projection applies each event inside a
consumer span whose parent is the event's `traceparent` (`consuming`), so whatever a projection
records (the policy worker's notifications) carries the same trace on; the dispatcher sends inside a
span parented to the notification's trace (`continuing`) and the webhook channel sends the
`traceparent` of its client span to the receiver (`inject`).

The W3C header format is the OpenTelemetry propagator's business (`TraceContextTextMapPropagator`):
nothing here parses or formats a `traceparent` by hand. Only the W3C propagator is used, never the
global one (`OTEL_PROPAGATORS` could add baggage, which would copy whatever a caller sends into our
events).

`start_tracing` (called by `shared.process.start_process`, the first thing every process does, in a
gunicorn worker after the fork) installs the SDK's tracer provider once per process, so trace and
span ids are generated with or without an exporter. Without one, a consumer's span per event is not
recorded at all (`consuming`): the event's context is carried on under a fresh span id, for about a
tenth of what the SDK's span costs, which was a third of the analytics translator's time. Spans go out only when
`OTEL_EXPORTER_OTLP_ENDPOINT` is set: a `BatchSpanProcessor` (its thread started there, in the
process that uses it) sends them over OTLP/HTTP in protobuf to `<endpoint>/v1/traces`. The sampler
follows `OTEL_TRACES_SAMPLER`/`OTEL_TRACES_SAMPLER_ARG` (default: parent-based, always on; a value the
process cannot use stops it at start-up, naming the variable); the exporter's other standard
variables (`OTEL_EXPORTER_OTLP_HEADERS`, `..._CERTIFICATE`, `..._TIMEOUT`, `..._COMPRESSION`) are read
by the exporter itself. `flush` sends what is buffered (every process on its way out; the SDK also
shuts the provider down at interpreter exit).
"""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from contextvars import Token
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_NAMESPACE, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider, sampling
from opentelemetry.trace import NonRecordingSpan, Span, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

if TYPE_CHECKING:
    from shared.config import Settings
    from shared.events import Metadata

log = logging.getLogger("careerloop.tracing")

TRACEPARENT, TRACESTATE = "traceparent", "tracestate"
SCOPE = "careerloop"
_PROPAGATOR = TraceContextTextMapPropagator()
_lock = threading.Lock()


class _Provider(TracerProvider):
    """The SDK's provider, knowing whether anything receives its spans (an exporter, or a test's
    in-memory processor): when nothing does, a span per consumed event is not worth recording."""

    receiving = False

    def add_span_processor(self, span_processor: SpanProcessor) -> None:
        super().add_span_processor(span_processor)
        self.receiving = True


_provider: _Provider | None = None
_pid: int | None = None
_tracer: tuple[_Provider, trace.Tracer] | None = None


def start_tracing(process: str, settings: Settings) -> TracerProvider:
    """Install this process's tracer provider (once per process: later calls return it), named by
    `OTEL_SERVICE_NAME` or else the process (`contacts-api`, `contacts-views`, ...)."""
    global _provider, _pid
    with _lock:
        if _provider is not None and _pid == os.getpid():
            return _provider
        resource = Resource.create({SERVICE_NAME: settings.get("OTEL_SERVICE_NAME") or process,
                                    SERVICE_NAMESPACE: "careerloop"})
        provider = _Provider(resource=resource, sampler=sampler(settings))
        endpoint = settings.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        if endpoint:
            # imported only when exporting: a process without an endpoint never loads protobuf or requests' pool
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.trace.export import BatchSpanProcessor

            # the OTLP rule for the base endpoint: the signal's path is appended to it
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=traces_url(endpoint))))
            log.info("%s exports its spans to %s", resource.attributes[SERVICE_NAME], traces_url(endpoint))
        if _provider is None:
            # the API's global provider is settable once per interpreter; ours is what our code uses
            trace.set_tracer_provider(provider)
        _provider, _pid = provider, os.getpid()
        return provider


class TracingMisconfigured(SystemExit):
    """A sampler setting the process cannot use: it stops at start-up naming the variable (the SDK
    alone would only log a warning and sample everything)."""


def sampler(settings: Settings) -> sampling.Sampler:
    """The sampler `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG` name, as the OpenTelemetry
    specification defines them (the SDK's own classes)."""
    name = settings.get("OTEL_TRACES_SAMPLER").strip().lower()
    root: sampling.Sampler
    if name in ("always_on", "always_off", "parentbased_always_on", "parentbased_always_off"):
        root = sampling.ALWAYS_ON if name.endswith("always_on") else sampling.ALWAYS_OFF
    elif name in ("traceidratio", "parentbased_traceidratio"):
        argument = settings.get("OTEL_TRACES_SAMPLER_ARG").strip() or "1"
        try:
            ratio = float(argument)
        except ValueError:
            ratio = -1.0
        if not 0.0 <= ratio <= 1.0:
            raise TracingMisconfigured(f"OTEL_TRACES_SAMPLER_ARG must be a ratio from 0 to 1 for {name}, "
                                       f"not {argument!r}")
        root = sampling.TraceIdRatioBased(ratio)
    else:
        raise TracingMisconfigured(
            f"OTEL_TRACES_SAMPLER must be one of always_on, always_off, traceidratio, parentbased_always_on, "
            f"parentbased_always_off, parentbased_traceidratio; not {name!r}")
    return sampling.ParentBased(root) if name.startswith("parentbased_") else root


def traces_url(endpoint: str) -> str:
    """`OTEL_EXPORTER_OTLP_ENDPOINT` is a base URL: traces go to its `/v1/traces`."""
    return endpoint.rstrip("/") + "/v1/traces"


def provider() -> TracerProvider:
    """This process's tracer provider (started with a default name if no process started it: tools, tests)."""
    return _current()


def _current() -> _Provider:
    if _provider is None or _pid != os.getpid():
        from shared.config import Settings
        start_tracing("careerloop", Settings.from_env())
        assert _provider is not None
    return _provider


def tracer() -> trace.Tracer:
    """This process's tracer (one, made with the provider: the SDK builds a new one at every ask)."""
    global _tracer
    current = _current()
    if _tracer is None or _tracer[0] is not current:
        _tracer = (current, current.get_tracer(SCOPE))
    return _tracer[1]


def flush(timeout_millis: int = 5000) -> None:
    """Send the spans still buffered (a process on its way out; nothing to do without an exporter)."""
    if _provider is not None and _pid == os.getpid():
        _provider.force_flush(timeout_millis)


# -- carrying the context ---------------------------------------------------------------------------
def carried(envelope: Mapping[str, Any]) -> dict[str, str]:
    """The trace context an envelope (or any mapping of headers) carries: `traceparent` and, when
    non-empty, `tracestate`; {} for an event recorded before tracing or outside any trace."""
    found = {name: envelope[name] for name in (TRACEPARENT, TRACESTATE)
             if isinstance(envelope.get(name), str) and envelope[name]}
    return found if TRACEPARENT in found else {}


def context_of(carrier: Mapping[str, Any]) -> otel_context.Context:
    """The OpenTelemetry context a carrier's W3C headers name (the empty context when they name none,
    or a malformed one: the propagator ignores what it cannot parse)."""
    return _PROPAGATOR.extract(carried(carrier), context=otel_context.Context())


def current() -> dict[str, str]:
    """The active span's context as W3C headers ({} outside any span)."""
    headers: dict[str, str] = {}
    _PROPAGATOR.inject(headers)
    return headers


def inject(headers: MutableMapping[str, str]) -> None:
    """Add the active span's `traceparent` (and `tracestate`) to outgoing HTTP headers."""
    _PROPAGATOR.inject(headers)


def traced(meta: Metadata) -> Metadata:
    """A command's metadata with the active trace context, unless it names one already."""
    if meta.traceparent:
        return meta
    headers = current()
    if not headers:
        return meta
    return replace(meta, traceparent=headers[TRACEPARENT], tracestate=headers.get(TRACESTATE))


def ids(span: Span | None = None) -> dict[str, str]:
    """`trace_id` and `span_id` of a span (the active one by default) in their W3C hex form, for log
    lines; {} when there is no valid span."""
    context = (span or trace.get_current_span()).get_span_context()
    if not context.is_valid:
        return {}
    return {"trace_id": trace.format_trace_id(context.trace_id), "span_id": trace.format_span_id(context.span_id)}


# -- spans ------------------------------------------------------------------------------------------
@contextmanager
def _active(name: str, parent: otel_context.Context | None, kind: SpanKind,
            attributes: Mapping[str, Any]) -> Iterator[Span]:
    """A span made current for the block; an exception escaping it marks the span as an error."""
    with tracer().start_as_current_span(name, context=parent, kind=kind, attributes=dict(attributes),
                                        record_exception=True, set_status_on_exception=True) as span:
        yield span


@contextmanager
def consuming(envelope: Mapping[str, Any], name: str, **attributes: Any) -> Iterator[Span]:
    """Apply one event inside a consumer span whose parent is the event's `traceparent` (a new trace
    for an event that carries none); an unrecorded one when nothing receives spans."""
    parent = context_of(envelope)
    if _current().receiving:
        event_attributes = {"cloudevents.event_id": str(envelope.get("id", "")),
                            "cloudevents.event_type": str(envelope.get("type", "")),
                            "cloudevents.event_source": str(envelope.get("source", "")),
                            "cloudevents.event_subject": str(envelope.get("subject", ""))}
        with _active(name, parent, SpanKind.CONSUMER, {**event_attributes, **attributes}) as span:
            yield span
        return
    span = _unrecorded(parent)
    token = otel_context.attach(trace.set_span_in_context(span, parent))
    try:
        yield span
    finally:
        otel_context.detach(token)


def _unrecorded(parent: otel_context.Context) -> Span:
    """What a span would carry on, without the span: the parent's trace (a new one under no parent)
    and sampling decision, under a span id of its own. The events a projection records under it carry
    the same `traceparent` a recorded span would have given them."""
    parent_span = trace.get_current_span(parent).get_span_context()
    ids = _current().id_generator
    if parent_span.is_valid:
        trace_id, flags, state = parent_span.trace_id, parent_span.trace_flags, parent_span.trace_state
    else:
        trace_id, flags, state = ids.generate_trace_id(), TraceFlags(TraceFlags.SAMPLED), None
    return NonRecordingSpan(SpanContext(trace_id, ids.generate_span_id(), is_remote=False, trace_flags=flags,
                                        trace_state=state))


@contextmanager
def continuing(carrier: Mapping[str, Any], name: str, *, kind: SpanKind = SpanKind.INTERNAL,
               **attributes: Any) -> Iterator[Span]:
    """Work done later for something that carries a trace context (a notification sent when due):
    a span in that trace, or in a new one when it carries none."""
    with _active(name, context_of(carrier), kind, attributes) as span:
        yield span


@contextmanager
def new_trace(name: str, **attributes: Any) -> Iterator[Span]:
    """Work no request or event caused (the announcer's announcement of an item that fell due): the root
    span of a trace of its own, which the events it records carry on."""
    with _active(name, otel_context.Context(), SpanKind.INTERNAL, attributes) as span:
        yield span


@contextmanager
def client_span(name: str, **attributes: Any) -> Iterator[Span]:
    """An outgoing request (a webhook delivery) as a client span of the active trace."""
    with _active(name, None, SpanKind.CLIENT, attributes) as span:
        yield span


def start_server_span(method: str, route: str | None,
                      headers: Mapping[str, str] | Any) -> tuple[Span, Token[otel_context.Context]]:
    """Begin an API request's server span, continuing the caller's trace context, and make it
    current; `end_server_span` ends it. Named `<METHOD> <route template>` (never the path itself,
    which can hold a feed token or an id)."""
    parent = _PROPAGATOR.extract({k: v for k, v in ((TRACEPARENT, headers.get(TRACEPARENT)),
                                                    (TRACESTATE, headers.get(TRACESTATE))) if v},
                                 context=otel_context.Context())
    attributes: dict[str, Any] = {"http.request.method": method}
    if route:
        attributes["http.route"] = route
    span = tracer().start_span(f"{method} {route}" if route else method, context=parent, kind=SpanKind.SERVER,
                               attributes=attributes)
    token = otel_context.attach(trace.set_span_in_context(span))
    return span, token


def answer_server_span(span: Span, status: int) -> dict[str, str]:
    """Record the answer's status on the span (a 5xx is the server's error); the W3C `traceresponse`
    header the answer carries: the trace the request is in, the same format as `traceparent`."""
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR))
    headers: dict[str, str] = {}
    _PROPAGATOR.inject(headers, context=trace.set_span_in_context(span))
    return {"traceresponse": headers[TRACEPARENT]} if TRACEPARENT in headers else {}


def end_server_span(span: Span, token: Token[otel_context.Context], error: BaseException | None = None) -> None:
    if error is not None:
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, type(error).__name__))
    span.end()
    otel_context.detach(token)
