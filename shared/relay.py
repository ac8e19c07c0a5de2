"""The outbox relay: publishes each service's stored events to the bus, in order, at least once.

The event store is the outbox. The relay reads unpublished commits in position order, sends every
event keyed by its stream id (so one stream lands in one partition, in order), waits for the bus to
acknowledge the whole batch, and only then marks the commits published. A crash between the two
re-sends the batch: consumers deduplicate by stream version. A lease in the event store keeps one
active relay per service; a second relay process waits as a hot standby.
"""
from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections import Counter
from collections.abc import Mapping
from typing import TextIO

from shared.bus import EventBus, Producer, close_quietly
from shared.eventstore import EventStore
from shared.process import Lease, ProcessLoop, ProcessMetrics, command_line, holder_id, running

log = logging.getLogger("careerloop.relay")


def encode(envelope: Mapping) -> bytes:
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()


class Relay:
    def __init__(self, store: EventStore, bus: EventBus, *, service: str, topics: Mapping[str, str],
                 batch_size: int = 200, lease_ttl: float = 15.0, idle_sleep: float = 0.05,
                 metrics: ProcessMetrics | None = None) -> None:
        self.store, self.bus, self.service = store, bus, service
        self.topics = dict(topics)  # stream type -> topic
        self.batch_size, self.lease_ttl, self.idle_sleep = batch_size, lease_ttl, idle_sleep
        self.holder = holder_id()
        self.lease = f"relay:{service}"
        self.metrics = metrics
        self._producer: Producer | None = None  # opened for the first batch, again after a failure

    def publish_pending(self) -> int:
        """Publish one batch of unpublished commits; returns how many events went out."""
        commits = self.store.read_unpublished(self.batch_size)
        if not commits:
            return 0
        if self._producer is None:
            self._producer = self.bus.producer()
        producer = self._producer
        sent = 0
        try:
            for commit in commits:
                topic = self.topics[commit.stream_type]
                for envelope in commit.events:
                    producer.send(topic, commit.stream_id, encode(envelope),
                                  {"content-type": "application/cloudevents+json; charset=utf-8"})
                    sent += 1
            producer.flush()  # raises unless every message was acknowledged
        except Exception:  # the bus is down: keep everything, start over with a fresh producer
            self._reset_producer()
            raise
        self.store.mark_published([c.position for c in commits])
        return sent

    def run(self, stop: threading.Event) -> None:
        """Publish while this relay holds the service's lease, until `stop` is set."""
        try:
            ProcessLoop(f"relay-{self.service}", lambda _: self.publish_pending(), idle_seconds=self.idle_sleep,
                        lease=Lease(self.store, self.lease, self.lease_ttl, self.holder),
                        metrics=self.metrics).run(stop)
        finally:
            self._reset_producer()

    def status(self, out: TextIO = sys.stdout) -> int:
        """`--status`: the backlog, and what the next batch would publish."""
        print(f"relay {self.service}: {self.store.unpublished_count():,} commits not yet published", file=out)
        return self.dry_run(out)

    def dry_run(self, out: TextIO = sys.stdout) -> int:
        """`--dry-run`: what the next batch would publish, per topic; nothing is sent or marked."""
        commits = self.store.read_unpublished(self.batch_size)
        per_topic: Counter[str] = Counter()
        for commit in commits:
            per_topic[self.topics[commit.stream_type]] += len(commit.events)
        print(f"next batch: {len(commits):,} commits, {sum(per_topic.values()):,} events"
              + "".join(f"\n  {topic}: {count:,}" for topic, count in sorted(per_topic.items())), file=out)
        return 0

    def _reset_producer(self) -> None:
        if self._producer is not None:
            close_quietly(self._producer)
            self._producer = None


def wait_until_published(store: EventStore, timeout: float = 10.0) -> bool:
    """Test and CLI helper: True once nothing is left to publish."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if store.unpublished_count() == 0:
            return True
        time.sleep(0.02)
    return False


def main(argv: list[str] | None = None) -> int:
    """`python -m shared.relay <service>`: the relay process of one service."""
    from shared.contracts import CATALOGS
    from shared.runtime import ensure_all_topics, topics_of

    parser = command_line("python -m shared.relay", main.__doc__, status="the backlog and the next batch",
                          dry_run="what the next batch would publish (nothing is sent)")
    parser.add_argument("service", choices=sorted({c.service for c in CATALOGS}))
    args = parser.parse_args(argv)
    with running(f"relay-{args.service}", one_shot=args.status or args.dry_run) as process:
        store, bus = process.event_store(args.service), process.bus()
        relay = Relay(store, bus, service=args.service, topics=topics_of(args.service, process.settings),
                      metrics=process.metrics)
        if args.status:
            return relay.status()
        if args.dry_run:
            return relay.dry_run()
        ensure_all_topics(bus, process.settings)
        relay.run(process.stop)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
