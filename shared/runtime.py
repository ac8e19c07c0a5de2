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
from shared.readstore import ReadStore, open_read_store
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


def ensure_all_topics(bus: EventBus, settings: Settings) -> None:
    """Create every event topic with the configured partition count (producers never auto-create)."""
    partitions = settings.int("TOPIC_PARTITIONS")
    bus.ensure_topics({catalog.topic: partitions for catalog in CATALOGS})


def run_projection(make: Callable[[ReadStore], Projection], settings: Settings | None = None,
                   stop: threading.Event | None = None) -> None:
    """Run one projection worker until stopped; all clients are created here, in this process."""
    settings = settings or Settings.from_env()
    configure_logging(settings.get("LOG_LEVEL"))
    stop = stop or stop_on_signals()
    bus = open_bus(settings.get("BUS_URL"))
    read_store = open_read_store(settings.get("READ_STORE_URL"))
    try:
        ensure_all_topics(bus, settings)
        ConsumerRunner(bus, make(read_store), read_store).run(stop)
    finally:
        bus.close()
        read_store.close()
