"""A projection's unit of work: a polled batch's writes kept in memory and written at its end, one bulk
write per collection (`Collection.bulk`), inside the store's batch.

`WriteBuffer` is the read store as a projection sees it (`shared.projection` wraps the store every
projection is made with, so every projection uses it without asking). Outside a batch its collections
are the store's own. Inside `batch()`:

- writes (`apply`, `upsert`, `insert_if_absent`, `delete`) are decided against the batch's state of the
  document and queued; `apply`'s version guard answers at once (a duplicate, or `VersionGap`), from the
  document as the batch last left it, so a reaction sees what it gets;
- reads by id (`get`, `get_many`) see the batch's own writes (read-your-writes): a document is read
  from the store at most once per batch (`prefetch` reads many in one query), never read back after a
  write; an `upsert`, `add_if_absent` or `delete` of a document the batch has not read does not read it
  (nor does a write to one a query of the batch found, or did not, once it says so: `known`);
- a query (`find`, `count`) writes that collection's queue first (autoflush), so it sees everything;
- at the end of the batch each collection's queue is one `bulk`; the outcomes must be the ones the
  batch decided (the store changed under it otherwise: `TransientError`, and the runner handles the
  batch again from the start — every write is idempotent);
- on any failure the queued writes and the batch's state are dropped (the store's batch rolls back on
  SQLite), so the runner's one-by-one retry starts from what is stored.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from shared.errors import TransientError
from shared.readstore.port import (
    APPLIED,
    Apply,
    Delete,
    Index,
    InsertIfAbsent,
    Outcome,
    Page,
    Update,
    Upsert,
    Write,
    fold,
)

_UNSET = object()


class WriteBuffer:
    """`store` with every collection declared through it buffered during `batch()`."""

    def __init__(self, store: Any) -> None:
        self._inner = store
        self._collections: list[BufferedCollection] = []
        self.active = False

    def collection(self, name: str, indexes: Sequence[Index] = (), **options: Any) -> BufferedCollection:
        collection = BufferedCollection(self, self._inner.collection(name, indexes, **options))
        self._collections.append(collection)
        return collection

    @contextmanager
    def batch(self) -> Iterator[None]:
        if self.active:  # nested: part of the batch already open
            yield
            return
        with self._inner.batch():
            self.active = True
            try:
                yield
                self.flush()
            finally:
                self.active = False
                for collection in self._collections:
                    collection.reset()

    def flush(self) -> None:
        """Write every collection's queue (one bulk each)."""
        for collection in self._collections:
            collection.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class BufferedCollection:
    def __init__(self, buffer: WriteBuffer, inner: Any) -> None:
        self.buffer, self.inner = buffer, inner
        self._docs: dict[str, dict[str, Any] | None] = {}  # the batch's state of the documents it knows
        self._blind: dict[str, list[Write]] = {}  # writes to documents the batch has not read
        self._queue: list[Write] = []
        self._expected: list[Outcome] = []
        self._name: str | None = None

    @property
    def name(self) -> str:
        if self._name is None:  # asked lazily: a blueprint's recording store answers nothing but `collection`
            self._name = str(self.inner.name)
        return self._name

    def reset(self) -> None:
        self._docs, self._blind, self._queue, self._expected = {}, {}, [], []

    # -- state ------------------------------------------------------------------------------
    def _state(self, doc_id: str) -> dict[str, Any] | None:
        if doc_id not in self._docs:
            self.prefetch([doc_id])
        return self._docs[doc_id]

    def prefetch(self, doc_ids: Sequence[str]) -> None:
        """Read the documents the batch does not know yet, in one query."""
        if not self.buffer.active:
            return
        unknown = [i for i in dict.fromkeys(doc_ids) if i not in self._docs]
        if not unknown:
            return
        found = self.inner.get_many(unknown) if len(unknown) > 1 else _one(self.inner.get(unknown[0]), unknown[0])
        for doc_id in unknown:
            doc = found.get(doc_id)
            for write in self._blind.pop(doc_id, ()):  # queued before the batch read it: not in the store yet
                doc = fold(self.name, write, doc)[1]
            self._docs[doc_id] = doc

    def known(self, docs: Mapping[str, dict[str, Any] | None]) -> None:
        """Tell the batch what a query of its own just read (None: absent), so that writes to those
        documents are decided without reading them again (what the batch holds already stays)."""
        if not self.buffer.active:
            return
        for doc_id, doc in docs.items():
            if doc_id not in self._docs and doc_id not in self._blind:
                self._docs[doc_id] = None if doc is None else {**doc, "_id": doc_id}

    def _queue_blind(self, write: Write) -> None:
        """Queue a write to a document the batch has not read (folded onto it if the batch reads it later)."""
        self._queue.append(write)
        self._expected.append(None)
        self._blind.setdefault(write.doc_id, []).append(write)

    def _queue_write(self, write: Write, outcome: Outcome, doc: dict[str, Any] | None) -> None:
        self._queue.append(write)
        self._expected.append(outcome)
        self._docs[write.doc_id] = doc

    def flush(self) -> None:
        if not self._queue:
            return
        queue, expected = self._queue, self._expected
        self._queue, self._expected, self._blind = [], [], {}
        outcomes = self.inner.bulk(queue)
        for write, want, got in zip(queue, expected, outcomes, strict=True):
            if want is not None and got != want:  # None: an upsert, a delete or a blind write
                raise TransientError(f"{self.name}/{write.doc_id} changed while the batch was written "
                                     f"({got} where {want} was decided): the batch is handled again")

    # -- reads --------------------------------------------------------------------------------
    def get(self, doc_id: str) -> dict[str, Any] | None:
        if not self.buffer.active:
            return self.inner.get(doc_id)
        doc = self._state(doc_id)
        return None if doc is None else dict(doc)

    def get_many(self, doc_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        if not self.buffer.active:
            return self.inner.get_many(doc_ids)
        self.prefetch(doc_ids)
        return {i: dict(doc) for i in doc_ids if (doc := self._docs[i]) is not None}

    def find(self, filter: Mapping[str, Any], sort: Sequence[tuple[str, int]] = (), limit: int = 50,
             cursor: str | None = None) -> Page:
        self.flush()
        return self.inner.find(filter, sort, limit, cursor)

    def count(self, filter: Mapping[str, Any]) -> int:
        self.flush()
        return self.inner.count(filter)

    # -- writes -------------------------------------------------------------------------------
    def apply(self, doc_id: str, version: int, update: Update) -> str:
        if not self.buffer.active:
            return self.inner.apply(doc_id, version, update)
        write = Apply(doc_id, version, update)
        outcome, doc = fold(self.name, write, self._state(doc_id))  # a gap raises here, before anything
        if outcome == APPLIED:
            self._queue_write(write, outcome, doc)
        return str(outcome)

    def upsert(self, doc_id: str, update: Update) -> None:
        if not self.buffer.active:
            self.inner.upsert(doc_id, update)
            return
        write = Upsert(doc_id, update)
        if doc_id in self._docs:
            self._queue_write(write, None, fold(self.name, write, self._docs[doc_id])[1])
        else:  # not read by this batch: no need to
            self._queue_blind(write)

    def insert_if_absent(self, doc_id: str, doc: Mapping[str, Any]) -> bool:
        if not self.buffer.active:
            return self.inner.insert_if_absent(doc_id, doc)
        write = InsertIfAbsent(doc_id, doc)
        outcome, after = fold(self.name, write, self._state(doc_id))
        if outcome:
            self._queue_write(write, outcome, after)
        return bool(outcome)

    def add_if_absent(self, doc_id: str, doc: Mapping[str, Any]) -> None:
        if self.buffer.active and doc_id not in self._docs:  # its outcome unchecked: what is stored stays
            self._queue_blind(InsertIfAbsent(doc_id, doc))
        else:
            self.insert_if_absent(doc_id, doc)

    def delete(self, doc_id: str) -> None:
        if not self.buffer.active:
            self.inner.delete(doc_id)
            return
        self._blind.pop(doc_id, None)
        self._queue_write(Delete(doc_id), None, None)

    def bulk(self, writes: Sequence[Write]) -> list[Outcome]:
        self.flush()
        self._docs = {}  # the store's outcome is not folded here: read again when asked
        return self.inner.bulk(writes)


def _one(doc: dict[str, Any] | None, doc_id: str) -> dict[str, dict[str, Any]]:
    return {} if doc is None else {doc_id: doc}
