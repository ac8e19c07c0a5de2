"""Contract of read-model generations (`shared.readstore`, `shared.readstore.generations`) on every
read store: logical names resolve to a generation's collections through one alias document, a
switch-over moves every collection of a projection at once, and handles created once per process
(as query APIs create them) follow it without a restart.
"""
from __future__ import annotations

import threading

import pytest

from shared.readstore import Generations, Index, Update, open_read_store, physical_name
from shared.readstore.generations import (
    GenerationConflict,
    GenerationView,
    abandon,
    drop_retired,
    reserve,
    retired_of,
    switch,
)

PROJECTION = ["directory", "directory_refs"]


def names(docs) -> list[str]:
    return [d["_id"] for d in docs.find({}, [("_id", 1)]).items]


def test_generation_zero_is_the_collection_as_it_was_before_generations_existed(read_store):
    # given documents written before any rebuild, through a plain handle
    read_store.collection("directory", [Index("name")]).insert_if_absent("c-1", {"name": "Ada"})

    # then nothing is aliased, and generation 0 is that very collection
    assert read_store.load_generations() == Generations()
    assert physical_name("directory", 0) == "directory"
    assert names(read_store.collection("directory", [Index("name")], generation=0)) == ["c-1"]
    assert names(GenerationView(read_store, 0).collection("directory", [Index("name")])) == ["c-1"]


def test_a_generation_is_built_beside_the_live_one_and_a_switch_moves_every_collection_at_once(read_store):
    # given the live generation 0, and query handles created once (as a query API does)
    live = read_store.collection("directory", [Index("name")])
    live_refs = read_store.collection("directory_refs")
    live.insert_if_absent("old", {"name": "Old"})
    live_refs.insert_if_absent("old-ref", {})

    # when a new generation is reserved and built through pinned handles
    build, resumed = reserve(read_store, PROJECTION, "directory-views")
    assert (build.generation, resumed) == (1, False)
    view = GenerationView(read_store, build.generation)
    view.collection("directory", [Index("name")]).apply("new", 1, Update(set={"name": "New"}))
    view.collection("directory_refs").insert_if_absent("new-ref", {})

    # then queries still read the live generation only
    assert names(live) == ["old"] and names(live_refs) == ["old-ref"]

    # when every collection is switched to it in one write
    after = switch(read_store, PROJECTION, to=build.generation, expected=0, projection="directory-views",
                   retired_group="projection.directory-views.v1")

    # then the same handles read the new generation, every one of them, and the old one is retired
    assert names(live) == ["new"] and names(live_refs) == ["new-ref"]
    assert live.find({"name": "New"}).items[0]["_version"] == 1
    assert after.of("directory") == after.of("directory_refs") == 1 and after.building == ()
    assert [(r.generation, r.collections) for r in after.retired] == [(0, tuple(sorted(PROJECTION)))]
    # and writes through a following handle go to the new generation too
    live.insert_if_absent("later", {"name": "Later"})
    assert names(view.collection("directory", [Index("name")])) == ["later", "new"]
    assert names(read_store.collection("directory", generation=0)) == ["old"]


def test_a_switch_from_a_generation_that_is_no_longer_current_fails_and_changes_nothing(read_store):
    build, _ = reserve(read_store, PROJECTION, "directory-views")
    switch(read_store, PROJECTION, to=build.generation, expected=0, projection="p", retired_group="g0")
    before = read_store.load_generations()

    # when another rebuild, started from generation 0, tries to switch
    with pytest.raises(GenerationConflict):
        switch(read_store, PROJECTION, to=7, expected=0, projection="p", retired_group="g0")

    # then the alias document is untouched
    assert read_store.load_generations() == before


def test_generation_numbers_are_never_reused_and_an_unfinished_build_is_resumed(read_store):
    # given a build of one projection, and one of another
    first, _ = reserve(read_store, PROJECTION, "directory-views")
    other, _ = reserve(read_store, ["interviews"], "interview-views")
    assert other.generation == first.generation + 1

    # when the first is reserved again (a rebuild run after an interrupted one), then it is resumed
    again, resumed = reserve(read_store, list(reversed(PROJECTION)), "directory-views")
    assert (again, resumed) == (first, True)

    # and a build overlapping it is refused
    with pytest.raises(GenerationConflict):
        reserve(read_store, ["directory"], "directory-views")

    # when it is abandoned and started again, then it gets a new number, never an old one
    assert abandon(read_store, first.generation) == first
    fresh, resumed = reserve(read_store, PROJECTION, "directory-views")
    assert fresh.generation == other.generation + 1 and not resumed


def test_dropping_a_retired_generation_drops_its_collections_and_checkpoints_only(read_store):
    # given generation 0 with data and checkpoints, switched to generation 1
    read_store.collection("directory").insert_if_absent("old", {})
    checkpoints = read_store.collection("checkpoints", [Index("group_id")])
    checkpoints.upsert("g0:t:0", Update(set={"group_id": "g0", "offset": 3}))
    checkpoints.upsert("g1:t:0", Update(set={"group_id": "g1", "offset": 3}))
    build, _ = reserve(read_store, PROJECTION, "p")
    GenerationView(read_store, build.generation).collection("directory").insert_if_absent("new", {})
    generations = switch(read_store, PROJECTION, to=build.generation, expected=0, projection="p",
                         retired_group="g0")

    # when the retired generation is dropped
    (retired,) = retired_of(generations, PROJECTION)
    drop_retired(read_store, retired)

    # then its documents and its group's checkpoints are gone, the live ones stay
    assert names(read_store.collection("directory", generation=0)) == []
    assert names(read_store.collection("directory")) == ["new"]
    assert names(checkpoints) == ["g1:t:0"]
    assert read_store.load_generations().retired == ()


def test_a_retired_generation_that_became_current_again_is_never_dropped(read_store):
    build, _ = reserve(read_store, PROJECTION, "p")
    generations = switch(read_store, PROJECTION, to=build.generation, expected=0, projection="p", retired_group="g0")
    (retired,) = retired_of(generations, PROJECTION)
    read_store.collection("directory", generation=0).insert_if_absent("kept", {})

    # when an operator switches back to generation 0 (kept with --keep-old) before it was dropped
    switch(read_store, PROJECTION, to=0, expected=build.generation, projection="p", retired_group="g1")

    # then dropping the old record of it is refused, and its data stays
    with pytest.raises(GenerationConflict):
        drop_retired(read_store, retired)
    assert names(read_store.collection("directory")) == ["kept"]


def test_another_process_follows_a_switch_within_its_cache_period_and_concurrent_switches_never_both_win(
        read_store_and_url):
    store, url = read_store_and_url
    other = open_read_store(url)  # as another process would
    try:
        queries = other.collection("directory")
        store.collection("directory").insert_if_absent("old", {})
        assert names(queries) == ["old"]
        build, _ = reserve(store, PROJECTION, "p")
        GenerationView(store, build.generation).collection("directory").insert_if_absent("new", {})

        # when two operators switch at the same moment from the same generation
        outcomes: list[str] = []

        def attempt() -> None:
            try:
                switch(store, PROJECTION, to=build.generation, expected=0, projection="p", retired_group="g0")
                outcomes.append("switched")
            except GenerationConflict:
                outcomes.append("conflict")

        threads = [threading.Thread(target=attempt) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)

        # then exactly one switched (the other found generation 1 already current) ...
        assert sorted(outcomes) == ["conflict", "switched"]
        assert len(store.load_generations().retired) == 1
        # ... and the other process's handle reads the new generation once its cache is refreshed
        assert other.generations(max_age=0).of("directory") == build.generation
        assert names(queries) == ["new"]
    finally:
        other.close()
