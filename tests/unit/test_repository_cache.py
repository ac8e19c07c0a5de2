"""The decoded streams a repository keeps per process (shared.repository): valid for the store's
version (another process's appends are read), and for one erasure epoch (an erased subject's data is
never shown from it once this process would read it as erased)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from services.contacts.domain import Contact
from shared.contracts.contacts import CONTACTS
from shared.events import Metadata
from shared.eventstore.sqlite import SQLiteEventStore
from shared.keys.personal import PersonalData, SealingEventStore, contact_subject
from shared.keys.sqlite import SQLiteKeyStore
from shared.keys.vault import DataKeys, MasterKey, SubjectErased
from shared.repository import Repository

META = Metadata(actor="s-1", correlation_id="c-1")


class Counting(SQLiteEventStore):
    """The SQLite store, counting whole-stream loads."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.full_loads = 0

    def load(self, stream_id: str) -> list[dict[str, Any]]:
        self.full_loads += 1
        return super().load(stream_id)


def stores(tmp_path: Path) -> tuple[Counting, DataKeys, SealingEventStore]:
    inner = Counting(f"sqlite:///{tmp_path}/events.db")
    keys = DataKeys(SQLiteKeyStore(f"sqlite:///{tmp_path}/keys.db"), MasterKey.generate("m1"))
    return inner, keys, SealingEventStore(inner, PersonalData(keys))


def added(repository: Repository[Contact], contact_id: str = "c-1") -> None:
    repository.save(Contact.add(contact_id, "s-1", {"name": "Ada Lovelace", "emails": ["ada@example.org"]}), META)


def test_a_stream_is_decoded_once_and_then_only_what_was_appended_since(tmp_path: Path) -> None:
    inner, _, store = stores(tmp_path)
    mine, another_process = Repository(store, CONTACTS, Contact), Repository(store, CONTACTS, Contact)
    added(mine)
    assert mine.load("c-1").details["name"] == "Ada Lovelace" and inner.full_loads == 1

    # when another process (another repository) appends, the next load reads that from the store
    contact = another_process.load("c-1")
    contact.tag(["mentor"])
    another_process.save(contact, META)
    again = mine.load("c-1")
    assert (again.version, again.tags, inner.full_loads) == (2, ["mentor"], 2)  # one full load each, no more


def test_changing_a_loaded_aggregate_never_changes_what_the_next_load_gives(tmp_path: Path) -> None:
    _, _, store = stores(tmp_path)
    repository = Repository(store, CONTACTS, Contact)
    added(repository)
    loaded = repository.load("c-1")
    loaded.details["emails"].append("not-saved@example.org")
    loaded.details["name"] = "changed, never saved"
    assert repository.load("c-1").details == {"name": "Ada Lovelace", "emails": ["ada@example.org"]}


def test_an_erasure_drops_what_was_decoded_at_once_in_the_process_that_shreds(tmp_path: Path) -> None:
    inner, keys, store = stores(tmp_path)
    repository = Repository(store, CONTACTS, Contact)
    added(repository)
    assert repository.load("c-1").details["name"] == "Ada Lovelace"

    keys.shred(contact_subject("s-1", "c-1"))

    assert repository.load("c-1").details["name"] != "Ada Lovelace"  # its placeholder, read again
    assert inner.full_loads == 2


def test_an_erasure_by_another_process_drops_it_when_the_key_cache_would_be(tmp_path: Path) -> None:
    inner, keys, store = stores(tmp_path)
    repository = Repository(store, CONTACTS, Contact)
    added(repository)
    assert repository.load("c-1").details["name"] == "Ada Lovelace"

    # another process shreds the key; this one asks the key store again when its revalidation is due
    DataKeys(SQLiteKeyStore(f"sqlite:///{tmp_path}/keys.db"), keys.master).shred(contact_subject("s-1", "c-1"))
    keys._revalidate_at = 0.0  # noqa: SLF001 (at most REVALIDATE_SECONDS later, without waiting for it)

    assert repository.load("c-1").details["name"] != "Ada Lovelace"
    assert inner.full_loads == 2


def test_a_stream_of_another_aggregate_type_loads_as_empty_from_the_cache_too(tmp_path: Path) -> None:
    _, _, store = stores(tmp_path)
    store.append("other", "note", 0, [{"id": "e-1", "type": "careerloop.notes.NoteWritten.v1", "data": {},
                                       "streamtype": "note", "ownerid": "s-1"}])
    repository = Repository(store, CONTACTS, Contact)
    assert not repository.load("other").exists
    assert not repository.load("other").exists


def test_a_key_read_just_before_its_shredding_is_not_cached_after_the_cache_was_dropped(tmp_path: Path) -> None:
    """Two threads of a worker: one reads a data key from the store, the subject is shredded and another
    thread drops the key cache for it (the epoch moves) before the first caches what it read. That key
    must not go back into the cache: the next read of the subject's data finds it erased."""
    key_store = SQLiteKeyStore(f"sqlite:///{tmp_path}/keys.db")
    keys = DataKeys(key_store, MasterKey.generate("m1"))
    key_id, _ = keys.key_for("student:s-1")
    keys.forget("student:s-1")  # nothing cached: the next ask reads the store
    read_record = key_store.by_key_id

    def read_then_shredded(wanted: str) -> Any:
        record = read_record(wanted)  # read before the shredding ...
        key_store.shred("student:s-1", "2026-12-07T12:00:00Z")  # ... which lands now,
        keys.forget("student:s-1")  # and another thread drops the cache for it
        return record

    key_store.by_key_id = read_then_shredded  # type: ignore[method-assign]
    keys.key_by_id(key_id)  # the reading thread still gets the key it read, once
    key_store.by_key_id = read_record  # type: ignore[method-assign]
    with pytest.raises(SubjectErased):
        keys.key_by_id(key_id)


def test_unknown_ids_are_not_kept(tmp_path: Path) -> None:
    """Commands to ids that do not exist (404s) cost a read each, never memory: the cache holds streams."""
    _, _, store = stores(tmp_path)
    repository = Repository(store, CONTACTS, Contact)
    for n in range(50):
        assert repository.load(f"missing-{n}").version == 0
    added(repository)
    repository.load("c-1")
    assert list(repository._cache._streams) == ["c-1"]
