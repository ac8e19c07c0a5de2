"""What the replay property tests share: at-least-once delivery as a strategy, and a projection run
on a fresh read store of either backend."""
from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from shared.bus import Message
from shared.projection import Projection
from shared.readstore import Collection, ReadStore, iterate, open_read_store
from tests.backends import read_store_url


def at_least_once(draw: st.DrawFn, streams: list[list[Message]]) -> list[Message]:
    """The streams as a consumer may see them: each may rewind to any earlier point and re-read,
    and the streams interleave in any way, each keeping its own order."""
    per_key = []
    for messages in streams:
        delivered, i = [], 0
        while i < len(messages):
            delivered.append(messages[i])
            i += 1
            if draw(st.integers(0, 4)) == 0:
                i = draw(st.integers(0, i))
        per_key.append(delivered)
    mixed = []
    while any(per_key):
        choices = [k for k, msgs in enumerate(per_key) if msgs]
        mixed.append(per_key[draw(st.sampled_from(choices))].pop(0))
    return mixed


def project(backend: str, projection: Callable[[ReadStore], Projection], messages: list[Message], batch: int,
            collections: dict[str, Callable[[ReadStore], Collection]]) -> dict[str, list[dict[str, Any]]]:
    """Every document of `collections` after the projection handled `messages` in batches of `batch`."""
    with tempfile.TemporaryDirectory() as tmp:
        store = open_read_store(read_store_url(backend, Path(tmp)))
        try:
            handler = projection(store)
            for start in range(0, len(messages), batch):
                handler.handle(messages[start:start + batch])
            return {name: list(iterate(make(store), {}, [("_id", 1)])) for name, make in collections.items()}
        finally:
            getattr(store, "drop_database", lambda: None)()
            store.close()
