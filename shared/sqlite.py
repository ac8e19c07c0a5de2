"""One SQLite database file shared safely by threads and forked processes.

Each thread of each process gets its own connection (sqlite3 connections must not cross threads, and
must never be inherited across fork). WAL lets readers run beside the single writer; `BEGIN
IMMEDIATE` takes the write lock up front so read-then-write sequences cannot interleave.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from shared.errors import TransientError

T = TypeVar("T")


def path_from_url(url: str) -> str:
    """`sqlite:///var/x.db` is relative to the working directory, `sqlite:////abs/x.db` absolute."""
    if not url.startswith("sqlite:///"):
        raise ValueError(f"not a sqlite URL: {url!r}")
    return url[len("sqlite:///"):]


def _casefold(value: str | bytes | int | float | None) -> str | bytes | int | float | None:
    return value.casefold() if isinstance(value, str) else value


def _switch_to_wal(conn: sqlite3.Connection, timeout: float = 30.0) -> None:
    """Switching a new file to WAL needs an exclusive lock, and SQLite answers "database is locked"
    at once (no busy handler) while another process holds one. Under `make run` a dozen processes
    open the same new files at the same moment, so wait for the lock like any other writer."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class _Pending:
    """One thread's part of a group commit (`SQLiteDatabase.write_together`)."""

    __slots__ = ("work", "done", "value", "error")

    def __init__(self, work: Callable[[sqlite3.Connection], Any]) -> None:
        self.work = work
        self.done = False
        self.value: Any = None
        self.error: BaseException | None = None


class SQLiteDatabase:
    def __init__(self, path: str, *, synchronous: str = "FULL") -> None:
        self.path = path
        self.synchronous = synchronous
        self._local = threading.local()
        self._group = threading.Condition()
        self._queue: list[_Pending] = []
        self._committing = False
        self._turns: tuple[int, int] | None = None  # (pid, fd) of the file whose lock orders group commits
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)

    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=True)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA busy_timeout=30000")
            _switch_to_wal(conn)
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            # deleted and overwritten content is zeroed, not left in free pages: an erasure (issue 15)
            # deletes documents and shreds keys, and a copy of the file must not hold them still
            conn.execute("PRAGMA secure_delete=ON")
            # SQLite's LOWER() folds ASCII only; searches must find "Émile" from "émile" too.
            conn.create_function("casefold", 1, _casefold, deterministic=True)
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction holding the database's write lock from its first statement."""
        conn = self.conn
        if conn.in_transaction:  # nested: join the outer transaction
            yield conn
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise TransientError(f"sqlite busy: {exc}") from exc
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            self._abandon(conn)
            raise

    def _abandon(self, conn: sqlite3.Connection) -> None:
        """Undo a transaction that did not commit. A connection that cannot even roll back (a disk
        error) is closed and forgotten: left open in its transaction, it would hold the write lock, and
        this thread's next write would join that transaction instead of beginning its own."""
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
            self._local.conn = None

    def write_together(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """`work` in a write transaction, committed together with whatever other threads of this process
        hand in meanwhile (group commit): one transaction and one fsync for several writers, where each
        would otherwise take the write lock and fsync in turn. Returns once the transaction holding
        `work` is committed (durable under synchronous=FULL), with what `work` returned; raises what it
        raised (its own changes undone, a savepoint each, the others' kept) or what the commit raised.

        One thread at a time commits: the first to arrive runs everything queued in one transaction,
        and what arrives while it does waits for the next; so a batch is what piled up during one
        commit, and a lone writer pays nothing extra. Inside an open transaction of its own thread,
        `work` simply joins it."""
        if self.conn.in_transaction:
            return work(self.conn)
        mine = _Pending(work)
        with self._group:
            self._queue.append(mine)
            while self._committing and not mine.done:
                self._group.wait()
            if not mine.done:
                self._committing = True
                batch, self._queue = self._queue, []
        if not mine.done:
            try:
                self._commit_together(batch)
            finally:
                with self._group:
                    self._committing = False
                    self._group.notify_all()
        if mine.error is not None:
            raise mine.error
        return mine.value

    def _turn_file(self) -> int | None:
        """The lock file beside the database that orders the processes' group commits (None in memory)."""
        if self.path == ":memory:":
            return None
        if self._turns is None or self._turns[0] != os.getpid():  # an inherited descriptor shares the lock
            self._turns = (os.getpid(), os.open(f"{self.path}-commit.lock", os.O_RDWR | os.O_CREAT, 0o600))
        return self._turns[1]

    def _commit_together(self, batch: list[_Pending]) -> None:
        """Every part of `batch` done (value or error) once this returns, whatever happens.

        The processes' committing threads queue on an exclusive lock of a file beside the database
        before they take SQLite's write lock: SQLite makes a writer that finds the database locked
        sleep and retry (1, 2, 5, 10 ms... up to 100 ms a time), so two API workers' commits used to
        wait for each other far longer than a commit takes; the file lock wakes the next at once.
        Writers that do not group-commit (relays, claims) still take SQLite's lock the usual way:
        the file lock orders, SQLite's lock still guards."""
        committed, failure, turns = False, None, None
        try:
            conn = self.conn
            turns = self._turn_file()
            if turns is not None:
                fcntl.flock(turns, fcntl.LOCK_EX)
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise TransientError(f"sqlite busy: {exc}") from exc
            try:
                for part in batch:
                    conn.execute("SAVEPOINT part")
                    try:
                        part.value = part.work(conn)
                    except Exception as exc:  # this part's own failure (a lost race): the rest go on
                        conn.execute("ROLLBACK TO part")
                        part.error = exc
                    conn.execute("RELEASE part")
                conn.execute("COMMIT")
                committed = True
            finally:
                if not committed:  # a COMMIT that failed leaves the transaction open: undo it all
                    self._abandon(conn)
        except BaseException as exc:  # nothing of the batch was committed: each part fails with this
            failure = exc
        finally:
            if turns is not None:
                fcntl.flock(turns, fcntl.LOCK_UN)
            with self._group:
                for part in batch:
                    if not committed and part.error is None:  # never told it succeeded
                        part.value = None
                        part.error = failure or TransientError("the group commit did not complete")
                    part.done = True
        if failure is not None and not isinstance(failure, Exception):
            raise failure  # an interrupt or exit: every part was told, now it goes on up

    def execute(self, sql: str, params: tuple | list = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def close(self) -> None:
        if self._turns is not None and self._turns[0] == os.getpid():
            os.close(self._turns[1])
        self._turns = None
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            conn.close()
        self._local.conn = None
