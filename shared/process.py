"""Long-running processes: one way to start, loop, back off, hold a lease, report and stop.

Every process of the platform that is not an API (the relays, the follow-ups announcer, the
notifications dispatcher, the projection workers and the notifications policy worker) is a *step*
run by `ProcessLoop` inside `running(...)`:

- `start_process(name, settings)` is the one entry hook every process goes through first (configuration,
  logging, tracing; start-up checks belong here too), one-shot commands such as `--status` included;
- `running(name)` turns SIGTERM/SIGINT into a stop event, serves the process's metrics on
  `METRICS_PORT` (0: off), closes every client it opened, in reverse order, on the way out, and last
  sends the spans still buffered;
- `ProcessLoop` runs the step until stopped: it renews an optional `Lease` every third of its time (one
  active process of a kind, in the event store; a standby checks again as often), waits `idle_seconds`
  when a step found nothing to do, and retries a failed step after a `Backoff` wait (never skipping
  work: a step only moves on what it finished). A stop lets the step in hand finish, releases the
  lease and returns, so the process exits 0.
"""
from __future__ import annotations

import argparse
import faulthandler
import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, start_http_server

from shared.config import Settings, check_secrets
from shared.eventstore import EventStore
from shared.tracing import flush, start_tracing

log = logging.getLogger("careerloop.process")


def start_process(process: str, settings: Settings | None = None) -> Settings:
    """The first thing every process named `process` does, one-shot commands included: read its
    configuration, set up logging, refuse unsafe secrets outside the embedded profile (before any
    backend is opened) and start tracing (`shared.tracing`: here, in the process itself, so a gunicorn
    worker starts its span exporter's thread after the fork)."""
    from shared.web.logs import configure_logging  # shared.web's package imports the consumer, which imports us

    settings = settings or Settings.from_env()
    configure_logging(settings.get("LOG_LEVEL"))
    check_secrets(settings, process)
    start_tracing(process, settings)
    return settings


# A process still running this long after SIGTERM prints every thread's stack to stderr: what the
# step in hand waits on, well before a supervisor's grace period (Kubernetes: 30 s) ends in SIGKILL.
STOP_REPORT_SECONDS = 10.0


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT: the process finishes the step in hand, then exits."""
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        log.info("received %s; stopping after the current step", signal.Signals(signum).name)
        if not stop.is_set():
            faulthandler.dump_traceback_later(STOP_REPORT_SECONDS, exit=False)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    return stop


def command_line(prog: str, description: str | None, *, status: str, dry_run: str) -> argparse.ArgumentParser:
    """The command line of a process that keeps no read model: run until stopped, or `--status` /
    `--dry-run` once (the projection workers' is `shared.runtime.projection_main`)."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--status", action="store_true", help=f"show {status}, and exit")
    action.add_argument("--dry-run", action="store_true", help=f"show {dry_run}, and exit")
    return parser


class Backoff:
    """Capped exponential waits after consecutive failures: base, 2·base, 4·base, ... cap."""

    def __init__(self, base: float = 0.1, cap: float = 10.0) -> None:
        self.base, self.cap = base, cap
        self.failures = 0

    def delay(self, attempt: int) -> float:
        """The wait after the `attempt`-th consecutive failure (1 = the first)."""
        return min(self.cap, self.base * 2 ** (attempt - 1))

    def failed(self) -> float:
        """Count one more failure; the wait before trying again."""
        self.failures += 1
        return self.delay(self.failures)

    def succeeded(self) -> None:
        self.failures = 0


def holder_id() -> str:
    """Who holds a lease: host and process, and a random part for several holders in one process."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class Lease:
    """A named lease in an event store that keeps one process of a kind active."""

    store: EventStore
    name: str
    ttl: float
    holder: str = field(default_factory=holder_id)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    _renewed_at: float | None = field(default=None, init=False, repr=False)

    def hold(self) -> bool:
        """Take or renew the lease; False while another holder has it.

        A held lease is renewed once a third of its time has passed, not at every step: a relay
        steps every 50 ms when idle, and each renewal is a durable write (about 70 a second from
        the platform's leased processes on FerretDB). Another holder can take it only once it
        expired, so skipping a renewal within the first third still leaves two thirds of the ttl
        for the step in hand, as a standby waits a third before it asks again."""
        asked_at = self.clock()
        if self._renewed_at is not None and asked_at - self._renewed_at < self.ttl / 3:
            return True
        held = self.store.acquire_lease(self.name, self.holder, self.ttl)
        self._renewed_at = asked_at if held else None
        return held

    def release(self) -> None:
        self._renewed_at = None
        try:
            self.store.release_lease(self.name, self.holder)
        except Exception:  # a lease that cannot be released simply expires
            log.warning("could not release the lease %s", self.name, exc_info=True)


class ProcessMetrics:
    """What a long-running process tells about itself (its own registry, served by `running`)."""

    def __init__(self, process: str) -> None:
        self.process = process
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)  # process_* : CPU, memory, start time, open files

        def labelled(kind: Any, name: str, documentation: str) -> Any:
            return kind(name, documentation, ["process"], registry=self.registry).labels(process)

        self.heartbeat = labelled(Gauge, "careerloop_process_heartbeat_timestamp_seconds",
                                  "When the process last went round its loop (liveness: alert when it stops moving).")
        # labelled on first use: a process without a lease (a projection worker) reports none
        self._lease = Gauge("careerloop_process_lease_held",
                            "1 while this process holds its lease (the active one), 0 on standby.", ["process"],
                            registry=self.registry)
        self.processed = labelled(Counter, "careerloop_process_processed",
                                  "Items handled since start: events published, applied or announced, "
                                  "notifications moved on.")
        self.failures = labelled(Counter, "careerloop_process_failures",
                                 "Failed steps since start (each retried after a backoff wait).")
        self.backoff = labelled(Gauge, "careerloop_process_backoff_seconds",
                                "The wait before the next retry of a failed step; 0 when the last step succeeded.")
        # observed by projection workers only (labelled on first use, like the lease)
        self._freshness = Histogram("careerloop_projection_event_age_seconds",
                                    "Seconds from an event's recording (its CloudEvents time) to the projection "
                                    "committing it to its read model: the read side's end-to-end freshness.",
                                    ["process", "projection"], registry=self.registry,
                                    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600))

    def beat(self) -> None:
        self.heartbeat.set_to_current_time()

    def holding(self, held: bool) -> None:
        self._lease.labels(self.process).set(1 if held else 0)

    def did(self, count: int) -> None:
        self.beat()
        if count:
            self.processed.inc(count)
        self.backoff.set(0)

    def applied(self, projection: str, ages: Iterable[float]) -> None:
        """A batch reached the read model: how old each of its events was by then."""
        freshness = self._freshness.labels(self.process, projection)
        for age in ages:
            freshness.observe(max(0.0, age))

    def failed(self, delay: float) -> None:
        self.beat()  # waiting to retry is alive too
        self.failures.inc()
        self.backoff.set(delay)


class ProcessLoop:
    """Run `step(stop)` until `stop` is set (see the module docstring).

    The step returns how much it did; after nothing the loop waits `idle_seconds`, after something
    `busy_seconds` (0: go on at once). A step that raises is retried after a backoff wait when
    `retry(exc)` says so (by default: always); otherwise the error ends the loop."""

    def __init__(self, name: str, step: Callable[[threading.Event], int], *, idle_seconds: float,
                 busy_seconds: float = 0.0, lease: Lease | None = None, backoff: Backoff | None = None,
                 retry: Callable[[Exception], bool] = lambda exc: True,
                 metrics: ProcessMetrics | None = None) -> None:
        self.name, self.step, self.lease = name, step, lease
        self.idle_seconds, self.busy_seconds = idle_seconds, busy_seconds
        self.backoff = backoff or Backoff()
        self.retry = retry
        self.metrics = metrics or ProcessMetrics(name)

    def run(self, stop: threading.Event) -> None:
        log.info("%s started%s", self.name, f" as {self.lease.holder}" if self.lease else "")
        try:
            while not stop.is_set():
                self.metrics.beat()
                try:
                    if self.lease is not None and not self._hold():
                        stop.wait(self.lease.ttl / 3)  # standby: another process is active
                        continue
                    done = self.step(stop)
                except Exception as exc:
                    if not self.retry(exc):
                        raise
                    delay = self.backoff.failed()
                    self.metrics.failed(delay)
                    log.warning("%s: step failed (%s); retrying in %.1fs", self.name, exc, delay, exc_info=True)
                    stop.wait(delay)
                    continue
                self.backoff.succeeded()
                self.metrics.did(done)
                pause = self.busy_seconds if done else self.idle_seconds
                if pause:
                    stop.wait(pause)
        finally:
            if self.lease is not None:
                self.lease.release()
                self.metrics.holding(False)
            log.info("%s stopped", self.name)

    def _hold(self) -> bool:
        assert self.lease is not None
        held = self.lease.hold()
        self.metrics.holding(held)
        return held


@dataclass
class Running:
    """A process's settings, stop event, metrics and the clients it opened (closed at exit)."""

    name: str
    settings: Settings
    stop: threading.Event
    metrics: ProcessMetrics
    resources: ExitStack
    _personal: Any = None

    def event_store(self, service: str) -> EventStore:
        """The service's event store, sealing personal data on append (`shared.keys.personal`)."""
        from shared.eventstore import open_event_store
        from shared.keys import sealing
        return sealing(self.closing(open_event_store(self.settings.event_store_url(service))), self.personal_data)

    def personal_data(self) -> Any:
        """This process's sealer and opener of personal data (opened on first use)."""
        if self._personal is None:
            from shared.keys import open_personal_data
            self._personal = open_personal_data(self.settings)
            self.closing(self._personal.keys.store)
        return self._personal

    def read_store(self) -> Any:
        from shared.readstore import open_read_store
        return self.closing(open_read_store(self.settings.get("READ_STORE_URL")))

    def bus(self) -> Any:
        from shared.bus import open_bus
        return self.closing(open_bus(self.settings.get("BUS_URL"), self.settings))

    def closing(self, client: Any) -> Any:
        """Close `client` when the process ends (clients opened later close first)."""
        self.resources.callback(client.close)
        return client


@contextmanager
def running(name: str, settings: Settings | None = None, stop: threading.Event | None = None, *,
            one_shot: bool = False) -> Iterator[Running]:
    """The life of a process named `name` (e.g. `relay-contacts`); a `one_shot` command (`--status`,
    `--dry-run`) serves no metrics."""
    settings = start_process(name, settings)
    with ExitStack() as resources:
        resources.callback(flush)  # last out: the spans of the process's final steps are sent
        process = Running(name, settings, stop or stop_on_signals(), ProcessMetrics(name), resources)
        if not one_shot:
            serve_metrics(process)
        yield process


def serve_metrics(process: Running) -> None:
    """Serve the process's metrics on METRICS_HOST:METRICS_PORT (a port of 0: not at all)."""
    port = process.settings.int("METRICS_PORT")
    if not port:
        return
    server, thread = start_http_server(port, addr=process.settings.get("METRICS_HOST"),
                                       registry=process.metrics.registry)
    log.info("%s serves its metrics on %s:%d/metrics", process.name, process.settings.get("METRICS_HOST"), port)

    def shut_down() -> None:
        server.shutdown()
        server.server_close()
        thread.join(5)

    process.resources.callback(shut_down)
