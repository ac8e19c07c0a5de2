"""The key store port: where the subjects' data keys live, wrapped (issue 15, erasure by
crypto-shredding).

Every data subject (a student, a contact) gets one random 256-bit data key, created on first use.
Personal data is sealed with it (`shared.keys.fields`); deleting it (shredding) makes every copy of
that data unreadable at once: in the event stores, on Kafka, in read models and backups. The key
store is a store of its own (a table or collection per deployment, never the event store), and it
holds each data key only *wrapped*: encrypted under a master key from configuration
(`shared.keys.vault`), so a copy of the key store alone reads nothing.

A record is keyed by the subject (`student:<id>`, `contact:<id>`) and carries:
- `key_id`: random, unique, stored beside every ciphertext made with the key (indexed: decryption
  finds the key by it, without knowing the subject);
- `wrapped`: the data key under the master key `master_key_id` (None once shredded);
- `erased_at`: set when the key was shredded. The record stays as a tombstone so that a late write
  about an erased subject cannot create a new key and bring their data back.

Adapters: SQLite (`shared.keys.sqlite`, the embedded profile) and MongoDB (`shared.keys.mongo`),
each a single-record atomic write per operation, so two processes creating the first key of one
subject agree on one of them (`create`), and a rotation never overwrites a concurrent shred
(`rewrap` compares the wrapping it replaces).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class KeyRecord:
    subject: str
    key_id: str
    wrapped: bytes | None  # None: shredded
    master_key_id: str | None
    created_at: str
    erased_at: str | None = None

    @property
    def shredded(self) -> bool:
        return self.wrapped is None


class KeyStore(Protocol):
    def create(self, record: KeyRecord) -> KeyRecord:
        """Store `record` unless its subject has one already; the record that is stored either way."""
        ...

    def by_subject(self, subject: str) -> KeyRecord | None: ...

    def by_key_id(self, key_id: str) -> KeyRecord | None: ...

    def shred(self, subject: str, erased_at: str) -> bool:
        """Forget the subject's data key, keeping a tombstone (one is written if the subject had no
        key yet); False when it was shredded already."""
        ...

    def rewrap(self, subject: str, expected: bytes, wrapped: bytes, master_key_id: str) -> bool:
        """Replace the wrapping `expected` with `wrapped` (master-key rotation); False when the record
        changed meanwhile (shredded, or rewrapped by another process)."""
        ...

    def last_erased_at(self) -> str | None:
        """When the newest shredding happened (an index read): processes compare it to drop their caches."""
        ...

    def erased_subjects(self) -> list[str]:
        """Every subject whose key was shredded (erasures are rare: a process keeps the set)."""
        ...

    def live_subjects_under(self, subject: str) -> list[str]:
        """The live subjects whose names start with `subject/` (a student's contacts' keys)."""
        ...

    def wrapped_by_other_than(self, master_key_id: str, after: str = "", limit: int = 500) -> list[KeyRecord]:
        """Live records wrapped by another master key, by subject after `after`: a rotation's pages."""
        ...

    def prepare(self) -> None: ...

    def ping(self) -> None: ...

    def close(self) -> None: ...
