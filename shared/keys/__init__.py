"""Personal data and its erasure by crypto-shredding (issue 15): the subjects' data keys in a key store
of their own (`port`, `sqlite`, `mongo`), wrapped by a master key (`vault`), sealing single values
(`fields`), and the one mechanism that seals every `pii` field of an event before it is stored and opens
it when read (`personal`).

Each process opens its own `PersonalData` after fork (`open_personal_data`), and wraps its event store
with it (`sealing`); projections open what they consume with it. `python -m shared.keys` makes a new
master key and rotates to it.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from shared.keys.port import KeyRecord, KeyStore

if TYPE_CHECKING:
    from shared.config import Settings
    from shared.eventstore import EventStore
    from shared.keys.personal import PersonalData
    from shared.keys.vault import MasterKey

__all__ = ["KeyRecord", "KeyStore", "master_keys", "open_key_store", "open_personal_data", "sealing"]

EMBEDDED_MASTER_KEY_FILE = "master.key"


def open_key_store(url: str) -> KeyStore:
    """The adapter named by `url` (`sqlite:///...` or `mongodb://...`)."""
    if url.startswith("sqlite:///"):
        from shared.keys.sqlite import SQLiteKeyStore
        return SQLiteKeyStore(url)
    if url.startswith(("mongodb://", "mongodb+srv://")):
        from shared.keys.mongo import MongoKeyStore
        return MongoKeyStore(url)
    raise ValueError(f"unsupported KEY_STORE_URL: {url!r}")


def master_keys(settings: Settings) -> tuple[MasterKey, list[MasterKey]]:
    """The current master key and the previous ones. Under `make run` (embedded backends) without one
    configured, a random key is generated once into the data folder and used from then on; anywhere
    else `check_secrets` has already refused to start without one."""
    from shared.config import is_embedded, master_key_text
    from shared.keys.vault import MasterKey

    text = master_key_text(settings)
    if not text and is_embedded(settings):
        text = _embedded_master_key(settings.get("CAREERLOOP_DATA_DIR"))
    if not text:
        raise ValueError("ERASURE_MASTER_KEY is not set (nor ERASURE_MASTER_KEY_FILE)")
    previous = [MasterKey.parse(k) for k in settings.get("ERASURE_PREVIOUS_MASTER_KEYS").split(",") if k.strip()]
    return MasterKey.parse(text), previous


def _embedded_master_key(data_dir: str) -> str:
    from shared.keys.vault import MasterKey

    path = os.path.join(data_dir, EMBEDDED_MASTER_KEY_FILE)
    os.makedirs(data_dir, exist_ok=True)
    try:  # O_EXCL: of several processes starting at once, one writes the key and the others read it
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(100):  # the writer may not have written yet
            with open(path, encoding="utf-8") as file:
                text = file.read().strip()
            if text:
                return text
            time.sleep(0.01)
        raise RuntimeError(f"{path} stays empty") from None
    text = str(MasterKey.generate("embedded"))
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text + "\n")
    return text


def open_personal_data(settings: Settings) -> PersonalData:
    """This process's sealer and opener of personal data (call after fork: it opens the key store)."""
    from shared.keys.personal import PersonalData
    from shared.keys.vault import DataKeys

    master, previous = master_keys(settings)
    return PersonalData(DataKeys(open_key_store(settings.get("KEY_STORE_URL")), master, previous))


def sealing(store: EventStore, personal: PersonalData | Settings | Callable[[], PersonalData]) -> EventStore:
    """`store`, sealing personal data on append and opening it on load (once, however often called).
    Given settings or a factory, the `PersonalData` is opened on first use: a relay, which only reads
    what is stored, never opens the key store."""
    from shared.config import Settings
    from shared.keys.personal import SealingEventStore

    if isinstance(store, SealingEventStore):
        return store
    return SealingEventStore(store, (lambda: open_personal_data(personal)) if isinstance(personal, Settings)
                             else personal)
