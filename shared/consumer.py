"""The consumer runner: poll a batch → handle → record checkpoint → commit, forever and safely.

- Transient failures (a store or broker briefly away) are retried with capped exponential backoff,
  never skipped: the batch's offsets are not committed until it succeeded.
- Any other failure is isolated to one message by retrying the batch message by message; a message
  that still fails after `max_attempts` goes to the group's dead-letter topic with its reason, and its
  stream (the message key) is *parked*: its later messages go to the dead-letter topic too, in order,
  until an operator replays them (`python -m services.<service>.worker --replay-dead-letters`, see
  `replay_dead_letters`). Other streams keep flowing.
- SIGTERM/SIGINT set `stop`; the runner finishes the batch in hand and returns.
- With process metrics, each committed batch reports how old its events were (their CloudEvents
  `time`) when they reached the read model: the read side's end-to-end freshness.
"""
from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Protocol

from shared.bus import Consumer, EventBus, Message, Producer, TopicPartition, dead_letter_topic
from shared.errors import TransientError
from shared.events import isoformat, utcnow
from shared.process import Backoff, ProcessMetrics
from shared.readstore import Index, ReadStore, Update

log = logging.getLogger("careerloop.consumer")


class Handler(Protocol):
    # read-only: a projection fixes its group and topics when it is made
    @property
    def group_id(self) -> str: ...

    @property
    def topics(self) -> list[str]: ...

    def handle(self, messages: list[Message]) -> None:
        """Apply the messages idempotently; raise to refuse the batch."""


def is_transient(exc: BaseException) -> bool:
    """Errors that mean 'try again soon', from any backend, without importing optional clients."""
    if isinstance(exc, TransientError):
        return True
    if isinstance(exc, sqlite3.OperationalError):
        return any(word in str(exc) for word in ("locked", "busy", "disk I/O", "unable to open"))
    module = type(exc).__module__
    if module.startswith("pymongo"):
        import pymongo.errors as mongo_errors
        return isinstance(exc, (mongo_errors.AutoReconnect, mongo_errors.ConnectionFailure,
                                mongo_errors.NetworkTimeout, mongo_errors.ServerSelectionTimeoutError))
    if module.startswith("kafka"):
        return bool(getattr(exc, "retriable", False)) or type(exc).__name__ in (
            "KafkaTimeoutError", "KafkaConnectionError", "NodeNotReadyError")
    return isinstance(exc, (ConnectionError, TimeoutError))


@dataclass(frozen=True)
class Position:
    """Where a consumer group is on one partition: `committed` is the next offset it will read
    (everything below is applied), `end` the next offset the partition will be written at."""

    topic: str
    partition: int
    committed: int
    end: int

    @property
    def lag(self) -> int:
        return max(0, self.end - self.committed)


def positions(bus: EventBus, group_id: str, topics: Sequence[str]) -> list[Position]:
    """The group's position on every partition of `topics` (a partition never committed is at 0)."""
    found = []
    for topic in topics:
        committed = bus.committed(group_id, topic)
        for partition, end in sorted(bus.end_offsets(topic).items()):
            found.append(Position(topic, partition, committed.get(partition, 0), end))
    return found


class ConsumerRunner:
    def __init__(self, bus: EventBus, handler: Handler, read_store: ReadStore, *, max_attempts: int = 5,
                 backoff_base: float = 0.1, backoff_cap: float = 30.0, batch_size: int = 500,
                 sleep: Callable[[float], None] | None = None, metrics: ProcessMetrics | None = None) -> None:
        self.bus, self.handler, self.read_store = bus, handler, read_store
        self.max_attempts, self.batch_size = max_attempts, batch_size
        self.backoff = Backoff(backoff_base, backoff_cap)
        self.metrics = metrics
        self.checkpoints = read_store.collection("checkpoints", [Index("group_id")])
        self.parked = read_store.collection("parked_streams", [Index("group_id")])
        self.dead_letters = dead_letter_topic(handler.group_id)
        self._stop = threading.Event()
        self._sleep = sleep
        # opened by run() (tests that drive process() open them the same way)
        self.consumer: Consumer | None = None
        self.producer: Producer | None = None

    # -- the loop ---------------------------------------------------------------------------
    def run(self, stop: threading.Event | None = None, *, until_idle: bool = False,
            leave_when: Callable[[int], bool] | None = None, poll_seconds: float | None = None) -> None:
        """Consume until `stop` is set, or with `until_idle` until a poll finds nothing new
        (catch-up runs: tests).

        `leave_when(polled)` is asked after every poll and its batch (`polled`: how many messages the
        poll brought, 0 when it found nothing);
        when it answers True the runner leaves the group and returns with everything it handled
        committed, so the next member of its group (or a later run) goes on exactly from there:
        how a live worker follows a switch-over to a new generation, and how a rebuild stops."""
        self._stop = stop or self._stop
        self.bus.ensure_topics({self.dead_letters: 1})
        consumer = self.consumer = self.bus.consumer(self.handler.group_id, self.handler.topics)
        producer = self.producer = self.bus.producer()
        log.info("consumer %s started on %s", self.handler.group_id, ", ".join(self.handler.topics))
        timeout = poll_seconds if poll_seconds is not None else (0.1 if until_idle else 0.5)
        try:
            while not self._stop.is_set():
                messages = consumer.poll(self.batch_size, timeout=timeout)
                if self.metrics is not None:
                    self.metrics.beat()
                if messages:
                    self.process(messages)
                    if self.metrics is not None:
                        self.metrics.did(len(messages))
                elif until_idle and self.caught_up():
                    return
                if leave_when is not None and not self._stop.is_set() and leave_when(len(messages)):
                    return
        finally:
            consumer.close()
            producer.close()
            log.info("consumer %s stopped", self.handler.group_id)

    def replay_dead_letters(self) -> dict[str, str]:
        """Re-handle the dead-lettered messages of every parked stream, in order; unpark the streams
        whose messages now all succeed. Returns {stream: "replayed" | reason it is still parked}.

        Safe beside a running worker: after unparking, a second pass picks up what the worker
        dead-lettered between the first pass and the unparking (handlers are idempotent)."""
        parked = self._parked_streams()
        outcome: dict[str, str] = {}
        failed, read_up_to = self._replay_pass(parked, outcome, from_offset={})
        for stream in parked - failed:
            self.parked.delete(f"{self.handler.group_id}:{stream}")
            outcome[str(stream)] = "replayed"
        self._replay_pass(parked - failed, outcome, from_offset=read_up_to)
        return outcome

    def _replay_pass(self, streams: set[str | None], outcome: dict[str, str],
                     from_offset: dict[int, int]) -> tuple[set[str | None], dict[int, int]]:
        """One read of the dead-letter topic up to its current end: the streams that failed, and
        the offsets read up to."""
        failed: set[str | None] = set()
        ends = self.bus.end_offsets(self.dead_letters)
        consumer = self.bus.consumer(f"{self.handler.group_id}.replay.{time.time_ns()}", [self.dead_letters])
        seen = dict(from_offset)
        try:
            while any(seen.get(p, 0) < end for p, end in ends.items()):
                for message in consumer.poll(500, timeout=1.0):
                    if message.offset < from_offset.get(message.partition, 0):
                        continue
                    seen[message.partition] = message.offset + 1
                    if message.key not in streams or message.key in failed:
                        continue
                    try:
                        self._retry_transient(partial(self.handler.handle, [message]))
                    except Exception as exc:
                        failed.add(message.key)
                        outcome[str(message.key)] = f"still failing: {exc}"
        finally:
            consumer.close()
        return failed, seen

    def caught_up(self) -> bool:
        """True when the group has committed everything its topics hold."""
        return all(p.lag == 0 for p in positions(self.bus, self.handler.group_id, self.handler.topics))

    def process(self, messages: list[Message]) -> None:
        """Handle one polled batch completely, then checkpoint and commit it."""
        consumer, producer = self._clients()
        parked = self._parked_streams()
        held_back = [m for m in messages if m.key in parked]
        live = [m for m in messages if m.key not in parked]
        if live:
            try:
                self._retry_transient(lambda: self.handler.handle(live))
            except _Stopped:
                consumer.seek_to_committed()
                return
            except Exception:
                log.warning("batch of %d failed; isolating the failing message", len(live), exc_info=True)
                try:
                    self._one_by_one(live, parked)
                except _Stopped:
                    consumer.seek_to_committed()
                    return
        for message in held_back:
            self._dead_letter(message, "stream parked after an earlier failure")
        producer.flush()
        self._commit(messages)
        if self.metrics is not None:
            now = time.time()
            applied = [m for m in live if m.key not in parked]  # parked while isolating a failure: not applied
            self.metrics.applied(getattr(self.handler, "name", self.handler.group_id),
                                 [now - recorded for recorded in map(_recorded_at, applied) if recorded is not None])

    def _clients(self) -> tuple[Consumer, Producer]:
        if self.consumer is None or self.producer is None:
            raise RuntimeError(f"consumer {self.handler.group_id} is not running: run() opens its clients")
        return self.consumer, self.producer

    def _one_by_one(self, messages: list[Message], parked: set[str | None]) -> None:
        for message in messages:
            if message.key in parked:
                self._dead_letter(message, "stream parked after an earlier failure")
                continue
            for attempt in range(1, self.max_attempts + 1):
                try:
                    self._retry_transient(partial(self.handler.handle, [message]))
                    break
                except _Stopped:
                    raise
                except Exception as exc:
                    if attempt == self.max_attempts:
                        reason = "".join(traceback.format_exception_only(type(exc), exc)).strip()
                        log.error("parking stream %s: %s", message.key, reason)
                        self._dead_letter(message, reason)
                        self._park(message, reason)
                        parked.add(message.key)
                    else:
                        self._wait(self.backoff.delay(attempt))

    def _retry_transient(self, work: Callable[[], None]) -> None:
        attempt = 0
        while True:
            try:
                work()
                return
            except Exception as exc:
                if not is_transient(exc):
                    raise
                attempt += 1
                delay = self.backoff.delay(attempt)
                if self.metrics is not None:
                    self.metrics.failed(delay)
                log.warning("transient failure (%s); retrying in %.1fs", exc, delay)
                self._wait(delay)

    # -- bookkeeping ------------------------------------------------------------------------
    def _commit(self, messages: list[Message]) -> None:
        offsets: dict[TopicPartition, int] = {}
        for m in messages:
            offsets[(m.topic, m.partition)] = max(offsets.get((m.topic, m.partition), 0), m.offset + 1)
        now = isoformat(utcnow())

        def record() -> None:
            with self.read_store.batch():
                for (topic, partition), offset in offsets.items():
                    self.checkpoints.upsert(
                        f"{self.handler.group_id}:{topic}:{partition}",
                        Update(set={"group_id": self.handler.group_id, "topic": topic,
                                    "partition": partition, "offset": offset, "updated_at": now}))

        try:
            self._retry_transient(record)
            consumer = self._clients()[0]
            self._retry_transient(lambda: consumer.commit(offsets))
        except _Stopped:
            pass  # uncommitted work is redelivered and deduplicated

    def _parked_streams(self) -> set[str | None]:
        return {doc["stream_id"] for doc in self.parked.find({"group_id": self.handler.group_id}, limit=10_000).items}

    def _park(self, message: Message, reason: str) -> None:
        self.parked.upsert(f"{self.handler.group_id}:{message.key}", Update(
            set={"group_id": self.handler.group_id, "stream_id": message.key, "reason": reason,
                 "topic": message.topic, "partition": message.partition, "offset": message.offset,
                 "parked_at": isoformat(utcnow())}))

    def _dead_letter(self, message: Message, reason: str) -> None:
        headers: Mapping[str, str] = {
            **message.headers, "dlq-reason": reason[:2000], "dlq-group": self.handler.group_id,
            "dlq-topic": message.topic, "dlq-partition": str(message.partition),
            "dlq-offset": str(message.offset), "dlq-at": isoformat(utcnow()),
        }
        self._clients()[1].send(self.dead_letters, message.key, message.value, headers)

    def _wait(self, seconds: float) -> None:
        if self._sleep is not None:
            self._sleep(seconds)
        elif self._stop.wait(seconds):
            raise _Stopped()
        if self._stop.is_set():
            raise _Stopped()


def _recorded_at(message: Message) -> float | None:
    """When the event was recorded (its envelope's `time`), as a Unix time; None when not an event."""
    try:
        return datetime.fromisoformat(json.loads(message.value)["time"]).timestamp()
    except (ValueError, KeyError, TypeError):
        return None


class _Stopped(Exception):
    """Raised inside a retry wait when a stop was requested: leave the batch uncommitted."""
