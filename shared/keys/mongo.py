"""The key store on MongoDB (or FerretDB): one collection `data_keys` in the URL's database, `_id` =
the subject, a unique index on `key_id`. Every operation is one atomic single-document write."""
from __future__ import annotations

import contextlib
from typing import Any

from bson.binary import Binary
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from shared.eventstore.mongo import MongoHandle, create_indexes, transient_errors
from shared.keys.port import KeyRecord

COLLECTION = "data_keys"
# `erased: true` on a tombstone beside its `erased_at`: every process asks for the latest erasure every
# second (shared.keys.vault), and FerretDB v1 filters a boolean's equality in PostgreSQL but reads the
# whole collection for `erased_at $ne null`
ERASED_FLAG = "erased"
# one document per migration of COLLECTION done, so a process start asks one `_id` instead of scanning
MIGRATIONS = "data_keys_migrations"


def _indexes(db: Database) -> None:
    create_indexes(db[COLLECTION], [IndexModel([("key_id", ASCENDING)], unique=True, name="key_id"),
                                    IndexModel([("master_key_id", ASCENDING), ("_id", ASCENDING)], name="master"),
                                    IndexModel([("erased_at", DESCENDING)], name="erased")])
    if db[MIGRATIONS].find_one({"_id": ERASED_FLAG}) is None:  # tombstones written before they carried it
        db[COLLECTION].update_many({"erased_at": {"$ne": None}, ERASED_FLAG: {"$ne": True}},
                                   {"$set": {ERASED_FLAG: True}})
        with contextlib.suppress(DuplicateKeyError):  # another process got there too: the same update
            db[MIGRATIONS].insert_one({"_id": ERASED_FLAG})


def _record(doc: dict[str, Any] | None) -> KeyRecord | None:
    if doc is None:
        return None
    wrapped = doc.get("wrapped")
    return KeyRecord(doc["_id"], doc["key_id"], bytes(wrapped) if wrapped is not None else None,
                     doc.get("master_key_id"), doc["created_at"], doc.get("erased_at"))


class MongoKeyStore:
    def __init__(self, url: str) -> None:
        self.handle = MongoHandle(url)

    @property
    def keys(self) -> Any:
        return self.handle.prepared("keys", _indexes)[COLLECTION]

    @transient_errors
    def create(self, record: KeyRecord) -> KeyRecord:
        with contextlib.suppress(DuplicateKeyError):  # another process created it first: that one stands
            self.keys.insert_one({"_id": record.subject, "key_id": record.key_id,
                                  "wrapped": Binary(record.wrapped) if record.wrapped is not None else None,
                                  "master_key_id": record.master_key_id, "created_at": record.created_at,
                                  "erased_at": record.erased_at})
        stored = self.by_subject(record.subject)
        assert stored is not None
        return stored

    @transient_errors
    def by_subject(self, subject: str) -> KeyRecord | None:
        return _record(self.keys.find_one({"_id": subject}))

    @transient_errors
    def by_key_id(self, key_id: str) -> KeyRecord | None:
        return _record(self.keys.find_one({"key_id": key_id}))

    @transient_errors
    def shred(self, subject: str, erased_at: str) -> bool:
        try:
            self.keys.insert_one({"_id": subject, "key_id": f"erased:{subject}", "wrapped": None,
                                  "master_key_id": None, "created_at": erased_at, "erased_at": erased_at,
                                  ERASED_FLAG: True})
            return True
        except DuplicateKeyError:
            pass
        result = self.keys.update_one({"_id": subject, "erased_at": None},
                                      {"$set": {"wrapped": None, "master_key_id": None, "erased_at": erased_at,
                                                ERASED_FLAG: True}})
        return result.modified_count == 1

    @transient_errors
    def rewrap(self, subject: str, expected: bytes, wrapped: bytes, master_key_id: str) -> bool:
        result = self.keys.update_one({"_id": subject, "wrapped": Binary(expected)},
                                      {"$set": {"wrapped": Binary(wrapped), "master_key_id": master_key_id}})
        return result.modified_count == 1

    @transient_errors
    def last_erased_at(self) -> str | None:
        doc = self.keys.find_one({ERASED_FLAG: True}, {"erased_at": 1}, sort=[("erased_at", DESCENDING)])
        return doc["erased_at"] if doc else None

    @transient_errors
    def erased_subjects(self) -> list[str]:
        return [doc["_id"] for doc in self.keys.find({ERASED_FLAG: True}, {"_id": 1})]

    @transient_errors
    def live_subjects_under(self, subject: str) -> list[str]:
        prefix = subject + "/"
        docs = self.keys.find({"_id": {"$gte": prefix, "$lt": prefix[:-1] + chr(ord("/") + 1)}, "erased_at": None},
                              {"_id": 1}, sort=[("_id", ASCENDING)])
        return [doc["_id"] for doc in docs]

    @transient_errors
    def wrapped_by_other_than(self, master_key_id: str, after: str = "", limit: int = 500) -> list[KeyRecord]:
        docs = self.keys.find({"erased_at": None, "master_key_id": {"$ne": master_key_id}, "_id": {"$gt": after}},
                              sort=[("_id", ASCENDING)], limit=limit)
        return [r for r in map(_record, docs) if r is not None]

    def prepare(self) -> None:
        self.keys  # noqa: B018  (declaring the collection creates its indexes)

    def ping(self) -> None:
        self.handle.ping()

    def drop_database(self) -> None:
        self.handle.drop_database()

    def close(self) -> None:
        self.handle.close()
