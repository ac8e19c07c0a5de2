"""Event store port: each service's own append-only log of commits, also its outbox.

One *commit* holds the events one command recorded, atomically. Appends name the version the writer
loaded (`expected_version`); if the stream moved on, `ConcurrencyConflict` is raised and nothing is
written. Unpublished commits are what the relay publishes to the bus, in position order.

The same write-side database also keeps three small things a service needs consistently with its
events: leases (one active relay per service), unique claims (e.g. one contact per e-mail address
per student) and the first response of each idempotent POST.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Commit:
    position: int
    stream_id: str
    stream_type: str
    first_version: int
    last_version: int
    events: list[dict[str, Any]]
    recorded_at: str


@dataclass(frozen=True)
class StoredResponse:
    request_hash: str
    status: int | None  # None while the first request is still being handled
    body: bytes
    headers: dict[str, str]


class EventStore(Protocol):
    def append(self, stream_id: str, stream_type: str, expected_version: int,
               events: Sequence[dict[str, Any]]) -> Commit: ...
    def load(self, stream_id: str) -> list[dict[str, Any]]: ...
    def stream_version(self, stream_id: str) -> int: ...
    def read_unpublished(self, limit: int) -> list[Commit]: ...
    def read_all(self, after_position: int, limit: int) -> list[Commit]: ...
    def mark_published(self, positions: Sequence[int]) -> None: ...
    def unpublished_count(self) -> int: ...
    def acquire_lease(self, name: str, holder: str, ttl_seconds: float) -> bool: ...
    def release_lease(self, name: str, holder: str) -> None: ...
    # unique claims: returns the owner already holding the value, or None when the claim is ours
    def claim(self, scope: str, value: str, owner: str) -> str | None: ...
    def release_claim(self, scope: str, value: str, owner: str) -> None: ...
    # idempotency keys
    def begin_request(self, key: str, request_hash: str, ttl_seconds: int) -> StoredResponse | None: ...
    def finish_request(self, key: str, status: int, body: bytes, headers: dict[str, str]) -> None: ...
    def abandon_request(self, key: str) -> None: ...
    def prepare(self) -> None: ...  # create collections and indexes now (idempotent; the init step)
    def ping(self) -> None: ...
    def close(self) -> None: ...
