"""Speed of a MongoDB-wire server for the operations the platform's adapters use, one client.

Usage: python speed_check.py mongodb://127.0.0.1:PORT/ [mongodb://... ...]

For each URI, in a fresh database: 1,000 upserts by _id, 1,000 reads by _id, 200 finds on an
indexed field (50 documents each), 1,000 upserts in bulk_write batches of 100, and 300 conditional
updates (`{_id, v}` filter, `$inc`, the version-guarded write of the projections). Prints operations
per second; README "The MongoDB-wire server" shows what it printed for FerretDB on SQLite and on
PostgreSQL.
"""
from __future__ import annotations

import sys
import time
import uuid

from pymongo import MongoClient, UpdateOne


def rate(count: int, run) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    run()
    return count / (time.perf_counter() - start)


def measure(uri: str) -> dict[str, float]:
    client: MongoClient = MongoClient(uri)
    name = f"speed_{uuid.uuid4().hex[:8]}"
    docs = client[name]["docs"]
    docs.create_index("owner")
    try:
        return {
            "upsert": rate(1000, lambda: [docs.update_one({"_id": f"d{i}"}, {"$set": {"owner": f"s{i % 20}", "v": i}},
                                                          upsert=True) for i in range(1000)]),
            "get_by_id": rate(1000, lambda: [docs.find_one({"_id": f"d{i}"}) for i in range(1000)]),
            "find_indexed": rate(200, lambda: [list(docs.find({"owner": f"s{i % 20}"})) for i in range(200)]),
            "bulk_upsert": rate(1000, lambda: [docs.bulk_write([
                UpdateOne({"_id": f"b{b}-{i}"}, {"$set": {"owner": "x", "v": i}}, upsert=True) for i in range(100)])
                for b in range(10)]),
            "conditional_update": rate(300, lambda: [docs.update_one({"_id": f"d{i}", "v": i}, {"$inc": {"v": 1}})
                                                     for i in range(300)]),
        }
    finally:
        client.drop_database(name)
        client.close()


if __name__ == "__main__":
    for uri in sys.argv[1:]:
        print(uri, "  ".join(f"{k} {v:,.0f}/s" for k, v in measure(uri).items()), flush=True)
