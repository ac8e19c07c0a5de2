"""The subjects' data keys (issue 15, erasure by crypto-shredding): the key store port
(`shared.keys.port`), its SQLite and MongoDB adapters, the data keys wrapped by a master key
(`shared.keys.vault`) and sealed personal-data fields (`shared.keys.fields`).

This is the foundation; wiring it into the event catalogues (sealing every `pii` field before an
event is stored, opening it in projections and views) and the erasure service come next (README,
"Privacy").
"""
from __future__ import annotations

from shared.keys.port import KeyRecord, KeyStore

__all__ = ["KeyRecord", "KeyStore", "open_key_store"]


def open_key_store(url: str) -> KeyStore:
    """The adapter named by `url` (`sqlite:///...` or `mongodb://...`)."""
    if url.startswith("sqlite:///"):
        from shared.keys.sqlite import SQLiteKeyStore
        return SQLiteKeyStore(url)
    if url.startswith(("mongodb://", "mongodb+srv://")):
        from shared.keys.mongo import MongoKeyStore
        return MongoKeyStore(url)
    raise ValueError(f"unsupported key store URL: {url!r}")
