"""End to end: with OTEL_EXPORTER_OTLP_ENDPOINT set, the processes export their spans over OTLP/HTTP
to a real HTTP server, where the OpenTelemetry protocol's own protobuf classes decode them: a request
to the contacts API (gunicorn, two workers) and the directory worker's apply of its event arrive in
one trace, each under its process's service name. The batch delay is a minute, so every span here is
one that a process sent on its way out (gunicorn's worker exit, the worker's own shutdown)."""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.platform import Platform
from tests.support import wait_until

pytestmark = pytest.mark.e2e
TRACE = "5c3b1a0e9d8f4e2a8b7c6d5e4f3a2b1c"
PARENT = f"00-{TRACE}-1a2b3c4d5e6f7a8b-01"


class Collector:
    """A bare OTLP/HTTP trace receiver: POST /v1/traces in protobuf, each span kept as a dict."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.paths: list[str] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802  (http.server's naming)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                collector.paths.append(f"{self.path} {self.headers['Content-Type']}")
                request = ExportTraceServiceRequest.FromString(body)
                for resource_spans in request.resource_spans:
                    resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                    for scope_spans in resource_spans.scope_spans:
                        for span in scope_spans.spans:
                            collector.spans.append({
                                "service": resource["service.name"], "name": span.name,
                                "trace_id": span.trace_id.hex(), "span_id": span.span_id.hex(),
                                "parent_span_id": span.parent_span_id.hex(),
                                "attributes": {a.key: a.value.string_value for a in span.attributes}})
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def in_trace(self, trace_id: str) -> list[dict[str, Any]]:
        return [s for s in self.spans if s["trace_id"] == trace_id]


@pytest.fixture
def collector() -> Iterator[Collector]:
    found = Collector()
    found.thread.start()
    yield found
    found.server.shutdown()
    found.server.server_close()


def test_the_api_and_the_worker_export_one_trace_under_their_own_names(
        platform: Platform, collector: Collector, token: Callable[..., str]) -> None:
    platform.env.update({"OTEL_EXPORTER_OTLP_ENDPOINT": collector.url + "/", "OTEL_BSP_SCHEDULE_DELAY": "60000"})
    platform.start("contacts-api", "contacts-relay", "contacts-directory")
    api, auth = platform.url("contacts"), {"Authorization": token("student-3")}

    added = requests.post(f"{api}/contacts", headers={**auth, "traceparent": PARENT}, timeout=10,
                          json={"name": "Ada Lovelace", "industry": "Computing"})
    assert added.status_code == 201, added.text
    assert added.headers["traceresponse"].split("-")[1] == TRACE
    wait_until(lambda: requests.get(f"{api}/contacts", headers=auth, timeout=10).json()["items"],
               what="the directory worker applied the contact's event", timeout=60)
    assert collector.spans == []  # nothing before the minute's batch delay ...

    assert set(platform.stop().values()) == {0}  # ... and everything on the way out
    spans = wait_until(lambda: collector.in_trace(TRACE) if len(collector.in_trace(TRACE)) >= 2 else None,
                       what="the request's and the apply's spans at the collector", timeout=10)
    by_name = {s["name"]: s for s in spans}
    request, applied = by_name["POST /contacts"], by_name["apply ContactAdded"]
    assert (request["service"], applied["service"]) == ("contacts-api", "contact-directory")
    assert request["parent_span_id"] == "1a2b3c4d5e6f7a8b" and applied["parent_span_id"] == request["span_id"]
    assert applied["attributes"]["careerloop.projection"] == "contact-directory"
    assert {s["service"] for s in collector.spans} == {"contacts-api", "contact-directory"}  # relays record no spans
    assert set(collector.paths) == {"/v1/traces application/x-protobuf"}
    assert not [s for s in collector.spans if s["name"].endswith(("/healthz", "/readyz"))]  # probes are not traced
