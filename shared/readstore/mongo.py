"""MongoDB read-model store: one collection per read model (`rm_<physical name>`), in the URL's database.

Generations (see `shared.readstore`): the alias document is `{_id: "generations"}` in the
`read_model_generations` collection, changed by compare-and-set on its `revision` (an insert for the
first one, then `replace_one` guarded by the revision): single-document atomicity, which FerretDB v1
has, so every collection of a projection switches at once. (FerretDB 1.24 does support
renameCollection, but not `dropTarget`, and no rename can swap several collections atomically.)

Works on MongoDB and on FerretDB v1 (no transactions, no update pipelines, no `$pull` conditions).
Every write is one atomic single-document operation, idempotent by construction:

- `apply` of version 1 inserts the document `Update.apply_to` makes of nothing; of a later version it
  turns the `Update` into one update document guarded by the stored `_version`
  (`{_id, _version: version-1}`). When the insert meets an existing document or the guard matches
  nothing, reading the document tells a duplicate from a gap.
- An `Update` that one update document cannot express with exactly `Update.apply_to`'s semantics —
  `pull` (the reference turns a missing field into `[]`, `$pullAll` leaves it missing), one field
  under two operators (MongoDB refuses those), or a `set_on_insert` of null or `[]` (FerretDB v1
  drops those) — is applied by read, compute with `apply_to`, and a
  compare-and-set write (on `_version` for `apply`, on the touched fields for `upsert`), retried if
  another writer got there first. A field given by `set` or `unset` is computed in advance whatever
  else the update does to it, so it never needs this path.
- `batch()` groups nothing: there are no transactions, and each write stands alone safely.

Queries may only filter and sort on declared fields; each gets an ascending single-field index
(multikey for array fields), created on first use in each process (or by `prepare()`).
Null in a filter behaves as in the SQLite adapter (`$in [null]`, a range from null, an array field
"containing" null match nothing; `{field: null}` matches null or missing).

Differences from the SQLite adapter, all on fields whose type varies between documents (projections
keep each field's type fixed): comparisons never cross types (MongoDB orders numbers and strings in
separate brackets; SQLite puts every number below every string), `true` is not the number 1, and
`$contains` (a case-insensitive regular expression of the escaped needle) only matches strings and
folds case letter by letter (SQLite's `casefold()` also folds "ß" to "ss"). Field names may not
contain "." or start with "$" (ValueError).
"""
from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from pymongo import ASCENDING, DESCENDING, DeleteOne, IndexModel, InsertOne, ReplaceOne, UpdateOne
from pymongo.collection import Collection as PyMongoCollection
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

from shared.errors import TransientError
from shared.eventstore.mongo import MongoHandle, create_indexes, transient_errors
from shared.readstore.port import (
    ALIAS_CACHE_SECONDS,
    APPLIED,
    DUPLICATE,
    AliasCache,
    Apply,
    Delete,
    Generations,
    Index,
    InsertIfAbsent,
    Outcome,
    Page,
    Update,
    Upsert,
    VersionGap,
    Write,
    check_logical_name,
    decode_cursor,
    encode_cursor,
    fold,
    physical_name,
    saved,
    sort_key,
)

_ALIASES = "read_model_generations"
_ALIAS_ID = "generations"
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_RANGES = ("$gte", "$gt", "$lte", "$lt")
_COMPARISONS = (*_RANGES, "$ne")
_ATTEMPTS = 10
_DUPLICATE_KEY = 11000
_IN_CHUNK = 500  # ids per `$in` read
# FerretDB v1 answers `_id $in` by reading the whole collection, a find by one `_id` by a filter in
# PostgreSQL (itself a scan there, but in C). Measured 2026-12-08 (ms): documents | one find_one |
# `$in` of 10 | 64 find_ones: 50 | 0.7 | 3.5 | 44; 5,000 | 2.6 | 143 | 134; 20,000 | 6.2 | 643 | 449.
# So ids are read one by one while there are at least this many documents per id, and at most
# _ONE_BY_ONE_ON_FERRETDB of them (a rebuild's batches use `$in`): a small collection is cheaper to read
# whole, as the tests' are
_DOCUMENTS_PER_FIND_ONE = 50
_ONE_BY_ONE_ON_FERRETDB = 64
# how long a collection's document count (collStats: 2 ms at 50 documents, 49 ms at 20,000) is trusted
_SIZE_MAX_AGE_SECONDS = 30.0
# requests per bulk_write command: FerretDB v1.24 (on PostgreSQL, behind infra/ferretdb's proxy) never
# answered an update command of 64 replaces or 100 upserts of existing documents (32 answered in 0.2 s;
# measured 2026-12-07), so a batch's writes go in commands of this many: still far fewer round trips than
# one per write
_BULK_CHUNK = 16


class MongoReadStore:
    def __init__(self, url: str) -> None:
        self.handle = MongoHandle(url)
        self.aliases = AliasCache(self.load_generations)
        self._declared: dict[tuple[str, int | None], dict[str, Index]] = {}
        self._sizes: dict[str, tuple[float, int]] = {}  # collection -> (when counted, documents)

    def collection(self, name: str, indexes: Sequence[Index] = (), *,
                   generation: int | None = None) -> MongoCollection:
        collection = MongoCollection(self, name, indexes, generation)
        self._declared.setdefault((name, generation), {}).update(collection.indexes)
        return collection

    def _collection(self, name: str, generation: int | None, indexes: Mapping[str, Index]) -> PyMongoCollection:
        """The pymongo collection of `name` in `generation` (None: the current one), its declared
        indexes created once per process."""
        physical = physical_name(name, self.aliases.get().of(name) if generation is None else generation)
        fields = sorted(f for f in indexes if f != "_id")
        db = self.handle.prepared(f"{physical}:{','.join(fields)}", lambda db: _create_indexes(db, physical, fields))
        return db[f"rm_{physical}"]

    def reads_one_by_one(self, coll: PyMongoCollection, ids: int) -> bool:
        """Whether `ids` documents of `coll` are cheaper to read with one find per `_id` than with one
        `$in`: only on FerretDB (see _DOCUMENTS_PER_FIND_ONE), by a document count at most
        _SIZE_MAX_AGE_SECONDS old."""
        if ids > _ONE_BY_ONE_ON_FERRETDB or not self.handle.ferretdb:
            return False
        counted_at, documents = self._sizes.get(coll.name, (float("-inf"), 0))
        if time.monotonic() - counted_at > _SIZE_MAX_AGE_SECONDS:
            try:
                documents = int(coll.database.command("collStats", coll.name).get("count", 0))
            except OperationFailure:  # no such collection yet
                documents = 0
            self._sizes[coll.name] = (time.monotonic(), documents)
        return ids * _DOCUMENTS_PER_FIND_ONE <= documents

    @contextmanager
    def batch(self) -> Iterator[None]:
        """No transaction (FerretDB has none): each write is atomic and idempotent on its own."""
        yield

    @transient_errors
    def prepare(self) -> None:
        """Create the indexes of every collection declared so far (idempotent)."""
        for (name, generation), indexes in list(self._declared.items()):
            self._collection(name, generation, indexes)

    @transient_errors
    def drop(self, name: str, *, generation: int | None = None) -> None:
        check_logical_name(name)
        physical = physical_name(name, self.load_generations().of(name) if generation is None else generation)
        self.handle.db.drop_collection(f"rm_{physical}")
        self.handle.forget(prefix=f"{physical}:")  # its indexes are created again on next use

    # -- generations ------------------------------------------------------------------------
    def generations(self, max_age: float = ALIAS_CACHE_SECONDS) -> Generations:
        return self.aliases.get(max_age)

    @transient_errors
    def load_generations(self) -> Generations:
        return Generations.from_doc(self.handle.db[_ALIASES].find_one({"_id": _ALIAS_ID}))

    @transient_errors
    def save_generations(self, new: Generations, expected_revision: int) -> bool:
        stored = saved(new, expected_revision)
        doc = {"_id": _ALIAS_ID, **stored.to_doc()}
        aliases = self.handle.db[_ALIASES]
        if expected_revision == 0:
            try:
                aliases.insert_one(doc)
            except DuplicateKeyError:
                return False
        elif not aliases.replace_one({"_id": _ALIAS_ID, "revision": expected_revision}, doc).matched_count:
            return False
        self.aliases.remember(stored)
        return True

    @transient_errors
    def ping(self) -> None:
        self.handle.ping()

    @transient_errors
    def drop_database(self) -> None:
        """Delete the whole database (tests and tear-down tools)."""
        self.handle.drop_database()
        self.aliases.forget()

    def close(self) -> None:
        self.handle.close()


def _create_indexes(db: Database, name: str, fields: Sequence[str]) -> None:
    create_indexes(db[f"rm_{name}"], [IndexModel([(f, ASCENDING)], name=f"{f}_1") for f in fields])


class MongoCollection:
    def __init__(self, store: MongoReadStore, name: str, indexes: Sequence[Index], generation: int | None) -> None:
        check_logical_name(name)
        for ix in indexes:
            if not _FIELD.match(ix.field):
                raise ValueError(f"bad field name {ix.field!r}")
        self.store, self.name, self.generation = store, name, generation
        self.indexes = {"_id": Index("_id"), **{ix.field: ix for ix in indexes}}

    @property
    def _coll(self) -> PyMongoCollection:
        """The collection this operation uses: read once per operation, never in the middle of one."""
        return self.store._collection(self.name, self.generation, self.indexes)

    # -- writes -----------------------------------------------------------------------------
    @transient_errors
    def get(self, doc_id: str) -> dict[str, Any] | None:
        return self._coll.find_one({"_id": doc_id})

    def known(self, docs: Mapping[str, dict[str, Any] | None]) -> None:
        """Nothing to remember outside a unit of work (`shared.readstore.buffer`)."""

    def add_if_absent(self, doc_id: str, doc: Mapping[str, Any]) -> None:
        self.insert_if_absent(doc_id, doc)

    @transient_errors
    def get_many(self, doc_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        return self._get_many(self._coll, doc_ids)

    def _get_many(self, coll: PyMongoCollection, doc_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        ids = list(dict.fromkeys(doc_ids))
        if self.store.reads_one_by_one(coll, len(ids)):
            one_by_one = (coll.find_one({"_id": doc_id}) for doc_id in ids)
            return {doc["_id"]: doc for doc in one_by_one if doc is not None}
        if len(ids) > _IN_CHUNK and self.store.handle.ferretdb:
            # each `$in` reads the whole collection there (and tests each document against every id), so
            # one read of it filtered here is the cheapest (2,000 ids of 10,000 documents: four `$in` of
            # 500 2.4 s, one `$in` of 2,000 1.0 s, the whole collection 0.67 s; measured 2026-12-08)
            wanted = set(ids)
            return {doc["_id"]: doc for doc in coll.find() if doc["_id"] in wanted}
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), _IN_CHUNK):
            found.update((doc["_id"], doc) for doc in coll.find({"_id": {"$in": ids[start:start + _IN_CHUNK]}}))
        return found

    @transient_errors
    def bulk(self, writes: Sequence[Write]) -> list[Outcome]:
        """The writes in one unordered `bulk_write` (each document appears in it once, so order does not
        matter), with the outcome of doing them one by one (`fold`):

        - a document only applied to (a projection's stream documents): its versions are folded in
          memory from the document read with all the others in one `$in` query, and written as one
          insert (new) or one replace guarded by the version it was read at — a duplicate changes
          nothing, a gap raises before anything is written;
        - a document with one upsert, insert-if-absent or delete: that operation as it is, no read;
        - anything else (a document both applied to and upserted, an upsert one update document cannot
          express): one by one through the single-document methods, after the bulk.
        A guard that no longer matches (another writer got there between the read and the write) sends
        that document's writes through `apply` one by one, which tells duplicates and gaps apart again."""
        for write in writes:
            if isinstance(write, (Apply, Upsert)):
                _check_keys(write.update)
        coll = self._coll
        outcomes: list[Outcome] = [None] * len(writes)
        per_doc: dict[str, list[int]] = {}
        for i, write in enumerate(writes):
            per_doc.setdefault(write.doc_id, []).append(i)
        applied_only = [d for d, idx in per_doc.items() if all(isinstance(writes[i], Apply) for i in idx)]
        current = self._get_many(coll, applied_only) if applied_only else {}
        requests: list[Any] = []
        meaning: list[tuple[str, str, int]] = []  # per request: (doc id, kind, its write's index or final version)
        later: list[str] = []  # documents written one by one after the bulk
        for doc_id in applied_only:
            before = doc = current.get(doc_id)
            for i in per_doc[doc_id]:
                outcomes[i], doc = fold(self.name, writes[i], doc)
            if doc is before or doc is None:
                continue  # every version a duplicate
            if before is None:
                requests.append(InsertOne(doc))
            else:
                guard = ({"_version": before["_version"]} if "_version" in before
                         else {"_version": {"$exists": False}})
                requests.append(ReplaceOne({"_id": doc_id, **guard}, doc))
            meaning.append((doc_id, "apply", doc["_version"]))
        only_applied = set(applied_only)
        for doc_id, idx in per_doc.items():
            if doc_id in only_applied:
                continue
            write = writes[idx[0]]
            request = _request(write) if len(idx) == 1 else None
            if request is None:
                later.append(doc_id)
                continue
            requests.append(request)
            meaning.append((doc_id, type(write).__name__, idx[0]))
            if isinstance(write, InsertIfAbsent):
                outcomes[idx[0]] = True  # unless the bulk finds it there already
        conflicts: set[str] = set()
        # the applies and the rest in two bulks, so that the applies' matched count is the replaces' own
        for kinds in (("apply",), ("Upsert", "InsertIfAbsent", "Delete")):
            chosen = [i for i, m in enumerate(meaning) if m[1] in kinds]
            if not chosen:
                continue
            failed: dict[int, int] = {}
            matched = 0
            for part in (chosen[i:i + _BULK_CHUNK] for i in range(0, len(chosen), _BULK_CHUNK)):
                try:
                    matched += coll.bulk_write([requests[i] for i in part], ordered=False).matched_count
                except BulkWriteError as exc:
                    failed.update({part[e["index"]]: e.get("code", 0) for e in exc.details.get("writeErrors", [])})
                    matched += exc.details.get("nMatched", 0)
            for index, code in failed.items():
                doc_id, kind, which = meaning[index]
                if code != _DUPLICATE_KEY:
                    raise TransientError(f"{self.name}/{doc_id}: bulk write failed with code {code}")
                if kind == "InsertIfAbsent":
                    outcomes[which] = False  # it was there already
                else:  # a new document someone else created meanwhile, or a concurrent upsert's insert
                    conflicts.add(doc_id)
            guarded = [meaning[i][0] for i in chosen
                       if meaning[i][1] == "apply" and meaning[i][0] in current and i not in failed]
            if matched < len(guarded):  # some guard matched nothing: which (not at the version written)?
                wanted = {m[0]: m[2] for m in meaning if m[1] == "apply"}
                now = self._get_many(coll, guarded)
                conflicts |= {d for d in guarded if (now.get(d) or {}).get("_version") != wanted[d]}
        for doc_id in [*sorted(conflicts), *later]:
            for i in per_doc[doc_id]:
                outcomes[i] = self._one(writes[i])
        return outcomes

    def _one(self, write: Write) -> Outcome:
        """A write through the single-document methods."""
        if isinstance(write, Apply):
            return self.apply(write.doc_id, write.version, write.update)
        if isinstance(write, Upsert):
            self.upsert(write.doc_id, write.update)
            return None
        if isinstance(write, InsertIfAbsent):
            return self.insert_if_absent(write.doc_id, write.doc)
        self.delete(write.doc_id)
        return None

    @transient_errors
    def apply(self, doc_id: str, version: int, update: Update) -> str:
        _check_keys(update)
        coll = self._coll
        if version == 1:
            # Usually a new document: insert what the reference makes of nothing (one round trip,
            # and an _id lookup that even FerretDB does without a collection scan).
            doc = update.apply_to({}, inserting=True)
            doc["_id"], doc["_version"] = doc_id, 1
            try:
                coll.insert_one(doc)
                return APPLIED
            except DuplicateKeyError:
                pass
        else:
            operators = translate(update, ignore=("_id", "_version"))
            if operators is None:
                return self._apply_by_replacing(coll, doc_id, version, update)
            operators.setdefault("$set", {})["_version"] = version
            if coll.update_one({"_id": doc_id, "_version": version - 1}, operators).matched_count:
                return APPLIED
        outcome = self._classify(doc_id, coll.find_one({"_id": doc_id}), version)
        if outcome is not None:
            return outcome
        # The document is at version-1 after all: it changed meanwhile, or it was written without a
        # version (by upsert or insert_if_absent), so it is not new and set_on_insert must not apply.
        return self._apply_by_replacing(coll, doc_id, version, update)

    def _classify(self, doc_id: str, current: dict[str, Any] | None, version: int) -> str | None:
        """DUPLICATE, or VersionGap raised, or None when `version` is the next one."""
        last = current.get("_version", 0) if current else 0
        if version <= last:
            return DUPLICATE
        if version != last + 1:
            raise VersionGap(self.name, doc_id, last, version)
        return None

    def _apply_by_replacing(self, coll: PyMongoCollection, doc_id: str, version: int, update: Update) -> str:
        for _ in range(_ATTEMPTS):
            current = coll.find_one({"_id": doc_id})
            outcome = self._classify(doc_id, current, version)
            if outcome is not None:
                return outcome
            doc = update.apply_to(current or {}, inserting=current is None)
            doc["_id"], doc["_version"] = doc_id, version
            if current is None:
                try:
                    coll.insert_one(doc)
                    return APPLIED
                except DuplicateKeyError:
                    continue
            guard = ({"_version": current["_version"]} if "_version" in current
                     else {"_version": {"$exists": False}})
            if coll.replace_one({"_id": doc_id, **guard}, doc).matched_count:
                return APPLIED
        raise TransientError(f"{self.name}/{doc_id} is changing too fast to apply version {version}")

    @transient_errors
    def upsert(self, doc_id: str, update: Update) -> None:
        _check_keys(update)
        operators = translate(update, ignore=("_id",))
        coll = self._coll
        if operators is None:
            self._upsert_by_compare_and_set(coll, doc_id, update)
            return
        for _ in range(_ATTEMPTS):
            try:
                if not operators:  # nothing to change: only make sure the document exists
                    coll.insert_one({"_id": doc_id})
                    return
                result = coll.update_one({"_id": doc_id}, operators, upsert=True)
            except DuplicateKeyError:  # a concurrent upsert inserted it first
                if not operators:
                    return
                continue
            if result.matched_count and not result.modified_count:
                # FerretDB v1 writes nothing when the only change is an empty $push/$addToSet
                # creating a missing field; MongoDB creates `[]`, as the reference does.
                for op in ("$push", "$addToSet"):
                    for name, spec in operators.get(op, {}).items():
                        if not spec["$each"]:
                            coll.update_one({"_id": doc_id, name: {"$exists": False}}, {"$set": {name: []}})
            return
        raise TransientError(f"{self.name}/{doc_id} is changing too fast to upsert")

    def _upsert_by_compare_and_set(self, coll: PyMongoCollection, doc_id: str, update: Update) -> None:
        touched = [f for f in _fields(update) if f != "_id"]
        for _ in range(_ATTEMPTS):
            current = coll.find_one({"_id": doc_id})
            doc = update.apply_to(current or {}, inserting=current is None)
            doc["_id"] = doc_id
            if current is None:
                try:
                    coll.insert_one(doc)
                    return
                except DuplicateKeyError:
                    continue
            guard: dict[str, Any] = {"_id": doc_id}
            for f in touched:
                guard[f] = {"$eq": current[f]} if f in current else {"$exists": False}
            operators: dict[str, dict[str, Any]] = {}
            for f in touched:
                if f in doc:
                    operators.setdefault("$set", {})[f] = doc[f]
                else:
                    operators.setdefault("$unset", {})[f] = ""
            if coll.update_one(guard, operators).matched_count:
                return
        raise TransientError(f"{self.name}/{doc_id} is changing too fast to upsert")

    @transient_errors
    def insert_if_absent(self, doc_id: str, doc: Mapping[str, Any]) -> bool:
        try:
            self._coll.insert_one({"_id": doc_id, **{k: v for k, v in doc.items() if k != "_id"}})
            return True
        except DuplicateKeyError:
            return False

    @transient_errors
    def delete(self, doc_id: str) -> None:
        self._coll.delete_one({"_id": doc_id})

    # -- queries ----------------------------------------------------------------------------
    def _check(self, name: str) -> None:
        if name not in self.indexes:
            raise ValueError(f"{self.name}: {name!r} is not an indexed field")

    def _clauses(self, filter: Mapping[str, Any]) -> list[dict[str, Any]]:
        clauses: list[dict[str, Any]] = []
        for name, condition in filter.items():
            self._check(name)
            ops = condition if isinstance(condition, dict) else {"$eq": condition}
            for op, value in ops.items():
                # for an array field MongoDB's own $eq and $in already mean "contains"
                if self.indexes[name].array and op not in ("$eq", "$in", "$all"):
                    raise ValueError(f"{self.name}: array field {name!r} supports only equality, $in and $all")
                if op == "$all" and self.indexes[name].array:
                    if isinstance(value, (str, bytes, Mapping)):
                        raise ValueError(f"$all of {name!r} needs a list of values")
                    # one "contains" per value, so that an empty list asks for nothing (MongoDB's own
                    # `$all: []` would match no document)
                    clauses += [_contains(name, item) for item in value]
                elif op == "$eq" and self.indexes[name].array:
                    clauses.append(_contains(name, value))
                elif op in _RANGES and value is None:
                    clauses.append({name: {"$in": []}})  # as in SQL, no value is above or below null
                elif op in ("$eq", *_COMPARISONS):
                    clauses.append({name: {op: value}})
                elif op == "$in":
                    if isinstance(value, (str, bytes, Mapping)):
                        raise ValueError(f"$in of {name!r} needs a list of values")
                    # as in SQL, null in a list matches nothing (MongoDB's would match a missing field)
                    clauses.append({name: {"$in": [v for v in value if v is not None]}})
                elif op == "$contains":
                    clauses.append({name: {"$regex": re.escape(str(value)), "$options": "i"}})
                else:
                    raise ValueError(f"unsupported operator {op!r}")
        return clauses

    @transient_errors
    def find(self, filter: Mapping[str, Any], sort: Sequence[tuple[str, int]] = (), limit: int = 50,
             cursor: str | None = None) -> Page:
        keys = sort_key(sort)
        for name, _ in keys:
            self._check(name)
        clauses = self._clauses(filter)
        if cursor:
            after = decode_cursor(cursor, len(keys))
            alternatives = []
            for i, (name, direction) in enumerate(keys):
                parts = [{n: {"$eq": after[j]}} for j, (n, _) in enumerate(keys[:i])]
                parts.append({name: {"$gt" if direction > 0 else "$lt": after[i]}})
                alternatives.append(_all(parts))
            clauses.append({"$or": alternatives})
        if limit <= 0:  # as SQLite (LIMIT limit+1 of which `limit` are shown); MongoDB's limit(0) is "all"
            return Page([], None)
        order = [(n, ASCENDING if d > 0 else DESCENDING) for n, d in keys]
        docs = list(self._coll.find(_all(clauses)).sort(order).limit(limit + 1))
        items = docs[:limit]
        next_cursor = None
        if len(docs) > limit and items:
            next_cursor = encode_cursor([items[-1].get(name) for name, _ in keys])
        return Page(items, next_cursor)

    @transient_errors
    def count(self, filter: Mapping[str, Any]) -> int:
        return self._coll.count_documents(_all(self._clauses(filter)))


def _request(write: Write) -> Any:
    """One write of a bulk as it is (no read), or None when it needs the single-document path."""
    if isinstance(write, InsertIfAbsent):
        return InsertOne({"_id": write.doc_id, **{k: v for k, v in write.doc.items() if k != "_id"}})
    if isinstance(write, Delete):
        return DeleteOne({"_id": write.doc_id})
    if isinstance(write, Upsert):
        operators = translate(write.update, ignore=("_id",))
        # nothing to change, or an empty $push/$addToSet (FerretDB v1 would not create the field): see `upsert`
        if not operators or any(not spec["$each"] for op in ("$push", "$addToSet")
                                for spec in operators.get(op, {}).values()):
            return None
        return UpdateOne({"_id": write.doc_id}, operators, upsert=True)
    return None


def _contains(name: str, value: Any) -> dict[str, Any]:
    """An array field holds `value`; as in SQL, never null (MongoDB's would match a missing field)."""
    return {name: {"$in": []}} if value is None else {name: {"$eq": value}}


def _all(clauses: list[dict[str, Any]]) -> dict[str, Any]:
    """The clauses (one field or one `$or` each) as one filter, each field at the top level unless
    it is already there: the same query, but FerretDB v1 pushes a top-level field's equality down to
    PostgreSQL and nothing inside `$and`, where it read the whole collection to filter it itself."""
    merged: dict[str, Any] = {}
    nested: list[dict[str, Any]] = []
    for clause in clauses:
        [(name, condition)] = clause.items()
        if name.startswith("$") or name in merged:
            nested.append(clause)
        else:
            merged[name] = condition
    if nested:
        merged["$and"] = nested
    return merged


_OPERATOR_PARTS = ("inc", "push", "add_to_set", "pull")


def _fields(update: Update) -> list[str]:
    """Every field an update touches, each once, in a stable order."""
    names = [*update.set_on_insert, *update.set, *update.unset, *update.inc, *update.push,
             *update.add_to_set, *update.pull]
    return list(dict.fromkeys(names))


def _check_key(name: str) -> None:
    if not isinstance(name, str) or not name or name.startswith("$") or "." in name or "\x00" in name:
        raise ValueError(f"bad field name {name!r}: MongoDB field names may not be empty, contain '.' "
                         "or start with '$'")


def _check_keys(update: Update) -> None:
    for name in _fields(update):
        _check_key(name)


def translate(update: Update, ignore: Sequence[str] = ()) -> dict[str, dict[str, Any]] | None:
    """One MongoDB update document doing exactly what `update.apply_to` does to any document (with
    `set_on_insert` applied only when the update inserts), or None when there is none.

    A field given by `set` or `unset` ends with a value known in advance, whatever the other operators
    do to it afterwards: it is computed here with the reference code and written with `$set`/`$unset`.
    Fields under several other operators, or under `pull` (the reference turns a missing field into
    `[]`, `$pullAll` would leave it missing), or a `set_on_insert` of null or `[]` (FerretDB v1 drops
    those from `$setOnInsert`) give None."""
    operators: dict[str, dict[str, Any]] = {}
    for name in _fields(update):
        if name in ignore:
            continue
        _check_key(name)
        later = [part for part in _OPERATOR_PARTS if name in getattr(update, part)]
        if name in update.set or name in update.unset:
            start = {name: update.set[name]} if name in update.set else {}
            if name in update.unset:
                start.pop(name, None)
            operations: dict[str, Any] = {part: {name: getattr(update, part)[name]} for part in later}
            rest = Update(**operations)
            final = rest.apply_to(start, inserting=False)
            if name in final:
                operators.setdefault("$set", {})[name] = final[name]
            else:
                operators.setdefault("$unset", {})[name] = ""
        elif len(later) > 1 or (later and name in update.set_on_insert) or "pull" in later:
            return None
        elif later == ["inc"]:
            operators.setdefault("$inc", {})[name] = update.inc[name]
        elif later == ["push"]:
            operators.setdefault("$push", {})[name] = {"$each": list(update.push[name])}
        elif later == ["add_to_set"]:
            operators.setdefault("$addToSet", {})[name] = {"$each": list(update.add_to_set[name])}
        elif name in update.set_on_insert:
            value = update.set_on_insert[name]
            if value is None or (isinstance(value, (list, tuple)) and not value):
                return None  # FerretDB v1's $setOnInsert silently drops null and [] values
            operators.setdefault("$setOnInsert", {})[name] = value
    return operators
