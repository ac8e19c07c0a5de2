"""The eventstore port (`shared.eventstore.port`) and the factory that picks its adapter by URL.

The definitions live in `port`, which the adapters import; only this factory imports the adapters,
so the package has no import cycle.
"""
from __future__ import annotations

from shared.eventstore.port import Commit, EventStore, RequestLease, StoredResponse

__all__ = ['Commit', 'RequestLease', 'StoredResponse', 'EventStore', 'open_event_store']


def open_event_store(url: str) -> EventStore:
    """The adapter named by `url` (`sqlite:///...` or `mongodb://...`)."""
    if url.startswith("sqlite:///"):
        from shared.eventstore.sqlite import SQLiteEventStore
        return SQLiteEventStore(url)
    if url.startswith(("mongodb://", "mongodb+srv://")):
        from shared.eventstore.mongo import MongoEventStore
        return MongoEventStore(url)
    raise ValueError(f"unsupported EVENT_STORE_URL: {url!r}")
