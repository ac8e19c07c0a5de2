"""Pseudonyms of the analytics integration stream: keyed hashes that a data team can join on but
never reverse.

One secret (`ANALYTICS_PSEUDONYM_KEY`) yields one HMAC-SHA256 key per identifier kind through HKDF
(`cryptography`), so a student's pseudonym cannot be matched against a contact's or an interview's
even when their raw ids were equal, and there is still only one secret to keep and rotate. Every
event names its key (`pseudonym_key_id`): a rotation is a new key with a new id, after which new events
carry new pseudonyms; consumers join pseudonyms only within one key id.
"""
from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from shared.config import Settings

KINDS = ("student", "contact", "interview")
PSEUDONYM_HEX_CHARS = 32  # 128 bits: no collisions at any campus's scale, short enough for a warehouse key
PSEUDONYM_CACHE = 65_536
_SALT = b"careerloop-analytics-pseudonyms-v1"


def derive_key(secret: str, kind: str) -> bytes:
    """The HMAC key of one identifier kind, derived from the configured secret (info = the kind)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=kind.encode()).derive(secret.encode())


class Pseudonymiser:
    """Turns raw ids into the stream's pseudonyms: lowercase hex HMAC-SHA256, truncated."""

    def __init__(self, secret: str, key_id: str) -> None:
        if not secret:
            raise ValueError("ANALYTICS_PSEUDONYM_KEY is empty")
        if not key_id:
            raise ValueError("ANALYTICS_PSEUDONYM_KEY_ID is empty")
        self.key_id = key_id
        self._keys = {kind: derive_key(secret, kind) for kind in KINDS}
        # a student's id comes with every one of their events: remember recent pseudonyms
        self.pseudonym = lru_cache(maxsize=PSEUDONYM_CACHE)(self._pseudonym)

    @classmethod
    def from_settings(cls, settings: Settings) -> Pseudonymiser:
        return cls(settings.get("ANALYTICS_PSEUDONYM_KEY"), settings.get("ANALYTICS_PSEUDONYM_KEY_ID"))

    def _pseudonym(self, kind: str, raw_id: str) -> str:
        digest = hmac.new(self._keys[kind], raw_id.encode(), hashlib.sha256).hexdigest()
        return digest[:PSEUDONYM_HEX_CHARS]

    def student(self, raw_id: str) -> str:
        return self.pseudonym("student", raw_id)

    def contact(self, raw_id: str | None) -> str | None:
        return None if raw_id is None else self.pseudonym("contact", raw_id)

    def interview(self, raw_id: str | None) -> str | None:
        return None if raw_id is None else self.pseudonym("interview", raw_id)
