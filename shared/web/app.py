"""The Flask app factory every service's `create_app()` builds on.

Every service API answers `/healthz` (liveness), `/readyz` (its backends answer), `/openapi.json` and
`/metrics` (Prometheus: the backends' state, see `shared.metrics`, and the API's request counts and
latencies, see `shared.web.traffic`), all without authentication: they are for the platform's own
probes and scrapers on the internal network.

Every other request is traced (`shared.tracing`): a server span named by its route, continuing the
caller's W3C `traceparent`/`tracestate` or starting a trace; the answer carries `X-Correlation-ID` and
the W3C `traceresponse` header (the trace the request is in, the same format as `traceparent`), so a
caller that sent no trace context can still find the trace.
"""
from __future__ import annotations

import functools
import logging
import re
import uuid
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, g, jsonify, request
from flask.json.provider import DefaultJSONProvider

from shared import tracing
from shared.auth import Authenticator, AuthSettings
from shared.bus import open_bus
from shared.config import Settings
from shared.eventstore import EventStore
from shared.metrics import CONTENT_TYPE, BusProbe, ReadModelGauges, ServiceCollector, exposition
from shared.process import start_process
from shared.projection import Projection
from shared.readstore import ReadStore
from shared.web.api import Api
from shared.web.errors import register_error_handlers
from shared.web.openapi import openapi_document
from shared.web.traffic import Traffic

_CORRELATION_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_UNTRACED = frozenset({"/healthz", "/readyz", "/metrics"})
log = logging.getLogger("careerloop.web")


@dataclass
class Runtime:
    """Per-app state in `app.extensions["careerloop"]`: created after fork, one per process."""

    service: str
    settings: Settings
    authenticator: Authenticator
    event_store: EventStore
    readiness: dict[str, Callable[[], Any]] = field(default_factory=dict)
    read_store: ReadStore | None = None
    projections: Sequence[Callable[..., Projection]] = ()  # the service's own, for /metrics
    bus: BusProbe | None = None  # opened on the first scrape, in this process
    gauges: Sequence[ReadModelGauges] = ()  # the service's own, read from its read store for /metrics

    def close(self) -> None:
        """Close what the app opened itself (the metrics bus); the stores belong to the caller."""
        if self.bus is not None:
            self.bus.close()


def auth_settings(settings: Settings) -> AuthSettings:
    return AuthSettings(
        hs256_secret=settings.get("CAREERLOOP_JWT_SECRET") or None,
        jwks_url=settings.get("CAREERLOOP_JWKS_URL") or None,
        issuer=settings.get("CAREERLOOP_JWT_ISSUER") or None,
        audience=settings.get("CAREERLOOP_JWT_AUDIENCE") or None,
    )


class _InsertionOrderJSON(DefaultJSONProvider):
    sort_keys = False  # answers keep their keys in the order the code builds them


def create_service_app(service: str, *, settings: Settings, event_store: EventStore, apis: list[Api],
                       readiness: dict[str, Callable[[], Any]] | None = None, description: str = "",
                       read_store: ReadStore | None = None,
                       projections: Sequence[Callable[..., Projection]] = (),
                       gauges: Sequence[ReadModelGauges] = ()) -> Flask:
    start_process(f"{service}-api", settings)
    app = Flask(f"careerloop.{service}")
    app.config["MAX_CONTENT_LENGTH"] = settings.int("MAX_BODY_BYTES")
    app.json = _InsertionOrderJSON(app)
    runtime = Runtime(
        service, settings, Authenticator(auth_settings(settings)), event_store,
        {"event_store": event_store.ping, **(readiness or {})}, read_store, tuple(projections),
        BusProbe(settings.get("BUS_URL"), functools.partial(open_bus, settings=settings)) if projections else None,
        tuple(gauges),
    )
    app.extensions["careerloop"] = runtime
    if runtime.bus is not None:
        # at garbage collection or interpreter exit (a gunicorn worker exiting): the bus's thread
        # closes the bus; the probe, not the app, is referenced, so the app can still be collected
        weakref.finalize(app, runtime.bus.close)
    register_error_handlers(app)
    traffic = Traffic(service)
    traffic.install(app)

    @app.before_request
    def take_correlation_id() -> None:
        supplied = request.headers.get("X-Correlation-ID", "")
        g.correlation_id = supplied if _CORRELATION_ID.match(supplied) else str(uuid.uuid4())

    @app.before_request
    def continue_trace() -> None:
        """A server span per request, in the caller's trace (`traceparent`) or a new one; the probes and
        scrapes are left out (a trace every few seconds per pod that says nothing)."""
        if request.path in _UNTRACED:
            return
        route = request.url_rule.rule if request.url_rule is not None else None
        g.trace_span, g.trace_token = tracing.start_server_span(request.method, route, request.headers)
        g.trace_span.set_attribute("careerloop.correlation_id", g.correlation_id)

    @app.after_request
    def give_correlation_id(response: Response) -> Response:
        response.headers["X-Correlation-ID"] = getattr(g, "correlation_id", "")
        span = g.get("trace_span")
        if span is not None:
            response.headers.update(tracing.answer_server_span(span, response.status_code))
        return response

    @app.teardown_request
    def end_trace(error: BaseException | None) -> None:
        span = g.pop("trace_span", None)
        if span is not None:
            tracing.end_server_span(span, g.pop("trace_token"), error)

    @app.get("/healthz")
    def healthz() -> Response:
        """Liveness: the process answers."""
        return jsonify({"status": "ok", "service": service})

    @app.get("/readyz")
    def readyz() -> Response:
        """Readiness: every backend this process needs answers."""
        failures = {}
        for name, check in app.extensions["careerloop"].readiness.items():
            try:
                check()
            except Exception as exc:  # report, never raise: this endpoint exists to say what is down
                failures[name] = f"{type(exc).__name__}: {exc}"
        body = {"status": "ready" if not failures else "unavailable", "failures": failures}
        return Response(jsonify(body).get_data(), status=200 if not failures else 503,
                        mimetype="application/json")

    @app.get("/metrics")
    def metrics() -> Response:
        """Prometheus metrics, read from the backends at scrape time (see `shared.metrics`)."""
        state = app.extensions["careerloop"]
        collector = ServiceCollector(state.service, state.projections, event_store=state.event_store,
                                     read_store=state.read_store, bus=state.bus,
                                     namespace=state.settings.get("BUS_NAMESPACE"), gauges=state.gauges)
        return Response(exposition(collector) + traffic.exposition(), mimetype=None, content_type=CONTENT_TYPE)

    @app.get("/openapi.json")
    def openapi() -> Response:
        """The OpenAPI 3 document, generated from the declared endpoints and their schemas."""
        return jsonify(openapi_document(service, apis, description))

    for api in apis:
        app.register_blueprint(api.blueprint)
    return app
