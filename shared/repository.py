"""Load an aggregate from its stream, and save what it recorded as one atomic commit."""
from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Generic, NamedTuple, TypeVar

from shared.aggregate import Aggregate
from shared.errors import ConcurrencyConflict, PreconditionFailed
from shared.events import EventCatalog, Metadata, Recorded
from shared.eventstore import Commit, EventStore, RequestLease
from shared.tracing import traced

# The idempotent request (`Idempotency-Key`, `shared.web.api`) this thread is handling, if any: its commits
# record the key, so a retry after the request was cut off can find what it appended.
idempotent_request: ContextVar[RequestLease | None] = ContextVar("idempotent_request", default=None)

A = TypeVar("A", bound=Aggregate)
RETRIES_ON_LOST_RACE = 3
# The decoded streams a repository keeps in its process (`_StreamCache`), counted in events: hundreds of
# streams, at most about 10 MB per repository and worker (an event's data is a few hundred bytes as JSON)
# within the APIs' 512 MiB limit for two workers (deploy/helm values.yaml).
CACHED_EVENTS = 20_000


@dataclass(frozen=True)
class Accepted:
    """What a command answers: the aggregate and the version its stream reached (the new ETag)."""

    id: str
    version: int


class _Stream(NamedTuple):
    epoch: int  # the store's erasure epoch it was decoded in
    version: int  # how many events it holds (a stream's versions are 1, 2, ...)
    ours: bool  # False: a stream of another aggregate type, which loads as empty
    events: tuple[tuple[str, str], ...]  # (name, data as JSON) of each event as `catalog.read` gave it


class _StreamCache:
    """Every command loads its aggregate's whole stream, and decoding it (opening sealed fields, upcasting,
    validating each event's data against its schema) was most of a command's time, growing with the
    stream. So a repository keeps the streams it decoded, by id, and asks the store only for the
    events after the version it has (`load_since`: one indexed read, usually empty or one commit).

    Valid only as long as the store's version says so (what it holds is a prefix of the stream, and
    whatever was appended since is read), and only within one erasure epoch of the store
    (`SealingEventStore.erasure_epoch`): the whole cache is dropped as soon as this process would read
    any subject's data as erased, just when its cached data keys are dropped. It holds what
    `OpenedValues` (shared.keys.fields) already keeps of the opened fields in this process, no more,
    as JSON: each load gets fresh objects, so an aggregate changing its state cannot change the cache.
    Bounded by `CACHED_EVENTS`, least recently used out first; safe across a worker's threads."""

    def __init__(self, limit: int = CACHED_EVENTS) -> None:
        self.limit = limit
        self._streams: OrderedDict[str, _Stream] = OrderedDict()
        self._events = 0
        self._epoch = 0  # the newest erasure epoch seen (they only grow)
        self._lock = threading.Lock()

    def get(self, stream_id: str, epoch: int) -> _Stream | None:
        with self._lock:
            found = self._streams.get(stream_id)
            if found is None or found.epoch != epoch:
                return None
            self._streams.move_to_end(stream_id)
            return found

    def put(self, stream_id: str, stream: _Stream) -> None:
        with self._lock:
            if stream.epoch < self._epoch:
                return  # decoded before an erasure this cache has seen: never kept
            if stream.epoch > self._epoch:  # an erasure since: nothing decoded before it is valid any more
                self._streams.clear()
                self._events, self._epoch = 0, stream.epoch
            old = self._streams.pop(stream_id, None)
            if old is not None and old.epoch == stream.epoch and old.version > stream.version:
                stream = old  # another thread read further meanwhile
            if old is not None:
                self._events -= len(old.events)
            self._streams[stream_id] = stream
            self._events += len(stream.events)
            while self._events > self.limit and len(self._streams) > 1:
                self._events -= len(self._streams.popitem(last=False)[1].events)


class Repository(Generic[A]):
    def __init__(self, store: EventStore, catalog: EventCatalog, aggregate: type[A]) -> None:
        self.store, self.catalog, self.aggregate = store, catalog, aggregate
        self._cache = _StreamCache()

    def load(self, aggregate_id: str) -> A:
        """The aggregate as of its newest event (version 0 if the stream is empty).

        A stream of another aggregate type (an id from the wrong endpoint) loads as empty: to the
        caller it does not exist."""
        return self.aggregate.from_history(aggregate_id, self._history(aggregate_id))

    def _history(self, stream_id: str) -> list[Recorded]:
        """The stream's events, decoded: from this process's cache and the events appended since."""
        epoch_of = getattr(self.store, "erasure_epoch", None)
        epoch = epoch_of() if epoch_of is not None else 0  # a store that seals nothing: one epoch
        cached = self._cache.get(stream_id, epoch)
        if cached is None:
            envelopes = self.store.load(stream_id)
            ours = not envelopes or envelopes[0].get("streamtype") == self.aggregate.stream_type
            cached = _Stream(epoch, 0, ours, ())
        else:
            envelopes = self.store.load_since(stream_id, cached.version)
            if not envelopes:
                return self._decoded(cached)
            ours = cached.ours if cached.version else envelopes[0].get("streamtype") == self.aggregate.stream_type
        # only the events' data are kept (as JSON); the rest of an envelope is the store's business
        added = tuple((read.name, json.dumps(read.data)) for read in map(self.catalog.read, envelopes)) \
            if ours else ()
        stream = _Stream(epoch, cached.version + len(envelopes), ours, cached.events + added)
        if stream.events:  # an empty or foreign stream (an unknown id, a 404) is not kept: ids cost no memory
            self._cache.put(stream_id, stream)
        return self._decoded(stream)

    @staticmethod
    def _decoded(stream: _Stream) -> list[Recorded]:
        if not stream.ours or not stream.events:
            return []
        # one parse of the whole stream (a JSON array of the events' data) costs less than one per event
        datas = json.loads("[" + ",".join(data for _, data in stream.events) + "]")
        return [Recorded(name, data) for (name, _), data in zip(stream.events, datas, strict=True)]

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
        commit = self.store.append(aggregate.id, aggregate.stream_type, base, envelopes, idempotent_request.get())
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
