"""Read-model store port: documents that projections write and query APIs read.

Writes are idempotent by construction:
- `apply(id, version, ...)` updates a per-aggregate document only when `version` is exactly one more
  than the version it last applied; an older or equal version is a redelivery and changes nothing;
  a jump ahead is a gap (`VersionGap`): the projection stops rather than build a wrong view.
- `insert_if_absent(id, doc)` suits append-style rows keyed by event id.

Queries may filter and sort only on the fields a collection declares as indexed, so every query is
index-backed on MongoDB too. Filters use a small Mongo-like language:
`{"field": value}` (for an array field: contains value), and per field `$gte $gt $lte $lt $ne $in`
and `$contains` (case-insensitive substring); array fields take only equality, `$in` (contains any)
and `$all` (contains every one). Sort fields must never be null.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Protocol, Sequence

APPLIED, DUPLICATE = "applied", "duplicate"


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


class Collection(Protocol):
    name: str
    def get(self, doc_id: str) -> dict[str, Any] | None: ...
    def apply(self, doc_id: str, version: int, update: Update) -> str: ...
    def upsert(self, doc_id: str, update: Update) -> None: ...
    def insert_if_absent(self, doc_id: str, doc: Mapping[str, Any]) -> bool: ...
    def delete(self, doc_id: str) -> None: ...
    def find(self, filter: Mapping[str, Any], sort: Sequence[tuple[str, int]] = (), limit: int = 50,
             cursor: str | None = None) -> Page: ...
    def count(self, filter: Mapping[str, Any]) -> int: ...


class ReadStore(Protocol):
    def collection(self, name: str, indexes: Sequence[Index] = ()) -> Collection: ...
    def batch(self) -> Any: ...  # context manager grouping a poll's writes
    def drop(self, name: str) -> None: ...
    def prepare(self) -> None: ...  # create the declared collections' indexes now (idempotent; the init step)
    def ping(self) -> None: ...
    def close(self) -> None: ...


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


def open_read_store(url: str) -> ReadStore:
    if url.startswith("sqlite:///"):
        from shared.readstore.sqlite import SQLiteReadStore
        return SQLiteReadStore(url)
    if url.startswith(("mongodb://", "mongodb+srv://")):
        from shared.readstore.mongo import MongoReadStore
        return MongoReadStore(url)
    raise ValueError(f"unsupported READ_STORE_URL: {url!r}")


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
