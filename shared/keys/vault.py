"""Data keys for subjects, wrapped by a master key: create on first use, find for decryption, shred,
and rotate the master key without touching a single event.

The master key comes from configuration as `<key id>:<base64 of 32 bytes>` (`MasterKey.parse`); a
rotation configures the new key as current and the old ones as `previous` until
`DataKeys.rotate` has rewrapped every record (resumable: it pages by subject and only touches
records still wrapped by another key). Wrapping is AES-256-GCM ([cryptography]'s AESGCM) with the
subject and key id as associated data, so a wrapped key moved to another record does not unwrap.

Unwrapped keys are kept in this process for `cache_seconds` (a command, a projection batch and a
view reuse them), and the whole cache is dropped as soon as the key store says a key was shredded
since (asked at most every `REVALIDATE_SECONDS`, one index read): a process that consumes no topic
(an API) stops decrypting a shredded subject's data within about a second. Consumers of the erasure
topic also call `forget(subject)` at once.
"""
from __future__ import annotations

import base64
import binascii
import os
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.errors import Conflict
from shared.events import isoformat, utcnow
from shared.keys.port import KeyRecord, KeyStore

NONCE_BYTES = 12
REVALIDATE_SECONDS = 1.0


class SubjectErased(Conflict):
    """The subject's data key was shredded: their data can no longer be written or read (a command
    that would record something about them is answered 409)."""

    def __init__(self, subject: str) -> None:
        super().__init__("this person's data was erased: nothing more is recorded about them", subject=subject)
        self.subject = subject


@dataclass(frozen=True)
class MasterKey:
    key_id: str
    key: bytes

    @classmethod
    def parse(cls, text: str) -> MasterKey:
        """`<key id>:<base64 of 32 bytes>`, e.g. `m2026:` + `base64.b64encode(os.urandom(32))`."""
        key_id, sep, encoded = text.strip().partition(":")
        if not sep or not key_id:
            raise ValueError("a master key is '<key id>:<base64 of 32 random bytes>'")
        try:
            key = base64.b64decode(encoded, validate=True)
        except binascii.Error as exc:
            raise ValueError(f"master key {key_id!r}: not base64") from exc
        if len(key) != 32:
            raise ValueError(f"master key {key_id!r}: {len(key)} bytes; AES-256 needs 32")
        return cls(key_id, key)

    @classmethod
    def generate(cls, key_id: str) -> MasterKey:
        return cls(key_id, os.urandom(32))

    def __str__(self) -> str:
        return f"{self.key_id}:{base64.b64encode(self.key).decode()}"

    def __repr__(self) -> str:  # never the key itself, in logs or tracebacks
        return f"MasterKey({self.key_id!r})"


def _aad(subject: str, key_id: str) -> bytes:
    return f"careerloop-data-key\0{subject}\0{key_id}".encode()


class DataKeys:
    def __init__(self, store: KeyStore, master: MasterKey, previous: Sequence[MasterKey] = (), *,
                 cache_seconds: float = 60.0) -> None:
        self.store, self.master = store, master
        self.masters = {m.key_id: m for m in (*previous, master)}
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, str, bytes]] = {}  # key id or subject -> (until, key id, key)
        self._lock = threading.Lock()
        self._revalidate_at = 0.0
        self._last_erased_at: str | None = None
        self._erased: set[str] | None = None  # the shredded subjects, loaded when first asked
        self._epoch = 0  # one more each time the cache is dropped for an erasure (`erasure_epoch`)

    # -- wrapping ---------------------------------------------------------------------------------
    def _wrap(self, subject: str, key_id: str, key: bytes, master: MasterKey) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + AESGCM(master.key).encrypt(nonce, key, _aad(subject, key_id))

    def _unwrap(self, record: KeyRecord) -> bytes:
        if record.wrapped is None:
            raise SubjectErased(record.subject)
        master = self.masters.get(record.master_key_id or "")
        if master is None:
            raise RuntimeError(f"the data key of {record.key_id} is wrapped by master key {record.master_key_id!r}, "
                               "which is not configured (add it as a previous master key)")
        wrapped = record.wrapped
        return AESGCM(master.key).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:],
                                          _aad(record.subject, record.key_id))

    def _remember(self, record: KeyRecord, key: bytes, epoch: int) -> tuple[str, bytes]:
        """Cache a key read in erasure epoch `epoch`, unless the epoch moved meanwhile: another thread
        may have dropped the cache for a shredding that this read came just before, and caching the key
        now would put a shredded key back for `cache_seconds` (the caller still gets it, once)."""
        until = time.monotonic() + self.cache_seconds
        with self._lock:
            if self._epoch == epoch:
                self._cache[record.subject] = self._cache[record.key_id] = (until, record.key_id, key)
        return record.key_id, key

    def _cached(self, name: str) -> tuple[str, bytes] | None:
        now = time.monotonic()
        if now >= self._revalidate_at:
            self._revalidate(now)
        entry = self._cache.get(name)
        if entry is None or entry[0] < now:
            return None
        return entry[1], entry[2]

    def _revalidate(self, now: float) -> None:
        """Drop every cached key once the key store has shredded one since we last asked."""
        self._revalidate_at = now + REVALIDATE_SECONDS
        erased_at = self.store.last_erased_at()
        if erased_at != self._last_erased_at:
            with self._lock:
                self._cache.clear()
                self._erased = None
                self._epoch += 1
            self._last_erased_at = erased_at

    def erasure_epoch(self) -> int:
        """A number that changes as soon as this process drops a key for an erasure: when it sees (asking
        the key store at most every `REVALIDATE_SECONDS`, like the key cache) that a key was shredded
        since, or is told to `forget` a subject. What this process keeps of opened personal data beyond
        the keys themselves (shared.repository's cache of decoded streams) is valid for one epoch only,
        so it stops showing an erased subject's data exactly when a cached key would."""
        now = time.monotonic()
        if now >= self._revalidate_at:
            self._revalidate(now)
        return self._epoch

    # -- use ----------------------------------------------------------------------------------------
    def key_for(self, subject: str) -> tuple[str, bytes]:
        """The subject's (key id, data key), created on first use; `SubjectErased` once shredded."""
        cached = self._cached(subject)
        if cached is not None:
            return cached
        epoch = self._epoch  # before the read: see `_remember`
        record = self.store.by_subject(subject)
        if record is None:
            key_id, key = secrets.token_hex(16), AESGCM.generate_key(bit_length=256)
            record = self.store.create(KeyRecord(subject, key_id, self._wrap(subject, key_id, key, self.master),
                                                 self.master.key_id, isoformat(utcnow())))
        return self._remember(record, self._unwrap(record), epoch)

    def key_by_id(self, key_id: str) -> bytes:
        """The data key a ciphertext names; `SubjectErased` once shredded (or never known)."""
        cached = self._cached(key_id)
        if cached is not None:
            return cached[1]
        epoch = self._epoch  # before the read: see `_remember`
        record = self.store.by_key_id(key_id)
        if record is None:
            raise SubjectErased(key_id)
        return self._remember(record, self._unwrap(record), epoch)[1]

    def shred(self, subject: str) -> bool:
        """Delete the subject's data key (keeping a tombstone); False when it was shredded already."""
        shredded = self.store.shred(subject, isoformat(utcnow()))
        self.forget(subject)
        return shredded

    def shred_all(self, subject: str) -> int:
        """Shred `subject`'s key and every key under it (`<subject>/...`: a student's contacts'); how many
        were live. Safe to repeat: a retry shreds what is left and counts only that."""
        shredded = sum(self.shred(name) for name in self.store.live_subjects_under(subject))
        return shredded + self.shred(subject)

    def erased(self, subject: str) -> bool:
        """Whether `subject`'s key was shredded, as of at most a second ago (see `_revalidate`)."""
        now = time.monotonic()
        if now >= self._revalidate_at:
            self._revalidate(now)
        erased = self._erased
        if erased is None:
            erased = self._erased = set(self.store.erased_subjects())
        return subject in erased

    def forget(self, subject: str) -> None:
        """Drop the subject's key, and the keys under it, from this process (an erasure seen on the
        erasure topic)."""
        with self._lock:
            for name in [n for n in self._cache if n == subject or n.startswith(subject + "/")]:
                entry = self._cache.pop(name, None)
                if entry is not None:
                    self._cache.pop(entry[1], None)
            self._erased = None  # asked again: the subject may just have been erased
            self._epoch += 1

    def rotate(self, page_size: int = 500) -> int:
        """Rewrap every live data key still wrapped by a previous master key under the current one;
        how many were rewrapped. Resumable and safe beside running processes and shredding."""
        rewrapped, after = 0, ""
        while True:
            page = self.store.wrapped_by_other_than(self.master.key_id, after, page_size)
            if not page:
                return rewrapped
            for record in page:
                assert record.wrapped is not None
                key = self._unwrap(record)
                rewrapped += self.store.rewrap(record.subject, record.wrapped,
                                               self._wrap(record.subject, record.key_id, key, self.master),
                                               self.master.key_id)
            after = page[-1].subject
