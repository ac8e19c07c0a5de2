"""Event bus port: named topics with a fixed partition count, keyed messages, consumer groups.

The bus distributes events; it is not the event store (it has no expected-version append). Delivery
is at-least-once: a producer's `flush()` returns only when every sent message is acknowledged, and a
consumer commits the *next* offset only after its handler's writes succeeded, so consumers must be
idempotent.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

log = logging.getLogger("careerloop.bus")


@dataclass(frozen=True)
class Message:
    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    timestamp: float = 0.0


TopicPartition = tuple[str, int]


class Producer(Protocol):
    def send(self, topic: str, key: str | None, value: bytes, headers: Mapping[str, str] | None = None) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


class Consumer(Protocol):
    def poll(self, max_records: int = 500, timeout: float = 1.0) -> list[Message]: ...
    def commit(self, offsets: Mapping[TopicPartition, int]) -> None: ...
    def assignment(self) -> set[TopicPartition]: ...
    def seek_to_committed(self) -> None: ...
    def close(self) -> None: ...


class EventBus(Protocol):
    def ensure_topics(self, topics: Mapping[str, int]) -> None: ...
    def producer(self) -> Producer: ...
    def consumer(self, group_id: str, topics: list[str]) -> Consumer: ...
    def end_offsets(self, topic: str) -> dict[int, int]: ...
    def committed(self, group_id: str, topic: str) -> dict[int, int]: ...
    def ping(self) -> None: ...
    def close(self) -> None: ...


def dead_letter_topic(group_id: str) -> str:
    """Where a consumer group parks the events it could not handle, with the reason in headers."""
    return f"careerloop.deadletter.{group_id}"


def close_quietly(client: Producer | Consumer) -> None:
    """Close a client that may be broken (a producer whose flush failed): a failure to close it changes
    nothing, since the caller starts over with a fresh one."""
    try:
        client.close()
    except Exception:
        log.debug("closing a broken %s failed", type(client).__name__, exc_info=True)
