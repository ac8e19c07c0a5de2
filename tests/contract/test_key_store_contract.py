"""The key store and the data keys it holds (issue 15's foundation), on SQLite and on a MongoDB-wire
server: one key per subject even when processes race to create it, sealed fields that open anywhere
with the master key and nowhere once shredded, tombstones that keep a shredded subject's key from
coming back, and a master-key rotation that rewraps without touching what was sealed."""
from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag

from shared.keys import KeyStore, open_key_store
from shared.keys.fields import ERASED, ERASED_CONTACT, is_sealed, open_value, seal
from shared.keys.vault import REVALIDATE_SECONDS, DataKeys, MasterKey, SubjectErased
from tests.backends import _dispose, event_store_url

M1, M2 = MasterKey.generate("m1"), MasterKey.generate("m2")


@pytest.fixture
def opened(event_store_backend: str, tmp_path: Path) -> Iterator[Callable[[], KeyStore]]:
    """Opens the store as another process would (its own client or connection), every time it is called."""
    url = event_store_url(event_store_backend, tmp_path / "keys")
    stores: list[KeyStore] = []

    def open_one() -> KeyStore:
        store = open_key_store(url)
        store.prepare()
        stores.append(store)
        return store

    yield open_one
    _dispose(open_one())
    for store in stores:
        store.close()


def sealed_note(keys: DataKeys, subject: str = "student:s-1") -> dict[str, Any]:
    return seal("Ximena Quillfeather said to call her", subject, keys, event_id="e-1", field="text")


def test_a_subject_key_is_made_on_first_use_and_every_process_finds_the_same(opened: Callable[[], KeyStore]) -> None:
    first, second = DataKeys(opened(), M1), DataKeys(opened(), M1)
    value = sealed_note(first)
    assert is_sealed(value) and "Ximena" not in str(value)
    assert first.key_for("student:s-1")[0] == second.key_for("student:s-1")[0] == value["key"]
    assert open_value(value, second, event_id="e-1", field="text") == "Ximena Quillfeather said to call her"
    structured = seal({"insights": ["call her"]}, "student:s-1", first, event_id="e-1", field="insights")
    assert open_value(structured, second, event_id="e-1", field="insights") == {"insights": ["call her"]}
    assert open_value("written before encryption", second, event_id="e-1", field="text") == \
        "written before encryption"
    assert first.key_for("contact:c-1")[0] != value["key"]  # one key per subject


def test_racing_processes_agree_on_one_key(opened: Callable[[], KeyStore]) -> None:
    racers = [DataKeys(opened(), M1) for _ in range(4)]
    barrier, ids = threading.Barrier(len(racers)), []

    def race(keys: DataKeys) -> None:
        barrier.wait()
        ids.append(keys.key_for("contact:c-9")[0])

    threads = [threading.Thread(target=race, args=(k,)) for k in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(ids) == 4 and len(set(ids)) == 1


def test_a_sealed_value_opens_only_in_its_place_and_untampered(opened: Callable[[], KeyStore]) -> None:
    keys = DataKeys(opened(), M1)
    value = sealed_note(keys)
    with pytest.raises(InvalidTag):
        open_value(value, keys, event_id="e-2", field="text")  # copied into another event
    with pytest.raises(InvalidTag):
        open_value(value, keys, event_id="e-1", field="reason")  # or another field
    data = bytearray(base64.b64decode(value["data"]))
    data[-1] ^= 1
    tampered = {**value, "data": base64.b64encode(bytes(data)).decode()}
    with pytest.raises(InvalidTag):
        open_value(tampered, keys, event_id="e-1", field="text")


def test_shredding_makes_every_copy_read_as_erased_and_no_new_key_can_be_made(opened: Callable[[], KeyStore]) -> None:
    keys, other_process = DataKeys(opened(), M1), DataKeys(opened(), M1)
    value = sealed_note(keys)
    other = sealed_note(keys, "student:s-2")
    assert open_value(value, other_process, event_id="e-1", field="text") != ERASED  # cached there now
    assert keys.shred("student:s-1") is True and keys.shred("student:s-1") is False
    assert open_value(value, keys, event_id="e-1", field="text") == ERASED
    assert open_value(value, DataKeys(opened(), M1), event_id="e-1", field="text") == ERASED
    other_process.forget("student:s-1")  # what the erasure topic's consumers do
    assert open_value(value, other_process, event_id="e-1", field="text") == ERASED
    with pytest.raises(SubjectErased):
        sealed_note(keys)  # a late write about the erased subject cannot bring a key back
    assert open_value(other, keys, event_id="e-1", field="text") != ERASED  # other subjects unaffected
    # a subject erased before they ever had a key gets a tombstone all the same
    assert keys.shred("contact:never-seen") is True
    with pytest.raises(SubjectErased):
        keys.key_for("contact:never-seen")


def test_a_students_erasure_shreds_their_key_and_their_contacts_and_no_one_elses(
        opened: Callable[[], KeyStore]) -> None:
    keys, api_process = DataKeys(opened(), M1), DataKeys(opened(), M1)
    names = ["student:s-1", "student:s-1/contact:c-1", "student:s-1/contact:c-2", "student:s-10",
             "student:s-10/contact:c-3", "student:s-1x"]
    values = {name: seal(f"about {name}", name, keys, event_id="e-1", field="text") for name in names}
    assert all(open_value(v, api_process, event_id="e-1", field="text") != ERASED for v in values.values())
    assert keys.store.last_erased_at() is None
    assert keys.store.live_subjects_under("student:s-1") == ["student:s-1/contact:c-1", "student:s-1/contact:c-2"]
    assert keys.shred_all("student:s-1") == 3 and keys.shred_all("student:s-1") == 0  # a retry finds it done
    assert keys.erased("student:s-1") and keys.erased("student:s-1/contact:c-2") and not keys.erased("student:s-10")
    assert keys.store.last_erased_at() is not None
    # a process that follows no topic drops its cached keys once the store reports a shredding
    time.sleep(REVALIDATE_SECONDS)
    erased = {name: open_value(v, api_process, event_id="e-1", field="text") for name, v in values.items()
              if not open_value(v, api_process, event_id="e-1", field="text").startswith("about")}
    # each reads as the placeholder naming whose it was
    assert erased == {"student:s-1": ERASED, "student:s-1/contact:c-1": ERASED_CONTACT,
                      "student:s-1/contact:c-2": ERASED_CONTACT}


def test_a_master_key_rotation_rewraps_every_live_key_and_sealed_values_still_open(
        opened: Callable[[], KeyStore]) -> None:
    old = DataKeys(opened(), M1)
    values = {f"student:s-{n}": seal(f"note {n}", f"student:s-{n}", old, event_id=f"e-{n}", field="text")
              for n in range(7)}
    old.shred("student:s-3")
    rotating = DataKeys(opened(), M2, previous=[M1])
    assert rotating.rotate(page_size=2) == 6  # the shredded one has nothing to rewrap
    assert rotating.rotate() == 0  # resumable: done is done
    only_new = DataKeys(opened(), M2)  # the old master key can now be retired
    for n, (_, value) in enumerate(values.items()):
        assert open_value(value, only_new, event_id=f"e-{n}", field="text") == (ERASED if n == 3 else f"note {n}")
    with pytest.raises(RuntimeError, match="master key 'm2'"):
        DataKeys(opened(), M1).key_by_id(values["student:s-0"]["key"])  # not configured there


def test_master_keys_are_parsed_strictly_and_never_shown() -> None:
    key = MasterKey.generate("m7")
    assert MasterKey.parse(str(key)) == key and str(key.key) not in repr(key) and "m7" in repr(key)
    for text, message in (("no-separator", "key id"), ("m:!!!", "base64"), ("m:" + "QUJD", "3 bytes")):
        with pytest.raises(ValueError, match=message):
            MasterKey.parse(text)
