"""SQLite event store: one file per service, WAL, synchronous=FULL (an accepted command is durable)."""
from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from typing import Any

from shared.errors import ConcurrencyConflict, RequestSuperseded
from shared.events import isoformat, utcnow
from shared.eventstore.port import Commit, RequestLease, StoredResponse
from shared.sqlite import SQLiteDatabase, path_from_url

_SCHEMA = """
CREATE TABLE IF NOT EXISTS commits (
    position      INTEGER PRIMARY KEY AUTOINCREMENT,
    stream_id     TEXT    NOT NULL,
    stream_type   TEXT    NOT NULL,
    first_version INTEGER NOT NULL,
    last_version  INTEGER NOT NULL,
    events        TEXT    NOT NULL,
    recorded_at   TEXT    NOT NULL,
    published     INTEGER NOT NULL DEFAULT 0,
    request_key   TEXT,
    UNIQUE (stream_id, first_version)
);
CREATE INDEX IF NOT EXISTS commits_unpublished ON commits (position) WHERE published = 0;
CREATE TABLE IF NOT EXISTS leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS claims (
    scope TEXT NOT NULL, value TEXT NOT NULL, owner TEXT NOT NULL, PRIMARY KEY (scope, value)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY, request_hash TEXT NOT NULL, status INTEGER, body BLOB, headers TEXT,
    expires_at REAL NOT NULL, holder TEXT, lease_until REAL
);
"""
# columns added since the first release: a file made before gets them when opened (NULL in old rows: an
# old in-progress key counts as cut off, an old commit as appended under no key)
_ADDED_COLUMNS = {"commits": {"request_key": "TEXT"}, "idempotency": {"holder": "TEXT", "lease_until": "REAL"}}
_AFTER_COLUMNS = """
CREATE INDEX IF NOT EXISTS commits_request ON commits (request_key) WHERE request_key IS NOT NULL;
"""


class SQLiteEventStore:
    def __init__(self, url: str) -> None:
        self.db = SQLiteDatabase(path_from_url(url), synchronous="FULL")
        self.db.conn.executescript(_SCHEMA)
        for table, columns in _ADDED_COLUMNS.items():
            have = {row["name"] for row in self.db.conn.execute(f"PRAGMA table_info({table})")}
            for name, kind in columns.items():
                if name not in have:
                    self.db.conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
        self.db.conn.executescript(_AFTER_COLUMNS)

    # -- streams ----------------------------------------------------------------------------
    def append(self, stream_id: str, stream_type: str, expected_version: int,
               events: Sequence[dict[str, Any]], request: RequestLease | None = None) -> Commit:
        if not events:
            raise ValueError("a commit holds at least one event")
        first, last = expected_version + 1, expected_version + len(events)
        recorded_at = isoformat(utcnow())
        stored = json.dumps(list(events))

        def insert(conn: sqlite3.Connection) -> int:
            actual = self._version(conn, stream_id)  # under the write lock: no other writer moves it now
            if actual != expected_version:
                raise ConcurrencyConflict(stream_id, expected_version, actual)
            if request is not None:  # under the same lock: a retry cannot take the key over meanwhile
                held = conn.execute("SELECT holder FROM idempotency WHERE key = ? AND status IS NULL",
                                    (request.key,)).fetchone()
                if held is None or held["holder"] != request.holder:
                    raise RequestSuperseded(request.key)
            try:
                cursor = conn.execute(
                    "INSERT INTO commits (stream_id, stream_type, first_version, last_version, events, recorded_at,"
                    " request_key) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (stream_id, stream_type, first, last, stored, recorded_at, request.key if request else None),
                )
            except sqlite3.IntegrityError as exc:  # the unique key is the last line of defence
                raise ConcurrencyConflict(stream_id, expected_version, self._version(conn, stream_id)) from exc
            return cursor.lastrowid or 0

        # Group commit: the appends of this process's threads (gunicorn's gthread workers) that arrive
        # while one commits go in the next transaction together, one fsync for all of them; each returns
        # (and its command answers) only once the transaction with its commit is durable. Each append
        # still checks its expected version under the write lock, in its own savepoint, so a lost race
        # fails alone (two appends to one stream in a batch: the second sees the first and conflicts).
        position = self.db.write_together(insert)
        return Commit(position, stream_id, stream_type, first, last, list(events), recorded_at)

    def load(self, stream_id: str) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT events FROM commits WHERE stream_id = ? ORDER BY first_version", (stream_id,)
        ).fetchall()
        return [event for row in rows for event in json.loads(row["events"])]

    def load_since(self, stream_id: str, after_version: int) -> list[dict[str, Any]]:
        rows = self.db.execute(  # the (stream_id, first_version) key's index: usually no row, or one
            "SELECT events FROM commits WHERE stream_id = ? AND first_version > ? ORDER BY first_version",
            (stream_id, after_version),
        ).fetchall()
        return [event for row in rows for event in json.loads(row["events"])]

    def stream_version(self, stream_id: str) -> int:
        return self._version(self.db.conn, stream_id)

    @staticmethod
    def _version(conn: sqlite3.Connection, stream_id: str) -> int:
        row = conn.execute("SELECT MAX(last_version) FROM commits WHERE stream_id = ?", (stream_id,)).fetchone()
        return row[0] or 0

    # -- the outbox -------------------------------------------------------------------------
    def read_unpublished(self, limit: int) -> list[Commit]:
        rows = self.db.execute(
            "SELECT * FROM commits WHERE published = 0 ORDER BY position LIMIT ?", (limit,)
        ).fetchall()
        return [self._commit(row) for row in rows]

    def read_all(self, after_position: int, limit: int) -> list[Commit]:
        rows = self.db.execute(
            "SELECT * FROM commits WHERE position > ? ORDER BY position LIMIT ?", (after_position, limit)
        ).fetchall()
        return [self._commit(row) for row in rows]

    def mark_published(self, positions: Sequence[int]) -> None:
        with self.db.write() as conn:
            conn.executemany("UPDATE commits SET published = 1 WHERE position = ?", [(p,) for p in positions])

    def unpublished_count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM commits WHERE published = 0").fetchone()[0]

    @staticmethod
    def _commit(row: sqlite3.Row) -> Commit:
        return Commit(row["position"], row["stream_id"], row["stream_type"], row["first_version"],
                      row["last_version"], json.loads(row["events"]), row["recorded_at"])

    # -- leases -----------------------------------------------------------------------------
    def acquire_lease(self, name: str, holder: str, ttl_seconds: float) -> bool:
        now = time.time()
        with self.db.write() as conn:
            row = conn.execute("SELECT holder, expires_at FROM leases WHERE name = ?", (name,)).fetchone()
            if row is not None and row["holder"] != holder and row["expires_at"] > now:
                return False
            conn.execute(
                "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at",
                (name, holder, now + ttl_seconds),
            )
            return True

    def release_lease(self, name: str, holder: str) -> None:
        with self.db.write() as conn:
            conn.execute("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))

    # -- unique claims ----------------------------------------------------------------------
    def claim(self, scope: str, value: str, owner: str) -> str | None:
        with self.db.write() as conn:
            row = conn.execute("SELECT owner FROM claims WHERE scope = ? AND value = ?", (scope, value)).fetchone()
            if row is not None:
                return None if row["owner"] == owner else row["owner"]
            conn.execute("INSERT INTO claims (scope, value, owner) VALUES (?, ?, ?)", (scope, value, owner))
            return None

    def release_claim(self, scope: str, value: str, owner: str) -> None:
        with self.db.write() as conn:
            conn.execute("DELETE FROM claims WHERE scope = ? AND value = ? AND owner = ?", (scope, value, owner))

    def claims_after(self, scope: str, value: str, limit: int) -> list[tuple[str, str, str]]:
        rows = self.db.execute("SELECT scope, value, owner FROM claims WHERE (scope, value) > (?, ?) "
                               "ORDER BY scope, value LIMIT ?", (scope, value, limit)).fetchall()
        return [(row["scope"], row["value"], row["owner"]) for row in rows]

    def rename_claim(self, scope: str, value: str, new_value: str, owner: str) -> None:
        with self.db.write() as conn:
            conn.execute("INSERT OR IGNORE INTO claims (scope, value, owner) VALUES (?, ?, ?)",
                         (scope, new_value, owner))
            conn.execute("DELETE FROM claims WHERE scope = ? AND value = ? AND owner = ?", (scope, value, owner))

    # -- migration ----------------------------------------------------------------------------
    def replace_events(self, position: int, events: Sequence[dict[str, Any]]) -> None:
        with self.db.write() as conn:
            conn.execute("UPDATE commits SET events = ? WHERE position = ?", (json.dumps(list(events)), position))

    def vacuum(self) -> None:
        """Rewrite the file so that no freed page keeps what an update replaced (after a migration)."""
        self.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.db.conn.execute("VACUUM")
        self.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # -- idempotency keys -------------------------------------------------------------------
    def begin_request(self, key: str, request_hash: str, ttl_seconds: int, *, holder: str = "",
                      lease_seconds: float = 60.0) -> StoredResponse | None:
        now = time.time()
        with self.db.write() as conn:
            row = conn.execute("SELECT * FROM idempotency WHERE key = ? AND expires_at > ?", (key, now)).fetchone()
            if row is not None:
                return StoredResponse(row["request_hash"], row["status"], row["body"] or b"",
                                      json.loads(row["headers"] or "{}"), row["lease_until"] or 0.0)
            conn.execute(
                "INSERT OR REPLACE INTO idempotency (key, request_hash, expires_at, holder, lease_until)"
                " VALUES (?, ?, ?, ?, ?)",
                (key, request_hash, now + ttl_seconds, holder, now + lease_seconds),
            )
            conn.execute("DELETE FROM idempotency WHERE expires_at <= ?", (now,))
            return None

    def resume_request(self, key: str, holder: str, lease_until: float, lease_seconds: float) -> bool:
        with self.db.write() as conn:
            return conn.execute(
                "UPDATE idempotency SET holder = ?, lease_until = ? WHERE key = ? AND status IS NULL"
                " AND IFNULL(lease_until, 0) = ? AND IFNULL(lease_until, 0) <= ?",
                (holder, time.time() + lease_seconds, key, lease_until, time.time())).rowcount == 1

    def request_commits(self, key: str) -> list[Commit]:
        rows = self.db.execute("SELECT * FROM commits WHERE request_key = ? ORDER BY position", (key,)).fetchall()
        return [self._commit(row) for row in rows]

    def finish_request(self, key: str, status: int, body: bytes, headers: dict[str, str], *,
                       holder: str | None = None) -> None:
        with self.db.write() as conn:
            conn.execute("UPDATE idempotency SET status = ?, body = ?, headers = ? WHERE key = ?"
                         " AND (? IS NULL OR holder = ?)", (status, body, json.dumps(headers), key, holder, holder))

    def abandon_request(self, key: str, *, holder: str | None = None) -> None:
        with self.db.write() as conn:
            conn.execute("DELETE FROM idempotency WHERE key = ? AND status IS NULL AND (? IS NULL OR holder = ?)",
                         (key, holder, holder))

    def prepare(self) -> None:
        """Nothing to do: the schema is created when the file is opened."""

    def ping(self) -> None:
        self.db.execute("SELECT 1").fetchone()

    def close(self) -> None:
        self.db.close()
