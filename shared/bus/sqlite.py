"""The embedded event bus: a Kafka-shaped log in one SQLite file.

Topics have a fixed number of partitions; a message's partition is a stable hash of its key, so one
aggregate's events stay in order. Consumer groups keep committed offsets in the same file, and the
live members of a group (those that heartbeated within the session timeout) split the partitions
among themselves, so several worker processes can share one group as they would on Kafka.
"""
from __future__ import annotations

import json
import time
import uuid
import zlib
from collections.abc import Mapping

from shared.bus.port import Message, TopicPartition
from shared.errors import UnknownTopic
from shared.sqlite import SQLiteDatabase, path_from_url

_SCHEMA = """
CREATE TABLE IF NOT EXISTS topics (name TEXT PRIMARY KEY, partitions INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    topic TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL,
    key TEXT, value BLOB NOT NULL, headers TEXT NOT NULL, timestamp REAL NOT NULL,
    PRIMARY KEY (topic, partition, offset)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS group_offsets (
    group_id TEXT NOT NULL, topic TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL,
    PRIMARY KEY (group_id, topic, partition)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS group_members (
    group_id TEXT NOT NULL, member_id TEXT NOT NULL, heartbeat_at REAL NOT NULL,
    PRIMARY KEY (group_id, member_id)
) WITHOUT ROWID;
"""

SESSION_TIMEOUT_SECONDS = 10.0
_POLL_INTERVAL_SECONDS = 0.05


def partition_for(key: str | None, partitions: int) -> int:
    """Stable across processes and restarts (unlike Python's salted `hash`)."""
    return zlib.crc32((key or "").encode()) % partitions


class SQLiteBus:
    def __init__(self, url: str) -> None:
        self.db = SQLiteDatabase(path_from_url(url), synchronous="FULL")
        self.db.conn.executescript(_SCHEMA)
        self._partitions: dict[str, int] = {}  # a topic's partition count never changes once created

    def ensure_topics(self, topics: Mapping[str, int]) -> None:
        with self.db.write() as conn:
            for name, partitions in topics.items():
                conn.execute("INSERT OR IGNORE INTO topics (name, partitions) VALUES (?, ?)", (name, partitions))

    def partitions(self, topic: str) -> int:
        known = self._partitions.get(topic)
        if known is not None:
            return known
        row = self.db.execute("SELECT partitions FROM topics WHERE name = ?", (topic,)).fetchone()
        if row is None:  # not remembered: another process may create it later
            raise UnknownTopic(topic)
        self._partitions[topic] = row[0]
        return row[0]

    def producer(self) -> SQLiteProducer:
        return SQLiteProducer(self)

    def consumer(self, group_id: str, topics: list[str]) -> SQLiteConsumer:
        return SQLiteConsumer(self, group_id, topics)

    def end_offsets(self, topic: str) -> dict[int, int]:
        rows = self.db.execute(
            "SELECT partition, MAX(offset) + 1 FROM messages WHERE topic = ? GROUP BY partition", (topic,)
        ).fetchall()
        ends = {p: 0 for p in range(self.partitions(topic))}
        ends.update({row[0]: row[1] for row in rows})
        return ends

    def committed(self, group_id: str, topic: str) -> dict[int, int]:
        rows = self.db.execute(
            "SELECT partition, offset FROM group_offsets WHERE group_id = ? AND topic = ?", (group_id, topic)
        ).fetchall()
        return {row[0]: row[1] for row in rows}

    def ping(self) -> None:
        self.db.execute("SELECT 1").fetchone()

    def close(self) -> None:
        self.db.close()


class SQLiteProducer:
    """Buffers sends; `flush` appends them all in one transaction (the acknowledgement)."""

    def __init__(self, bus: SQLiteBus) -> None:
        self.bus = bus
        self._pending: list[tuple[str, str | None, bytes, dict[str, str]]] = []

    def send(self, topic: str, key: str | None, value: bytes, headers: Mapping[str, str] | None = None) -> None:
        self.bus.partitions(topic)  # fail fast on unknown topics, as Kafka without auto-create does
        self._pending.append((topic, key, value, dict(headers or {})))

    def flush(self) -> None:
        if not self._pending:
            return
        now = time.time()
        with self.bus.db.write() as conn:
            ends: dict[TopicPartition, int] = {}
            rows = []
            for topic, key, value, headers in self._pending:
                partition = partition_for(key, self.bus.partitions(topic))
                if (topic, partition) not in ends:
                    row = conn.execute(
                        "SELECT COALESCE(MAX(offset) + 1, 0) FROM messages WHERE topic = ? AND partition = ?",
                        (topic, partition),
                    ).fetchone()
                    ends[(topic, partition)] = row[0]
                offset = ends[(topic, partition)]
                ends[(topic, partition)] = offset + 1
                rows.append((topic, partition, offset, key, value, json.dumps(headers), now))
            conn.executemany("INSERT INTO messages (topic, partition, offset, key, value, headers, timestamp)"
                             " VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        self._pending.clear()

    def close(self) -> None:
        """Discard what was not flushed: a caller that closes after a failed flush (the relay)
        retries from its own records, so sending the leftovers here would only duplicate them."""
        self._pending.clear()


class SQLiteConsumer:
    def __init__(self, bus: SQLiteBus, group_id: str, topics: list[str]) -> None:
        self.bus = bus
        self.group_id = group_id
        self.topics = list(topics)
        self.member_id = str(uuid.uuid4())
        self._positions: dict[TopicPartition, int] = {}
        self._assigned: set[TopicPartition] = set()
        self._last_heartbeat = 0.0

    def assignment(self) -> set[TopicPartition]:
        return set(self._assigned)

    def _rebalance(self) -> None:
        """Heartbeat, drop dead members, and take this member's share of the partitions."""
        now = time.time()
        with self.bus.db.write() as conn:
            conn.execute(
                "INSERT INTO group_members (group_id, member_id, heartbeat_at) VALUES (?, ?, ?)"
                " ON CONFLICT (group_id, member_id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
                (self.group_id, self.member_id, now),
            )
            conn.execute("DELETE FROM group_members WHERE group_id = ? AND heartbeat_at < ?",
                         (self.group_id, now - SESSION_TIMEOUT_SECONDS))
            members = [r[0] for r in conn.execute(
                "SELECT member_id FROM group_members WHERE group_id = ? ORDER BY member_id", (self.group_id,))]
        all_partitions = sorted((t, p) for t in self.topics for p in range(self.bus.partitions(t)))
        index = members.index(self.member_id)
        assigned = {tp for i, tp in enumerate(all_partitions) if i % len(members) == index}
        for tp in assigned - self._assigned:  # newly ours: resume from the group's committed offset
            committed = self.bus.committed(self.group_id, tp[0]).get(tp[1], 0)
            self._positions[tp] = committed
        for tp in self._assigned - assigned:
            self._positions.pop(tp, None)
        self._assigned = assigned
        self._last_heartbeat = now

    def poll(self, max_records: int = 500, timeout: float = 1.0) -> list[Message]:
        deadline = time.monotonic() + timeout
        while True:
            if time.time() - self._last_heartbeat > 1.0:
                self._rebalance()
            batch: list[Message] = []
            for topic, partition in sorted(self._assigned):
                if len(batch) >= max_records:
                    break
                rows = self.bus.db.execute(
                    "SELECT offset, key, value, headers, timestamp FROM messages"
                    " WHERE topic = ? AND partition = ? AND offset >= ? ORDER BY offset LIMIT ?",
                    (topic, partition, self._positions[(topic, partition)], max_records - len(batch)),
                ).fetchall()
                for row in rows:
                    batch.append(Message(topic, partition, row[0], row[1], row[2], json.loads(row[3]), row[4]))
                if rows:
                    self._positions[(topic, partition)] = rows[-1][0] + 1
            if batch or time.monotonic() >= deadline:
                return batch
            time.sleep(_POLL_INTERVAL_SECONDS)

    def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        """Store the next offset to read, for partitions this member still owns (a fenced commit)."""
        owned = {tp: off for tp, off in offsets.items() if tp in self._assigned}
        with self.bus.db.write() as conn:
            conn.executemany(
                "INSERT INTO group_offsets (group_id, topic, partition, offset) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (group_id, topic, partition) DO UPDATE SET offset = excluded.offset",
                [(self.group_id, tp[0], tp[1], off) for tp, off in owned.items()],
            )

    def seek_to_committed(self) -> None:
        """Forget uncommitted progress (after a failed batch) so those messages are read again."""
        for tp in self._assigned:
            self._positions[tp] = self.bus.committed(self.group_id, tp[0]).get(tp[1], 0)

    def close(self) -> None:
        with self.bus.db.write() as conn:
            conn.execute("DELETE FROM group_members WHERE group_id = ? AND member_id = ?",
                         (self.group_id, self.member_id))
        self._assigned.clear()
