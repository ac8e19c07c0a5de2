"""Load an aggregate from its stream, and save what it recorded as one atomic commit."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from shared.aggregate import Aggregate
from shared.errors import ConcurrencyConflict, PreconditionFailed
from shared.events import EventCatalog, Metadata
from shared.eventstore import Commit, EventStore
from shared.tracing import traced

A = TypeVar("A", bound=Aggregate)
RETRIES_ON_LOST_RACE = 3


@dataclass(frozen=True)
class Accepted:
    """What a command answers: the aggregate and the version its stream reached (the new ETag)."""

    id: str
    version: int


class Repository(Generic[A]):
    def __init__(self, store: EventStore, catalog: EventCatalog, aggregate: type[A]) -> None:
        self.store, self.catalog, self.aggregate = store, catalog, aggregate

    def load(self, aggregate_id: str) -> A:
        """The aggregate as of its newest event (version 0 if the stream is empty).

        A stream of another aggregate type (an id from the wrong endpoint) loads as empty: to the
        caller it does not exist."""
        envelopes = self.store.load(aggregate_id)
        if envelopes and envelopes[0].get("streamtype") != self.aggregate.stream_type:
            envelopes = []
        history = [self.catalog.read(envelope) for envelope in envelopes]
        return self.aggregate.from_history(aggregate_id, history)

    def save(self, aggregate: A, meta: Metadata) -> Commit | None:
        """Append the pending events at the version the aggregate was loaded at (409 on a lost race), with
        the active trace context (`shared.tracing`)."""
        if not aggregate.pending:
            return None
        base = aggregate.version - len(aggregate.pending)
        meta = traced(meta)  # the events carry the trace of the work recording them (an API request, an event)
        envelopes = [
            self.catalog.envelope(event, stream_id=aggregate.id, stream_version=base + i + 1,
                                  owner_id=aggregate.owner_id or "", meta=meta)
            for i, event in enumerate(aggregate.pending)
        ]
        commit = self.store.append(aggregate.id, aggregate.stream_type, base, envelopes)
        aggregate.pending = []
        return commit

    def update(self, aggregate_id: str, meta: Metadata, act: Callable[[A], None], *,
               load: Callable[[str], A] | None = None, expected_version: int | None = None) -> tuple[A, Accepted]:
        """Load → act → save, the shape of every command on an existing aggregate.

        `load` is the service's own loader that also decides whether the caller may see the
        aggregate (404 before 412, so existence never leaks). `expected_version` comes from
        If-Match: a mismatch is 412, and so is a race lost to a writer that appended between our
        load and our append (the version the client named is no longer current when it would have
        been written: RFC 9110 evaluates If-Match then). Without it, a lost race is simply decided
        again on fresh state: the command's rules run on what is current."""
        load = load or self.load
        for attempt in range(RETRIES_ON_LOST_RACE):
            aggregate = load(aggregate_id)
            if expected_version is not None and expected_version != aggregate.version:
                raise PreconditionFailed(str(expected_version), aggregate.version)
            act(aggregate)
            try:
                commit = self.save(aggregate, meta)
            except ConcurrencyConflict as lost:
                if expected_version is not None:
                    raise PreconditionFailed(str(expected_version), lost.actual) from lost
                if attempt == RETRIES_ON_LOST_RACE - 1:
                    raise
                continue
            return aggregate, Accepted(aggregate_id, commit.last_version if commit else aggregate.version)
        raise AssertionError("unreachable")
