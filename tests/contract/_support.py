"""Helpers for contract tests: unique names and offsets (waiting is `tests.support`'s)."""
from __future__ import annotations

import uuid
from collections.abc import Iterable

from shared.bus import Message, TopicPartition


def unique_name(prefix: str) -> str:
    """Topic, group, stream and key names that cannot collide with another test on a shared server."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def next_offsets(messages: Iterable[Message]) -> dict[TopicPartition, int]:
    """What a consumer commits after handling `messages`: the next offset to read, per partition."""
    offsets: dict[TopicPartition, int] = {}
    for m in messages:
        offsets[(m.topic, m.partition)] = max(offsets.get((m.topic, m.partition), 0), m.offset + 1)
    return offsets


def values(messages: Iterable[Message]) -> list[str]:
    return [m.value.decode() for m in messages]
