"""Sealed fields: one personal-data value encrypted with its subject's data key.

A sealed value is a small JSON object that stands where the plain value stood:

    {"$sealed": 1, "key": "<key id>", "data": "<base64 of nonce | AES-256-GCM ciphertext | tag>"}

The plain value is serialised as JSON first, so strings, lists and objects seal alike. The associated
data binds the ciphertext to its place: the event id and the field's name. A sealed value copied into
another event or field does not open, and neither does a tampered one.

`open_value` turns a sealed value back into the plain one, or into `ERASED` once the key is shredded;
anything not sealed is returned unchanged, so events written before encryption read as they were.
"""
from __future__ import annotations

import base64
import json
import os
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.keys.vault import NONCE_BYTES, DataKeys, SubjectErased

MARK = "$sealed"
ERASED = "[erased]"  # what a shredded subject's personal data reads as, in every view


def _aad(event_id: str, field: str) -> bytes:
    return f"careerloop-field\0{event_id}\0{field}".encode()


def is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and value.get(MARK) == 1 and isinstance(value.get("key"), str)


def seal(value: Any, subject: str, keys: DataKeys, *, event_id: str, field: str) -> dict[str, Any]:
    """`value` sealed under `subject`'s data key (created on first use). `SubjectErased` for a subject
    whose key was shredded: nothing new is written about them."""
    key_id, key = keys.key_for(subject)
    nonce = os.urandom(NONCE_BYTES)
    plain = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    sealed = nonce + AESGCM(key).encrypt(nonce, plain, _aad(event_id, field))
    return {MARK: 1, "key": key_id, "data": base64.b64encode(sealed).decode()}


def open_value(value: Any, keys: DataKeys, *, event_id: str, field: str) -> Any:
    """The plain value of a sealed one (`ERASED` when its key is shredded); any other value as it is.
    Raises `cryptography.exceptions.InvalidTag` for a value sealed for another place or tampered with."""
    if not is_sealed(value):
        return value
    try:
        key = keys.key_by_id(value["key"])
    except SubjectErased:
        return ERASED
    sealed = base64.b64decode(value["data"])
    plain = AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], _aad(event_id, field))
    return json.loads(plain)
