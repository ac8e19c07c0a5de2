"""Waiting in tests, in one place: until something another thread or process does becomes visible.

Never fixed sleeps: each wait returns as soon as its condition holds, with a deadline generous enough
for real Kafka (topic creation, group joins take seconds). A deadline that passes *fails* the test,
saying what was awaited and what was last seen, so a slow or broken step is named in the report
(a wait that returned something falsy would only fail later, somewhere unhelpful).
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Literal, Protocol, TypeVar

DEFAULT_TIMEOUT = 30.0
T = TypeVar("T")


def wait_until(condition: Callable[[], T | None | Literal[False]], *, what: str, timeout: float = DEFAULT_TIMEOUT,
               interval: float = 0.02, seen: Callable[[], Any] | None = None) -> T:
    """The first truthy value of `condition()`, polled every `interval` seconds; fails after `timeout`
    seconds naming `what` was awaited and the last thing seen (`seen()`, else the last value)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            last = seen() if seen is not None else value
            raise AssertionError(f"timed out after {timeout:g}s waiting until {what} (last seen: {last!r:.500})")
        time.sleep(interval)


def wait_notified(changed: threading.Condition, condition: Callable[[], bool], *, what: str,
                  timeout: float = DEFAULT_TIMEOUT) -> None:
    """Block until `condition()` holds, woken by `changed.notify_all()` (peers that record under a
    lock); fails after `timeout` seconds naming what was awaited."""
    with changed:
        if not changed.wait_for(condition, timeout):
            raise AssertionError(f"timed out after {timeout:g}s waiting until {what}")


class Polled(Protocol):
    def poll(self, max_records: int, timeout: float) -> list[Any]: ...


def poll_at_least(consumer: Polled, count: int, *, timeout: float = DEFAULT_TIMEOUT,
                  max_records: int = 500) -> list[Any]:
    """Poll a bus consumer until `count` messages arrived (maybe more): all of them."""
    received: list[Any] = []

    def arrived() -> bool:
        received.extend(consumer.poll(max_records, timeout=0.2))
        return len(received) >= count

    wait_until(arrived, what=f"{count} messages arrived", timeout=timeout, interval=0,
               seen=lambda: f"{len(received)} messages")
    return received
