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
import os
import socket
import threading
import time
from typing import Mapping

from shared.bus import EventBus
from shared.eventstore import EventStore

log = logging.getLogger("careerloop.relay")


def encode(envelope: Mapping) -> bytes:
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()


class Relay:
    def __init__(self, store: EventStore, bus: EventBus, *, service: str, topics: Mapping[str, str],
                 batch_size: int = 200, lease_ttl: float = 15.0, idle_sleep: float = 0.05) -> None:
        self.store, self.bus, self.service = store, bus, service
        self.topics = dict(topics)  # stream type -> topic
        self.batch_size, self.lease_ttl, self.idle_sleep = batch_size, lease_ttl, idle_sleep
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.lease = f"relay:{service}"
        self._producer = None

    def publish_pending(self) -> int:
        """Publish one batch of unpublished commits; returns how many events went out."""
        commits = self.store.read_unpublished(self.batch_size)
        if not commits:
            return 0
        if self._producer is None:
            self._producer = self.bus.producer()
        sent = 0
        for commit in commits:
            topic = self.topics[commit.stream_type]
            for envelope in commit.events:
                self._producer.send(topic, commit.stream_id, encode(envelope),
                                    {"content-type": "application/cloudevents+json; charset=utf-8"})
                sent += 1
        self._producer.flush()  # raises unless every message was acknowledged
        self.store.mark_published([c.position for c in commits])
        return sent

    def run(self, stop: threading.Event) -> None:
        log.info("relay for %s started as %s", self.service, self.holder)
        backoff = 0.1
        try:
            while not stop.is_set():
                if not self.store.acquire_lease(self.lease, self.holder, self.lease_ttl):
                    stop.wait(self.lease_ttl / 3)  # standby: another relay is active
                    continue
                try:
                    sent = self.publish_pending()
                    backoff = 0.1
                except Exception:  # the bus or store is down: keep everything, try again later
                    log.exception("relay batch failed; retrying in %.1fs", backoff)
                    self._reset_producer()
                    stop.wait(backoff)
                    backoff = min(backoff * 2, 10.0)
                    continue
                if sent:
                    log.debug("published %d events", sent)
                else:
                    stop.wait(self.idle_sleep)
        finally:
            self._reset_producer()
            try:
                self.store.release_lease(self.lease, self.holder)
            except Exception:  # a lease that cannot be released simply expires
                log.warning("could not release the relay lease", exc_info=True)
            log.info("relay for %s stopped", self.service)

    def _reset_producer(self) -> None:
        if self._producer is not None:
            try:
                self._producer.close()
            except Exception:
                log.debug("closing a broken producer failed", exc_info=True)
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
    import argparse

    from shared.bus import open_bus
    from shared.config import Settings
    from shared.contracts import CATALOGS
    from shared.eventstore import open_event_store
    from shared.runtime import ensure_all_topics, stop_on_signals, topics_of
    from shared.web.logs import configure_logging

    parser = argparse.ArgumentParser(prog="python -m shared.relay", description=main.__doc__)
    services = sorted({c.service for c in CATALOGS})
    parser.add_argument("service", choices=services)
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    configure_logging(settings.get("LOG_LEVEL"))
    stop = stop_on_signals()
    store = open_event_store(settings.event_store_url(args.service))
    bus = open_bus(settings.get("BUS_URL"))
    try:
        ensure_all_topics(bus, settings)
        Relay(store, bus, service=args.service, topics=topics_of(args.service, settings)).run(stop)
    finally:
        bus.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
