"""The key store on SQLite (the embedded profile): one table `data_keys` in its own database file."""
from __future__ import annotations

import os
import sqlite3

from shared.keys.port import KeyRecord
from shared.sqlite import SQLiteDatabase

SCHEMA = """
CREATE TABLE IF NOT EXISTS data_keys (
    subject TEXT PRIMARY KEY,
    key_id TEXT NOT NULL UNIQUE,
    wrapped BLOB,
    master_key_id TEXT,
    created_at TEXT NOT NULL,
    erased_at TEXT
);
CREATE INDEX IF NOT EXISTS data_keys_master ON data_keys (master_key_id, subject);
CREATE INDEX IF NOT EXISTS data_keys_erased ON data_keys (erased_at);
"""
COLUMNS = "subject, key_id, wrapped, master_key_id, created_at, erased_at"


def _record(row: sqlite3.Row | None) -> KeyRecord | None:
    if row is None:
        return None
    wrapped = row["wrapped"]
    return KeyRecord(row["subject"], row["key_id"], bytes(wrapped) if wrapped is not None else None,
                     row["master_key_id"], row["created_at"], row["erased_at"])


class SQLiteKeyStore:
    def __init__(self, url: str) -> None:
        self.db = SQLiteDatabase(url.removeprefix("sqlite:///"))
        self._ready_pid: int | None = None

    def _conn(self) -> sqlite3.Connection:
        if self._ready_pid != os.getpid():
            self.prepare()
        return self.db.conn

    def prepare(self) -> None:
        self.db.conn.executescript(SCHEMA)  # idempotent; the file is this store's alone
        self._ready_pid = os.getpid()

    def create(self, record: KeyRecord) -> KeyRecord:
        conn = self._conn()
        with self.db.write():
            conn.execute(f"INSERT OR IGNORE INTO data_keys ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                         (record.subject, record.key_id, record.wrapped, record.master_key_id, record.created_at,
                          record.erased_at))
        stored = self.by_subject(record.subject)
        assert stored is not None
        return stored

    def by_subject(self, subject: str) -> KeyRecord | None:
        return _record(self._conn().execute(f"SELECT {COLUMNS} FROM data_keys WHERE subject = ?",
                                            (subject,)).fetchone())

    def by_key_id(self, key_id: str) -> KeyRecord | None:
        return _record(self._conn().execute(f"SELECT {COLUMNS} FROM data_keys WHERE key_id = ?",
                                            (key_id,)).fetchone())

    def shred(self, subject: str, erased_at: str) -> bool:
        conn = self._conn()
        with self.db.write():
            # a subject without a key yet still gets its tombstone: no key may be made for it later
            conn.execute(f"INSERT OR IGNORE INTO data_keys ({COLUMNS}) VALUES (?, ?, NULL, NULL, ?, NULL)",
                         (subject, f"erased:{subject}", erased_at))
            cursor = conn.execute("UPDATE data_keys SET wrapped = NULL, master_key_id = NULL, erased_at = ? "
                                  "WHERE subject = ? AND erased_at IS NULL", (erased_at, subject))
            shredded = cursor.rowcount == 1
        # the write-ahead log still holds the page with the wrapped key: copy it back and empty the log
        # (secure_delete zeroes it in the database file); busy readers only delay this to the next shred
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return shredded

    def rewrap(self, subject: str, expected: bytes, wrapped: bytes, master_key_id: str) -> bool:
        conn = self._conn()
        with self.db.write():
            cursor = conn.execute("UPDATE data_keys SET wrapped = ?, master_key_id = ? "
                                  "WHERE subject = ? AND wrapped = ?", (wrapped, master_key_id, subject, expected))
            return cursor.rowcount == 1

    def last_erased_at(self) -> str | None:
        return self._conn().execute("SELECT MAX(erased_at) FROM data_keys").fetchone()[0]

    def erased_subjects(self) -> list[str]:
        rows = self._conn().execute("SELECT subject FROM data_keys WHERE erased_at IS NOT NULL").fetchall()
        return [row["subject"] for row in rows]

    def live_subjects_under(self, subject: str) -> list[str]:
        prefix = subject + "/"
        rows = self._conn().execute(  # a range on the primary key: no LIKE, so no escaping of the name
            "SELECT subject FROM data_keys WHERE subject >= ? AND subject < ? AND erased_at IS NULL ORDER BY subject",
            (prefix, prefix[:-1] + chr(ord("/") + 1))).fetchall()
        return [row["subject"] for row in rows]

    def wrapped_by_other_than(self, master_key_id: str, after: str = "", limit: int = 500) -> list[KeyRecord]:
        rows = self._conn().execute(
            f"SELECT {COLUMNS} FROM data_keys WHERE wrapped IS NOT NULL AND master_key_id != ? AND subject > ? "
            "ORDER BY subject LIMIT ?", (master_key_id, after, limit)).fetchall()
        return [r for r in map(_record, rows) if r is not None]

    def ping(self) -> None:
        self._conn().execute("SELECT 1").fetchone()

    def close(self) -> None:
        self.db.close()
