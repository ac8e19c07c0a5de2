"""Helpers for contract tests: unique names and bounded waits (never fixed sleeps).

Real Kafka needs seconds for topic creation and consumer-group joins, so every wait is a polling loop
with a generous deadline that returns as soon as its condition holds.
"""
from __future__ import annotations

import time
import uuid
from typing import Callable, Iterable, TypeVar

from shared.bus import Consumer, Message, TopicPartition

DEADLINE_SECONDS = 30.0
T = TypeVar("T")


def unique_name(prefix: str) -> str:
    """Topic, group, stream and key names that cannot collide with another test on a shared server."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def wait_until(condition: Callable[[], T], *, what: str, timeout: float = DEADLINE_SECONDS,
               interval: float = 0.02) -> T:
    """The first truthy value of `condition()`, polled until `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting until {what}")
        time.sleep(interval)


def poll_at_least(consumer: Consumer, count: int, *, timeout: float = DEADLINE_SECONDS,
                  max_records: int = 500) -> list[Message]:
    """Poll until `count` messages arrived (maybe more) or fail at the deadline."""
    received: list[Message] = []
    deadline = time.monotonic() + timeout
    while len(received) < count:
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s: {len(received)} of {count} messages arrived")
        received += consumer.poll(max_records, timeout=0.2)
    return received


def next_offsets(messages: Iterable[Message]) -> dict[TopicPartition, int]:
    """What a consumer commits after handling `messages`: the next offset to read, per partition."""
    offsets: dict[TopicPartition, int] = {}
    for m in messages:
        offsets[(m.topic, m.partition)] = max(offsets.get((m.topic, m.partition), 0), m.offset + 1)
    return offsets


def values(messages: Iterable[Message]) -> list[str]:
    return [m.value.decode() for m in messages]
