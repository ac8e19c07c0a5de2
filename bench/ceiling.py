"""The raw bulk-upsert ceiling of a read store: documents of a timeline entry's size upserted by id
straight through the driver, in batches as large as the consumer's polls (500), with nothing else
going on. No projection can write faster than this; its apply rate is reported as a share of it.
"""
from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

from shared.sqlite import path_from_url

BATCH = 500


def _documents(count: int) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    batch = []
    for n in range(count):
        batch.append((f"doc-{n:09d}", {
            "student_id": f"student-{n // 41:07d}", "contact_id": f"contact-{n // 4:09d}", "kind": "outreach",
            "at": "2026-01-05T09:00:00.000000Z", "summary": "Reached out to Contact 12-3 (email)",
            "link": "/contacts/contact-0000012-03/touchpoints",
            "source": {"service": "contacts", "type": "touchpoint", "id": f"t-{n}", "event_id": f"e-{n}"}}))
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def sqlite_ceiling(url: str, count: int) -> float:
    """Documents per second: executemany upserts, one transaction per batch (as a poll is)."""
    conn = sqlite3.connect(path_from_url(url), isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE IF NOT EXISTS bench_ceiling (id TEXT PRIMARY KEY, doc TEXT NOT NULL)")
    started = time.perf_counter()
    for batch in _documents(count):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO bench_ceiling (id, doc) VALUES (?, ?) "
                         "ON CONFLICT(id) DO UPDATE SET doc = excluded.doc",
                         [(doc_id, json.dumps(doc)) for doc_id, doc in batch])
        conn.execute("COMMIT")
    seconds = time.perf_counter() - started
    conn.execute("DROP TABLE bench_ceiling")
    conn.close()
    return count / seconds


def mongo_ceiling(url: str, count: int) -> float:
    """Documents per second: unordered bulk_write of upserting UpdateOnes, one per batch."""
    from pymongo import MongoClient, UpdateOne
    from pymongo.uri_parser import parse_uri

    client: MongoClient = MongoClient(url)
    try:
        collection = client[parse_uri(url)["database"]]["bench_ceiling"]
        started = time.perf_counter()
        for batch in _documents(count):
            collection.bulk_write([UpdateOne({"_id": doc_id}, {"$set": doc}, upsert=True) for doc_id, doc in batch],
                                  ordered=False)
        seconds = time.perf_counter() - started
        collection.drop()
    finally:
        client.close()
    return count / seconds


def ceiling(read_store_url: str, count: int) -> float:
    if read_store_url.startswith("sqlite:///"):
        return sqlite_ceiling(read_store_url, count)
    return mongo_ceiling(read_store_url, count)
