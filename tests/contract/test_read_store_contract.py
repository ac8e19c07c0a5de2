"""Contract of the ReadStore port (shared.readstore), run against every adapter.

`Update.apply_to` is the reference semantics of every write; the property tests compare what an
adapter stores with what `apply_to` computes. Generated updates never touch one field with two
operators (MongoDB refuses such updates) and keep each field's type stable (a counter stays a number,
a list stays a list), as projections do.
"""
from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.readstore import (
    APPLIED,
    DUPLICATE,
    Apply,
    Delete,
    Index,
    InsertIfAbsent,
    Page,
    Update,
    Upsert,
    VersionGap,
    encode_cursor,
    fold,
    iterate,
)

from ._support import unique_name

PROPERTY_SETTINGS = settings(max_examples=60, deadline=None,
                             suppress_health_check=[HealthCheck.function_scoped_fixture])


def body(doc: dict[str, Any] | None) -> dict[str, Any] | None:
    """A stored document without the store's bookkeeping (`_id`, `_version`)."""
    return None if doc is None else {k: v for k, v in doc.items() if k not in ("_id", "_version")}


def ids(page_or_items: Page | list[dict[str, Any]]) -> list[str]:
    items = page_or_items.items if isinstance(page_or_items, Page) else page_or_items
    return [doc["_id"] for doc in items]


# -- version-guarded apply --------------------------------------------------------------------------------

def test_apply_creates_at_version_one_and_updates_at_the_next_version(read_store):
    docs = read_store.collection("contacts")
    # when version 1 is applied to a new document, then it is created
    assert docs.apply("c-1", 1, Update(set={"name": "Ada", "city": "London"})) == APPLIED
    assert docs.get("c-1") == {"_id": "c-1", "_version": 1, "name": "Ada", "city": "London"}

    # when version 2 is applied, then it is updated
    assert docs.apply("c-1", 2, Update(set={"city": "Paris"}, inc={"moves": 1})) == APPLIED
    assert docs.get("c-1") == {"_id": "c-1", "_version": 2, "name": "Ada", "city": "Paris", "moves": 1}
    assert docs.get("c-2") is None


@pytest.mark.parametrize("redelivered", [1, 2])
def test_redelivering_an_applied_version_is_a_duplicate_and_changes_nothing(read_store, redelivered):
    # given a document at version 2
    docs = read_store.collection("contacts")
    docs.apply("c-1", 1, Update(set={"name": "Ada"}))
    docs.apply("c-1", 2, Update(set={"city": "Paris"}))
    before = docs.get("c-1")

    # when an old version is delivered again, even with other changes
    outcome = docs.apply("c-1", redelivered, Update(set={"name": "Mallory"}, inc={"n": 1}, push={"l": [1]}))

    # then it is reported as a duplicate and the document is unchanged
    assert outcome == DUPLICATE
    assert docs.get("c-1") == before


def test_a_version_gap_raises_and_changes_nothing(read_store):
    # given a document at version 2
    docs = read_store.collection("contacts")
    docs.apply("c-1", 1, Update(set={"name": "Ada"}))
    docs.apply("c-1", 2, Update(set={"city": "Paris"}))
    before = docs.get("c-1")

    # when version 4 arrives before version 3, then it is refused as a gap and nothing changes
    with pytest.raises(VersionGap):
        docs.apply("c-1", 4, Update(set={"city": "Rome"}))
    assert docs.get("c-1") == before
    # and a new document cannot start after version 1 either
    with pytest.raises(VersionGap):
        docs.apply("c-2", 2, Update(set={"name": "Bob"}))
    assert docs.get("c-2") is None
    # and the missing version still applies afterwards
    assert docs.apply("c-1", 3, Update(set={"city": "Rome"})) == APPLIED


# -- Update semantics, against the reference -----------------------------------------------------------

SCALARS = ("name", "title", "city")
COUNTERS = ("count", "score")
LISTS = ("tags", "refs")
scalar = st.one_of(st.none(), st.booleans(), st.integers(-1000, 1000), st.text("abcXYZ é_%", max_size=6))
element = st.sampled_from(["a", "b", "c", 1, 2, 3])
elements = st.lists(element, max_size=4)


@st.composite
def updates(draw: st.DrawFn, *, non_empty: bool = False) -> Update:
    """One Update where each field is touched by at most one operator, with a type fitting the field."""
    update = Update()
    for name in SCALARS:
        op = draw(st.sampled_from([None, "set", "unset", "set_on_insert"]))
        if op == "set":
            update.set[name] = draw(scalar)
        elif op == "unset":
            update.unset.append(name)
        elif op == "set_on_insert":
            update.set_on_insert[name] = draw(scalar)
    for name in COUNTERS:
        op = draw(st.sampled_from([None, "inc", "inc", "unset", "set"]))
        if op == "inc":
            update.inc[name] = draw(st.integers(-5, 5))
        elif op == "unset":
            update.unset.append(name)
        elif op == "set":
            update.set[name] = draw(st.integers(-100, 100))
    for name in LISTS:
        op = draw(st.sampled_from([None, "push", "add_to_set", "pull", "unset", "set"]))
        if op in ("push", "add_to_set", "pull"):
            getattr(update, op)[name] = draw(elements)
        elif op == "unset":
            update.unset.append(name)
        elif op == "set":
            update.set[name] = draw(elements)
    if non_empty and update == Update():
        update.set["name"] = draw(scalar)
    return update


@PROPERTY_SETTINGS
@given(chain=st.lists(updates(), min_size=1, max_size=4))
def test_apply_stores_what_update_apply_to_computes(read_store, chain):
    # given a new document and a chain of updates
    docs = read_store.collection("reference_apply")
    doc_id = unique_name("d")
    expected: dict[str, Any] = {}

    # when they are applied at versions 1, 2, ...
    for version, update in enumerate(chain, start=1):
        assert docs.apply(doc_id, version, update) == APPLIED
        expected = update.apply_to(expected, inserting=version == 1)

        # then after each one the document is what the reference semantics say
        stored = docs.get(doc_id)
        assert body(stored) == expected
        assert stored["_id"] == doc_id and stored["_version"] == version


@PROPERTY_SETTINGS
@given(chain=st.lists(updates(non_empty=True), min_size=1, max_size=4))
def test_upsert_stores_what_update_apply_to_computes(read_store, chain):
    # given a new document and a chain of updates
    docs = read_store.collection("reference_upsert")
    doc_id = unique_name("d")
    expected: dict[str, Any] = {}

    # when they are upserted one after the other
    for number, update in enumerate(chain):
        docs.upsert(doc_id, update)
        expected = update.apply_to(expected, inserting=number == 0)

        # then the document is what the reference semantics say (set_on_insert only on creation)
        assert body(docs.get(doc_id)) == expected


def test_update_operators_on_an_example(read_store):
    # given a document with a scalar, a counter and lists
    docs = read_store.collection("contacts")
    docs.apply("c-1", 1, Update(set={"name": "Ada", "city": "London"}, inc={"touches": 2},
                                 push={"log": ["created"]}, add_to_set={"tags": ["math", "math", "poetry"]},
                                 set_on_insert={"created": "2026-01-01"}))
    assert body(docs.get("c-1")) == {"name": "Ada", "city": "London", "touches": 2, "log": ["created"],
                                     "tags": ["math", "poetry"], "created": "2026-01-01"}

    # when a later event uses every operator
    docs.apply("c-1", 2, Update(set={"name": "Ada L."}, unset=["city", "never-set"], inc={"touches": -1},
                                 push={"log": ["renamed", "renamed"]}, add_to_set={"tags": ["poetry", "cs"]},
                                 pull={"tags": ["math", "absent"]}, set_on_insert={"created": "2030-01-01"}))

    # then each behaves as Update.apply_to says: set_on_insert no longer applies, push keeps
    # duplicates, add_to_set does not
    assert body(docs.get("c-1")) == {"name": "Ada L.", "touches": 1, "log": ["created", "renamed", "renamed"],
                                     "tags": ["poetry", "cs"], "created": "2026-01-01"}


# -- other writes ---------------------------------------------------------------------------------------

def test_insert_if_absent_is_idempotent(read_store):
    rows = read_store.collection("touchpoints")
    # when a row is inserted, then it is stored
    assert rows.insert_if_absent("event-1", {"_id": "event-1", "kind": "call", "n": 1}) is True
    # when it is inserted again, even with other content, then nothing changes
    assert rows.insert_if_absent("event-1", {"kind": "mail", "n": 2}) is False
    assert rows.get("event-1") == {"_id": "event-1", "kind": "call", "n": 1}
    assert rows.count({}) == 1


def test_delete_removes_a_document_and_is_harmless_when_absent(read_store):
    # given two documents
    docs = read_store.collection("contacts")
    docs.apply("c-1", 1, Update(set={"name": "Ada"}))
    docs.insert_if_absent("c-2", {"name": "Bob"})

    # when one is deleted, then only it is gone, and deleting it again is harmless
    docs.delete("c-1")
    assert docs.get("c-1") is None
    assert ids(docs.find({})) == ["c-2"]
    docs.delete("c-1")
    docs.delete("never-existed")
    # and a deleted version-guarded document can start again from version 1
    assert docs.apply("c-1", 1, Update(set={"name": "Ada again"})) == APPLIED


def test_writes_in_a_batch_are_all_visible_after_it(read_store):
    docs = read_store.collection("contacts")
    with read_store.batch():
        docs.apply("c-1", 1, Update(set={"name": "Ada"}))
        docs.upsert("c-2", Update(set={"name": "Bob"}))
        docs.insert_if_absent("c-3", {"name": "Cy"})
        docs.apply("c-1", 2, Update(set={"city": "Paris"}))
    assert body(docs.get("c-1")) == {"name": "Ada", "city": "Paris"}
    assert sorted(ids(docs.find({}))) == ["c-1", "c-2", "c-3"]


# -- bulk writes (how a projection writes a polled batch) ----------------------------------------------------

def test_bulk_applies_each_documents_versions_in_order_and_reads_many_at_once(read_store):
    docs = read_store.collection("contacts")
    # when a batch applies two streams' versions, interleaved, in one bulk
    outcomes = docs.bulk([Apply("c-1", 1, Update(set={"name": "Ada"})), Apply("c-2", 1, Update(set={"name": "Bob"})),
                          Apply("c-1", 2, Update(set={"city": "Paris"}, push={"moves": ["Paris"]})),
                          Apply("c-2", 2, Update(inc={"n": 2})), Apply("c-1", 3, Update(push={"moves": ["Rome"]}))])
    # then each is applied, in order
    assert outcomes == [APPLIED] * 5
    assert docs.get_many(["c-1", "c-2", "c-9"]) == {
        "c-1": {"_id": "c-1", "_version": 3, "name": "Ada", "city": "Paris", "moves": ["Paris", "Rome"]},
        "c-2": {"_id": "c-2", "_version": 2, "name": "Bob", "n": 2}}


def test_redelivering_a_bulk_changes_nothing(read_store):
    docs = read_store.collection("contacts")
    batch = [Apply("c-1", 1, Update(set={"name": "Ada"}, inc={"n": 1})), Apply("c-1", 2, Update(inc={"n": 1})),
             Apply("c-2", 1, Update(push={"l": [1]}))]
    assert docs.bulk(batch) == [APPLIED] * 3
    before = docs.get_many(["c-1", "c-2"])
    # when the same batch is delivered again
    # then every write is a duplicate and nothing changes (nothing applied twice)
    assert docs.bulk(batch) == [DUPLICATE] * 3
    assert docs.get_many(["c-1", "c-2"]) == before


def test_a_bulk_mixing_applied_and_new_versions_applies_only_the_new_ones(read_store):
    # given c-1 at version 2 and c-2 at version 1
    docs = read_store.collection("contacts")
    docs.apply("c-1", 1, Update(set={"name": "Ada"}, inc={"n": 1}))
    docs.apply("c-1", 2, Update(inc={"n": 1}))
    docs.apply("c-2", 1, Update(set={"name": "Bob"}))
    # when a redelivered batch holds versions already applied and the ones after them
    outcomes = docs.bulk([Apply("c-1", 1, Update(set={"name": "Mallory"})), Apply("c-2", 1, Update(inc={"n": 9})),
                          Apply("c-1", 2, Update(inc={"n": 1})), Apply("c-1", 3, Update(inc={"n": 10})),
                          Apply("c-2", 2, Update(set={"city": "Oslo"})), Apply("c-3", 1, Update(set={"name": "Cy"}))])
    # then the applied ones are duplicates that change nothing, the new ones are applied once, none is lost
    assert outcomes == [DUPLICATE, DUPLICATE, DUPLICATE, APPLIED, APPLIED, APPLIED]
    assert body(docs.get("c-1")) == {"name": "Ada", "n": 12} and docs.get("c-1")["_version"] == 3
    assert body(docs.get("c-2")) == {"name": "Bob", "city": "Oslo"} and docs.get("c-2")["_version"] == 2
    assert body(docs.get("c-3")) == {"name": "Cy"}


def test_a_bulk_as_large_as_a_poll_is_written(read_store):
    # a poll's worth of writes to existing documents (a FerretDB server once never answered such a command)
    docs = read_store.collection("contacts")
    assert docs.bulk([Apply(f"c-{i}", 1, Update(set={"name": f"n{i}"})) for i in range(150)]) == [APPLIED] * 150
    writes = [*(Apply(f"c-{i}", 2, Update(inc={"n": 1})) for i in range(150)),
              *(Upsert(f"c-{i}", Update(set={"seen": True})) for i in range(150, 300))]
    assert docs.bulk(writes) == [APPLIED] * 150 + [None] * 150
    stored = docs.get_many([f"c-{i}" for i in range(300)])
    assert len(stored) == 300 and all(stored[f"c-{i}"]["_version"] == 2 for i in range(150))


def test_a_gap_in_a_bulk_raises_and_writes_nothing_of_that_document(read_store):
    docs = read_store.collection("contacts")
    docs.apply("c-1", 1, Update(set={"name": "Ada"}))
    with pytest.raises(VersionGap):
        docs.bulk([Apply("c-1", 2, Update(set={"city": "Paris"})), Apply("c-1", 4, Update(set={"city": "Rome"}))])
    assert body(docs.get("c-1")) == {"name": "Ada"} and docs.get("c-1")["_version"] == 1


def test_bulk_upserts_inserts_and_deletes_as_one_by_one(read_store):
    docs = read_store.collection("rows", [Index("kind")])
    docs.insert_if_absent("kept", {"kind": "old"})
    docs.upsert("gone", Update(set={"kind": "old"}))
    outcomes = docs.bulk([InsertIfAbsent("kept", {"kind": "new"}), InsertIfAbsent("e-1", {"kind": "entry"}),
                          Upsert("q-1", Update(set={"kind": "item"}, set_on_insert={"first": 1})),
                          Upsert("q-1", Update(inc={"n": 1})), Delete("gone"), Delete("never"),
                          Upsert("kept", Update(add_to_set={"tags": ["a", "a"]}))])
    assert outcomes == [False, True, None, None, None, None, None]
    assert {d["_id"]: body(d) for d in iterate(docs, {})} == {
        "kept": {"kind": "old", "tags": ["a"]}, "e-1": {"kind": "entry"}, "q-1": {"kind": "item", "first": 1, "n": 1}}


WRITE_IDS = st.sampled_from(["a", "b", "c"])


@st.composite
def writes(draw: st.DrawFn) -> list[Any]:
    """A batch of writes to a few documents: applies (next, repeated or gapless versions), upserts,
    inserts and deletes, in any order."""
    found: list[Any] = []
    versions: dict[str, int] = {}
    for _ in range(draw(st.integers(1, 8))):
        doc_id, kind = draw(WRITE_IDS), draw(st.sampled_from(["apply", "apply", "apply", "redeliver", "upsert",
                                                               "insert", "delete"]))
        if kind == "apply":
            versions[doc_id] = versions.get(doc_id, 0) + 1
            found.append(Apply(doc_id, versions[doc_id], draw(updates())))
        elif kind == "redeliver" and versions.get(doc_id):
            found.append(Apply(doc_id, draw(st.integers(1, versions[doc_id])), draw(updates())))
        elif kind == "upsert":
            found.append(Upsert(doc_id, draw(updates(non_empty=True))))
        elif kind == "insert":
            found.append(InsertIfAbsent(doc_id, {"name": draw(scalar)}))
        elif kind == "delete":
            found.append(Delete(doc_id))
            versions.pop(doc_id, None)
    return found


@PROPERTY_SETTINGS
@given(first=writes(), second=writes())
def test_a_bulk_gives_what_its_writes_one_by_one_give(read_store, first, second):
    # given two batches of writes (the second a later batch, possibly redelivering the first's versions)
    docs = read_store.collection(unique_name("bulk"))
    reference: dict[str, dict[str, Any] | None] = {}
    for batch in (first, second):
        expected = []
        try:
            for write in batch:  # the reference: one at a time
                outcome, reference[write.doc_id] = fold("bulk", write, reference.get(write.doc_id))
                expected.append(outcome)
        except VersionGap:
            with pytest.raises(VersionGap):
                docs.bulk(batch)
            return
        # when the batch is written in one bulk, then its outcomes and documents are the reference's
        assert docs.bulk(batch) == expected
        stored = docs.get_many(["a", "b", "c"])
        assert {i: stored.get(i) for i in "abc"} == {i: reference.get(i) for i in "abc"}


def test_drop_empties_a_collection(read_store):
    docs = read_store.collection("contacts", [Index("name")])
    docs.insert_if_absent("c-1", {"name": "Ada"})
    other = read_store.collection("others")
    other.insert_if_absent("o-1", {"name": "Ada"})

    read_store.drop("contacts")

    assert read_store.collection("contacts", [Index("name")]).find({}).items == []
    assert ids(other.find({})) == ["o-1"]


# -- queries --------------------------------------------------------------------------------------------

PEOPLE = [
    {"_id": "p1", "name": "Ada Lovelace", "city": "London", "age": 36, "tags": ["math", "poetry"]},
    {"_id": "p2", "name": "Alan Turing", "city": "London", "age": 41, "tags": ["math", "cs"]},
    {"_id": "p3", "name": "Grace Hopper", "city": "New York", "age": 85, "tags": ["cs", "navy"]},
    {"_id": "p4", "name": "100% Pure_Name", "city": "Paris", "age": 30, "tags": []},
    {"_id": "p5", "name": "100 Percent PureXName", "city": "Paris", "age": 30, "tags": ["cs"]},
    {"_id": "p6", "name": "Back\\slash Person", "city": "Oslo", "age": 52, "tags": ["cs"]},
]
INDEXES = [Index("name"), Index("city"), Index("age"), Index("tags", array=True)]


@pytest.fixture
def people(read_store):
    collection = read_store.collection("people", INDEXES)
    for person in PEOPLE:
        assert collection.insert_if_absent(person["_id"], person)
    return collection


@pytest.mark.parametrize(("filter", "expected"), [
    ({}, ["p1", "p2", "p3", "p4", "p5", "p6"]),
    ({"city": "London"}, ["p1", "p2"]),
    ({"city": "London", "age": 41}, ["p2"]),
    ({"city": "Nowhere"}, []),
    ({"_id": "p3"}, ["p3"]),
    ({"_id": {"$in": ["p3", "p5", "p9"]}}, ["p3", "p5"]),
    ({"city": {"$in": ["Paris", "New York"]}}, ["p3", "p4", "p5"]),
    ({"city": {"$in": []}}, []),
    ({"age": {"$gte": 36, "$lt": 85}}, ["p1", "p2", "p6"]),
    ({"age": {"$gt": 36, "$lte": 85}}, ["p2", "p3", "p6"]),
    ({"age": {"$lt": 30}}, []),
    ({"city": {"$ne": "London"}}, ["p3", "p4", "p5", "p6"]),
    ({"name": {"$contains": "LOVE"}}, ["p1"]),
    ({"name": {"$contains": "ace"}}, ["p1", "p3"]),
    ({"name": {"$contains": "0%"}}, ["p4"]),
    ({"name": {"$contains": "e_n"}}, ["p4"]),
    ({"name": {"$contains": "%"}}, ["p4"]),
    ({"name": {"$contains": "_"}}, ["p4"]),
    ({"name": {"$contains": "k\\s"}}, ["p6"]),
    ({"name": {"$contains": "pure", "$ne": "100% Pure_Name"}}, ["p5"]),
    ({"tags": "cs"}, ["p2", "p3", "p5", "p6"]),
    ({"tags": "math", "city": "London", "age": {"$gte": 40}}, ["p2"]),
    ({"tags": {"$in": ["navy", "poetry"]}}, ["p1", "p3"]),
    ({"tags": "absent"}, []),
    ({"tags": {"$all": ["math", "cs"]}}, ["p2"]),
    ({"tags": {"$all": ["cs"]}, "city": "Paris"}, ["p5"]),
    ({"tags": {"$all": ["math", "navy"]}}, []),
], ids=repr)
def test_find_and_count_filter_with_the_query_language(people, filter, expected):
    # when the collection is queried, then exactly the matching documents come back, whole
    page = people.find(filter, sort=[("_id", 1)], limit=50)
    assert ids(page) == expected
    assert page.next_cursor is None
    assert page.items == [p for p in PEOPLE if p["_id"] in expected]
    # and count agrees
    assert people.count(filter) == len(expected)


def test_contains_is_case_insensitive_beyond_ascii(read_store):
    # given names with accented capitals
    names = read_store.collection("people", [Index("name")])
    names.insert_if_absent("p1", {"name": "Émile Zola"})
    names.insert_if_absent("p2", {"name": "Ørsted"})
    names.insert_if_absent("p3", {"name": "Emile Durkheim"})

    # when searching in another case, then the accented letters match their other case only
    assert ids(names.find({"name": {"$contains": "émile"}}, [("_id", 1)])) == ["p1"]
    assert ids(names.find({"name": {"$contains": "ØRST"}}, [("_id", 1)])) == ["p2"]


def test_a_missing_field_is_not_equal_to_any_value(read_store):
    # given documents with and without a city
    docs = read_store.collection("sparse", [Index("city")])
    docs.insert_if_absent("a", {"city": "London"})
    docs.insert_if_absent("b", {"city": "Paris"})
    docs.insert_if_absent("c", {"name": "no city"})

    # then $ne matches the documents without the field, as in MongoDB, and ranges never do
    assert sorted(ids(docs.find({"city": {"$ne": "London"}}))) == ["b", "c"]
    assert sorted(ids(docs.find({"city": {"$gte": "A"}}))) == ["a", "b"]
    assert ids(docs.find({"city": {"$in": ["London"]}})) == ["a"]


@pytest.mark.parametrize("query", [
    {"filter": {"nickname": "x"}},
    {"filter": {"nickname": {"$in": ["x"]}}},
    {"filter": {"city": "London", "email": {"$contains": "x"}}},
    {"filter": {}, "sort": [("nickname", 1)]},
    {"filter": {"age": {"$regex": "^3"}}},
], ids=repr)
def test_filtering_or_sorting_on_an_undeclared_field_or_operator_raises_value_error(people, query):
    with pytest.raises(ValueError):
        people.find(query["filter"], query.get("sort", ()))
    if "sort" not in query:
        with pytest.raises(ValueError):
            people.count(query["filter"])


@pytest.mark.parametrize("sort", [
    [("age", 1)],
    [("age", -1)],
    [("city", 1), ("age", -1)],
    [("city", -1), ("age", 1), ("name", 1)],
    [("age", 1), ("_id", -1)],
    [("_id", -1)],
], ids=repr)
def test_sort_orders_by_each_key_in_turn_with_the_id_breaking_ties(people, sort):
    # when documents are sorted on several keys with mixed directions
    page = people.find({}, sort=sort, limit=50)

    # then they come in that order, ties broken by _id (ascending unless sorted explicitly)
    expected = sorted(PEOPLE, key=lambda p: p["_id"], reverse=dict(sort).get("_id", 1) < 0)
    for name, direction in reversed([s for s in sort if s[0] != "_id"]):
        expected = sorted(expected, key=lambda p: p[name], reverse=direction < 0)  # stable
    assert ids(page) == ids(expected)


# -- pagination -----------------------------------------------------------------------------------------

def walk(collection: Any, filter: dict, sort: list[tuple[str, int]], limit: int) -> list[list[dict]]:
    """Every page of a query, following next_cursor."""
    pages, cursor = [], None
    while True:
        page = collection.find(filter, sort=sort, limit=limit, cursor=cursor)
        pages.append(page.items)
        assert len(page.items) <= limit
        if page.next_cursor is None:
            return pages
        assert page.items, "a page with a next cursor is never empty"
        assert len(pages) < 1000, "pagination does not end"
        cursor = page.next_cursor


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 6, 7])
@pytest.mark.parametrize("sort", [[("age", 1)], [("city", -1), ("age", 1)], [("age", -1), ("_id", -1)]], ids=repr)
def test_cursor_pagination_visits_every_match_once_in_order_despite_duplicate_sort_values(people, sort, limit):
    # given documents sharing sort values (two aged 30, two in London, two in Paris)
    everything = people.find({}, sort=sort, limit=50).items

    # when the query is read page by page
    pages = walk(people, {}, sort, limit)

    # then the pages together are the whole result, in order, each document once
    assert [doc for page in pages for doc in page] == everything
    assert all(len(page) == limit for page in pages[:-1])
    # and a filter is kept across pages
    london_or_paris = {"city": {"$in": ["London", "Paris"]}}
    assert ([d for page in walk(people, london_or_paris, sort, limit) for d in page]
            == people.find(london_or_paris, sort=sort, limit=50).items)
    # and `iterate` walks the same way
    assert list(iterate(people, {}, sort, page_size=limit)) == everything


ROW = st.fixed_dictionaries({"group": st.integers(0, 3), "rank": st.integers(-2, 2),
                             "label": st.sampled_from(["a", "B", "b", "c", "ab"])})
SORT_FIELDS = st.lists(st.tuples(st.sampled_from(["group", "rank", "label"]), st.sampled_from([1, -1])),
                       min_size=1, max_size=3, unique_by=lambda s: s[0])


@PROPERTY_SETTINGS
@given(rows=st.lists(ROW, max_size=25), sort=SORT_FIELDS, id_direction=st.sampled_from([None, 1, -1]),
       limit=st.integers(1, 6), groups=st.none() | st.lists(st.integers(0, 3), max_size=3))
def test_cursor_pagination_equals_the_whole_sorted_result_for_any_data(read_store, rows, sort, id_direction,
                                                                       limit, groups):
    # given documents with many equal sort values
    collection = read_store.collection(unique_name("pg").lower(),
                                       [Index("group"), Index("rank"), Index("label")])
    for n, row in enumerate(rows):
        collection.insert_if_absent(f"r{n:02d}", row)
    full_sort = sort + ([("_id", id_direction)] if id_direction else [])
    filter = {} if groups is None else {"group": {"$in": groups}}

    # when the query is read page by page
    pages = walk(collection, filter, full_sort, limit)

    # then every matching document comes exactly once, in the sort order
    expected = [{"_id": f"r{n:02d}", **row} for n, row in enumerate(rows) if groups is None or row["group"] in groups]
    expected.sort(key=lambda d: d["_id"], reverse=(id_direction or 1) < 0)
    for name, direction in reversed(sort):
        expected.sort(key=lambda d: d[name], reverse=direction < 0)
    assert [doc for page in pages for doc in page] == expected
    assert collection.count(filter) == len(expected)
    read_store.drop(collection.name)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("tamper", [
    lambda good: "not a cursor!",
    lambda good: good[:-3],
    lambda good: good + "AAAA",
    lambda good: _b64(b"{not json"),
    lambda good: _b64(json.dumps({"age": 30}).encode()),
    lambda good: encode_cursor([30]),
    lambda good: encode_cursor([30, "p4", "extra"]),
    lambda good: encode_cursor([{"$gt": 0}, "p4"]),
    lambda good: encode_cursor([[30], "p4"]),
], ids=["garbage", "truncated", "extended", "not-json", "not-a-list", "too-short", "too-long",
        "operator-object", "nested-list"])
def test_a_tampered_cursor_raises_value_error(people, tamper):
    # given a genuine cursor of a sorted query
    good = people.find({}, sort=[("age", 1)], limit=2).next_cursor
    assert good is not None

    # when it is altered, then the query refuses it with ValueError
    with pytest.raises(ValueError):
        people.find({}, sort=[("age", 1)], limit=2, cursor=tamper(good))


def test_a_cursor_from_another_sort_is_refused_or_harmless(people):
    # a cursor only fits the query it came from; with another width it is refused
    cursor = people.find({}, sort=[("city", 1), ("age", 1)], limit=2).next_cursor
    with pytest.raises(ValueError):
        people.find({}, sort=[("age", 1)], limit=2, cursor=cursor)


def test_count_counts_matches_regardless_of_pages(people):
    assert people.count({}) == len(PEOPLE)
    assert people.count({"tags": "cs"}) == 4
    assert people.count({"age": 30}) == 2
    assert people.count({"name": {"$contains": "zzz"}}) == 0
    assert len(people.find({}, limit=2).items) == 2


def test_ping_answers_and_prepare_is_idempotent(read_store):
    # given a store with a collection, prepared twice (the init step may run on every deploy)
    read_store.ping()
    docs = read_store.collection("contacts", [Index("name")])
    docs.apply("c-1", 1, Update(set={"name": "Ada"}))
    read_store.prepare()
    read_store.prepare()
    # then its documents and queries are as before
    assert ids(docs.find({"name": "Ada"})) == ["c-1"]
    assert ids(read_store.collection("contacts", [Index("name")]).find({"name": "Ada"})) == ["c-1"]

