"""Pseudonyms of the analytics integration stream: keyed hashes that a data team can join on but
never reverse, and that an erasure unlinks for good.

One secret (`ANALYTICS_PSEUDONYM_KEY`) yields one HMAC-SHA256 key per identifier kind through HKDF
(`cryptography`), so a student's pseudonym cannot be matched against a contact's or an interview's
even when their raw ids were equal, and there is still only one secret to keep and rotate. Every
event names its key (`pseudonym_key_id`): a rotation is a new key with a new id, after which new events
carry new pseudonyms; consumers join pseudonyms only within one key id.

Each pseudonym also mixes in a salt of its subject (`PersonalData.pseudonym_salt`: derived from the data
key that seals their personal data): a student's and their interviews' from the student's key, a
contact's from that contact's key. Shredding the key (an erasure) destroys the salt, so nobody, even
with the analytics secret, the raw ids and the whole event history, can compute those pseudonyms again:
the stream's past facts keep counting, and no longer point at anyone. The integration events' ids are
derived the same way (`event_token`), so they cannot be matched with the source events either.
"""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from shared.config import Settings
from shared.keys.personal import contact_subject, student_subject
from shared.keys.vault import SubjectErased

KINDS = ("student", "contact", "interview", "event")
PSEUDONYM_HEX_CHARS = 32  # 128 bits: no collisions at any campus's scale, short enough for a warehouse key
PSEUDONYM_CACHE = 65_536
_SALT = b"careerloop-analytics-pseudonyms-v1"
Salts = Callable[[str], bytes]  # a subject's salt, 32 bytes; raises SubjectErased once their key is shredded


def derive_key(secret: str, kind: str) -> bytes:
    """The HMAC key of one identifier kind, derived from the configured secret (info = the kind)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=kind.encode()).derive(secret.encode())


def _unsalted(subject: str) -> bytes:
    return b""


def salts_of(process: Any) -> Salts:
    """The salts of a running process (`shared.process.Running`): its key store's, opened on first use."""
    return lambda subject: process.personal_data().pseudonym_salt(subject)


class Pseudonymiser:
    """Turns raw ids into the stream's pseudonyms: lowercase hex HMAC-SHA256 of the subject's salt and the
    id, truncated. `salts` is the process's `PersonalData.pseudonym_salt` (only unit tests go without)."""

    def __init__(self, secret: str, key_id: str, salts: Salts | None = None) -> None:
        if not secret:
            raise ValueError("ANALYTICS_PSEUDONYM_KEY is empty")
        if not key_id:
            raise ValueError("ANALYTICS_PSEUDONYM_KEY_ID is empty")
        self.key_id = key_id
        # one keyed HMAC per kind, copied for each pseudonym: a copy skips re-padding the key (half the cost)
        self._hmacs = {kind: hmac.new(derive_key(secret, kind), digestmod=hashlib.sha256) for kind in KINDS}
        # a student's id comes with every one of their events: remember recent salts and pseudonyms
        # (`forget` drops them on an erasure)
        self.salt = lru_cache(maxsize=PSEUDONYM_CACHE)(salts or _unsalted)
        self.pseudonym = lru_cache(maxsize=PSEUDONYM_CACHE)(self._pseudonym)

    @classmethod
    def from_settings(cls, settings: Settings, salts: Salts | None = None) -> Pseudonymiser:
        return cls(settings.get("ANALYTICS_PSEUDONYM_KEY"), settings.get("ANALYTICS_PSEUDONYM_KEY_ID"), salts)

    def _pseudonym(self, kind: str, subject: str, raw_id: str) -> str:
        keyed = self._hmacs[kind].copy()
        keyed.update(self.salt(subject) + raw_id.encode())
        return keyed.hexdigest()[:PSEUDONYM_HEX_CHARS]

    def student(self, raw_id: str) -> str:
        """`SubjectErased` once the student is erased: nothing of theirs is pseudonymised again."""
        return self.pseudonym("student", student_subject(raw_id), raw_id)

    def contact(self, raw_id: str | None, student_id: str) -> str | None:
        """None for none, and for a contact erased (the student's fact still counts, about no one)."""
        if raw_id is None:
            return None
        try:
            return self.pseudonym("contact", contact_subject(student_id, raw_id), raw_id)
        except SubjectErased:
            return None

    def interview(self, raw_id: str | None, student_id: str) -> str | None:
        return None if raw_id is None else self.pseudonym("interview", student_subject(student_id), raw_id)

    def event_token(self, basis: str, student_id: str) -> str:
        """What an integration event's id derives from, for a source event of the student's (each basis is
        seen once or twice: not remembered)."""
        return self._pseudonym("event", student_subject(student_id), basis)

    def forget(self) -> None:
        """Drop the remembered salts and pseudonyms (an erasure seen): the next ones ask the key store."""
        self.salt.cache_clear()
        self.pseudonym.cache_clear()
