"""The projection's unit of work (`shared.readstore.buffer`): a batch's writes kept in memory and written
as one bulk per collection at its end, on an embedded read store whose calls are counted."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.bus import Message
from shared.contracts.contacts import CONTACTS
from shared.errors import TransientError
from shared.events import Metadata, Recorded
from shared.projection import Projection, on
from shared.readstore import APPLIED, DUPLICATE, Index, ReadStore, Update, VersionGap, open_read_store
from shared.readstore.buffer import WriteBuffer


class Counting:
    """A collection that counts the calls that reach the store."""

    def __init__(self, inner: Any, calls: list[str]) -> None:
        self.inner, self.calls = inner, calls

    def __getattr__(self, name: str) -> Any:
        if name != "name":
            self.calls.append(name)
        return getattr(self.inner, name)


class CountingStore:
    def __init__(self, inner: ReadStore) -> None:
        self.inner, self.calls = inner, []

    def collection(self, name: str, indexes: Any = (), **options: Any) -> Counting:
        return Counting(self.inner.collection(name, indexes, **options), self.calls)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class Log(Projection):
    """Each contact's names, and a row per event (keyed by its id)."""

    name = "test-log"
    catalogs = (CONTACTS,)

    def __init__(self, read_store: ReadStore, **options: Any) -> None:
        super().__init__(read_store, **options)
        self.docs = read_store.collection("test_log_names")
        self.rows = read_store.collection("test_log_rows", (Index("contact_id"),))
        self.versioned = {CONTACTS.aggregate: self.docs}
        self.seen: list[Any] = []
        self.fail_on: str | None = None

    @on("ContactAdded")
    def added(self, envelope: dict[str, Any], event: Recorded) -> None:
        self._named(envelope, event.data["name"])

    @on("ContactDetailsChanged")
    def changed(self, envelope: dict[str, Any], event: Recorded) -> None:
        self._named(envelope, event.data["name"])

    def _named(self, envelope: dict[str, Any], name: str) -> None:
        if name == self.fail_on:
            raise ValueError("cannot apply")
        self.write(envelope, Update(set={"name": name}, push={"names": [name]}))
        self.seen.append(self.docs.get(envelope["subject"])["names"])  # read-your-writes
        self.rows.add_if_absent(envelope["id"], {"contact_id": envelope["subject"], "name": name})


def message(contact: str, version: int, name: str) -> Message:
    kind = "ContactAdded" if version == 1 else "ContactDetailsChanged"
    data = {"student_id": "s-1", "name": name} if version == 1 else {"name": name}
    envelope = CONTACTS.envelope(Recorded(kind, data), stream_id=contact, stream_version=version, owner_id="s-1",
                                 meta=Metadata(actor="s-1"))
    return Message(CONTACTS.topic, 0, version - 1, contact, json.dumps(envelope).encode())


BATCH = [message("c-1", 1, "Ada"), message("c-2", 1, "Bob"), message("c-1", 2, "Ada L."), message("c-1", 3, "A.")]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CountingStore]:
    inner = open_read_store(f"sqlite:///{tmp_path}/read.db")
    yield CountingStore(inner)
    inner.close()


def test_a_batch_reads_each_collection_once_and_writes_it_in_one_bulk(store: CountingStore) -> None:
    log = Log(store)
    store.calls.clear()
    log.handle(BATCH)
    # one read of the stream documents, up front (the event rows are never read); one bulk each at the end
    assert sorted(store.calls) == ["bulk", "bulk", "get_many"]
    # and each reaction saw its own writes and those of the batch before it
    assert log.seen == [["Ada"], ["Bob"], ["Ada", "Ada L."], ["Ada", "Ada L.", "A."]]
    assert {d: log.docs.get(d)["names"] for d in ("c-1", "c-2")} == {"c-1": ["Ada", "Ada L.", "A."], "c-2": ["Bob"]}
    assert log.docs.get("c-1")["_version"] == 3 and log.rows.count({"contact_id": "c-1"}) == 3


def test_a_redelivered_batch_writes_nothing(store: CountingStore) -> None:
    log = Log(store)
    log.handle(BATCH)
    before = (log.docs.get_many(["c-1", "c-2"]), log.rows.count({}))
    store.calls.clear()
    log.handle([*BATCH, message("c-2", 2, "Bo")])  # the same events again, and one new
    assert store.calls.count("bulk") == 2
    assert log.docs.get("c-1") == before[0]["c-1"]
    assert log.docs.get("c-2")["names"] == ["Bob", "Bo"] and log.rows.count({}) == before[1] + 1


def test_a_failing_batch_is_discarded_whole_and_the_next_one_starts_from_the_store(store: CountingStore) -> None:
    log = Log(store)
    log.fail_on = "A."
    with pytest.raises(ValueError):
        log.handle(BATCH)
    assert log.docs.get("c-1") is None and log.rows.count({}) == 0  # nothing of the failed batch
    log.fail_on = None
    log.handle(BATCH[:2])  # the runner's one-by-one retry starts again from what is stored
    assert log.docs.get("c-1")["names"] == ["Ada"]


def test_a_gap_raises_at_the_write_before_anything_is_written(store: CountingStore) -> None:
    log = Log(store)
    with pytest.raises(VersionGap):
        log.handle([message("c-1", 1, "Ada"), message("c-1", 3, "A.")])
    assert log.docs.get("c-1") is None


def test_queries_see_the_batchs_writes_and_blind_writes_are_not_read(store: CountingStore) -> None:
    buffer = WriteBuffer(store)
    rows = buffer.collection("rows", (Index("kind"),))
    rows.upsert("r-0", Update(set={"kind": "old"}))  # outside a batch: straight to the store
    store.calls.clear()
    with buffer.batch():
        rows.upsert("r-0", Update(inc={"n": 1}))  # not read: queued as it is
        rows.upsert("r-1", Update(set={"kind": "new"}))
        assert store.calls == []
        assert rows.get("r-0") == {"_id": "r-0", "kind": "old", "n": 1}  # read once, the queued upsert on top
        assert rows.count({"kind": "new"}) == 1  # a query writes the queue first
        rows.delete("r-1")
        assert rows.insert_if_absent("r-1", {"kind": "again"}) is True
        assert rows.apply("r-2", 1, Update(set={"kind": "v"})) == APPLIED
        assert rows.apply("r-2", 1, Update(set={"kind": "w"})) == DUPLICATE
    assert store.calls.count("bulk") == 2 and store.calls.count("get") + store.calls.count("get_many") == 2
    assert {d["_id"]: d.get("kind") for d in rows.find({}).items} == {"r-0": "old", "r-1": "again", "r-2": "v"}


def test_a_store_that_changed_under_the_batch_makes_it_handled_again(store: CountingStore) -> None:
    buffer = WriteBuffer(store)
    docs = buffer.collection("docs")
    other = store.inner.collection("docs")
    with pytest.raises(TransientError), buffer.batch():
        assert docs.apply("d-1", 1, Update(set={"by": "batch"})) == APPLIED
        other.apply("d-1", 1, Update(set={"by": "someone else"}))  # another writer, between read and write
    # the batch's write never replaced the other one (on SQLite the whole transaction rolled back)
    assert (other.get("d-1") or {}).get("by") != "batch"


def test_a_blind_insert_reads_nothing_and_keeps_what_is_stored(store: CountingStore) -> None:
    # a row per event written again by a redelivery: not read for it, and the stored row stays as it is
    buffer = WriteBuffer(store)
    rows = buffer.collection("rows")
    rows.insert_if_absent("e-1", {"name": "first"})
    store.calls.clear()
    with buffer.batch():
        rows.add_if_absent("e-1", {"name": "again"})
        rows.add_if_absent("e-2", {"name": "new"})
        assert store.calls == []
        assert rows.get("e-1") == {"_id": "e-1", "name": "first"}  # read now: the blind insert folded on top
    assert store.calls.count("bulk") == 1
    assert {d["_id"]: d["name"] for d in rows.find({}).items} == {"e-1": "first", "e-2": "new"}


def test_what_a_query_found_is_known_to_the_batch_and_not_read_again(store: CountingStore) -> None:
    buffer = WriteBuffer(store)
    items = buffer.collection("items", (Index("student_id"),))
    items.insert_if_absent("i-1", {"student_id": "s-1", "n": 1})
    other = store.inner.collection("items")
    with pytest.raises(TransientError), buffer.batch():
        found = {d["_id"]: d for d in items.find({"student_id": "s-1"}).items}
        items.known({"i-1": found.get("i-1"), "i-2": found.get("i-2")})
        store.calls.clear()
        assert items.insert_if_absent("i-2", {"student_id": "s-1", "n": 2}) is True  # known absent: not read
        assert items.get("i-1") == {"_id": "i-1", "student_id": "s-1", "n": 1}
        assert store.calls == []
        other.insert_if_absent("i-2", {"student_id": "s-1", "n": 3})  # another writer got there first
    # the batch is handled again rather than overwrite it (on SQLite the whole transaction rolled back)
    assert (other.get("i-2") or {}).get("n") != 2
