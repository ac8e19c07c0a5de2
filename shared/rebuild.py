"""Rebuild a projection without downtime: a new generation beside the live one, then a switch-over.

`python -m services.<service>.worker --rebuild` (or `make rebuild SERVICE=<service>`):

1. Reserve the next generation N in the read store's alias document (generation numbers are never
   reused; an unfinished rebuild of the same collections is resumed instead, since its consumer
   group kept its offsets).
2. Build: the projection, pinned to generation N (collections `<name>__g<N>`), consumes every topic
   from the beginning under its own consumer group (`projection.<name>.v<version>.g<N>`), while the
   live worker goes on serving generation N-1 (or whichever is current). A progress line every few
   seconds: events applied, total, rate, lag per topic.
3. When the group has committed everything its topics hold, the rebuild leaves the group (all it
   handled is committed), lets the projection do the work it deferred while catching up
   (`Projection.caught_up`: the followups queues, derived once per student instead of after every
   batch) and switches every collection of the projection to generation N in one write. It never
   switches to a generation that is not caught up, so no query sees a half-built one.
4. The live worker notices the switch within about a second (`shared.runtime.follow_projection`),
   leaves its old group with everything committed, and joins generation N's group, which goes on
   exactly where the rebuild committed: nothing is applied twice, nothing skipped. Queries follow
   the switch within `ALIAS_CACHE_SECONDS`. Events that arrive while the worker switches over are a
   moment's lag, like any other (`min_version` read-your-writes waits for them).
5. After a grace period (`--grace`, longer than every process's alias cache and the worker's switch),
   the old generation's collections, checkpoints and parked streams are dropped; with `--keep-old`
   they stay (a retired generation, listed by `--status`, dropped later by `--drop-retired`).

Read-your-writes version collections (e.g. `followup_versions`) are collections of their projection,
so they switch with it; checkpoints and parked streams are keyed by consumer group, which carries the
generation, so each generation has its own and they never mix.
"""
from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from shared.bus import EventBus
from shared.consumer import ConsumerRunner, Position, positions
from shared.projection import Projection, blueprint, group_id
from shared.readstore import ALIAS_CACHE_SECONDS, Build, Index, ReadStore, iterate
from shared.readstore.generations import (
    GenerationConflict,
    GenerationView,
    abandon,
    drop_retired,
    generation_of,
    reserve,
    retired_of,
    switch,
)

DEFAULT_GRACE_SECONDS = 60.0
DEFAULT_PROGRESS_SECONDS = 2.0


@dataclass(frozen=True)
class Plan:
    projection: str
    collections: list[str]
    current: int
    current_group: str
    building: Build | None  # an unfinished rebuild of these collections, resumed by the next run
    topics: list[str]
    live: list[Position]  # the current generation's group


def summarise(found: list[Position]) -> str:
    """`topic 12 (p0 5, p2 7), other 0`: lag per topic, and per partition where there is any."""
    parts = []
    for topic in dict.fromkeys(p.topic for p in found):
        mine = [p for p in found if p.topic == topic]
        lagging = ", ".join(f"p{p.partition} {p.lag:,}" for p in mine if p.lag)
        parts.append(f"{topic} {sum(p.lag for p in mine):,}" + (f" ({lagging})" if lagging else ""))
    return ", ".join(parts) or "no topics"


# A rebuild catches up from the start of the topics: larger polls than a live worker's (500), because a
# projection writes each poll as one bulk per collection, with one prefetch query per collection: 2,000
# took a third less time than 500 when the followups queues were still derived after every batch (README
# "Benchmarks"; they are now derived once, at `caught_up`), at a few MB more memory. A failing message is
# still isolated one by one.
REBUILD_BATCH_SIZE = 2000


class Rebuild:
    def __init__(self, make: Callable[..., Projection], bus: EventBus, read_store: ReadStore, *,
                 namespace: str = "", out: TextIO | None = None,
                 progress_seconds: float = DEFAULT_PROGRESS_SECONDS, batch_size: int = REBUILD_BATCH_SIZE) -> None:
        self.make, self.bus, self.read_store, self.namespace = make, bus, read_store, namespace
        self.batch_size = batch_size
        self.out = out or sys.stdout
        self.progress_seconds = progress_seconds
        self.template, self.names = blueprint(make, namespace)  # name, version and topics, without I/O

    def say(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    def group(self, generation: int) -> str:
        return group_id(self.namespace, self.template.name, self.template.version, generation)

    # -- what is there --------------------------------------------------------------------------
    def plan(self) -> Plan:
        generations = self.read_store.load_generations()
        current = generation_of(generations, self.names)
        building = next((b for b in generations.building if b.collections == tuple(sorted(self.names))), None)
        return Plan(self.template.name, self.names, current, self.group(current), building, self.template.topics,
                    positions(self.bus, self.group(current), self.template.topics))

    def status(self) -> int:
        plan = self.plan()
        generations = self.read_store.load_generations()
        self.say(f"projection {plan.projection}: collections {', '.join(plan.collections)}")
        self.say(f"  generation {plan.current} serves queries (group {plan.current_group}); "
                 f"lag {sum(p.lag for p in plan.live):,}: {summarise(plan.live)}")
        if plan.building:
            found = positions(self.bus, self.group(plan.building.generation), plan.topics)
            self.say(f"  generation {plan.building.generation} is being built since {plan.building.started_at}; "
                     f"lag {sum(p.lag for p in found):,}: {summarise(found)}")
        for retired in retired_of(generations, self.names):
            self.say(f"  generation {retired.generation} retired at {retired.retired_at} "
                     "(drop it with --drop-retired)")
        return 0

    # -- the rebuild ----------------------------------------------------------------------------
    def run(self, stop: threading.Event | None = None, *, keep_old: bool = False,
            grace_seconds: float = DEFAULT_GRACE_SECONDS, dry_run: bool = False) -> int:
        stop = stop or threading.Event()
        plan = self.plan()
        total = sum(p.end for p in plan.live)
        if dry_run:
            target = (f"resume generation {plan.building.generation}" if plan.building
                      else "build a new generation")
            self.say(f"would {target} of {plan.projection} ({', '.join(plan.collections)}) beside generation "
                     f"{plan.current}: {total:,} events on {', '.join(plan.topics)}; "
                     f"live lag {sum(p.lag for p in plan.live):,}")
            return 0
        build, resumed = reserve(self.read_store, self.names, plan.projection)
        new_group = self.group(build.generation)
        self.say(
            f"{'resuming' if resumed else 'rebuilding'} {plan.projection} into generation {build.generation} "
            f"beside generation {plan.current}: collections {', '.join(plan.collections)}, "
            f"group {new_group}, {total:,} events on {len(plan.topics)} topic{'s' if len(plan.topics) != 1 else ''}"
        )
        projection = self.make(GenerationView(self.read_store, build.generation), namespace=self.namespace)
        projection.begin_rebuild(resumed=resumed)
        runner = ConsumerRunner(self.bus, projection, self.read_store, batch_size=self.batch_size)
        started = time.monotonic()
        last = {"at": started, "applied": sum(p.committed for p in positions(self.bus, new_group, plan.topics))}

        def report(found: list[Position]) -> None:
            now = time.monotonic()
            applied, end = sum(p.committed for p in found), sum(p.end for p in found)
            rate = (applied - last["applied"]) / max(now - last["at"], 1e-6)
            last.update(at=now, applied=applied)
            share = f" ({100 * applied // end}%)" if end else ""
            self.say(f"[{now - started:7.1f}s] {applied:,} of {end:,} events applied{share}, {rate:,.0f}/s, "
                     f"lag {sum(p.lag for p in found):,}: {summarise(found)}")

        def caught_up(polled: int) -> bool:
            # Asked after every poll. Near the end (a poll that did not fill a batch) the lag is read:
            # under a steady stream of new events a poll is seldom empty, but the lag is 0 between two.
            due = time.monotonic() - last["at"] >= self.progress_seconds
            if not (polled < runner.batch_size or due):
                return False
            found = positions(self.bus, new_group, plan.topics)
            if due:
                report(found)
            return polled < runner.batch_size and all(p.lag == 0 for p in found)

        runner.run(stop, leave_when=caught_up, poll_seconds=0.2)
        # the work the projection deferred while catching up (the followups queues), once, before the
        # switch-over: no query sees the generation before it is done
        if stop.is_set() or not projection.caught_up(stop):
            self.say(f"interrupted; generation {build.generation} is kept unfinished: run --rebuild again to resume "
                     "it, or --abandon to drop it")
            return 1
        report(positions(self.bus, new_group, plan.topics))
        try:
            switch(self.read_store, self.names, to=build.generation, expected=plan.current,
                   projection=plan.projection, retired_group=plan.current_group)
        except GenerationConflict as exc:
            self.say(f"not switched: {exc}")
            return 1
        self.say(f"switched: queries read generation {build.generation} now (every process within "
                 f"{ALIAS_CACHE_SECONDS:g}s); the live worker continues with group {new_group} "
                 "from where this rebuild stopped")
        return self._retire_old(plan, stop, keep_old, grace_seconds)

    def _retire_old(self, plan: Plan, stop: threading.Event, keep_old: bool, grace_seconds: float) -> int:
        if keep_old:
            self.say(f"generation {plan.current} is kept (retired): drop it later with --drop-retired")
            return 0
        self.say(f"dropping generation {plan.current} in {grace_seconds:g}s (Ctrl-C keeps it)")
        if stop.wait(grace_seconds):
            self.say(f"generation {plan.current} is kept (retired): drop it later with --drop-retired")
            return 0
        return self.drop_retired()

    def drop_retired(self) -> int:
        generations = self.read_store.load_generations()
        dropped = 0
        for retired in list(retired_of(generations, self.names)):
            try:
                drop_retired(self.read_store, retired)
            except GenerationConflict as exc:
                self.say(f"generation {retired.generation} not dropped: {exc}")
                continue
            dropped += 1
            self.say(f"dropped generation {retired.generation}: {', '.join(retired.collections)} and the "
                     f"checkpoints of {retired.group_id}")
        if not dropped:
            self.say("no retired generation to drop")
        return 0

    def abandon(self) -> int:
        plan = self.plan()
        if plan.building is None:
            self.say("no unfinished rebuild to abandon")
            return 0
        generation, group = plan.building.generation, self.group(plan.building.generation)
        for name in plan.building.collections:
            self.read_store.drop(name, generation=generation)
        for bookkeeping in ("checkpoints", "parked_streams"):
            docs = self.read_store.collection(bookkeeping, [Index("group_id")])
            for doc in list(iterate(docs, {"group_id": group})):
                docs.delete(doc["_id"])
        abandon(self.read_store, generation)
        self.say(f"abandoned generation {generation}: its collections and checkpoints are dropped")
        return 0
