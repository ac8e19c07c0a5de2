"""Process entry points shared by every relay and projection worker: wiring, topics, signals."""
from __future__ import annotations

import logging
import signal
import threading
from typing import Callable

from shared.bus import EventBus, open_bus
from shared.config import Settings
from shared.consumer import ConsumerRunner
from shared.contracts import CATALOGS
from shared.projection import Projection
from shared.readstore import open_read_store
from shared.web.logs import configure_logging

log = logging.getLogger("careerloop.runtime")


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT: the process finishes the batch in hand, then exits."""
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        log.info("received %s; stopping after the current batch", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    return stop


def topics_of(service: str, settings: Settings) -> dict[str, str]:
    """Aggregate type -> topic, for the relay of one service."""
    namespace = settings.get("BUS_NAMESPACE")
    return {c.aggregate: namespace + c.topic for c in CATALOGS if c.service == service}


def ensure_all_topics(bus: EventBus, settings: Settings) -> None:
    """Create every event topic with the configured partition count (producers never auto-create)."""
    partitions = settings.int("TOPIC_PARTITIONS")
    namespace = settings.get("BUS_NAMESPACE")
    bus.ensure_topics({namespace + catalog.topic: partitions for catalog in CATALOGS})


def run_projection(make: Callable[..., Projection], settings: Settings | None = None,
                   stop: threading.Event | None = None, *, replay_dead_letters: bool = False) -> None:
    """Run one projection worker until stopped; all clients are created here, in this process.

    With `replay_dead_letters`, re-handle the parked streams' dead letters once and exit."""
    settings = settings or Settings.from_env()
    configure_logging(settings.get("LOG_LEVEL"))
    stop = stop or stop_on_signals()
    bus = open_bus(settings.get("BUS_URL"))
    read_store = open_read_store(settings.get("READ_STORE_URL"))
    try:
        ensure_all_topics(bus, settings)
        projection = make(read_store, namespace=settings.get("BUS_NAMESPACE"))
        runner = ConsumerRunner(bus, projection, read_store)
        if replay_dead_letters:
            for stream, result in runner.replay_dead_letters().items():
                log.info("dead letters of %s: %s", stream, result)
            return
        runner.run(stop)
    finally:
        bus.close()
        read_store.close()


def projection_main(projection: type[Projection], argv: list[str] | None = None) -> int:
    """The command line of a projection worker process: run it, or replay its dead letters once."""
    import argparse

    parser = argparse.ArgumentParser(description=f"The {projection.name} projection worker.")
    parser.add_argument("--replay-dead-letters", action="store_true",
                        help="re-handle the dead letters of parked streams once, unpark what succeeds, and exit")
    args = parser.parse_args(argv)
    run_projection(projection, replay_dead_letters=args.replay_dead_letters)
    return 0
