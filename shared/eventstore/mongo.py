"""MongoDB event store: the production adapter of the event store port (`mongodb://host:port/<database>`).

Works on MongoDB and on FerretDB v1 (the local MongoDB-wire server), so it uses no transactions, no
change streams, no TTL or partial indexes and no update pipelines: every step is one atomic
single-document operation, and unique indexes settle the races.

Collections of the service's database:

- `commits`: one document per append, `_id` = the global position (an integer from the `counters`
  document `{_id: "commits", seq}`), with `stream_id, stream_type, first_version, last_version,
  events, recorded_at, published`. `events` holds the envelopes as one JSON text, exactly as the
  SQLite adapter does, so any JSON round-trips unchanged (dots or `$` in keys, integers beyond 64 bits)
  and no event is ever refused by the server for its content. The unique index
  `(stream_id, first_version)` is the last line of defence of optimistic concurrency: a writer always
  appends at a commit boundary (`first_version = expected + 1`), so of two writers that loaded the same
  version exactly one insert succeeds and the other gets a duplicate key -> `ConcurrencyConflict`.
- `counters`, `leases`, `claims` (`_id: {scope, value}`), `idempotency` (`_id: key`; expired entries
  are purged by `begin_request` at most once a minute per process, since FerretDB has no TTL indexes).

Positions and ordering. A position is taken (atomic `$inc`) after the version check and before the
insert, so a commit with a lower position can become visible after one with a higher position (two
writers of *different* streams racing), and positions have gaps (a writer that loses its race has
taken a position it never uses). Within one stream the order always holds: version n+1 passes the
version check only after commit n was inserted, so its position is taken later and is higher.
`read_unpublished` works by the `published` flag, never by "position > last seen", so a commit that
becomes visible late is still found by a later poll. MongoDB cursors are not snapshots (a query can
see a document inserted ahead of its scan position while missing one inserted behind it), so a batch
could hold n+1 without n; each batch is therefore completed with the unpublished commits that precede
its commits in their streams (one query) before it is returned, which keeps every stream's commits in
order in every batch. That query leaves out the streams this store's relay has published up to just
before the batch's commit (remembered from its own `mark_published`): once a relay runs, nearly all.
`read_all(after_position)` is for replay and rebuild tools: it returns what is visible now; a commit
whose position lies at or below `after_position` but which became visible only after an earlier call
had passed that position is not returned again (the same in-flight window exists in any
position-ordered log without a global write lock).

Writes use write concern `{w: "majority", j: true}` unless the URL says otherwise: an accepted command
is durable, as with the SQLite adapter's synchronous=FULL. An append whose acknowledgement is lost to a
network error raises `TransientError` although the commit may be stored (pymongo retries a write once
on a replica set, which makes that rare); a retry then sees the stream moved (`ConcurrencyConflict`).

Connection problems surface as `TransientError` (retry with backoff). The client is created lazily
(never at import or construction) and again in a forked child, since pymongo clients are not
fork-safe; indexes are created on first use in each process.
"""
from __future__ import annotations

import contextlib
import functools
import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ParamSpec, TypeVar
from urllib.parse import unquote, urlsplit

import pymongo
from pymongo import ASCENDING, DESCENDING, IndexModel, MongoClient, ReturnDocument
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import (
    AutoReconnect,
    ConnectionFailure,
    DuplicateKeyError,
    NetworkTimeout,
    PyMongoError,
    ServerSelectionTimeoutError,
)

from shared.errors import ConcurrencyConflict, RequestSuperseded, TransientError
from shared.events import isoformat, utcnow
from shared.eventstore.port import Commit, RequestLease, StoredResponse

P = ParamSpec("P")
R = TypeVar("R")

# Defaults a URL option overrides: fail within seconds when the server is away.
CLIENT_DEFAULTS = {"serverSelectionTimeoutMS": 5000, "connectTimeoutMS": 5000, "appname": "careerloop"}
_TRANSIENT_LABELS = ("RetryableWriteError", "TransientTransactionError", "ResumableChangeStreamError")
# A readiness probe must answer within its own timeout (Kubernetes: 1 s by default, we advise 3 s):
# the ping gives up after this, not after server selection's 5 s.
PING_TIMEOUT_SECONDS = 2.0
_PURGE_EVERY_SECONDS = 60.0
_ATTEMPTS = 5
_PREPARED = "event-store"
_KNOWN_STREAMS = 100_000  # the streams whose published version a relay remembers (about 10 MB at most)
# An idle relay asks every 50 ms for unpublished commits, and FerretDB answers that by scanning every
# commit. After a read that found none, the position counter (one small document) tells whether a
# commit took a position since; one that took it before that read but was inserted after it does not
# move the counter, so the commits are read again at least this often all the same.
_QUIET_RECHECK_SECONDS = 1.0


def database_name(url: str) -> str:
    """The database named by the URL's path (`mongodb://host:27017/<database>?options`)."""
    if not url.startswith(("mongodb://", "mongodb+srv://")):
        raise ValueError(f"not a MongoDB URL: {url!r}")
    name = unquote(urlsplit(url).path.lstrip("/"))
    if not name or any(c in name for c in '/\\. "$\x00'):
        raise ValueError(f"the MongoDB URL must name a database (mongodb://host:port/<database>): {url!r}")
    return name


def is_connection_error(exc: BaseException) -> bool:
    if isinstance(exc, (AutoReconnect, ConnectionFailure, NetworkTimeout, ServerSelectionTimeoutError)):
        return True
    return isinstance(exc, PyMongoError) and any(exc.has_error_label(label) for label in _TRANSIENT_LABELS)


def transient_errors(method: Callable[P, R]) -> Callable[P, R]:
    """Re-raise pymongo's connection problems as `TransientError` (keeping the cause)."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except PyMongoError as exc:
            if is_connection_error(exc):
                raise TransientError(f"MongoDB {method.__name__}: {type(exc).__name__}: {exc}") from exc
            raise

    return wrapper


class MongoHandle:
    """One lazily created client per process (pymongo is not fork-safe) and the URL's database.

    `prepared(key, make)` runs `make(db)` once per process per key (index creation on first use);
    `forget()` makes it run again (after a drop)."""

    def __init__(self, url: str, **defaults: Any) -> None:
        self.url = url
        self.database_name = database_name(url)
        self.defaults = {**CLIENT_DEFAULTS, **defaults}
        self._lock = threading.Lock()
        self._prepare_lock = threading.Lock()
        self._client: MongoClient | None = None
        self._pid = 0
        self._prepared: set[str] = set()
        self._ferretdb: bool | None = None

    @property
    def client(self) -> MongoClient:
        client = self._client
        if client is not None and self._pid == os.getpid():
            return client
        with self._lock:
            if self._client is None or self._pid != os.getpid():
                # An inherited client is dropped, never closed: its sockets belong to the parent.
                self._client = MongoClient(self.url, **self._defaults())
                self._pid = os.getpid()
                self._prepared = set()
            return self._client

    def _defaults(self) -> dict[str, Any]:
        given = {key.lower() for key in _uri_option_names(self.url)}
        return {k: v for k, v in self.defaults.items() if k.lower() not in given}

    @property
    def db(self) -> Database:
        return self.client[self.database_name]

    def prepared(self, key: str, make: Callable[[Database], None]) -> Database:
        db = self.db
        if key not in self._prepared:
            # One thread at a time; a dropped connection (FerretDB v1 has createIndexes bugs) is retried.
            with self._prepare_lock:
                if key not in self._prepared:
                    for attempt in range(3):
                        try:
                            make(db)
                            break
                        except AutoReconnect as exc:
                            if attempt == 2 or isinstance(exc, ServerSelectionTimeoutError):
                                raise
                            time.sleep(0.05 * (attempt + 1))
                    self._prepared.add(key)
        return db

    def forget(self, prefix: str = "") -> None:
        """Make `prepared` run again for the keys starting with `prefix` (all by default)."""
        self._prepared = {key for key in self._prepared if prefix and not key.startswith(prefix)}

    @property
    def ferretdb(self) -> bool:
        """Whether the server is FerretDB (its buildInfo says so), asked once: FerretDB v1 filters in
        PostgreSQL only a top-level field's equality and reads the whole collection for the rest
        (`$in` and ranges included), which changes the best way to ask some questions."""
        if self._ferretdb is None:
            self._ferretdb = "ferretdbVersion" in self.client.admin.command("buildInfo")
        return self._ferretdb

    def ping(self) -> None:
        with pymongo.timeout(PING_TIMEOUT_SECONDS):
            self.client.admin.command("ping")

    def drop_database(self) -> None:
        self.client.drop_database(self.database_name)
        self.forget()

    def close(self) -> None:
        with self._lock:
            if self._client is not None and self._pid == os.getpid():
                self._client.close()
            self._client = None
            self._prepared = set()


def _uri_option_names(url: str) -> Iterable[str]:
    query = urlsplit(url).query
    return [part.split("=", 1)[0] for part in query.split("&") if part]


def create_indexes(collection: Collection, models: Sequence[IndexModel]) -> None:
    """Create each index with its own command (idempotent): FerretDB v1 drops the connection on a
    createIndexes of two or more indexes that all exist already."""
    for model in models:
        collection.create_indexes([model])


def _create_event_store_indexes(db: Database) -> None:
    create_indexes(db.commits, [
        IndexModel([("stream_id", ASCENDING), ("first_version", ASCENDING)], unique=True, name="stream_version"),
        IndexModel([("published", ASCENDING), ("_id", ASCENDING)], name="published_position"),
        IndexModel([("stream_id", ASCENDING), ("published", ASCENDING), ("first_version", ASCENDING)],
                   name="stream_published_version"),
        IndexModel([("request_key", ASCENDING)], name="request_key"),
    ])
    create_indexes(db.idempotency, [IndexModel([("expires_at", ASCENDING)], name="expires_at")])


class MongoEventStore:
    def __init__(self, url: str) -> None:
        # An accepted command is durable: acknowledged once journaled on a majority (URL options win).
        self.handle = MongoHandle(url, w="majority", journal=True)
        self._purged_at = 0.0
        # What this process's relay knows it published: the newest version of each stream (the newest
        # streams, at most _KNOWN_STREAMS), and the commits its last read handed out. A stream whose
        # next unpublished commit follows right on from what it knows needs no look for missed earlier
        # commits (`_read`), which is most of them once the relay runs.
        self._published_through: OrderedDict[str, int] = OrderedDict()
        self._handed_out: dict[int, tuple[str, int]] = {}
        self._quiet: tuple[int, float] | None = None  # after a read that found nothing: (counter, until)

    @property
    def _db(self) -> Database:
        return self.handle.prepared(_PREPARED, _create_event_store_indexes)

    # -- streams ----------------------------------------------------------------------------
    @transient_errors
    def append(self, stream_id: str, stream_type: str, expected_version: int,
               events: Sequence[dict[str, Any]], request: RequestLease | None = None) -> Commit:
        if not events:
            raise ValueError("a commit holds at least one event")
        events = list(events)
        first, last = expected_version + 1, expected_version + len(events)
        recorded_at = isoformat(utcnow())
        body = json.dumps(events)
        db = self._db
        for _ in range(_ATTEMPTS):
            actual = self._version(db, stream_id)
            if actual != expected_version:
                raise ConcurrencyConflict(stream_id, expected_version, actual)
            # Without transactions (FerretDB v1 has none) the holder is checked just before the insert: an
            # attempt would have to run past its lease (a minute by default) within these milliseconds to slip by.
            if request is not None and db.idempotency.find_one(
                    {"_id": request.key, "status": None, "holder": request.holder}, {"_id": 1}) is None:
                raise RequestSuperseded(request.key)
            # Taken after the check: a stream's next commit always gets a higher position.
            position = self._next_position(db)
            try:
                db.commits.insert_one({
                    "_id": position, "stream_id": stream_id, "stream_type": stream_type, "first_version": first,
                    "last_version": last, "events": body, "recorded_at": recorded_at, "published": False,
                    **({"request_key": request.key} if request is not None else {}),
                })
            except DuplicateKeyError as exc:
                actual = self._version(db, stream_id)
                if actual != expected_version:  # another writer appended first: the unique key caught it
                    raise ConcurrencyConflict(stream_id, expected_version, actual) from exc
                # The stream did not move, so the position was taken: the counter is behind the commits
                # (e.g. the counters document was lost). Move it past them and try again.
                self._repair_counter(db)
                continue
            return Commit(position, stream_id, stream_type, first, last, events, recorded_at)
        raise TransientError(f"could not find a free position for a commit of {stream_id}")

    @transient_errors
    def load(self, stream_id: str) -> list[dict[str, Any]]:
        docs = self._db.commits.find({"stream_id": stream_id}, {"events": 1}).sort("first_version", ASCENDING)
        return [event for doc in docs for event in json.loads(doc["events"])]

    @transient_errors
    def load_since(self, stream_id: str, after_version: int) -> list[dict[str, Any]]:
        docs = self._db.commits.find({"stream_id": stream_id, "first_version": {"$gt": after_version}},
                                     {"events": 1}).sort("first_version", ASCENDING)
        return [event for doc in docs for event in json.loads(doc["events"])]

    @transient_errors
    def stream_version(self, stream_id: str) -> int:
        return self._version(self._db, stream_id)

    @staticmethod
    def _version(db: Database, stream_id: str) -> int:
        doc = db.commits.find_one({"stream_id": stream_id}, {"last_version": 1},
                                  sort=[("first_version", DESCENDING)])
        return int(doc["last_version"]) if doc else 0

    @staticmethod
    def _next_position(db: Database) -> int:
        for _ in range(_ATTEMPTS):
            try:
                doc = db.counters.find_one_and_update({"_id": "commits"}, {"$inc": {"seq": 1}}, upsert=True,
                                                      return_document=ReturnDocument.AFTER)
                assert doc is not None, "an upsert that returns the document AFTER always has one"
                return int(doc["seq"])
            except DuplicateKeyError:  # two first appends created the counter at once: it exists now
                continue
        raise TransientError("could not take a commit position")

    @staticmethod
    def _repair_counter(db: Database) -> None:
        newest = db.commits.find_one({}, {"_id": 1}, sort=[("_id", DESCENDING)])
        if newest is not None:
            db.counters.update_one({"_id": "commits"}, {"$max": {"seq": int(newest["_id"])}}, upsert=True)

    # -- the outbox -------------------------------------------------------------------------
    @transient_errors
    def read_unpublished(self, limit: int) -> list[Commit]:
        counter = self._db.counters.find_one({"_id": "commits"}, {"seq": 1})
        taken = int(counter["seq"]) if counter is not None else 0
        now = time.monotonic()
        if self._quiet is not None and self._quiet[0] == taken and now < self._quiet[1]:
            commits = []  # no position taken since a read found nothing (see _QUIET_RECHECK_SECONDS)
        else:
            commits = self._read({"published": False}, limit, self._published_through)
            self._quiet = None if commits else (taken, now + _QUIET_RECHECK_SECONDS)
        self._handed_out = {c.position: (c.stream_id, c.last_version) for c in commits}
        return commits

    @transient_errors
    def read_all(self, after_position: int, limit: int) -> list[Commit]:
        return self._read({"_id": {"$gt": after_position}}, limit)

    def _read(self, condition: dict[str, Any], limit: int, known: Mapping[str, int] | None = None) -> list[Commit]:
        """Commits matching `condition` in position order, at most `limit` (negative: all, as SQL's
        LIMIT), each stream's commits complete from the first one the condition admits. `known`: the
        version up to which a stream's commits are known not to match (published already)."""
        if limit == 0:
            return []
        commits = self._db.commits
        cursor = commits.find(condition).sort("_id", ASCENDING)
        if limit > 0:
            cursor = cursor.limit(limit).batch_size(limit)
        docs = list(cursor)
        # A scan may have missed a commit inserted behind its position while it ran, yet seen a later
        # commit of the same stream inserted afterwards. Anything that precedes a seen commit in its
        # stream was inserted before it, so this second query sees all of them.
        first_seen: dict[str, int] = {}
        for doc in docs:
            first_seen[doc["stream_id"]] = min(
                doc["first_version"], first_seen.get(doc["stream_id"], doc["first_version"])
            )
        known = known or {}
        earlier = [{"stream_id": s, "first_version": {"$lt": v}} for s, v in first_seen.items()
                   if v > 1 and known.get(s, 0) < v - 1]
        if earlier:  # usually finds nothing
            seen = {doc["_id"] for doc in docs}
            # the condition also at the top: FerretDB narrows its scan only by top-level equalities
            missed = [d for d in commits.find({**condition, "$or": earlier}) if d["_id"] not in seen]
            if missed:
                docs = sorted(docs + missed, key=lambda d: d["_id"])
                if limit > 0:
                    docs = docs[:limit]  # a stream's earlier commits sort first, so none is cut off alone
        return [self._commit(doc) for doc in docs]

    @transient_errors
    def mark_published(self, positions: Sequence[int]) -> None:
        positions = list(positions)
        if positions:
            # `published: False` narrows FerretDB's scan to the backlog (it cannot use the _id index for
            # $in): without it each batch read the whole history
            self._db.commits.update_many({"published": False, "_id": {"$in": positions}},
                                         {"$set": {"published": True}})
        for position in positions:
            handed_out = self._handed_out.pop(position, None)
            if handed_out is not None:
                stream, version = handed_out
                if version > self._published_through.get(stream, 0):
                    self._published_through[stream] = version
                self._published_through.move_to_end(stream)
        while len(self._published_through) > _KNOWN_STREAMS:
            self._published_through.popitem(last=False)

    @transient_errors
    def unpublished_count(self) -> int:
        return self._db.commits.count_documents({"published": False})

    @staticmethod
    def _commit(doc: dict[str, Any]) -> Commit:
        return Commit(int(doc["_id"]), doc["stream_id"], doc["stream_type"], int(doc["first_version"]),
                      int(doc["last_version"]), json.loads(doc["events"]), doc["recorded_at"])

    # -- leases -----------------------------------------------------------------------------
    @transient_errors
    def acquire_lease(self, name: str, holder: str, ttl_seconds: float) -> bool:
        now = time.time()
        try:
            # Matches when the lease is ours or has expired; when it matches nothing the upsert
            # tries to insert a second `_id: name`, which the _id index refuses: someone else holds it.
            self._db.leases.update_one(
                {"_id": name, "$or": [{"holder": holder}, {"expires_at": {"$lte": now}}]},
                {"$set": {"holder": holder, "expires_at": now + ttl_seconds}}, upsert=True)
        except DuplicateKeyError:
            return False
        return True

    @transient_errors
    def release_lease(self, name: str, holder: str) -> None:
        self._db.leases.delete_one({"_id": name, "holder": holder})

    # -- unique claims ----------------------------------------------------------------------
    @transient_errors
    def claim(self, scope: str, value: str, owner: str) -> str | None:
        claims = self._db.claims
        key = {"scope": scope, "value": value}
        for _ in range(_ATTEMPTS):
            try:
                claims.insert_one({"_id": key, "owner": owner})
                return None
            except DuplicateKeyError:
                doc = claims.find_one({"_id": key}, {"owner": 1})
            if doc is not None:
                return None if doc["owner"] == owner else doc["owner"]
            # released between the insert and the read: try again
        raise TransientError(f"claim {scope}/{value} is changing too fast")

    @transient_errors
    def release_claim(self, scope: str, value: str, owner: str) -> None:
        self._db.claims.delete_one({"_id": {"scope": scope, "value": value}, "owner": owner})

    @transient_errors
    def claims_after(self, scope: str, value: str, limit: int) -> list[tuple[str, str, str]]:
        after = {"$or": [{"_id.scope": {"$gt": scope}}, {"_id.scope": scope, "_id.value": {"$gt": value}}]}
        docs = self._db.claims.find(after).sort([("_id.scope", ASCENDING), ("_id.value", ASCENDING)]).limit(limit)
        return [(doc["_id"]["scope"], doc["_id"]["value"], doc["owner"]) for doc in docs]

    @transient_errors
    def rename_claim(self, scope: str, value: str, new_value: str, owner: str) -> None:
        # two writes, each idempotent: interrupted between them, the next run inserts nothing and deletes the old
        with contextlib.suppress(DuplicateKeyError):
            self._db.claims.insert_one({"_id": {"scope": scope, "value": new_value}, "owner": owner})
        self._db.claims.delete_one({"_id": {"scope": scope, "value": value}, "owner": owner})

    # -- migration ----------------------------------------------------------------------------
    @transient_errors
    def replace_events(self, position: int, events: Sequence[dict[str, Any]]) -> None:
        self._db.commits.update_one({"_id": position}, {"$set": {"events": json.dumps(list(events))}})

    # -- idempotency keys -------------------------------------------------------------------
    @transient_errors
    def begin_request(self, key: str, request_hash: str, ttl_seconds: int, *, holder: str = "",
                      lease_seconds: float = 60.0) -> StoredResponse | None:
        now = time.time()
        entries = self._db.idempotency
        if now - self._purged_at >= _PURGE_EVERY_SECONDS:
            entries.delete_many({"expires_at": {"$lte": now}})
            self._purged_at = now
        fresh = {"request_hash": request_hash, "status": None, "body": None, "headers": None,
                 "expires_at": now + ttl_seconds, "holder": holder, "lease_until": now + lease_seconds}
        for _ in range(_ATTEMPTS):
            try:
                entries.insert_one({"_id": key, **fresh})
                return None
            except DuplicateKeyError:
                pass
            # Taken: an expired entry is replaced atomically (only one of two racers matches it)...
            if entries.replace_one({"_id": key, "expires_at": {"$lte": now}}, fresh).matched_count:
                return None
            # ...a live one is the answer
            doc = entries.find_one({"_id": key})
            if doc is not None and doc["expires_at"] > now:
                return StoredResponse(doc["request_hash"], doc["status"], doc["body"] or b"",
                                      json.loads(doc["headers"] or "{}"), doc.get("lease_until") or 0.0)
            # deleted or expired in between: try again
        raise TransientError(f"idempotency key {key!r} is changing too fast")

    @transient_errors
    def resume_request(self, key: str, holder: str, lease_until: float, lease_seconds: float) -> bool:
        now = time.time()
        if lease_until > now:
            return False
        # the lease as it was seen: of two retries, only the first to take it over matches (an entry from
        # before leases has none, and counts as cut off)
        seen = {"lease_until": lease_until} if lease_until else {"lease_until": {"$in": [None, 0, 0.0]}}
        return self._db.idempotency.update_one(
            {"_id": key, "status": None, **seen},
            {"$set": {"holder": holder, "lease_until": now + lease_seconds}}).matched_count == 1

    @transient_errors
    def request_commits(self, key: str) -> list[Commit]:
        return [self._commit(doc) for doc in self._db.commits.find({"request_key": key}).sort("_id", ASCENDING)]

    @transient_errors
    def finish_request(self, key: str, status: int, body: bytes, headers: dict[str, str], *,
                       holder: str | None = None) -> None:
        self._db.idempotency.update_one(
            {"_id": key, **({"holder": holder} if holder is not None else {})},
            {"$set": {"status": status, "body": bytes(body), "headers": json.dumps(headers)}})

    @transient_errors
    def abandon_request(self, key: str, *, holder: str | None = None) -> None:
        self._db.idempotency.delete_one({"_id": key, "status": None,
                                         **({"holder": holder} if holder is not None else {})})

    # -- administration ---------------------------------------------------------------------
    @transient_errors
    def prepare(self) -> None:
        """Create the collections' indexes now (idempotent; otherwise done on first use)."""
        self.handle.prepared(_PREPARED, _create_event_store_indexes)

    @transient_errors
    def ping(self) -> None:
        self.handle.ping()

    @transient_errors
    def drop_database(self) -> None:
        """Delete the whole database (tests and tear-down tools)."""
        self.handle.drop_database()

    def close(self) -> None:
        self.handle.close()
