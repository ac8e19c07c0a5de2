"""Event store port: each service's own append-only log of commits, also its outbox.

One *commit* holds the events one command recorded, atomically. Appends name the version the writer
loaded (`expected_version`); if the stream moved on, `ConcurrencyConflict` is raised and nothing is
written. Unpublished commits are what the relay publishes to the bus, in position order.

The same write-side database also keeps three small things a service needs consistently with its
events: leases (one active relay per service), unique claims (e.g. one contact per e-mail address
per student) and the first response of each idempotent POST.

An idempotent POST holds its key under a lease while it runs (`RequestLease`), and its commits record
the key, so a retry that finds the lease run out (the first attempt was cut off: its worker killed,
its database gone) can see what that attempt appended: nothing, and the retry carries on in its place;
or its commits, from which the answer is made again. The lease's holder fences the appends: once a
retry has taken the key over, the first attempt can append nothing more under it.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
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
    # while `status` is None: until when the request handling the key holds it; after that it counts
    # as cut off and a retry may take the key over (`resume_request`)
    lease_until: float = field(default=0.0, compare=False)


@dataclass(frozen=True)
class RequestLease:
    """The idempotent request an append belongs to: its scoped key, and the attempt holding it."""

    key: str
    holder: str


class EventStore(Protocol):
    # `request`: the idempotent request appending (its key is recorded with the commit); raises
    # `RequestSuperseded` when a retry has taken the key over from this attempt
    def append(self, stream_id: str, stream_type: str, expected_version: int,
               events: Sequence[dict[str, Any]], request: RequestLease | None = None) -> Commit: ...
    def load(self, stream_id: str) -> list[dict[str, Any]]: ...
    # the events after `after_version` (those of the commits that start after it): what a reader that has
    # the stream up to that version is missing (shared.repository's per-process cache of streams)
    def load_since(self, stream_id: str, after_version: int) -> list[dict[str, Any]]: ...
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
    # idempotency keys: None when the key is ours (held by `holder` for `lease_seconds`), else what it holds
    def begin_request(self, key: str, request_hash: str, ttl_seconds: int, *, holder: str = "",
                      lease_seconds: float = 60.0) -> StoredResponse | None: ...
    # take over a key whose lease (as seen in `lease_until`) ran out; False when another retry was first
    def resume_request(self, key: str, holder: str, lease_until: float, lease_seconds: float) -> bool: ...
    # the commits appended under the key (by any attempt), in position order
    def request_commits(self, key: str) -> list[Commit]: ...
    # with `holder`: only while that attempt holds the key
    def finish_request(self, key: str, status: int, body: bytes, headers: dict[str, str], *,
                       holder: str | None = None) -> None: ...
    def abandon_request(self, key: str, *, holder: str | None = None) -> None: ...
    # the personal-data migration (python -m shared.keys seal-existing) only: rewrite in place what was
    # stored before personal data was sealed; ids, types and versions stay as they are
    def replace_events(self, position: int, events: Sequence[dict[str, Any]]) -> None: ...
    def claims_after(self, scope: str, value: str, limit: int) -> list[tuple[str, str, str]]: ...
    def rename_claim(self, scope: str, value: str, new_value: str, owner: str) -> None: ...
    def prepare(self) -> None: ...  # create collections and indexes now (idempotent; the init step)
    def ping(self) -> None: ...
    def close(self) -> None: ...
