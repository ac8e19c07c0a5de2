"""An API's request metrics: how many requests each route answered, by method and status, and how
long they took (prometheus_client's Counter and Histogram), on `/metrics` beside the backend metrics.

Gunicorn runs each API in several worker processes, and a scrape reaches one of them; the counts must
be the API's, not that worker's. So under gunicorn the workers write their samples to files in
`PROMETHEUS_MULTIPROC_DIR` (prometheus_client's multiprocess mode: `gunicorn.conf.py` makes a fresh
directory when the server starts and marks a worker's files dead when it exits), and every scrape adds
up all of them. Without that directory (tests, a single process) the counts are the process's own.

Routes are labelled by their rule (`/contacts/<contact_id>`), never by the requested path, so
the number of series stays bounded; a request no rule matched counts as `unmatched`.
"""
from __future__ import annotations

import os
import time

from flask import Flask, Response, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Traffic:
    """The request metrics of one API process (made in the process, after gunicorn forked it)."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        self.requests = Counter("careerloop_http_requests", "Requests answered, by route, method and status.",
                                ["service", "route", "method", "status"], registry=self.registry)
        self.duration = Histogram("careerloop_http_request_duration_seconds",
                                  "Seconds from the request's arrival to its answer, by route and method.",
                                  ["service", "route", "method"], buckets=BUCKETS, registry=self.registry)

    def install(self, app: Flask) -> None:
        @app.before_request
        def start_clock() -> None:
            g.request_started = time.perf_counter()

        @app.after_request
        def count(response: Response) -> Response:
            started = getattr(g, "request_started", None)
            route = request.url_rule.rule if request.url_rule is not None else "unmatched"
            self.requests.labels(self.service, route, request.method, str(response.status_code)).inc()
            if started is not None:
                self.duration.labels(self.service, route, request.method).observe(time.perf_counter() - started)
            return response

    def exposition(self) -> bytes:
        """The API's request metrics: every worker's, added up, under gunicorn; else this process's."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)
