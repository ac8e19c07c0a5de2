"""SQLite-only behaviour: many processes opening one new file at once (what `make run` does), and the
event store's group commit (threads' appends committed together, each acknowledged once durable)."""
from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from pathlib import Path

import pytest

from tests.support import wait_until


def _open(path: str, barrier: multiprocessing.synchronize.Barrier) -> None:
    from shared.readstore.sqlite import SQLiteReadStore

    barrier.wait()
    SQLiteReadStore(f"sqlite:///{path}").collection("docs")


def test_a_dozen_processes_can_open_a_new_file_at_the_same_moment(tmp_path: Path) -> None:
    # switching a new file to WAL takes an exclusive lock: the others must wait for it, not fail
    context = multiprocessing.get_context("spawn")
    for round_ in range(5):
        barrier = context.Barrier(12)
        processes = [context.Process(target=_open, args=(str(tmp_path / f"r{round_}.db"), barrier)) for _ in range(12)]
        for process in processes:
            process.start()
        for process in processes:
            process.join(60)
        assert [p.exitcode for p in processes] == [0] * 12


def test_a_shredded_key_is_gone_from_the_files_bytes_not_only_from_its_rows(tmp_path: Path) -> None:
    """Crypto-shredding on SQLite: neither the database file nor its write-ahead log keeps the wrapped
    key in a free page or an old frame (secure_delete, and a checkpoint after each shredding)."""
    from shared.keys.sqlite import SQLiteKeyStore
    from shared.keys.vault import DataKeys, MasterKey

    store = SQLiteKeyStore(f"sqlite:///{tmp_path}/keys.db")
    keys = DataKeys(store, MasterKey.generate("m1"))
    for n in range(20):
        keys.key_for(f"student:s-{n}")
    record = store.by_subject("student:s-7")
    assert record is not None and record.wrapped is not None

    def on_disk() -> bytes:
        return b"".join(p.read_bytes() for p in tmp_path.glob("keys.db*"))

    assert record.wrapped in on_disk()
    assert keys.shred("student:s-7")
    assert record.wrapped not in on_disk()
    assert store.by_subject("student:s-8") is not None  # the others are kept


def test_appends_that_arrive_while_one_commits_are_committed_together_and_each_waits_for_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.errors import ConcurrencyConflict
    from shared.eventstore.sqlite import SQLiteEventStore
    from shared.sqlite import SQLiteDatabase

    store = SQLiteEventStore(f"sqlite:///{tmp_path}/events.db")
    store.append("taken", "thing", 0, [{"n": 0}])
    commits: list[int] = []  # how many parts each transaction committed
    first_in, release = threading.Event(), threading.Event()
    real = SQLiteDatabase._commit_together

    def observed(self: SQLiteDatabase, batch: list) -> None:
        if not commits:  # hold the first commit until the others have queued behind it
            first_in.set()
            release.wait(10)
        commits.append(len(batch))
        real(self, batch)

    monkeypatch.setattr(SQLiteDatabase, "_commit_together", observed)
    answers: dict[str, object] = {}

    def append(stream: str, expected: int) -> None:
        try:
            answers[stream] = store.append(stream, "thing", expected, [{"n": 1}])
        except ConcurrencyConflict as conflict:
            answers[stream] = conflict

    first = threading.Thread(target=append, args=("s-0", 0))
    first.start()
    assert first_in.wait(10)
    others = [threading.Thread(target=append, args=(f"s-{n}", 0)) for n in range(1, 6)]
    others.append(threading.Thread(target=append, args=("taken", 0)))  # a lost race among them
    for thread in others:
        thread.start()
    wait_until(lambda: len(store.db._queue) >= len(others), timeout=10, seen=lambda: len(store.db._queue),
               what=f"all {len(others)} appends queue behind the held first commit")
    assert not any(answers.get(f"s-{n}") for n in range(1, 6))  # nobody answered before its commit
    release.set()
    for thread in [first, *others]:
        thread.join(10)

    # then the five appends and the refused one went in one transaction after the first; the refused
    # one alone failed, and every acknowledged commit is durable, read through a new connection
    assert commits == [1, 6]
    assert isinstance(answers["taken"], ConcurrencyConflict)
    fresh = sqlite3.connect(str(tmp_path / "events.db"))
    stored = {row[0] for row in fresh.execute("SELECT stream_id FROM commits WHERE first_version = 1")}
    assert stored == {"taken", *(f"s-{n}" for n in range(6))}
    assert fresh.execute("SELECT COUNT(*) FROM commits WHERE stream_id = 'taken'").fetchone()[0] == 1
    positions = [answers[f"s-{n}"].position for n in range(6)]  # type: ignore[attr-defined]
    assert len(set(positions)) == 6


def test_an_append_inside_its_threads_own_transaction_joins_it_and_is_undone_with_it(tmp_path: Path) -> None:
    from shared.eventstore.sqlite import SQLiteEventStore

    store = SQLiteEventStore(f"sqlite:///{tmp_path}/events.db")
    store.append("s", "thing", 0, [{"n": 1}])

    # an append inside a transaction of its own thread joins it: rolled back with it, nothing is stored
    with pytest.raises(RuntimeError), store.db.write():
        store.append("s", "thing", 1, [{"n": 2}])
        raise RuntimeError("the enclosing transaction fails")
    assert store.stream_version("s") == 1


def test_a_commit_that_fails_fails_every_part_of_its_batch_stores_none_and_leaves_the_database_usable(
        tmp_path: Path) -> None:
    """SQLite checks a deferred foreign key at COMMIT: a batch whose COMMIT fails is rolled back whole,
    each part raises that failure (none is told it succeeded), and the next group commit works."""
    from shared.sqlite import SQLiteDatabase

    db = SQLiteDatabase(str(tmp_path / "fk.db"))
    db.conn.executescript("PRAGMA foreign_keys = ON;"
                          "CREATE TABLE parents (id INTEGER PRIMARY KEY);"
                          "CREATE TABLE children (id INTEGER PRIMARY KEY, parent INTEGER"
                          " REFERENCES parents (id) DEFERRABLE INITIALLY DEFERRED);")
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        db.write_together(lambda conn: conn.execute("INSERT INTO children (parent) VALUES (42)").lastrowid)
    assert not db.conn.in_transaction
    assert db.conn.execute("SELECT COUNT(*) FROM children").fetchone()[0] == 0

    assert db.write_together(lambda conn: conn.execute("INSERT INTO parents (id) VALUES (42)").lastrowid) == 42
    fresh = sqlite3.connect(str(tmp_path / "fk.db"))
    assert fresh.execute("SELECT id FROM parents").fetchall() == [(42,)]
    # the same through a plain write transaction
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"), db.write() as conn:
        conn.execute("INSERT INTO children (parent) VALUES (7)")
    assert not db.conn.in_transaction and db.conn.execute("SELECT COUNT(*) FROM children").fetchone()[0] == 0


class _Failing:
    """A connection whose COMMIT and ROLLBACK fail (a disk that went away), the rest passed through."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.real, self.closed = conn, False

    def __getattr__(self, name: str) -> object:
        return getattr(self.real, name)

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
        if sql in ("COMMIT", "ROLLBACK"):
            raise sqlite3.OperationalError("disk I/O error")
        return self.real.execute(sql, *args)

    def close(self) -> None:
        self.closed = True
        self.real.close()


def test_a_connection_that_can_neither_commit_nor_roll_back_fails_its_batch_and_is_replaced(tmp_path: Path) -> None:
    import os

    from shared.sqlite import SQLiteDatabase

    db = SQLiteDatabase(str(tmp_path / "io.db"))
    db.conn.execute("CREATE TABLE rows (id INTEGER PRIMARY KEY)")
    failing = _Failing(db.conn)
    db._local.conn, db._local.pid = failing, os.getpid()
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        db.write_together(lambda conn: conn.execute("INSERT INTO rows (id) VALUES (1)").lastrowid)
    # the stuck connection was closed and forgotten: the next write begins afresh, nothing joins it
    assert failing.closed and db.conn is not failing
    assert db.write_together(lambda conn: conn.execute("INSERT INTO rows (id) VALUES (2)").lastrowid) == 2
    assert sqlite3.connect(str(tmp_path / "io.db")).execute("SELECT id FROM rows").fetchall() == [(2,)]


def test_an_event_store_file_from_before_idempotency_leases_is_brought_up_to_date_when_opened(tmp_path: Path) -> None:
    """A `make run` data directory made by an earlier release: its commits and idempotency tables lack the
    columns leases need; opening the file adds them, and what it held reads as before."""
    from shared.eventstore import RequestLease
    from shared.eventstore.sqlite import SQLiteEventStore
    path = tmp_path / "events.db"
    old = sqlite3.connect(path)
    old.executescript("""
        CREATE TABLE commits (position INTEGER PRIMARY KEY AUTOINCREMENT, stream_id TEXT NOT NULL,
            stream_type TEXT NOT NULL, first_version INTEGER NOT NULL, last_version INTEGER NOT NULL,
            events TEXT NOT NULL, recorded_at TEXT NOT NULL, published INTEGER NOT NULL DEFAULT 0,
            UNIQUE (stream_id, first_version));
        CREATE TABLE idempotency (key TEXT PRIMARY KEY, request_hash TEXT NOT NULL, status INTEGER, body BLOB,
            headers TEXT, expires_at REAL NOT NULL);
        INSERT INTO commits (stream_id, stream_type, first_version, last_version, events, recorded_at)
            VALUES ('c-1', 'contact', 1, 1, '[{"id": "e-1"}]', '2026-01-01T00:00:00Z');
        INSERT INTO idempotency (key, request_hash, expires_at) VALUES ('student-1:k', 'h', 9e9);
    """)
    old.commit()
    old.close()

    store = SQLiteEventStore(f"sqlite:///{path}")
    try:
        # what it held reads as before; the old in-progress key counts as cut off, and one retry takes it over
        assert store.load("c-1") == [{"id": "e-1"}]
        seen = store.begin_request("student-1:k", "h", 3600, holder="retry")
        assert seen is not None and seen.status is None and seen.lease_until == 0.0
        assert store.request_commits("student-1:k") == []
        assert store.resume_request("student-1:k", "retry", seen.lease_until, 60)
        assert not store.resume_request("student-1:k", "other", seen.lease_until, 60)
        # and the new columns work
        store.append("c-1", "contact", 1, [{"id": "e-2"}], RequestLease("student-1:k", "retry"))
        assert [c.last_version for c in store.request_commits("student-1:k")] == [2]
    finally:
        store.db.close()
    # opening it again changes nothing
    SQLiteEventStore(f"sqlite:///{path}").db.close()
