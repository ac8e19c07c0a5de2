"""Contract of the EventStore port (shared.eventstore), run against every adapter.

Every test talks to the port only (through the `event_store` fixture, or a URL for child processes),
so the same tests hold the MongoDB adapter to the SQLite adapter's behaviour.
"""
from __future__ import annotations

import multiprocessing
import queue
import threading
import time
import uuid
from typing import Any

import pytest

from shared.errors import ConcurrencyConflict, RequestSuperseded
from shared.eventstore import Commit, RequestLease, StoredResponse, open_event_store
from tests.support import wait_until

from ._support import unique_name

STREAM_TYPE = "thing"


def event(stream_id: str, version: int, **data: Any) -> dict[str, Any]:
    """A CloudEvents-shaped envelope; the store must keep it exactly as given."""
    return {"specversion": "1.0", "id": str(uuid.uuid4()), "type": "careerloop.test.ThingHappened.v1",
            "subject": stream_id, "streamversion": version, "data": data}


def events(stream_id: str, first: int, count: int, **data: Any) -> list[dict[str, Any]]:
    return [event(stream_id, v, **data) for v in range(first, first + count)]


# -- streams ----------------------------------------------------------------------------------------

def test_append_then_load_returns_the_events_of_every_commit_in_order(event_store):
    # given a stream written by three commits, one of them holding two events
    stream = unique_name("s")
    written = [event(stream, 1, n="one"), event(stream, 2, n="two", nested={"a": [1, 2], "é": "ü"}),
               event(stream, 3, n="three"), event(stream, 4, n="four")]
    event_store.append(stream, STREAM_TYPE, 0, written[:1])
    event_store.append(stream, STREAM_TYPE, 1, written[1:3])
    event_store.append(stream, STREAM_TYPE, 3, written[3:])

    # when it is loaded
    loaded = event_store.load(stream)

    # then every event comes back unchanged, in version order
    assert loaded == written
    assert [e["streamversion"] for e in loaded] == [1, 2, 3, 4]


def test_append_returns_the_commit_it_wrote(event_store):
    # given an empty stream
    stream = unique_name("s")
    batch = events(stream, 1, 2)

    # when two events are appended in one commit
    commit = event_store.append(stream, STREAM_TYPE, 0, batch)

    # then the commit names its stream, type, versions, events and a position
    assert isinstance(commit, Commit)
    assert (commit.stream_id, commit.stream_type) == (stream, STREAM_TYPE)
    assert (commit.first_version, commit.last_version) == (1, 2)
    assert commit.events == batch
    assert commit.position > 0
    assert commit.recorded_at
    # and reading the log gives back the same commit
    assert event_store.read_all(0, 10) == [commit]


def test_stream_version_counts_events_not_commits(event_store):
    # given a stream written by two commits holding three events
    stream = unique_name("s")
    assert event_store.stream_version(stream) == 0
    event_store.append(stream, STREAM_TYPE, 0, events(stream, 1, 2))
    event_store.append(stream, STREAM_TYPE, 2, events(stream, 3, 1))

    # then its version is the version of its last event, and other streams stay empty
    assert event_store.stream_version(stream) == 3
    assert event_store.stream_version(unique_name("other")) == 0
    assert event_store.load(unique_name("other")) == []


def test_load_since_returns_the_events_of_the_commits_after_a_version(event_store):
    # given a stream of three commits: one event, two events, one event
    stream = unique_name("s")
    written = events(stream, 1, 1) + events(stream, 2, 2) + events(stream, 4, 1)
    event_store.append(stream, STREAM_TYPE, 0, written[:1])
    event_store.append(stream, STREAM_TYPE, 1, written[1:3])
    event_store.append(stream, STREAM_TYPE, 3, written[3:])

    # then what a reader holding the stream up to a commit's last version misses is what follows it
    assert event_store.load_since(stream, 0) == written
    assert event_store.load_since(stream, 1) == written[1:]
    assert event_store.load_since(stream, 3) == written[3:]
    assert event_store.load_since(stream, 4) == []
    assert event_store.load_since(unique_name("other"), 0) == []


def test_threads_appending_at_the_same_version_exactly_one_wins_and_every_win_is_stored(event_store):
    """An API worker's threads append together (the SQLite adapter commits them in one transaction):
    each append still stands or falls alone, and what was acknowledged is there."""
    streams = [unique_name("s") for _ in range(4)]
    won: list[tuple[str, int]] = []
    lost: list[ConcurrencyConflict] = []
    lock = threading.Lock()

    def writer(n: int) -> None:
        for version in range(5):
            stream = streams[(n + version) % len(streams)]
            try:
                event_store.append(stream, STREAM_TYPE, event_store.stream_version(stream),
                                   [event(stream, 0, writer=n)])
            except ConcurrencyConflict as conflict:
                with lock:
                    lost.append(conflict)
            else:
                with lock:
                    won.append((stream, n))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    # then every acknowledged append is in its stream, once, and the versions are 1, 2, ... without a gap
    assert len(won) + len(lost) == 40 and won
    for stream in streams:
        stored = [e["data"]["writer"] for e in event_store.load(stream)]
        assert sorted(stored) == sorted(n for s, n in won if s == stream)
        assert event_store.stream_version(stream) == len(stored)


@pytest.mark.parametrize("expected", [0, 1, 3])
def test_append_at_a_stale_or_future_expected_version_raises_concurrency_conflict_and_writes_nothing(
        event_store, expected):
    # given a stream at version 2
    stream = unique_name("s")
    event_store.append(stream, STREAM_TYPE, 0, events(stream, 1, 2))
    before = (event_store.load(stream), event_store.read_all(0, 100), event_store.unpublished_count())

    # when a writer appends expecting another version
    with pytest.raises(ConcurrencyConflict) as raised:
        event_store.append(stream, STREAM_TYPE, expected, events(stream, expected + 1, 2))

    # then the conflict names both versions and nothing was written
    assert (raised.value.stream_id, raised.value.expected, raised.value.actual) == (stream, expected, 2)
    assert (event_store.load(stream), event_store.read_all(0, 100), event_store.unpublished_count()) == before
    assert event_store.stream_version(stream) == 2


def test_a_commit_needs_at_least_one_event(event_store):
    # when an empty commit is appended, then it is refused and nothing is written
    stream = unique_name("s")
    with pytest.raises(ValueError):
        event_store.append(stream, STREAM_TYPE, 0, [])
    assert event_store.stream_version(stream) == 0
    assert event_store.read_all(0, 10) == []


def test_a_multi_event_commit_is_all_or_nothing_for_concurrent_readers(event_store):
    # given a writer appending commits of three events each in another thread
    stream, commits, size = unique_name("s"), 30, 3
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for i in range(commits):
                event_store.append(stream, STREAM_TYPE, i * size, events(stream, i * size + 1, size))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    writer = threading.Thread(target=write)
    writer.start()

    # when readers look at the stream and the outbox while it grows
    observations = 0
    while writer.is_alive() or observations == 0:
        loaded = event_store.load(stream)
        version = event_store.stream_version(stream)
        outbox = event_store.read_unpublished(1000)
        # then they only ever see whole commits
        assert len(loaded) % size == 0
        assert [e["streamversion"] for e in loaded] == list(range(1, len(loaded) + 1))
        assert version % size == 0
        assert all(len(c.events) == size for c in outbox)
        observations += 1
    writer.join()
    assert not errors
    assert len(event_store.load(stream)) == commits * size


def test_a_refused_multi_event_commit_leaves_none_of_its_events(event_store):
    # given a stream at version 1
    stream = unique_name("s")
    event_store.append(stream, STREAM_TYPE, 0, events(stream, 1, 1))

    # when a three-event commit loses the race
    with pytest.raises(ConcurrencyConflict):
        event_store.append(stream, STREAM_TYPE, 0, events(stream, 1, 3))

    # then none of its events is stored anywhere
    assert len(event_store.load(stream)) == 1
    assert [len(c.events) for c in event_store.read_all(0, 10)] == [1]


# -- the outbox ---------------------------------------------------------------------------------------

def test_read_unpublished_returns_commits_in_position_order_and_mark_published_removes_them(event_store):
    # given five commits on three interleaved streams
    a, b, c = unique_name("a"), unique_name("b"), unique_name("c")
    written = [event_store.append(a, STREAM_TYPE, 0, events(a, 1, 1)),
               event_store.append(b, STREAM_TYPE, 0, events(b, 1, 2)),
               event_store.append(a, STREAM_TYPE, 1, events(a, 2, 1)),
               event_store.append(c, STREAM_TYPE, 0, events(c, 1, 1)),
               event_store.append(b, STREAM_TYPE, 2, events(b, 3, 1))]
    positions = [commit.position for commit in written]
    assert positions == sorted(positions) and len(set(positions)) == 5

    # when the relay reads them
    # then they come in position order, limited as asked
    assert event_store.unpublished_count() == 5
    assert event_store.read_unpublished(100) == written
    assert event_store.read_unpublished(2) == written[:2]

    # when some are marked published
    event_store.mark_published([positions[0], positions[2]])

    # then only the others remain, still in position order
    assert event_store.read_unpublished(100) == [written[1], written[3], written[4]]
    assert event_store.unpublished_count() == 3

    # and marking is idempotent, and everything can be marked
    event_store.mark_published([positions[0]])
    event_store.mark_published(positions)
    assert event_store.read_unpublished(100) == []
    assert event_store.unpublished_count() == 0
    event_store.mark_published([])


def test_read_all_pages_through_every_commit_after_a_position_published_or_not(event_store):
    # given six commits, two of them already published
    streams = [unique_name("s") for _ in range(6)]
    written = [event_store.append(s, STREAM_TYPE, 0, events(s, 1, 1)) for s in streams]
    event_store.mark_published([written[1].position, written[4].position])

    # when the log is read in pages of two after each last position seen
    seen: list[Commit] = []
    sizes: list[int] = []
    after = 0
    while page := event_store.read_all(after, 2):
        sizes.append(len(page))
        seen += page
        after = page[-1].position

    # then every commit is visited once, in position order, in full pages
    assert seen == written
    assert sizes == [2, 2, 2]
    assert event_store.read_all(written[3].position, 100) == written[4:]
    assert event_store.read_all(written[-1].position, 100) == []


def test_new_commits_are_unpublished_and_counted(event_store):
    # given an empty store
    assert event_store.unpublished_count() == 0
    assert event_store.read_unpublished(10) == []
    stream = unique_name("s")

    # when commits are appended, then each one counts once, however many events it holds
    event_store.append(stream, STREAM_TYPE, 0, events(stream, 1, 3))
    assert event_store.unpublished_count() == 1
    event_store.append(stream, STREAM_TYPE, 3, events(stream, 4, 1))
    assert event_store.unpublished_count() == 2


# -- several processes --------------------------------------------------------------------------------

def _race_worker(url: str, stream: str, rounds: int, name: str, barrier: Any, results: Any) -> None:
    """Child process: in every round, append at the version the stream had before the round."""
    store = open_event_store(url)
    try:
        for round_ in range(rounds):
            barrier.wait(timeout=60)
            try:
                commit = store.append(stream, STREAM_TYPE, round_, [event(stream, round_ + 1, writer=name)])
                results.put((round_, name, "won", commit.position))
            except ConcurrencyConflict as exc:
                results.put((round_, name, "lost", exc.actual))
            barrier.wait(timeout=60)
    except BaseException as exc:
        barrier.abort()  # release the other racer at once
        results.put((-1, name, "crashed", repr(exc)))
        raise
    finally:
        store.close()


def _run_children(target: Any, argument_lists: list[tuple], results: Any, expected_results: int) -> list[tuple]:
    context = multiprocessing.get_context("spawn")
    children = [context.Process(target=target, args=args) for args in argument_lists]
    for child in children:
        child.start()
    collected: list[tuple] = []
    try:
        while len(collected) < expected_results:
            try:
                item = results.get(timeout=60)
            except queue.Empty:
                raise AssertionError(f"children reported {len(collected)} of {expected_results} results") from None
            assert item[2] != "crashed", item
            collected.append(item)
    finally:
        for child in children:
            child.join(timeout=60)
            if child.is_alive():
                child.terminate()
                child.join()
    assert [child.exitcode for child in children] == [0] * len(children)
    return collected


def test_two_processes_appending_at_the_same_version_exactly_one_wins_every_round(event_store_and_url):
    # given two processes that, in each of 20 rounds, append to one stream at the same expected
    # version, released together by a barrier so that they really race
    store, url = event_store_and_url
    stream, rounds = unique_name("race"), 20
    assert store.stream_version(stream) == 0  # the store is in use before the racers start
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()

    # when they race
    outcomes = _run_children(
        _race_worker, [(url, stream, rounds, name, barrier, results) for name in ("left", "right")],
        results, 2 * rounds)

    # then every round has exactly one winner and one loser, who saw the winner's version
    for round_ in range(rounds):
        this_round = sorted((o for o in outcomes if o[0] == round_), key=lambda o: o[2])
        assert [o[2] for o in this_round] == ["lost", "won"], this_round
        assert this_round[0][3] == round_ + 1  # the loser's ConcurrencyConflict.actual
    # and the stream holds exactly one commit per version, written by that round's winner
    assert store.stream_version(stream) == rounds
    loaded = store.load(stream)
    assert [e["streamversion"] for e in loaded] == list(range(1, rounds + 1))
    winners = {o[0]: o[1] for o in outcomes if o[2] == "won"}
    assert [e["data"]["writer"] for e in loaded] == [winners[r] for r in range(rounds)]
    commits = store.read_all(0, 1000)
    assert [(c.first_version, c.last_version) for c in commits] == [(v, v) for v in range(1, rounds + 1)]
    results.close()
    results.join_thread()


def _writer_worker(url: str, name: str, streams: int, commits_per_stream: int, barrier: Any,
                   results: Any) -> None:
    """Child process: append to its own streams, round robin, reporting every commit's position."""
    store = open_event_store(url)
    try:
        barrier.wait(timeout=60)
        own = [f"{name}-{i}" for i in range(streams)]
        for n in range(commits_per_stream):
            for stream in own:
                size = 1 + (n % 2)
                first = store.stream_version(stream) + 1
                commit = store.append(stream, STREAM_TYPE, first - 1, events(stream, first, size, writer=name))
                results.put((name, stream, commit.first_version, commit.last_version, commit.position))
    except BaseException as exc:
        barrier.abort()
        results.put((name, "", "crashed", repr(exc)))
        raise
    finally:
        store.close()


def test_many_processes_appending_to_different_streams_lose_no_commit_and_get_unique_increasing_positions(
        event_store_and_url):
    # given four processes each appending ten commits to each of its three streams, all at once
    store, url = event_store_and_url
    writers, streams, per_stream = 4, 3, 10
    assert store.unpublished_count() == 0  # the store is in use before the writers start
    prefix = unique_name("w")
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(writers), context.Queue()

    # when they run
    reported = _run_children(
        _writer_worker, [(url, f"{prefix}{i}", streams, per_stream, barrier, results) for i in range(writers)],
        results, writers * streams * per_stream)

    # then the log holds every reported commit, once, in strictly increasing position order
    log = store.read_all(0, 10_000)
    positions = [c.position for c in log]
    assert len(log) == writers * streams * per_stream
    assert positions == sorted(set(positions))
    assert set(positions) == {r[4] for r in reported}
    assert store.read_unpublished(10_000) == log
    assert store.unpublished_count() == len(log)
    # and each stream's commits have contiguous versions, with positions growing with versions
    by_stream: dict[str, list[Commit]] = {}
    for commit in log:
        by_stream.setdefault(commit.stream_id, []).append(commit)
    assert len(by_stream) == writers * streams
    for stream, commits in by_stream.items():
        versions = [(c.first_version, c.last_version) for c in commits]
        assert versions == sorted(versions)
        assert [c.first_version for c in commits[1:]] == [c.last_version + 1 for c in commits[:-1]]
        assert [e["streamversion"] for e in store.load(stream)] == list(range(1, commits[-1].last_version + 1))
    # and each writer's commits got positions in the order it appended them
    for name in {r[0] for r in reported}:
        mine = [r[4] for r in reported if r[0] == name]  # a child's queue keeps its put order
        assert mine == sorted(mine)
    results.close()
    results.join_thread()


# -- leases ------------------------------------------------------------------------------------------

def test_a_lease_has_one_holder_at_a_time_and_the_holder_can_renew_it(event_store):
    lease = unique_name("relay")
    # given a lease taken by one holder
    assert event_store.acquire_lease(lease, "one", 30) is True
    # then another holder cannot take it, while the holder renews it
    assert event_store.acquire_lease(lease, "two", 30) is False
    assert event_store.acquire_lease(lease, "one", 30) is True
    assert event_store.acquire_lease(lease, "two", 30) is False
    # and other leases are independent
    assert event_store.acquire_lease(unique_name("relay"), "two", 30) is True


def test_another_holder_acquires_a_lease_once_it_expired(event_store):
    # given a lease held with a short ttl
    lease = unique_name("relay")
    assert event_store.acquire_lease(lease, "one", 0.3) is True
    assert event_store.acquire_lease(lease, "two", 30) is False

    # when its holder stops renewing it, then another holder gets it after the ttl
    wait_until(lambda: event_store.acquire_lease(lease, "two", 30), what="the expired lease is free", timeout=10)
    # and the first holder has lost it
    assert event_store.acquire_lease(lease, "one", 30) is False


def test_releasing_a_lease_lets_another_holder_take_it_at_once_but_only_the_holder_can_release(event_store):
    # given a lease with a long ttl
    lease = unique_name("relay")
    assert event_store.acquire_lease(lease, "one", 60) is True

    # when someone else releases it, then nothing changes
    event_store.release_lease(lease, "two")
    assert event_store.acquire_lease(lease, "two", 60) is False

    # when its holder releases it, then another holder takes it immediately
    event_store.release_lease(lease, "one")
    assert event_store.acquire_lease(lease, "two", 60) is True
    assert event_store.acquire_lease(lease, "one", 60) is False
    # and releasing a lease nobody holds is harmless
    event_store.release_lease(unique_name("relay"), "one")


# -- unique claims -----------------------------------------------------------------------------------

def test_the_first_claim_wins_and_a_second_owner_is_told_who_holds_it(event_store):
    scope, value = unique_name("email"), "ada@example.org"
    # given a value claimed by one owner
    assert event_store.claim(scope, value, "contact-1") is None
    # then another owner gets the first owner back, and the same owner may claim again
    assert event_store.claim(scope, value, "contact-2") == "contact-1"
    assert event_store.claim(scope, value, "contact-1") is None
    assert event_store.claim(scope, value, "contact-2") == "contact-1"
    # and the same value in another scope, or another value, is free
    assert event_store.claim(unique_name("email"), value, "contact-2") is None
    assert event_store.claim(scope, "bob@example.org", "contact-2") is None


def test_only_the_owner_can_release_a_claim(event_store):
    # given a claimed value
    scope, value = unique_name("email"), "ada@example.org"
    assert event_store.claim(scope, value, "contact-1") is None

    # when another owner releases it, then it stays claimed
    event_store.release_claim(scope, value, "contact-2")
    assert event_store.claim(scope, value, "contact-2") == "contact-1"

    # when the owner releases it, then the next claimant gets it
    event_store.release_claim(scope, value, "contact-1")
    assert event_store.claim(scope, value, "contact-2") is None
    assert event_store.claim(scope, value, "contact-1") == "contact-2"
    # and releasing an unclaimed value is harmless
    event_store.release_claim(scope, "nobody@example.org", "contact-1")


# -- idempotency keys ---------------------------------------------------------------------------------

def test_begin_request_is_free_first_then_returns_the_in_progress_record(event_store):
    key = unique_name("idem")
    # given a first request with a key
    assert event_store.begin_request(key, "hash-1", 3600) is None

    # when the same key comes again while the first is being handled
    stored = event_store.begin_request(key, "hash-2", 3600)

    # then the first request's record comes back, without a status, keeping the first hash
    assert stored == StoredResponse("hash-1", None, b"", {})
    assert event_store.begin_request(key, "hash-1", 3600) == stored
    # and other keys are independent
    assert event_store.begin_request(unique_name("idem"), "hash-1", 3600) is None


def test_finish_request_stores_the_response_that_later_requests_get(event_store):
    # given a finished request
    key = unique_name("idem")
    body = b'{"id": "c-1", "name": "\xc3\x89mile"}\x00\xff'
    headers = {"Content-Type": "application/json", "Location": "/contacts/c-1", "ETag": '"1"'}
    assert event_store.begin_request(key, "hash-1", 3600) is None
    event_store.finish_request(key, 201, body, headers)

    # when the key is used again, then the stored response comes back byte for byte
    assert event_store.begin_request(key, "hash-1", 3600) == StoredResponse("hash-1", 201, body, headers)
    assert event_store.begin_request(key, "hash-other", 3600) == StoredResponse("hash-1", 201, body, headers)


def test_abandon_request_frees_an_in_progress_key_but_not_a_finished_one(event_store):
    # given a request that failed before it finished
    key = unique_name("idem")
    assert event_store.begin_request(key, "hash-1", 3600) is None

    # when it is abandoned, then the key is free for a retry, which may have another body
    event_store.abandon_request(key)
    assert event_store.begin_request(key, "hash-2", 3600) is None
    assert event_store.begin_request(key, "hash-1", 3600) == StoredResponse("hash-2", None, b"", {})

    # and once finished, abandoning it no longer forgets the response
    event_store.finish_request(key, 200, b"ok", {})
    event_store.abandon_request(key)
    assert event_store.begin_request(key, "hash-2", 3600) == StoredResponse("hash-2", 200, b"ok", {})
    # and abandoning an unknown key is harmless
    event_store.abandon_request(unique_name("idem"))


@pytest.mark.parametrize("finished", [False, True], ids=["in-progress", "finished"])
def test_an_expired_idempotency_key_is_free_again(event_store, finished):
    # given a key recorded with a one-second ttl
    key = unique_name("idem")
    assert event_store.begin_request(key, "hash-1", 1) is None
    if finished:
        event_store.finish_request(key, 201, b"first", {"X": "1"})

    # when the ttl has passed, then the key is free and the next request owns it
    wait_until(lambda: event_store.begin_request(key, "hash-2", 3600) is None,
               what="the idempotency key expired", timeout=10, interval=0.1)
    assert event_store.begin_request(key, "hash-3", 3600) == StoredResponse("hash-2", None, b"", {})


def test_commits_record_the_idempotent_request_that_appended_them(event_store):
    # given a request holding its key, and another stream appended under no key
    key = unique_name("idem")
    assert event_store.begin_request(key, "hash-1", 3600, holder="attempt-1", lease_seconds=60) is None
    lease = RequestLease(key, "attempt-1")
    stream, other = unique_name("stream"), unique_name("stream")
    event_store.append(other, "contact", 0, events(other, 1, 1))

    # when it appends two commits
    event_store.append(stream, "contact", 0, events(stream, 1, 2), lease)
    event_store.append(stream, "contact", 2, events(stream, 3, 1), lease)

    # then the key finds exactly those, in order; another key finds none
    assert [(c.stream_id, c.first_version, c.last_version) for c in event_store.request_commits(key)] == [
        (stream, 1, 2), (stream, 3, 3)]
    assert event_store.request_commits(unique_name("idem")) == []
    # and the commits are the same as any other to everything else
    assert [e["streamversion"] for e in event_store.load(stream)] == [1, 2, 3]


def test_a_key_whose_lease_ran_out_is_taken_over_by_one_retry_and_fences_the_first_attempt(event_store):
    # given a first attempt holding its key for two seconds (time enough for the checks below on a busy
    # machine), which appended once
    key, stream = unique_name("idem"), unique_name("stream")
    assert event_store.begin_request(key, "hash-1", 3600, holder="first", lease_seconds=2) is None
    event_store.append(stream, "contact", 0, events(stream, 1, 1), RequestLease(key, "first"))

    # while the lease runs, a retry sees the key in progress and cannot take it over
    seen = event_store.begin_request(key, "hash-1", 3600, holder="retry-1", lease_seconds=60)
    assert seen == StoredResponse("hash-1", None, b"", {}) and seen.lease_until > 0
    assert not event_store.resume_request(key, "retry-1", seen.lease_until, 60)

    # when the lease has run out, then one retry takes the key over; another with the same view is too late
    wait_until(lambda: event_store.begin_request(key, "hash-1", 3600, holder="x").lease_until < time.time(),
               what="the first attempt's lease ran out", timeout=10, interval=0.05)
    late = event_store.begin_request(key, "hash-1", 3600, holder="retry-1", lease_seconds=60)
    assert event_store.resume_request(key, "retry-1", late.lease_until, 60)
    assert not event_store.resume_request(key, "retry-2", late.lease_until, 60)
    # and the retry sees what the first attempt appended
    assert [c.stream_id for c in event_store.request_commits(key)] == [stream]

    # then the first attempt, if it still runs, can append nothing more, nor answer, nor free the key
    with pytest.raises(RequestSuperseded):
        event_store.append(stream, "contact", 1, events(stream, 2, 1), RequestLease(key, "first"))
    assert event_store.stream_version(stream) == 1
    event_store.finish_request(key, 500, b"late", {}, holder="first")
    event_store.abandon_request(key, holder="first")
    assert event_store.begin_request(key, "hash-1", 3600).status is None
    # and the retry's answer is the key's
    event_store.append(stream, "contact", 1, events(stream, 2, 1), RequestLease(key, "retry-1"))
    event_store.finish_request(key, 200, b"retried", {}, holder="retry-1")
    assert event_store.begin_request(key, "hash-1", 3600) == StoredResponse("hash-1", 200, b"retried", {})


def test_an_append_under_a_key_nobody_holds_is_refused(event_store):
    stream = unique_name("stream")
    with pytest.raises(RequestSuperseded):
        event_store.append(stream, "contact", 0, events(stream, 1, 1), RequestLease(unique_name("idem"), "ghost"))
    assert event_store.stream_version(stream) == 0


def test_ping_answers_and_prepare_is_idempotent(event_store):
    # given a store prepared twice (the init step may run on every deploy)
    event_store.ping()
    event_store.prepare()
    event_store.prepare()
    # then it works as before
    stream = unique_name("s")
    event_store.append(stream, STREAM_TYPE, 0, events(stream, 1, 1))
    assert event_store.stream_version(stream) == 1
    event_store.prepare()
    assert event_store.stream_version(stream) == 1
