"""`python -m services.followups.announcer`: records `FollowUpBecameDue` when an open item falls due,
and `FollowUpCompleted` when an item it announced is done.

Each round asks the read model for open items whose due time has passed and was not announced yet
(`domain.due_filter`: status, `due_announced`, `due_at` and `snoozed_until` are indexed, so this is
one index-backed query, never a scan of every aggregate), and records the announcement on the item's
own stream through the Repository. Exactly once per (item, due_at) holds without trusting the read
model or the lease:

- the `FollowUp` aggregate refuses a due time its stream already announced, and refuses a dismissed
  item or one snoozed past now, whatever the (possibly stale) read model said;
- the append names the version the aggregate was loaded at, so of two announcers that raced, one
  appends and the other reloads, finds the announcement and stops. A refused or lost announcement is
  a no-op, not an error.

The lease (`announcer:followups`, in the followups event store, like the relay's) keeps one active
announcer so that standbys do not repeat the query; it is an economy, not the guarantee. An item the
projection has not caught up with (announced, or snoozed on the write side) may come back in the
next round: this process remembers what it already settled, so it is not reloaded every round.

Completions follow the same pattern: announced items the queue shows as done whose completion is
not recorded (`domain.completion_filter`, index-backed) get a `FollowUpCompleted`, which the
aggregate accepts once per announced due time. They close the loop for the consumers of the stream
(the analytics `FollowUpDone`), which need not know the queue's rules.

Dismissed and done items are never announced; a snoozed one only once its snooze has passed. A snooze
*after* an announcement does not announce the same due time again. An item closed (e.g. by a
thank-you touchpoint) in the moment between the query and the append can still be announced once;
consumers that remind the student check the item's source for themselves if that matters.
"""
from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, TextIO

from services.followups.domain import FollowUp, announceable, announcement, completion, completion_filter, due_filter
from services.followups.projections import items
from shared import tracing
from shared.contracts.followups import FOLLOWUPS
from shared.errors import ConcurrencyConflict, RuleViolated
from shared.events import Metadata, isoformat, utcnow
from shared.eventstore import EventStore
from shared.keys.vault import SubjectErased
from shared.process import Lease, ProcessLoop, ProcessMetrics, command_line, running
from shared.readstore import ReadStore, iterate
from shared.repository import Repository

log = logging.getLogger("careerloop.followups.announcer")

ACTOR = "system:followups-announcer"
LEASE = "announcer:followups"


class Announcer:
    def __init__(self, store: EventStore, read_store: ReadStore, *, clock: Callable[[], datetime] = utcnow,
                 lease_ttl: float = 30.0, page_size: int = 200) -> None:
        self.store = store
        self.followups: Repository[FollowUp] = Repository(store, FOLLOWUPS, FollowUp)
        self.items = items(read_store)
        self.clock, self.page_size = clock, page_size
        self.lease = Lease(store, LEASE, lease_ttl)
        # (announce | complete, item, due_at) recorded or refused by this process
        self._settled: set[tuple[str, str, str]] = set()

    # -- one round --------------------------------------------------------------------------
    def due(self, now: str) -> list[dict[str, Any]]:
        """The items to announce as of `now`, earliest due first."""
        return [item for item in iterate(self.items, due_filter(now), [("due_at", 1)], self.page_size)
                if announceable(item, now)]

    def completed(self) -> list[dict[str, Any]]:
        """Announced items that are done and whose completion is not recorded yet."""
        return list(iterate(self.items, completion_filter(), [("_id", 1)], self.page_size))

    def announce(self, item: dict[str, Any], now: datetime) -> str:
        """Record the item's FollowUpBecameDue: "announced"; "refused" when its stream says no (already
        announced, by us or an announcer that won a race; dismissed; snoozed); "busy" when the stream
        kept moving under us (the student deciding at that moment): the next round decides again."""
        data = announcement(item)
        return self._record(item, lambda f: f.become_due(data, now), "announced")

    def complete(self, item: dict[str, Any]) -> str:
        """Record the item's FollowUpCompleted: "completed", "refused" or "busy" (as `announce`)."""
        data = completion(item)
        return self._record(item, lambda f: f.complete(data), "completed")

    def _record(self, item: dict[str, Any], decide: Callable[[FollowUp], None], done: str) -> str:
        # time, not a request, caused it: a trace of its own, which the reminders it leads to carry on
        with tracing.new_trace(f"follow-up {done}", **{"careerloop.followup_id": item["_id"]}):
            try:
                self.followups.update(item["_id"], Metadata(actor=ACTOR), decide, load=self._load(item))
            except RuleViolated as refused:
                log.debug("not recording %s for %s due at %s: %s", done, item["_id"], item["due_at"], refused)
                return "refused"
            except ConcurrencyConflict:
                return "busy"
            except SubjectErased:  # the views drop the erased student's items as soon as they see the erasure
                log.debug("not recording %s for %s: its student was erased", done, item["_id"])
                return "refused"
            return done

    def _load(self, item: dict[str, Any]) -> Callable[[str], FollowUp]:
        def load(stream_id: str) -> FollowUp:
            followup = self.followups.load(stream_id)
            if followup.exists and followup.owner_id != item["student_id"]:
                raise RuleViolated("the item's stream belongs to another student")  # never written over
            return followup
        return load

    def announce_due(self) -> int:
        """One round: announce every item that is due now, and record the completion of announced
        items that are done; how many events were recorded."""
        moment = self.clock()
        selected = [("announce", item) for item in self.due(isoformat(moment))]
        selected += [("complete", item) for item in self.completed()]
        keys = {(kind, item["_id"], item["due_at"]) for kind, item in selected}
        self._settled &= keys  # forget what the read model has caught up with: the set stays small
        recorded: dict[str, int] = {"announced": 0, "completed": 0}
        for kind, item in selected:
            key = (kind, item["_id"], item["due_at"])
            if key in self._settled:
                continue
            outcome = self.announce(item, moment) if kind == "announce" else self.complete(item)
            if outcome in recorded:
                recorded[outcome] += 1
            if outcome != "busy":
                self._settled.add(key)
        if any(recorded.values()):
            log.info("announced %d follow-ups as due, recorded %d as completed", recorded["announced"],
                     recorded["completed"])
        return sum(recorded.values())

    # -- the process --------------------------------------------------------------------------
    def round(self) -> int | None:
        """One round if this announcer holds (or now takes) the lease; None while another is active."""
        if not self.lease.hold():
            return None
        return self.announce_due()

    def run(self, stop: threading.Event, interval: float, metrics: ProcessMetrics | None = None) -> None:
        """A round every `interval` seconds while this announcer holds the lease (a standby checks
        it every third of the lease); a failed round (a store away) is retried after a backoff wait,
        and the next round finds the same items: nothing is lost."""
        ProcessLoop("followups-announcer", lambda _: self.announce_due(), idle_seconds=interval,
                    busy_seconds=interval, lease=self.lease, metrics=metrics).run(stop)

    def status(self, out: TextIO = sys.stdout, *, listing: bool = False) -> int:
        """`--status` (how many items are due and not yet announced) and `--dry-run` (which, too):
        nothing is recorded."""
        due = self.due(isoformat(self.clock()))
        first = f", the earliest due at {due[0]['due_at']}" if due else ""
        print(f"followups announcer: {len(due):,} open items due and not yet announced{first}", file=out)
        for item in due if listing else ():
            print(f"  would announce {item['_id']} ({item.get('rule')}) due at {item['due_at']}", file=out)
        return 0


def main(argv: list[str] | None = None, settings: Any = None, stop: threading.Event | None = None) -> int:
    """`python -m services.followups.announcer`: announce what falls due, until SIGTERM/SIGINT."""
    parser = command_line("python -m services.followups.announcer", main.__doc__,
                          status="how many items are due and not yet announced",
                          dry_run="which items the next round would announce (nothing is recorded)")
    args = parser.parse_args(argv)
    with running("followups-announcer", settings, stop, one_shot=args.status or args.dry_run) as process:
        interval = float(process.settings.get("FOLLOWUPS_ANNOUNCE_INTERVAL_SECONDS"))
        # the lease outlives a few rounds, so a standby takes over within about three intervals
        announcer = Announcer(process.event_store("followups"), process.read_store(),
                              lease_ttl=max(3 * interval, 5.0))
        if args.status or args.dry_run:
            return announcer.status(listing=args.dry_run)
        announcer.run(process.stop, interval, process.metrics)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
