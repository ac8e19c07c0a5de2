"""Prometheus metrics of a service, computed when scraped (prometheus_client's text format 0.0.4).

`GET /metrics` on every service API answers from the backends themselves, not from counters kept in
the process, so every gunicorn worker gives the same, current answer whichever one is scraped:

- per projection of the service and per generation (the current one, and one being rebuilt), per
  topic and partition: the consumer group's committed offset (the next to apply: everything below
  is applied), the topic's end offset, the lag (end - committed), and the read store's checkpoint
  (offset and age: seconds since that partition last had something applied);
- the current generation of each projection, and the one being built during a rebuild;
- per projection and generation, the streams its consumer parked after a message failed for good
  (their messages wait on the dead-letter topic for `--replay-dead-letters`);
- the relay's backlog: commits stored in the service's outbox and not yet published;
- what a service's own read models say about its health (`ReadModelGauges`: the notifications service
  reports its delivery queue and its webhook endpoints by state);
- `careerloop_up{backend}`: 1 when the backend answered this scrape, 0 when it did not. A backend
  that is down never fails the scrape: its metrics are left out and its `up` is 0.

`ServiceCollector` is a prometheus_client custom collector that reads all this on `collect()`;
`exposition` renders it. The relays and workers report on themselves instead (`shared.process`).

The bus is opened lazily, in the API process after gunicorn forked it, and only one thread of the
process ever uses it (`BusProbe`): kafka-python's clients are not meant to be shared between
threads, and a SQLite connection belongs to one thread. Its queries get `BUS_BUDGET_SECONDS`; if the
bus does not answer in time (a broker down makes kafka-python wait for its bootstrap timeout) the
scrape reports `careerloop_up{backend="bus"} 0`, and scrapes while that query still runs do so at
once instead of piling up threads.

The endpoint is unauthenticated, like /healthz and /readyz: it reveals topic names, offsets and
counts, never personal data, and is meant to be reachable on the internal network only (keep it off
the public ingress).
"""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.registry import Collector

from shared.bus import EventBus, open_bus
from shared.consumer import Position, positions
from shared.projection import Projection, blueprint, group_id
from shared.readstore import Index, ReadStore, iterate
from shared.readstore.generations import generation_of

log = logging.getLogger("careerloop.metrics")
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
_POSITION = ("projection", "generation", "topic", "partition")
BUS_BUDGET_SECONDS = 5.0
T = TypeVar("T")
# A service's own gauges, read from its read store at scrape time: `gauges(read_store, now)`.
ReadModelGauges = Callable[[ReadStore, float], Iterable[Metric]]


class _Gauge:
    """One metric family being filled: every metric here is a value read now (a gauge), none
    counts since the process started."""

    def __init__(self, name: str, documentation: str, *labels: str) -> None:
        self.labels = labels
        self.family = GaugeMetricFamily(name, documentation, labels=list(labels))

    def add(self, value: float, **labels: Any) -> None:
        self.family.add_metric([str(labels[name]) for name in self.labels], value)


class BusProbe:
    """The bus of this process, opened on first use and used by one daemon thread only."""

    def __init__(self, url: str, opener: Callable[[str], EventBus] = open_bus,
                 budget: float = BUS_BUDGET_SECONDS) -> None:
        self.url, self._open, self.budget = url, opener, budget
        self._lock = threading.Lock()
        self._jobs: queue.Queue[tuple[Callable[[EventBus], Any], Future] | None] | None = None
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._busy: Future | None = None

    def call(self, work: Callable[[EventBus], T], timeout: float | None = None) -> T:
        """`work(bus)` on the probe's thread, within `timeout` seconds (the probe's budget by default;
        TimeoutError otherwise). An earlier call still running counts against it: calls never pile up."""
        timeout = self.budget if timeout is None else timeout
        deadline = time.monotonic() + timeout
        with self._lock:
            if self._thread is None or self._pid != os.getpid():  # first use, or a forked child
                self._jobs, self._pid = queue.Queue(), os.getpid()
                self._thread = threading.Thread(target=self._serve, args=(self._jobs,), daemon=True,
                                                name="careerloop-metrics-bus")
                self._thread.start()
                self._busy = None
            earlier = self._busy
        if earlier is not None:
            try:
                earlier.exception(max(0.0, deadline - time.monotonic()))
            except FuturesTimeout:
                raise TimeoutError("an earlier query of the bus is still running") from None
        with self._lock:
            if self._busy is not earlier or self._jobs is None:  # another scrape got in first, or closed
                raise TimeoutError("another query of the bus is running")
            future: Future = Future()
            self._busy = future
            self._jobs.put((work, future))
        try:
            return future.result(max(0.0, deadline - time.monotonic()))
        except FuturesTimeout:
            raise TimeoutError(f"the bus did not answer within {timeout:g}s") from None

    def _serve(self, jobs: queue.Queue[tuple[Callable[[EventBus], Any], Future] | None]) -> None:
        bus: EventBus | None = None
        try:
            while (job := jobs.get()) is not None:
                work, future = job
                try:
                    bus = bus or self._open(self.url)
                    future.set_result(work(bus))
                except BaseException as exc:  # reported to the scrape; the thread serves on
                    future.set_exception(exc)
        finally:
            if bus is not None:
                try:
                    bus.close()
                except Exception:
                    log.debug("closing the metrics bus failed", exc_info=True)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the thread, which closes the bus (in the thread that used it)."""
        with self._lock:
            thread, jobs = self._thread, self._jobs
            self._thread = self._jobs = None
        if thread is not None and jobs is not None and self._pid == os.getpid():
            jobs.put(None)
            thread.join(timeout)


@dataclass(frozen=True)
class _Generation:
    projection: str
    generation: int
    group: str
    topics: list[str]


class ServiceCollector(Collector):
    """The metrics of one service, read from its backends whenever the collector is scraped."""

    def __init__(self, service: str, projections: Sequence[Callable[..., Projection]], *, event_store: Any,
                 read_store: ReadStore | None, bus: BusProbe | None, namespace: str = "",
                 gauges: Sequence[ReadModelGauges] = (), now: Callable[[], float] = time.time) -> None:
        self.service, self.projections, self.event_store = service, projections, event_store
        self.read_store, self.bus, self.namespace, self.now = read_store, bus, namespace, now
        self.gauges = gauges

    def collect(self) -> Iterable[Metric]:
        return collect(self.service, self.projections, event_store=self.event_store, read_store=self.read_store,
                       bus=self.bus, namespace=self.namespace, gauges=self.gauges, now=self.now)


def exposition(collector: Collector) -> bytes:
    """The collector's metrics in the text exposition format 0.0.4, collected now."""
    return generate_latest(collector)


def collect(service: str, projections: Sequence[Callable[..., Projection]], *, event_store: Any,
            read_store: ReadStore | None, bus: BusProbe | None, namespace: str = "",
            gauges: Sequence[ReadModelGauges] = (), now: Callable[[], float] = time.time) -> list[Metric]:
    """Every metric of one service, read from its backends now."""
    up = _Gauge("careerloop_up", "1 when the backend answered this scrape, 0 when it did not.", "backend")
    outbox = _Gauge("careerloop_outbox_unpublished_commits",
                    "Commits stored in the service's event store (its outbox) that the relay has not published yet.",
                    "service")
    current = _Gauge("careerloop_projection_generation",
                     "The read-model generation the projection's queries are served from.", "projection")
    building = _Gauge("careerloop_projection_building_generation",
                      "A generation being rebuilt beside the current one (absent when there is no rebuild).",
                      "projection")
    committed = _Gauge("careerloop_projection_committed_offset",
                       "The next offset the projection's consumer group applies: everything below it is applied.",
                       *_POSITION)
    ends = _Gauge("careerloop_topic_end_offset", "The offset the next event on the partition gets.",
                  "topic", "partition")
    lag = _Gauge("careerloop_projection_lag",
                 "Events on the partition that the projection's consumer group has not applied yet.", *_POSITION)
    checkpoint = _Gauge("careerloop_projection_checkpoint_offset",
                        "The offset the projection recorded in the read store with its last applied batch.", *_POSITION)
    age = _Gauge("careerloop_projection_checkpoint_age_seconds",
                 "Seconds since the projection last applied a batch from the partition.", *_POSITION)
    parked = _Gauge("careerloop_projection_parked_streams",
                    "Streams the projection parked after a message failed for good: their messages wait on the "
                    "dead-letter topic for --replay-dead-letters.", "projection", "generation")

    try:
        outbox.add(event_store.unpublished_count(), service=service)
        up.add(1, backend="event_store")
    except Exception as exc:
        log.warning("metrics: the event store did not answer: %s", exc)
        up.add(0, backend="event_store")

    own: list[Metric] = []
    watched = _read_side(projections, read_store, namespace, now, up, current, building, checkpoint, age, parked,
                         gauges, own)

    if bus is not None:
        def read_bus(b: EventBus) -> list[tuple[_Generation, list[Position]]]:
            if not watched:
                b.ping()  # still say whether the bus is up
            return [(watch, positions(b, watch.group, watch.topics)) for watch in watched]

        try:
            seen: set[tuple[str, int]] = set()
            for watch, found in bus.call(read_bus):
                for p in found:
                    labels = {"projection": watch.projection, "generation": watch.generation, "topic": p.topic,
                              "partition": p.partition}
                    committed.add(p.committed, **labels)
                    lag.add(p.lag, **labels)
                    if (p.topic, p.partition) not in seen:
                        seen.add((p.topic, p.partition))
                        ends.add(p.end, topic=p.topic, partition=p.partition)
            up.add(1, backend="bus")
        except Exception as exc:
            log.warning("metrics: the bus did not answer: %s", exc)
            up.add(0, backend="bus")
    return [*(g.family for g in (up, outbox, current, building, committed, ends, lag, checkpoint, age, parked)), *own]


def _read_side(projections: Sequence[Callable[..., Projection]], read_store: ReadStore | None, namespace: str,
               now: Callable[[], float], up: _Gauge, current: _Gauge, building: _Gauge, checkpoint: _Gauge,
               age: _Gauge, parked: _Gauge, gauges: Sequence[ReadModelGauges], own: list[Metric]) -> list[_Generation]:
    """The generations to watch (current, and any being built), their checkpoints and parked streams,
    and the service's own gauges (into `own`)."""
    watched: list[_Generation] = []
    if read_store is None:  # a service without a read side reports its outbox only
        return watched
    try:
        generations = read_store.generations()
        checkpoints = read_store.collection("checkpoints", [Index("group_id")])
        parked_streams = read_store.collection("parked_streams", [Index("group_id")])  # shared.consumer's
        for make in projections:
            template, names = blueprint(make, namespace)
            serving = generation_of(generations, names)
            current.add(serving, projection=template.name)
            watched.append(_Generation(template.name, serving,
                                       group_id(namespace, template.name, template.version, serving), template.topics))
            for build in generations.building:
                if build.collections == tuple(sorted(names)):
                    building.add(build.generation, projection=template.name)
                    watched.append(_Generation(template.name, build.generation, group_id(
                        namespace, template.name, template.version, build.generation), template.topics))
        moment = now()
        for watch in watched:
            parked.add(parked_streams.count({"group_id": watch.group}), projection=watch.projection,
                       generation=watch.generation)
            for doc in iterate(checkpoints, {"group_id": watch.group}):
                labels = {"projection": watch.projection, "generation": watch.generation, "topic": doc["topic"],
                          "partition": doc["partition"]}
                checkpoint.add(doc["offset"], **labels)
                age.add(max(0.0, moment - datetime.fromisoformat(doc["updated_at"]).timestamp()), **labels)
        own.extend([family for read in gauges for family in read(read_store, moment)])  # all or none
        up.add(1, backend="read_store")
    except Exception as exc:
        log.warning("metrics: the read store did not answer: %s", exc)
        up.add(0, backend="read_store")
    return watched
