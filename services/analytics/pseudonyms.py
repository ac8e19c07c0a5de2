"""Pseudonyms of the analytics stream: keyed hashes that stay stable without revealing an id.

Each identifier kind (student, contact, interview) has its own key, derived with HKDF-SHA256 from
the one secret `ANALYTICS_PSEUDONYM_KEY` (info = the kind), so a pseudonym of one kind can never be
matched with another kind's and only one secret needs rotating. A pseudonym is the HMAC-SHA256 of
the id under its kind's key, lowercase hex truncated to 32 characters (128 bits).
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from shared.config import Settings

KINDS = ("student", "contact", "interview")
LENGTH = 32


def derive_key(secret: bytes, kind: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=kind.encode()).derive(secret)


@dataclass(frozen=True)
class Pseudonymiser:
    secret: bytes = field(repr=False)
    key_id: str
    _keys: dict[str, bytes] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_keys", {kind: derive_key(self.secret, kind) for kind in KINDS})

    @classmethod
    def from_settings(cls, settings: Settings) -> Pseudonymiser:
        return cls(settings.get("ANALYTICS_PSEUDONYM_KEY").encode(), settings.get("ANALYTICS_PSEUDONYM_KEY_ID"))

    def _of(self, kind: str, identifier: str) -> str:
        return hmac.new(self._keys[kind], identifier.encode(), hashlib.sha256).hexdigest()[:LENGTH]

    def student(self, student_id: str) -> str:
        return self._of("student", student_id)

    def contact(self, contact_id: str) -> str:
        return self._of("contact", contact_id)

    def interview(self, interview_id: str) -> str:
        return self._of("interview", interview_id)
