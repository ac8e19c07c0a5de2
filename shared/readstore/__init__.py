"""The readstore port (`shared.readstore.port`) and the factory that picks its adapter by URL.

The definitions live in `port`, which the adapters import; only this factory imports the adapters,
so the package has no import cycle.
"""
from __future__ import annotations

from shared.readstore.port import (
    ALIAS_CACHE_SECONDS,
    APPLIED,
    DUPLICATE,
    LOGICAL_NAME,
    AliasCache,
    Apply,
    BadCursor,
    Build,
    Collection,
    Delete,
    Generations,
    Index,
    InsertIfAbsent,
    Outcome,
    Page,
    ReadStore,
    Retired,
    Update,
    Upsert,
    VersionGap,
    Write,
    check_logical_name,
    decode_cursor,
    encode_cursor,
    fold,
    iterate,
    physical_name,
    saved,
    sort_key,
)

__all__ = [
    "APPLIED", "DUPLICATE", "ALIAS_CACHE_SECONDS", "LOGICAL_NAME", "BadCursor", "VersionGap", "Index", "Page",
    "Update", "Collection", "ReadStore", "check_logical_name", "physical_name", "Build", "Retired", "Generations",
    "AliasCache", "saved",
    "Apply", "Upsert", "InsertIfAbsent", "Delete", "Write", "Outcome", "fold",
    "encode_cursor", "decode_cursor", "sort_key", "iterate", "open_read_store",
]


def open_read_store(url: str) -> ReadStore:
    if url.startswith("sqlite:///"):
        from shared.readstore.sqlite import SQLiteReadStore
        return SQLiteReadStore(url)
    if url.startswith(("mongodb://", "mongodb+srv://")):
        from shared.readstore.mongo import MongoReadStore
        return MongoReadStore(url)
    raise ValueError(f"unsupported READ_STORE_URL: {url!r}")
