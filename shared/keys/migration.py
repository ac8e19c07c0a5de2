"""Seal what was stored before personal data was sealed: `python -m shared.keys seal-existing`.

For each service's event store, in position order, every commit holding an event with a personal field
still in clear is rewritten in place with those fields sealed (event ids, types, versions and positions
unchanged, so nothing downstream notices), then every unique claim still in clear is replaced by its
blinded value. Each rewrite is one atomic write and sealing skips what is sealed already, so the command
is resumable: killed at any point (even with SIGKILL), run it again and it carries on; a run that finds
nothing left says so. On SQLite the file is vacuumed at the end, so no freed page keeps the clear text.

What it cannot reach: messages the relay published before the migration stay on Kafka in clear until
the topics' retention deletes them, and read models keep what they show until an erasure redacts them
(README, "Privacy").
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from shared.eventstore import EventStore
from shared.keys.personal import BLINDED, PersonalData

PAGE = 200


@dataclass
class Progress:
    commits_seen: int = 0
    commits_sealed: int = 0
    claims_blinded: int = 0


def seal_existing(store: EventStore, personal: PersonalData, *,
                  report: Callable[[Progress], None] = lambda progress: None) -> Progress:
    """Seal every commit and claim of `store` (the raw adapter, not a sealing one) still in clear."""
    progress, position = Progress(), 0
    while commits := store.read_all(position, PAGE):
        for commit in commits:
            progress.commits_seen += 1
            sealed = [personal.seal(event) for event in commit.events]  # what is sealed already stays as it is
            if sealed != commit.events:
                store.replace_events(commit.position, sealed)
                progress.commits_sealed += 1
        position = commits[-1].position
        report(progress)
    after = ("", "")
    while claims := store.claims_after(*after, PAGE):
        for scope, value, owner in claims:
            if not value.startswith(BLINDED):
                store.rename_claim(scope, value, personal.blind(scope, value), owner)
                progress.claims_blinded += 1
        after = claims[-1][:2]
    vacuum = getattr(store, "vacuum", None)
    if vacuum is not None:
        vacuum()
    return progress
