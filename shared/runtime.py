"""The projection workers' process (on `shared.process`), and the topics every process needs.

A projection worker serves the generation its collections are in and follows a switch-over to a new
one (`follow_projection`); the same command line rebuilds a projection beside the live one
(`--rebuild`, see `shared.rebuild`) and shows where it is (`--status`).
"""
from __future__ import annotations

import argparse
import functools
import logging
import threading
import time
from collections.abc import Callable

from shared.bus import EventBus
from shared.config import Settings
from shared.consumer import ConsumerRunner, is_transient
from shared.contracts import CATALOGS, INTEGRATION_TOPICS
from shared.process import ProcessLoop, ProcessMetrics, Running, running
from shared.projection import Projection, blueprint, open_projection
from shared.readstore import ReadStore
from shared.readstore.generations import generation_of

log = logging.getLogger("careerloop.runtime")


def topics_of(service: str, settings: Settings) -> dict[str, str]:
    """Aggregate type -> topic, for the relay of one service."""
    namespace = settings.get("BUS_NAMESPACE")
    return {c.aggregate: namespace + c.topic for c in CATALOGS if c.service == service}


def ensure_all_topics(bus: EventBus, settings: Settings) -> None:
    """Create every event topic, the domain topics and the integration topics, with the configured
    partition count (producers never auto-create)."""
    partitions = settings.int("TOPIC_PARTITIONS")
    namespace = settings.get("BUS_NAMESPACE")
    topics = [catalog.topic for catalog in CATALOGS] + list(INTEGRATION_TOPICS)
    bus.ensure_topics({namespace + topic: partitions for topic in topics})


# How often a live worker reads the alias document to notice a switch-over (between batches).
FOLLOW_CHECK_SECONDS = 0.5


def follow_projection(make: Callable[..., Projection], bus: EventBus, read_store: ReadStore, *,
                      namespace: str = "", stop: threading.Event, metrics: ProcessMetrics | None = None) -> None:
    """Run the projection on the generation its collections are in, until `stop` is set.

    When a rebuild switches its collections to another generation, the runner leaves its group
    between two batches (everything it handled is committed) and the worker goes on with the new
    generation, pinned to it, under that generation's group: from the offsets the rebuild committed,
    so no event is applied twice or skipped. A switch back (to a generation kept with --keep-old) is
    followed the same way, from where that generation's group stopped. A backend briefly away (the
    generations unreadable, the bus gone) is waited for with backoff; any other error ends the worker."""
    template, names = blueprint(make, namespace)

    def serve_current_generation(stop: threading.Event) -> int:
        projection = open_projection(make, read_store, namespace=namespace)
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
        ConsumerRunner(bus, projection, read_store, metrics=metrics).run(stop, leave_when=switched)
        if not stop.is_set():
            log.info("projection %s: generation %d is no longer current; following the switch-over",
                     projection.name, serving)
        return 0  # the runner counted what it applied

    ProcessLoop(template.name, serve_current_generation, idle_seconds=0, retry=is_transient,
                metrics=metrics).run(stop)


def rebuild_projection(make: Callable[..., Projection], args: argparse.Namespace, process: Running) -> int:
    """The operator commands of `shared.rebuild`, with this process's clients."""
    from shared.rebuild import Rebuild

    bus, read_store = process.bus(), process.read_store()
    ensure_all_topics(bus, process.settings)
    rebuild = Rebuild(make, bus, read_store, namespace=process.settings.get("BUS_NAMESPACE"),
                      progress_seconds=args.progress_seconds)
    if args.status:
        return rebuild.status()
    if args.drop_retired:
        return rebuild.drop_retired()
    if args.abandon:
        return rebuild.abandon()
    return rebuild.run(process.stop, keep_old=args.keep_old, grace_seconds=args.grace, dry_run=args.dry_run)


def projection_main(projection: type[Projection], argv: list[str] | None = None, *,
                    bind: Callable[[Running], Callable[..., Projection]] | None = None) -> int:
    """The command line of a projection worker process: run it, replay its dead letters once, or
    rebuild it beside the live one and switch over. `bind(process)` makes the projection's factory
    when it needs more than a read store (e.g. the policy worker's event store)."""
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
    command = args.rebuild or args.status or args.drop_retired or args.abandon
    with running(projection.name, one_shot=bool(command or args.replay_dead_letters)) as process:
        make = functools.partial(bind(process) if bind is not None else projection, personal=process.personal_data())
        if command:
            return rebuild_projection(make, args, process)
        bus, read_store = process.bus(), process.read_store()
        namespace = process.settings.get("BUS_NAMESPACE")
        ensure_all_topics(bus, process.settings)
        if args.replay_dead_letters:
            runner = ConsumerRunner(bus, open_projection(make, read_store, namespace=namespace), read_store)
            for stream, result in runner.replay_dead_letters().items():
                log.info("dead letters of %s: %s", stream, result)
            return 0
        follow_projection(make, bus, read_store, namespace=namespace, stop=process.stop, metrics=process.metrics)
    return 0
