"""What only the MongoDB adapters (shared.eventstore.mongo, shared.readstore.mongo, shared.keys.mongo) have
to get right, beyond the ports' contracts.

URL parsing, the no-I/O constructors and the update translation need no server; the rest runs
against the MongoDB-wire server named by MONGODB_URI (skipped without one, a failure under CI=true).
"""
from __future__ import annotations

import itertools
import json
import multiprocessing
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymongo.collection import Collection as PyMongoCollection

from shared.errors import TransientError
from shared.eventstore import open_event_store
from shared.eventstore.mongo import MongoEventStore, MongoHandle, database_name
from shared.keys.mongo import COLLECTION as KEYS_COLLECTION
from shared.keys.mongo import MongoKeyStore
from shared.readstore import APPLIED, DUPLICATE, Index, Update, open_read_store
from shared.readstore.mongo import MongoReadStore, translate
from tests.backends import require_env, unique
from tests.support import wait_until

from ._support import unique_name

STREAM_TYPE = "contact"


def closed_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def event(stream: str, version: int, **data: Any) -> dict[str, Any]:
    return {"id": f"{stream}-{version}", "subject": stream, "streamversion": version, "data": data}


@pytest.fixture
def mongo_uri() -> str:
    return require_env("MONGODB_URI", "a MongoDB-wire server").rstrip("/")


@pytest.fixture
def events_url(mongo_uri: str) -> str:
    return f"{mongo_uri}/{unique('test_events')}"


@pytest.fixture
def store(events_url: str) -> Iterator[MongoEventStore]:
    store = MongoEventStore(events_url)
    yield store
    store.drop_database()
    store.close()


@pytest.fixture
def read_store(mongo_uri: str) -> Iterator[MongoReadStore]:
    store = MongoReadStore(f"{mongo_uri}/{unique('test_read')}")
    yield store
    store.drop_database()
    store.close()


# -- no server needed ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("url", "name"), [
    ("mongodb://127.0.0.1:27017/careerloop_contacts", "careerloop_contacts"),
    ("mongodb://u:p%2Fw@h1:1,h2:2/db_1?replicaSet=rs0&w=majority", "db_1"),
    ("mongodb+srv://cluster.example.org/careerloop_read?retryWrites=true", "careerloop_read"),
])
def test_the_database_is_the_path_of_the_url(url, name):
    assert database_name(url) == name


@pytest.mark.parametrize("url", ["mongodb://127.0.0.1:27017", "mongodb://127.0.0.1:27017/",
                                 "mongodb://127.0.0.1:27017/?w=1", "mongodb://h/a.b", "sqlite:///x.db"])
def test_a_url_without_a_usable_database_name_is_refused_at_once(url):
    with pytest.raises(ValueError):
        MongoEventStore(url)
    with pytest.raises(ValueError):
        MongoReadStore(url)


def test_client_defaults_give_way_to_options_in_the_url():
    assert MongoHandle("mongodb://h/db")._defaults()["serverSelectionTimeoutMS"] == 5000
    assert "serverSelectionTimeoutMS" not in MongoHandle("mongodb://h/db?serverselectiontimeoutms=50")._defaults()


def test_opening_the_stores_and_declaring_collections_does_no_network_io():
    url = f"mongodb://127.0.0.1:{closed_port()}/nothing_here"
    events, reads = open_event_store(url), open_read_store(url)
    reads.collection("contacts", [Index("name")])
    assert events.handle._client is None and reads.handle._client is None
    events.close()
    reads.close()


@pytest.mark.parametrize(("update", "expected"), [
    (Update(), {}),
    (Update(set={"a": 1}, unset=["b"], inc={"n": 2}, push={"l": [1]}, add_to_set={"t": ["x"]},
            set_on_insert={"c": 0}),
     {"$set": {"a": 1}, "$unset": {"b": ""}, "$inc": {"n": 2}, "$push": {"l": {"$each": [1]}},
      "$addToSet": {"t": {"$each": ["x"]}}, "$setOnInsert": {"c": 0}}),
    # a field under set (or unset) ends with a value known in advance: one $set or $unset
    (Update(set={"n": 1, "l": [1]}, inc={"n": 2}, push={"l": [2, 2]}, pull={"l": [1]}),
     {"$set": {"n": 3, "l": [2, 2]}}),
    (Update(unset=["l", "n"], add_to_set={"l": [1, 1]}, inc={"n": 1}), {"$set": {"l": [1], "n": 1}}),
    (Update(set={"a": 1}, unset=["a"], set_on_insert={"a": 2}), {"$unset": {"a": ""}}),
    # the bookkeeping fields are left to the adapter
    (Update(set={"_id": "x", "_version": 9, "a": 1}), {"$set": {"a": 1}}),
])
def test_an_update_becomes_one_update_document_touching_each_field_once(update, expected):
    assert translate(update, ignore=("_id", "_version")) == expected


@pytest.mark.parametrize("update", [
    Update(pull={"l": [1]}),                                  # a missing field must become []
    Update(push={"l": [1]}, pull={"l": [1]}),                 # two operators on one field
    Update(inc={"n": 1}, set_on_insert={"n": 5}),
    Update(set_on_insert={"a": None}),                        # FerretDB v1 drops these
    Update(set_on_insert={"a": []}),
])
def test_an_update_one_document_cannot_express_is_left_to_the_compare_and_set_path(update):
    assert translate(update) is None


@pytest.mark.parametrize("name", ["a.b", "$x", ""])
def test_field_names_mongodb_would_read_as_paths_or_operators_are_refused(name):
    with pytest.raises(ValueError):
        translate(Update(set={name: 1}))


# -- against the server --------------------------------------------------------------------------------

def test_an_unreachable_server_is_a_transient_error():
    url = f"mongodb://127.0.0.1:{closed_port()}/nothing_here?serverSelectionTimeoutMS=200&connectTimeoutMS=200"
    events, reads = MongoEventStore(url), MongoReadStore(url)
    docs = reads.collection("contacts", [Index("name")])
    try:
        for call in (lambda: events.append("s", STREAM_TYPE, 0, [event("s", 1)]), lambda: events.load("s"),
                     events.ping, lambda: events.read_unpublished(10), lambda: events.claim("x", "y", "z"),
                     lambda: docs.apply("d", 1, Update(set={"a": 1})), lambda: docs.find({"name": "x"}),
                     reads.prepare, reads.ping):
            with pytest.raises(TransientError):
                call()
    finally:
        events.close()
        reads.close()


def test_events_round_trip_exactly_whatever_their_keys_and_numbers(store):
    # MongoDB field names may not contain dots or start with $; envelopes are stored as JSON text
    stream = unique_name("s")
    envelope = {"id": "e1", "streamversion": 1, "data": {"a.b": 1, "$where": "x", "big": 2 ** 70,
                                                          "f": 0.1, "u": "Émile ✓", "nested": [{"": None}]}}
    store.append(stream, STREAM_TYPE, 0, [envelope])
    assert store.load(stream) == [envelope]
    assert store.read_unpublished(10)[0].events == [envelope]


def test_a_lost_position_counter_is_repaired_on_the_next_append(store):
    # given commits, then the counter document is lost
    streams = [unique_name("s") for _ in range(3)]
    before = [store.append(s, STREAM_TYPE, 0, [event(s, 1)]) for s in streams]
    store.handle.db.counters.delete_many({})

    # when another commit is appended, then it gets a new, higher position
    late = unique_name("s")
    commit = store.append(late, STREAM_TYPE, 0, [event(late, 1)])
    assert commit.position > max(c.position for c in before)
    assert [c.stream_id for c in store.read_all(0, 10)] == [*streams, late]


class _HidingCursor:
    """A cursor that does not yield some documents: what a MongoDB scan misses when they are
    inserted behind its position while it runs (so they do not count towards its limit either)."""

    def __init__(self, cursor: Any, hidden: set[int]) -> None:
        self.cursor, self.hidden, self.limit_to = cursor, hidden, 0

    def sort(self, *args: Any, **kwargs: Any) -> _HidingCursor:
        self.cursor = self.cursor.sort(*args, **kwargs)
        return self

    def limit(self, limit: int) -> _HidingCursor:
        self.limit_to = limit
        return self

    def batch_size(self, size: int) -> _HidingCursor:
        return self

    def __iter__(self) -> Iterator[dict[str, Any]]:
        seen = (doc for doc in self.cursor if doc["_id"] not in self.hidden)
        return itertools.islice(seen, self.limit_to or None)


def _hide_from_the_first_scan(monkeypatch: pytest.MonkeyPatch, store: MongoEventStore, hidden: set[int]) -> None:
    from pymongo.collection import Collection

    original = Collection.find
    calls = []

    def find(self: Collection, *args: Any, **kwargs: Any) -> Any:
        cursor = original(self, *args, **kwargs)
        if self.name != "commits":  # the position counter, read first
            return cursor
        calls.append(args)
        return _HidingCursor(cursor, hidden) if len(calls) == 1 else cursor

    monkeypatch.setattr(Collection, "find", find)


@pytest.mark.parametrize("read", ["unpublished", "all"])
def test_a_batch_never_holds_a_later_commit_of_a_stream_without_the_earlier_unpublished_ones(
        store, monkeypatch, read):
    # given a stream with three commits and another stream
    stream, other = unique_name("s"), unique_name("o")
    first = store.append(stream, STREAM_TYPE, 0, [event(stream, 1)])
    second = store.append(stream, STREAM_TYPE, 1, [event(stream, 2)])
    third = store.append(other, STREAM_TYPE, 0, [event(other, 1)])
    fourth = store.append(stream, STREAM_TYPE, 2, [event(stream, 3)])

    # when the scan misses the stream's first commits (as a concurrent insert can make it)
    _hide_from_the_first_scan(monkeypatch, store, {first.position, second.position})
    batch = store.read_unpublished(10) if read == "unpublished" else store.read_all(0, 10)

    # then the batch still holds them, before the later commit, in position order
    assert batch == [first, second, third, fourth]


def test_a_completed_batch_is_cut_to_the_limit_without_splitting_a_stream(store, monkeypatch):
    stream, other = unique_name("s"), unique_name("o")
    first = store.append(stream, STREAM_TYPE, 0, [event(stream, 1)])
    second = store.append(other, STREAM_TYPE, 0, [event(other, 1)])
    store.append(stream, STREAM_TYPE, 1, [event(stream, 2)])
    _hide_from_the_first_scan(monkeypatch, store, {first.position})
    # the scan sees [second, third]; first is added back, and the limit keeps the oldest two
    assert store.read_unpublished(2) == [first, second]


def _count_commit_scans(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """The finds on the commits collection from now on (the position counter's are left out)."""
    from pymongo.collection import Collection

    scans: list[tuple] = []
    original = Collection.find
    monkeypatch.setattr(Collection, "find", lambda self, *a, **k: (
        scans.append(a) if self.name == "commits" else None) or original(self, *a, **k))
    return scans


def test_the_relay_looks_again_only_for_streams_it_has_not_published_up_to_the_batch(store, monkeypatch):
    stream = unique_name("s")
    first = store.append(stream, STREAM_TYPE, 0, [event(stream, 1)])
    assert store.read_unpublished(1) == [first]
    store.mark_published([first.position])  # published through version 1

    # a scan that misses version 2 still gets it: version 3 does not follow on from version 1
    second = store.append(stream, STREAM_TYPE, 1, [event(stream, 2)])
    third = store.append(stream, STREAM_TYPE, 2, [event(stream, 3)])
    _hide_from_the_first_scan(monkeypatch, store, {second.position})
    assert store.read_unpublished(10) == [second, third]
    store.mark_published([second.position, third.position])
    monkeypatch.undo()

    # version 4 follows on from the published version 3: one query, nothing to complete
    fourth = store.append(stream, STREAM_TYPE, 3, [event(stream, 4)])
    queries = _count_commit_scans(monkeypatch)
    assert store.read_unpublished(10) == [fourth]
    assert len(queries) == 1


def test_an_idle_relay_reads_the_commits_again_when_a_position_is_taken_or_after_a_while(store, monkeypatch):
    import shared.eventstore.mongo as mongo
    monkeypatch.setattr(mongo, "_QUIET_RECHECK_SECONDS", 0.5)
    scans = _count_commit_scans(monkeypatch)
    store.mark_published([c.position for c in store.read_unpublished(10_000)])
    assert store.read_unpublished(10) == []  # found nothing: quiet
    scans.clear()

    # nothing appended: the commits are not scanned
    assert store.read_unpublished(10) == [] and scans == []

    # an append takes a position: read at once
    stream = unique_name("s")
    first = store.append(stream, STREAM_TYPE, 0, [event(stream, 1)])
    assert store.read_unpublished(10) == [first]
    store.mark_published([first.position])
    assert store.read_unpublished(10) == []

    # a commit whose position was taken before the last read, inserted after it: found within the interval
    late_stream = unique_name("late")
    late = store.append(late_stream, STREAM_TYPE, 0, [event(late_stream, 1)])
    store._db.commits.delete_one({"_id": late.position})  # as if not inserted yet, its position taken
    store._quiet = None
    assert store.read_unpublished(10) == []
    store._db.commits.insert_one({"_id": late.position, "stream_id": late.stream_id, "stream_type": STREAM_TYPE,
                                  "first_version": 1, "last_version": 1, "events": json.dumps(late.events),
                                  "recorded_at": late.recorded_at, "published": False})
    assert store.read_unpublished(10) == []  # the counter did not move
    wait_until(lambda: store.read_unpublished(10) == [late], what="the late commit read", timeout=5)


def _append_in_child(url: str, stream: str, results: Any) -> None:
    try:
        commit = _FORKED_STORE.append(stream, STREAM_TYPE, 1, [event(stream, 2)])  # type: ignore[name-defined]
        results.put(("ok", commit.last_version, _FORKED_STORE.handle._client is not _PARENT_CLIENT))  # type: ignore[name-defined]
    except BaseException as exc:  # reported by the parent
        results.put(("crashed", repr(exc), False))
    finally:
        _FORKED_STORE.close()  # type: ignore[name-defined]


def test_a_forked_child_uses_its_own_client_and_the_parent_keeps_working(store, events_url):
    global _FORKED_STORE, _PARENT_CLIENT
    stream = unique_name("s")
    store.append(stream, STREAM_TYPE, 0, [event(stream, 1)])
    _FORKED_STORE, _PARENT_CLIENT = store, store.handle._client  # inherited by the forked child

    context = multiprocessing.get_context("fork")
    results = context.Queue()
    child = context.Process(target=_append_in_child, args=(events_url, stream, results))
    child.start()
    outcome = results.get(timeout=60)
    child.join(timeout=60)

    assert outcome == ("ok", 2, True)
    assert child.exitcode == 0
    assert store.handle._client is _PARENT_CLIENT
    store.append(stream, STREAM_TYPE, 2, [event(stream, 3)])
    assert [e["streamversion"] for e in store.load(stream)] == [1, 2, 3]


def test_prepare_creates_the_declared_indexes_and_a_dropped_collection_gets_them_again(read_store):
    docs = read_store.collection("people", [Index("name"), Index("tags", array=True)])
    read_store.prepare()
    collection = read_store.handle.db["rm_people"]
    assert {"name_1", "tags_1"} <= set(collection.index_information())

    read_store.drop("people")
    docs.insert_if_absent("p1", {"name": "Ada", "tags": ["x"]})
    assert {"name_1", "tags_1"} <= set(collection.index_information())
    assert [d["_id"] for d in docs.find({"tags": "x"}).items] == ["p1"]


def test_version_one_on_a_document_written_without_a_version_updates_it_without_set_on_insert(read_store):
    docs = read_store.collection("contacts")
    docs.upsert("c-1", Update(set={"name": "Ada"}))
    assert docs.apply("c-1", 1, Update(set={"city": "Paris"}, set_on_insert={"created": "now"})) == APPLIED
    assert docs.get("c-1") == {"_id": "c-1", "name": "Ada", "city": "Paris", "_version": 1}
    assert docs.apply("c-1", 1, Update(set={"city": "Rome"})) == DUPLICATE


def test_concurrent_deliveries_of_the_same_versions_apply_each_exactly_once(read_store):
    # given four threads that each deliver versions 1..20 of one document (push is not idempotent)
    docs = read_store.collection("contacts")
    outcomes: list[tuple[int, str]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def deliver() -> None:
        try:
            for version in range(1, 21):
                update = Update(
                    push={"log": [version]}, inc={"n": 1}, pull={"gone": [version]} if version % 5 == 0 else {}
                )
                outcome = docs.apply("c-1", version, update)
                with lock:
                    outcomes.append((version, outcome))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then every version was applied by exactly one of them, in order
    assert not errors
    assert sorted(v for v, outcome in outcomes if outcome == APPLIED) == list(range(1, 21))
    doc = docs.get("c-1")
    assert doc["log"] == list(range(1, 21)) and doc["n"] == 20 and doc["_version"] == 20


# Unlike the contract's generator, one field may be touched by several operators at once (MongoDB
# refuses such update documents, so the adapter must compute or fall back).
COUNTER_OPS = st.sampled_from(["set", "unset", "inc", "set_on_insert"])
LIST_OPS = st.sampled_from(["set", "unset", "push", "add_to_set", "pull", "set_on_insert"])
items = st.lists(st.sampled_from(["a", "b", 1, 2]), max_size=3)


@st.composite
def overlapping_updates(draw: st.DrawFn) -> Update:
    update = Update()
    for name in ("n", "m"):
        for op in draw(st.lists(COUNTER_OPS, max_size=3, unique=True)):
            if op == "unset":
                update.unset.append(name)
            else:
                getattr(update, op)[name] = draw(st.integers(-3, 3))
    for name in ("l", "k"):
        for op in draw(st.lists(LIST_OPS, max_size=3, unique=True)):
            if op == "unset":
                update.unset.append(name)
            else:
                getattr(update, op)[name] = draw(items)
    if draw(st.booleans()):
        update.set_on_insert["s"] = draw(st.none() | st.text("xy", max_size=2))
    return update


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chain=st.lists(overlapping_updates(), min_size=1, max_size=4), use_upsert=st.booleans())
def test_updates_touching_a_field_several_times_still_match_the_reference(read_store, chain, use_upsert):
    docs = read_store.collection("overlap")
    doc_id = unique_name("d")
    expected: dict[str, Any] = {}
    for number, update in enumerate(chain):
        if use_upsert:
            docs.upsert(doc_id, update)
        else:
            assert docs.apply(doc_id, number + 1, update) == APPLIED
        expected = update.apply_to(expected, inserting=number == 0)
        stored = docs.get(doc_id)
        assert {k: v for k, v in stored.items() if k not in ("_id", "_version")} == expected


def test_all_of_no_values_asks_for_nothing_as_in_sqlite(read_store):
    # MongoDB's own {"$all": []} matches no document; the port's $all of nothing is no condition
    people = read_store.collection("people", [Index("tags", array=True)])
    people.insert_if_absent("p1", {"tags": ["a", "b"]})
    people.insert_if_absent("p2", {"name": "no tags"})
    assert people.count({"tags": {"$all": []}}) == 2
    assert [d["_id"] for d in people.find({"tags": {"$all": ["b", "a"]}}).items] == ["p1"]
    with pytest.raises(ValueError):
        people.find({"tags": {"$all": "ab"}})


def test_a_query_keeps_each_field_at_the_top_level_where_the_server_can_use_it(read_store, mongo_uri, monkeypatch):
    # FerretDB v1 filters in PostgreSQL only what stands at the top level; inside $and it read the
    # whole collection and filtered it itself (its explain says which: filterPushdown)
    queue = read_store.collection("queue", [Index("status"), Index("due_at")])
    for i in range(6):
        queue.insert_if_absent(f"n{i}", {"status": "scheduled" if i % 2 else "sent", "due_at": float(i)})
    sent = _finds(monkeypatch)
    due = {"status": "scheduled", "due_at": {"$gt": 0.0, "$lte": 5.0}}
    first = queue.find(due, [("due_at", 1)], 1)
    rest = queue.find(due, [("due_at", 1)], 5, first.next_cursor)
    assert [d["_id"] for d in first.items + rest.items] == ["n1", "n3", "n5"]
    assert [set(f) for f in sent] == [{"status", "due_at", "$and"}] * 2  # the second $lte/$gt, and the cursor's $or
    _assert_filtered_by_the_server(queue._coll, sent)


def test_a_few_documents_of_a_large_collection_are_read_by_id_one_by_one_on_ferretdb(read_store, monkeypatch):
    # FerretDB reads the whole collection for `_id $in`: worth it for a small collection or many ids
    docs, small = read_store.collection("docs"), read_store.collection("small")
    for i in range(200):
        docs.insert_if_absent(f"d{i}", {"n": i})
    for i in range(10):
        small.insert_if_absent(f"s{i}", {"n": i})
    sent = _finds(monkeypatch)
    assert docs.get_many(["d3", "d1", "missing", "d3"]) == {"d3": {"_id": "d3", "n": 3}, "d1": {"_id": "d1", "n": 1}}
    if read_store.handle.ferretdb:
        assert sent == [{"_id": "d3"}, {"_id": "d1"}, {"_id": "missing"}]
    else:
        assert sent == [{"_id": {"$in": ["d3", "d1", "missing"]}}]
    sent.clear()
    assert len(docs.get_many([f"d{i}" for i in range(70)])) == 70
    assert len(small.get_many(["s1", "s2"])) == 2
    assert [set(f["_id"]) for f in sent] == [{"$in"}, {"$in"}]
    # more than one `$in` of 500 would take: one read of the whole collection on FerretDB
    sent.clear()
    assert len(docs.get_many([f"d{i}" for i in range(501)])) == 200
    assert sent == ([None] if read_store.handle.ferretdb else [{"_id": {"$in": [f"d{i}" for i in range(500)]}},
                                                                 {"_id": {"$in": ["d500"]}}])


def test_the_erasure_questions_every_process_asks_each_second_are_filtered_by_the_server(mongo_uri, monkeypatch):
    keys = MongoKeyStore(f"{mongo_uri}/{unique('test_keys')}")
    try:
        # a tombstone as written before tombstones carried their flag: prepare() adds it
        keys.handle.db[KEYS_COLLECTION].insert_one({
            "_id": "student-1", "key_id": "erased:student-1", "wrapped": None, "master_key_id": None,
            "created_at": "2026-01-01T00:00:00+00:00", "erased_at": "2026-01-01T00:00:00+00:00"})
        keys.prepare()
        assert keys.erased_subjects() == ["student-1"]
        assert keys.last_erased_at() == "2026-01-01T00:00:00+00:00"
        # done once: the next process start asks one `_id`, not the whole collection
        updates: list[Any] = []
        update_many = PyMongoCollection.update_many
        monkeypatch.setattr(PyMongoCollection, "update_many", lambda self, *a, **k: (
            updates.append(a), update_many(self, *a, **k))[1])
        again = MongoKeyStore(keys.handle.url)
        try:
            again.prepare()
        finally:
            again.close()
        assert updates == []
        assert keys.shred("student-2", "2026-02-01T00:00:00+00:00")
        sent = _finds(monkeypatch)
        assert keys.last_erased_at() == "2026-02-01T00:00:00+00:00"
        assert sorted(keys.erased_subjects()) == ["student-1", "student-2"]
        _assert_filtered_by_the_server(keys.keys, sent)
    finally:
        keys.drop_database()
        keys.close()


def _finds(monkeypatch) -> list[dict[str, Any]]:
    """The filter of every find (find_one included) from now on."""
    sent: list[dict[str, Any]] = []
    find = PyMongoCollection.find
    monkeypatch.setattr(PyMongoCollection, "find", lambda self, filter=None, *a, **k: (
        sent.append(filter), find(self, filter, *a, **k))[1])
    return sent


def _assert_filtered_by_the_server(collection: PyMongoCollection, filters: list[dict[str, Any]]) -> None:
    assert filters
    for query in filters:
        plan = collection.database.command("explain", {"find": collection.name, "filter": query})
        assert plan.get("filterPushdown", True), (query, plan)  # only FerretDB says


def test_null_in_a_filter_behaves_as_in_sqlite(read_store):
    # MongoDB alone would let $gte/$lte null and $in [null] match documents without the field
    docs = read_store.collection("sparse", [Index("city"), Index("tags", array=True)])
    docs.insert_if_absent("a", {"city": "London", "tags": ["x"]})
    docs.insert_if_absent("b", {"city": None, "tags": [None]})
    docs.insert_if_absent("c", {"name": "no city"})
    for op in ("$gte", "$gt", "$lte", "$lt"):
        assert docs.count({"city": {op: None}}) == 0
    assert docs.count({"city": {"$in": [None]}}) == 0
    assert docs.count({"city": {"$in": [None, "London"]}}) == 1
    assert docs.count({"tags": {"$in": [None]}}) == 0
    assert sorted(d["_id"] for d in docs.find({"city": None}).items) == ["b", "c"]
    assert sorted(d["_id"] for d in docs.find({"city": {"$ne": None}}).items) == ["a"]
    assert docs.count({"tags": None}) == 0 and docs.count({"tags": {"$all": [None]}}) == 0
