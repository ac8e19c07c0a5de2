"""Sealed fields: one personal-data value encrypted with its subject's data key.

A sealed value is a small JSON object that stands where the plain value stood:

    {"$sealed": 1, "key": "<key id>", "shape": "string", "data": "<base64 of nonce | AES-256-GCM ciphertext | tag>"}

The plain value is serialised as JSON first, so strings, lists and objects seal alike; `shape` (its
JSON type, nothing more) lets an erased value read as a placeholder of the same type: `ERASED` for a
student's string (`ERASED_CONTACT` for a professional's), an empty list or object, so that every
reader's schema still holds. The associated
data binds the ciphertext to its place: the event id and the field's name. A sealed value copied into
another event or field does not open, and neither does a tampered one.

`open_value` turns a sealed value back into the plain one, or into `ERASED` once the key is shredded;
anything not sealed is returned unchanged, so events written before encryption read as they were.
"""
from __future__ import annotations

import base64
import contextlib
import json
import os
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.keys.vault import NONCE_BYTES, DataKeys, SubjectErased

MARK = "$sealed"
ERASED = "[erased]"  # what a shredded student's personal text reads as, in every view
ERASED_CONTACT = "[erased contact]"  # ... and a shredded professional's (a contact's name, e-mail, notes on them)
PLACEHOLDERS: dict[str, Any] = {"string": ERASED, "list": [], "object": {}, "other": None}


def _shape(value: Any) -> str:
    return "string" if isinstance(value, str) else "list" if isinstance(value, list) else \
        "object" if isinstance(value, dict) else "other"


def _aad(event_id: str, field: str) -> bytes:
    return f"careerloop-field\0{event_id}\0{field}".encode()


def placeholder(shape: str, subject: str = "") -> Any:
    """What an erased value of `shape` reads as: a fresh empty list or object, or the text naming whose
    data it was (`ERASED_CONTACT` under a contact's key, `student:<id>/contact:<id>`)."""
    if shape == "string":
        return ERASED_CONTACT if "/contact:" in subject else ERASED
    found = PLACEHOLDERS.get(shape, ERASED)
    return found.copy() if isinstance(found, list | dict) else found


def redacted(value: Any, subject: str) -> Any:
    """`value` as it reads once `subject` is erased (None stays None: it said nothing about anyone)."""
    return None if value is None else placeholder(_shape(value), subject)


def is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and value.get(MARK) == 1 and isinstance(value.get("key"), str)


def seal(value: Any, subject: str, keys: DataKeys, *, event_id: str, field: str) -> dict[str, Any]:
    """`value` sealed under `subject`'s data key (created on first use). `SubjectErased` for a subject
    whose key was shredded: nothing new is written about them."""
    key_id, key = keys.key_for(subject)
    nonce = os.urandom(NONCE_BYTES)
    plain = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    sealed = nonce + AESGCM(key).encrypt(nonce, plain, _aad(event_id, field))
    return {MARK: 1, "key": key_id, "shape": _shape(value), "data": base64.b64encode(sealed).decode()}


class OpenedValues:
    """The values this process opened lately, by place and ciphertext: every command loads its
    aggregate's whole stream again, and a stream's fields need not be decrypted each time. A hit still
    asks for the key, so a shredded (or forgotten) key reads as erased exactly as without this; the
    oldest entries make room for new ones."""

    def __init__(self, size: int = 20_000) -> None:
        self.size = size
        self._values: dict[tuple[str, str, str], str | bytes] = {}  # a str as it is, anything else as JSON

    def get(self, place: tuple[str, str, str]) -> Any:
        found = self._values.get(place)
        return found if not isinstance(found, bytes) else json.loads(found)  # a fresh copy of a list or object

    def put(self, place: tuple[str, str, str], plain: bytes, value: Any) -> None:
        if len(self._values) >= self.size:
            # another thread of the worker (gthread) may change the dict meanwhile: then it made room itself
            with contextlib.suppress(StopIteration, RuntimeError):
                self._values.pop(next(iter(self._values)), None)
        self._values[place] = value if isinstance(value, str) else plain

    def clear(self) -> None:
        self._values.clear()


def open_value(value: Any, keys: DataKeys, *, event_id: str, field: str, opened: OpenedValues | None = None,
               erased_reads_as_placeholder: bool = True) -> Any:
    """The plain value of a sealed one (its placeholder when its key is shredded, or `SubjectErased` when
    `erased_reads_as_placeholder` is False); any other value as it is.
    Raises `cryptography.exceptions.InvalidTag` for a value sealed for another place or tampered with."""
    if not is_sealed(value):
        return value
    try:
        key = keys.key_by_id(value["key"])
    except SubjectErased as erased:
        if not erased_reads_as_placeholder:
            raise
        return placeholder(value.get("shape", "string"), erased.subject)
    place = (event_id, field, value["data"])
    if opened is not None and (found := opened.get(place)) is not None:
        return found
    sealed = base64.b64decode(value["data"])
    plain = AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], _aad(event_id, field))
    result = json.loads(plain)
    if opened is not None:
        opened.put(place, plain, result)
    return result
