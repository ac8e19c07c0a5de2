"""Read-model store port: documents that projections write and query APIs read.

Writes are idempotent by construction:
- `apply(id, version, ...)` updates a per-aggregate document only when `version` is exactly one more
  than the version it last applied; an older or equal version is a redelivery and changes nothing;
  a jump ahead is a gap (`VersionGap`): the projection stops rather than build a wrong view.
- `insert_if_absent(id, doc)` suits append-style rows keyed by event id.
- `bulk(writes)` does a list of those writes (`Apply`, `Upsert`, `InsertIfAbsent`, `Delete`) with
  exactly the outcome of doing them one by one in order (`fold` is the reference), in as few round trips
  as the backend allows: how a projection writes a polled batch (`shared.readstore.buffer`). An `Apply`
  already applied is a duplicate, a gap raises `VersionGap`, so a redelivered batch changes nothing.
  `get_many(ids)` reads many documents by `_id` in one query.

Queries may filter and sort only on the fields a collection declares as indexed, so every query is
index-backed on MongoDB too. Filters use a small Mongo-like language:
`{"field": value}` (for an array field: contains value), and per field `$gte $gt $lte $lt $ne $in`
and `$contains` (case-insensitive substring); array fields take only equality, `$in` (contains any)
and `$all` (contains every one). Sort fields must never be null.

Generations (rebuilds without downtime, see `shared.readstore.generations` and `shared.rebuild`): a
collection's *logical* name resolves to a *physical* one, `name` in generation 0 (today's names, so
existing data keeps working) and `name__g<N>` in generation N. The current generation of every
logical name is kept in one document of the store itself (`Generations`), so a switch-over of all of
a projection's collections is one atomic single-document write on SQLite and MongoDB/FerretDB alike
(FerretDB v1 has no transactions, and renameCollection could not swap several collections at once).
`collection(name)` gives a *following* handle, resolved on every operation through a cache of at
most `ALIAS_CACHE_SECONDS`, so query APIs that create their handles once per process follow a
switch-over without a restart; `collection(name, generation=N)` gives a *pinned* handle, which a
projection writes through, so its writes never move to another generation in the middle of a batch.
"""
from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

APPLIED, DUPLICATE = "applied", "duplicate"
# How stale a following handle's idea of the current generation may be. Short, because after a
# switch-over the old generation stops receiving events; one read of one document per process per
# period, so cheap. A switch-over is only ever to a complete generation, so any cached answer names
# a complete one (the old generation is dropped only after a grace period far longer than this).
ALIAS_CACHE_SECONDS = 1.0
LOGICAL_NAME = re.compile(r"^[a-z](?:[a-z0-9]|_(?!_)){0,52}$")  # no "__": that separates the generation


class BadCursor(ValueError):
    """A pagination cursor that this query did not issue (answered 422 on the `cursor` field)."""


class VersionGap(Exception):
    def __init__(self, collection: str, doc_id: str, last: int, got: int) -> None:
        super().__init__(f"{collection}/{doc_id}: at version {last}, got {got} (events missing)")


@dataclass(frozen=True)
class Index:
    field: str
    array: bool = False   # the field holds a list; equality means "contains"


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


@dataclass
class Update:
    """The changes one event makes to a document."""

    set: dict[str, Any] = field(default_factory=dict)
    unset: list[str] = field(default_factory=list)
    inc: dict[str, float] = field(default_factory=dict)
    push: dict[str, list[Any]] = field(default_factory=dict)
    add_to_set: dict[str, list[Any]] = field(default_factory=dict)
    pull: dict[str, list[Any]] = field(default_factory=dict)
    set_on_insert: dict[str, Any] = field(default_factory=dict)

    def apply_to(self, doc: dict[str, Any], inserting: bool) -> dict[str, Any]:
        """The document after this update (the reference semantics every adapter must match)."""
        doc = dict(doc)
        if inserting:
            doc.update(self.set_on_insert)
        doc.update(self.set)
        for name in self.unset:
            doc.pop(name, None)
        for name, amount in self.inc.items():
            doc[name] = doc.get(name, 0) + amount
        for name, values in self.push.items():
            doc[name] = list(doc.get(name, [])) + list(values)
        for name, values in self.add_to_set.items():
            current = list(doc.get(name, []))
            current += [v for i, v in enumerate(values) if v not in current and v not in values[:i]]
            doc[name] = current
        for name, values in self.pull.items():
            doc[name] = [v for v in doc.get(name, []) if v not in values]
        return doc


@dataclass(frozen=True)
class Apply:
    """`Collection.apply` as one write of a bulk."""

    doc_id: str
    version: int
    update: Update


@dataclass(frozen=True)
class Upsert:
    doc_id: str
    update: Update


@dataclass(frozen=True)
class InsertIfAbsent:
    doc_id: str
    doc: Mapping[str, Any]


@dataclass(frozen=True)
class Delete:
    doc_id: str


Write = Apply | Upsert | InsertIfAbsent | Delete
# per write of a bulk: APPLIED/DUPLICATE for Apply, whether it inserted for InsertIfAbsent, else None
Outcome = str | bool | None


def fold(collection: str, write: Write, current: dict[str, Any] | None) -> tuple[Outcome, dict[str, Any] | None]:
    """One write's outcome and the document after it, from the document before it (None: absent).

    The reference semantics of every write, one at a time; `bulk` must give exactly what folding its
    writes in order gives. A document always carries its `_id`; `Apply` sets `_version`."""
    if isinstance(write, Apply):
        last = current.get("_version", 0) if current else 0
        if write.version <= last:
            return DUPLICATE, current
        if write.version != last + 1:
            raise VersionGap(collection, write.doc_id, last, write.version)
        doc = write.update.apply_to(current or {}, inserting=current is None)
        doc["_id"], doc["_version"] = write.doc_id, write.version
        return APPLIED, doc
    if isinstance(write, Upsert):
        doc = write.update.apply_to(current or {}, inserting=current is None)
        doc["_id"] = write.doc_id
        return None, doc
    if isinstance(write, InsertIfAbsent):
        if current is not None:
            return False, current
        return True, {**{k: v for k, v in write.doc.items() if k != "_id"}, "_id": write.doc_id}
    return None, None  # Delete


class Collection(Protocol):
    name: str
    def get(self, doc_id: str) -> dict[str, Any] | None: ...
    def get_many(self, doc_ids: Sequence[str]) -> dict[str, dict[str, Any]]: ...  # the ones found, by id
    # the writes' outcomes, as doing them one by one in order would give (see `fold`)
    def bulk(self, writes: Sequence[Write]) -> list[Outcome]: ...
    def apply(self, doc_id: str, version: int, update: Update) -> str: ...
    def upsert(self, doc_id: str, update: Update) -> None: ...
    def insert_if_absent(self, doc_id: str, doc: Mapping[str, Any]) -> bool: ...
    # insert_if_absent without its answer: a unit of work need not read the document for it (a row per
    # event, written once and kept as it is when the event comes again)
    def add_if_absent(self, doc_id: str, doc: Mapping[str, Any]) -> None: ...
    def delete(self, doc_id: str) -> None: ...
    # what a query of the caller's just read, by id (None: absent): a unit of work then decides writes to
    # those documents without reading them again (`shared.readstore.buffer`); a store itself ignores it
    def known(self, docs: Mapping[str, dict[str, Any] | None]) -> None: ...
    def find(self, filter: Mapping[str, Any], sort: Sequence[tuple[str, int]] = (), limit: int = 50,
             cursor: str | None = None) -> Page: ...
    def count(self, filter: Mapping[str, Any]) -> int: ...


class ReadStore(Protocol):
    # generation None: follow the current generation (queries); a number: pinned (projections)
    def collection(self, name: str, indexes: Sequence[Index] = (), *,
                   generation: int | None = None) -> Collection: ...
    def batch(self) -> Any: ...  # context manager grouping a poll's writes
    def drop(self, name: str, *, generation: int | None = None) -> None: ...  # the current one by default
    def generations(self, max_age: float = ALIAS_CACHE_SECONDS) -> Generations: ...  # cached
    def load_generations(self) -> Generations: ...  # fresh from the store
    # compare-and-set: write `new` (as revision expected_revision + 1) only if the stored revision is
    # still `expected_revision`; False when another writer got there first
    def save_generations(self, new: Generations, expected_revision: int) -> bool: ...
    def prepare(self) -> None: ...  # create the declared collections' indexes now (idempotent; the init step)
    def ping(self) -> None: ...
    def close(self) -> None: ...


# -- generations ------------------------------------------------------------------------------------------

def check_logical_name(name: str) -> None:
    if not isinstance(name, str) or not LOGICAL_NAME.match(name):
        raise ValueError(f"bad collection name {name!r}: lower-case letters, digits and single underscores")


def physical_name(name: str, generation: int) -> str:
    """Where generation `generation` of logical collection `name` lives."""
    if generation < 0:
        raise ValueError(f"bad generation {generation}")
    return name if generation == 0 else f"{name}__g{generation}"


@dataclass(frozen=True)
class Build:
    """A generation being built beside the live one (by `shared.rebuild`)."""

    generation: int
    collections: tuple[str, ...]
    projection: str
    started_at: str


@dataclass(frozen=True)
class Retired:
    """A generation queries no longer read, kept until it is dropped (a grace period, or --keep-old)."""

    generation: int
    collections: tuple[str, ...]
    projection: str
    group_id: str
    retired_at: str


@dataclass(frozen=True)
class Generations:
    """The one alias document: the current generation of every logical collection (absent = 0), the
    generations being built and those retired. `last` only grows, so a generation number (and the
    consumer group named after it) is never reused."""

    revision: int = 0
    last: int = 0
    current: Mapping[str, int] = field(default_factory=dict)
    building: tuple[Build, ...] = ()
    retired: tuple[Retired, ...] = ()

    def of(self, name: str) -> int:
        return self.current.get(name, 0)

    def to_doc(self) -> dict[str, Any]:
        return {"revision": self.revision, "last": self.last, "current": dict(self.current),
                "building": [{"generation": b.generation, "collections": list(b.collections),
                              "projection": b.projection, "started_at": b.started_at} for b in self.building],
                "retired": [{"generation": r.generation, "collections": list(r.collections),
                             "projection": r.projection, "group_id": r.group_id, "retired_at": r.retired_at}
                            for r in self.retired]}

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any] | None) -> Generations:
        if not doc:
            return cls()
        return cls(
            revision=int(doc.get("revision", 0)), last=int(doc.get("last", 0)),
            current={str(k): int(v) for k, v in (doc.get("current") or {}).items() if int(v)},
            building=tuple(Build(int(b["generation"]), tuple(b["collections"]), b["projection"], b["started_at"])
                           for b in doc.get("building") or []),
            retired=tuple(Retired(int(r["generation"]), tuple(r["collections"]), r["projection"], r["group_id"],
                                  r["retired_at"]) for r in doc.get("retired") or []))


class AliasCache:
    """The current generations as one process last read them, at most `ttl` seconds old.

    Every adapter resolves following handles through one of these. A process's own switch-over
    (`remember`) is visible to it at once; other processes see it within `ttl`."""

    def __init__(self, load: Callable[[], Generations], ttl: float = ALIAS_CACHE_SECONDS) -> None:
        self._load, self.ttl = load, ttl
        self._lock = threading.Lock()
        self._value: Generations | None = None
        self._read_at = 0.0

    def get(self, max_age: float | None = None) -> Generations:
        max_age = self.ttl if max_age is None else max_age
        value = self._value
        if value is not None and time.monotonic() - self._read_at <= max_age:
            return value
        with self._lock:  # one reader refreshes; the others take its answer
            if self._value is not None and time.monotonic() - self._read_at <= max_age:
                return self._value
            started = time.monotonic()
            self._value, self._read_at = self._load(), started
            return self._value

    def remember(self, value: Generations) -> None:
        with self._lock:
            if self._value is None or value.revision >= self._value.revision:
                self._value, self._read_at = value, time.monotonic()

    def forget(self) -> None:
        with self._lock:
            self._value = None


def saved(value: Generations, expected_revision: int) -> Generations:
    """`value` as it is stored by a successful `save_generations`."""
    return replace(value, revision=expected_revision + 1)


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, width: int) -> list[Any]:
    """The sort key of the last item of the previous page; ValueError if it was tampered with."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError) as exc:
        raise BadCursor("malformed cursor") from exc
    if not isinstance(values, list) or len(values) != width or any(isinstance(v, (list, dict)) for v in values):
        raise BadCursor("malformed cursor")
    return values


def sort_key(sort: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    """The sort with `_id` appended as the tie-breaker that makes keyset pagination exact."""
    keys = [(f, d) for f, d in sort if f != "_id"]
    return keys + [("_id", dict(sort).get("_id", 1))]


def iterate(collection: Collection, filter: Mapping[str, Any], sort: Sequence[tuple[str, int]] = (),
            page_size: int = 500) -> Iterator[dict[str, Any]]:
    """Every matching document, page by page (exports, rebuild checks)."""
    cursor = None
    while True:
        page = collection.find(filter, sort, page_size, cursor)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor
