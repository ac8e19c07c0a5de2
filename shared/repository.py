"""Load an aggregate from its stream, and save what it recorded as one atomic commit."""
from __future__ import annotations

from typing import Generic, TypeVar

from shared.aggregate import Aggregate
from shared.events import EventCatalog, Metadata
from shared.eventstore import Commit, EventStore

A = TypeVar("A", bound=Aggregate)


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
        return self.aggregate.from_history(aggregate_id, history)  # type: ignore[return-value]

    def save(self, aggregate: A, meta: Metadata) -> Commit | None:
        """Append the pending events at the version the aggregate was loaded at (409 on a lost race)."""
        if not aggregate.pending:
            return None
        base = aggregate.version - len(aggregate.pending)
        envelopes = [
            self.catalog.envelope(event, stream_id=aggregate.id, stream_version=base + i + 1,
                                  owner_id=aggregate.owner_id or "", meta=meta)
            for i, event in enumerate(aggregate.pending)
        ]
        commit = self.store.append(aggregate.id, aggregate.stream_type, base, envelopes)
        aggregate.pending = []
        return commit
