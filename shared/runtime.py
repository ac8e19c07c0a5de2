"""Process entry points shared by every relay and projection worker: wiring, topics, signals.

A projection worker serves the generation its collections are in and follows a switch-over to a new
one (`follow_projection`); the same command line rebuilds a projection beside the live one
(`--rebuild`, see `shared.rebuild`) and shows where it is (`--status`).
"""
from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from typing import Callable

from shared.bus import EventBus, open_bus
from shared.config import Settings
from shared.consumer import ConsumerRunner, is_transient
from shared.contracts import CATALOGS
from shared.projection import Projection, collection_names, open_projection
from shared.readstore import ReadStore, open_read_store
from shared.readstore.generations import generation_of
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


# How often a live worker reads the alias document to notice a switch-over (between batches).
FOLLOW_CHECK_SECONDS = 0.5


def follow_projection(make: Callable[..., Projection], bus: EventBus, read_store: ReadStore, *,
                      namespace: str = "", stop: threading.Event) -> None:
    """Run the projection on the generation its collections are in, until `stop` is set.

    When a rebuild switches its collections to another generation, the runner leaves its group
    between two batches (everything it handled is committed) and the worker goes on with the new
    generation, pinned to it, under that generation's group: from the offsets the rebuild committed,
    so no event is applied twice or skipped. A switch back (to a generation kept with --keep-old) is
    followed the same way, from where that generation's group stopped."""
    names = collection_names(make)
    backoff = 0.1
    while not stop.is_set():
        try:
            projection = open_projection(make, read_store, namespace=namespace)
        except Exception as exc:  # the read store is away: wait for it, as the runner does
            if not is_transient(exc):
                raise
            log.warning("cannot read the generations (%s); retrying in %.1fs", exc, backoff)
            stop.wait(backoff)
            backoff = min(backoff * 2, 10.0)
            continue
        backoff = 0.1
        serving = projection.generation
        checked = [time.monotonic()]

        def switched(polled: int) -> bool:
            if time.monotonic() - checked[0] < FOLLOW_CHECK_SECONDS:
                return False
            checked[0] = time.monotonic()
            try:
                return generation_of(read_store.generations(max_age=0), names) != serving
            except Exception as exc:  # keep serving what we serve; the next check asks again
                log.warning("cannot read the generations (%s); still serving generation %d", exc, serving)
                return False

        log.info("projection %s serves generation %d as group %s", projection.name, serving, projection.group_id)
        ConsumerRunner(bus, projection, read_store).run(stop, leave_when=switched)
        if not stop.is_set():
            log.info("projection %s: generation %d is no longer current; following the switch-over",
                     projection.name, serving)


def run_projection(make: Callable[..., Projection], settings: Settings | None = None,
                   stop: threading.Event | None = None, *, replay_dead_letters: bool = False) -> None:
    """Run one projection worker until stopped; all clients are created here, in this process.

    With `replay_dead_letters`, re-handle the parked streams' dead letters once and exit."""
    settings = settings or Settings.from_env()
    configure_logging(settings.get("LOG_LEVEL"))
    stop = stop or stop_on_signals()
    bus = open_bus(settings.get("BUS_URL"))
    read_store = open_read_store(settings.get("READ_STORE_URL"))
    namespace = settings.get("BUS_NAMESPACE")
    try:
        ensure_all_topics(bus, settings)
        if replay_dead_letters:
            runner = ConsumerRunner(bus, open_projection(make, read_store, namespace=namespace), read_store)
            for stream, result in runner.replay_dead_letters().items():
                log.info("dead letters of %s: %s", stream, result)
            return
        follow_projection(make, bus, read_store, namespace=namespace, stop=stop)
    finally:
        bus.close()
        read_store.close()


def rebuild_projection(make: Callable[..., Projection], args: argparse.Namespace, settings: Settings | None = None,
                       stop: threading.Event | None = None) -> int:
    """The operator commands of `shared.rebuild`, with this process's clients."""
    from shared.rebuild import Rebuild

    settings = settings or Settings.from_env()
    configure_logging(settings.get("LOG_LEVEL"))
    bus = open_bus(settings.get("BUS_URL"))
    read_store = open_read_store(settings.get("READ_STORE_URL"))
    try:
        ensure_all_topics(bus, settings)
        rebuild = Rebuild(make, bus, read_store, namespace=settings.get("BUS_NAMESPACE"),
                          progress_seconds=args.progress_seconds)
        if args.status:
            return rebuild.status()
        if args.drop_retired:
            return rebuild.drop_retired()
        if args.abandon:
            return rebuild.abandon()
        return rebuild.run(stop or stop_on_signals(), keep_old=args.keep_old,
                           grace_seconds=args.grace, dry_run=args.dry_run)
    finally:
        bus.close()
        read_store.close()


def projection_main(projection: type[Projection], argv: list[str] | None = None) -> int:
    """The command line of a projection worker process: run it, replay its dead letters once, or
    rebuild it beside the live one and switch over."""
    from shared.rebuild import DEFAULT_GRACE_SECONDS, DEFAULT_PROGRESS_SECONDS

    parser = argparse.ArgumentParser(description=f"The {projection.name} projection worker.")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--replay-dead-letters", action="store_true",
                        help="re-handle the dead letters of parked streams once, unpark what succeeds, and exit")
    action.add_argument("--rebuild", action="store_true",
                        help="rebuild into a new generation beside the live one, switch queries and the live "
                             "worker over to it, then drop the old generation after --grace seconds")
    action.add_argument("--status", action="store_true",
                        help="show the current generation and its lag, an unfinished rebuild and retired generations")
    action.add_argument("--drop-retired", action="store_true",
                        help="drop the retired generations (kept by --keep-old or an interrupted grace period)")
    action.add_argument("--abandon", action="store_true", help="drop an unfinished rebuild")
    parser.add_argument("--keep-old", action="store_true", help="with --rebuild: keep the old generation")
    parser.add_argument("--grace", type=float, default=DEFAULT_GRACE_SECONDS, metavar="SECONDS",
                        help="with --rebuild: wait this long after the switch before dropping the old generation "
                             "(default %(default)g)")
    parser.add_argument("--dry-run", action="store_true",
                        help="with --rebuild: show what would be rebuilt, and how many events, and exit")
    parser.add_argument("--progress-seconds", type=float, default=DEFAULT_PROGRESS_SECONDS, metavar="SECONDS",
                        help="with --rebuild: seconds between progress lines (default %(default)g)")
    args = parser.parse_args(argv)
    if (args.keep_old or args.dry_run) and not args.rebuild:
        parser.error("--keep-old and --dry-run go with --rebuild")
    if args.rebuild or args.status or args.drop_retired or args.abandon:
        return rebuild_projection(projection, args)
    run_projection(projection, replay_dead_letters=args.replay_dead_letters)
    return 0
