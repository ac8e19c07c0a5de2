"""Looking at traces in tests: the spans this process finished (`spans` fixture: the SDK's in-memory
exporter on the process's tracer provider) and W3C headers read with OpenTelemetry's own propagator,
never with the code under test."""
from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from shared import tracing

_EXPORTER: InMemorySpanExporter | None = None


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """The spans finished during the test (`.get_finished_spans()`)."""
    global _EXPORTER
    if _EXPORTER is None:  # a processor cannot be removed from a provider: one for the whole session
        _EXPORTER = InMemorySpanExporter()
        tracing.provider().add_span_processor(SimpleSpanProcessor(_EXPORTER))
    _EXPORTER.clear()
    yield _EXPORTER
    _EXPORTER.clear()


def span_context(headers: Mapping[str, str]) -> trace.SpanContext:
    """The span context W3C headers name, as OpenTelemetry's propagator reads them (invalid if none)."""
    carrier = {k.lower(): v for k, v in headers.items()}
    return trace.get_current_span(TraceContextTextMapPropagator().extract(carrier)).get_span_context()


def trace_id(headers: Mapping[str, str]) -> str:
    context = span_context(headers)
    assert context.is_valid, f"no valid trace context in {dict(headers)}"
    return trace.format_trace_id(context.trace_id)


def hex_id(value: int) -> str:
    return trace.format_trace_id(value)
