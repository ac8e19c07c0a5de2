"""SQLite-only behaviour: many processes opening one new file at once (what `make run` does)."""
from __future__ import annotations

import multiprocessing
from pathlib import Path


def _open(path: str, barrier: multiprocessing.synchronize.Barrier) -> None:
    from shared.readstore.sqlite import SQLiteReadStore

    barrier.wait()
    SQLiteReadStore(f"sqlite:///{path}").collection("docs")


def test_a_dozen_processes_can_open_a_new_file_at_the_same_moment(tmp_path: Path) -> None:
    # switching a new file to WAL takes an exclusive lock: the others must wait for it, not fail
    context = multiprocessing.get_context("spawn")
    for round_ in range(5):
        barrier = context.Barrier(12)
        processes = [context.Process(target=_open, args=(str(tmp_path / f"r{round_}.db"), barrier)) for _ in range(12)]
        for process in processes:
            process.start()
        for process in processes:
            process.join(60)
        assert [p.exitcode for p in processes] == [0] * 12


def test_a_shredded_key_is_gone_from_the_files_bytes_not_only_from_its_rows(tmp_path: Path) -> None:
    """Crypto-shredding on SQLite: neither the database file nor its write-ahead log keeps the wrapped
    key in a free page or an old frame (secure_delete, and a checkpoint after each shredding)."""
    from shared.keys.sqlite import SQLiteKeyStore
    from shared.keys.vault import DataKeys, MasterKey

    store = SQLiteKeyStore(f"sqlite:///{tmp_path}/keys.db")
    keys = DataKeys(store, MasterKey.generate("m1"))
    for n in range(20):
        keys.key_for(f"student:s-{n}")
    record = store.by_subject("student:s-7")
    assert record is not None and record.wrapped is not None

    def on_disk() -> bytes:
        return b"".join(p.read_bytes() for p in tmp_path.glob("keys.db*"))

    assert record.wrapped in on_disk()
    assert keys.shred("student:s-7")
    assert record.wrapped not in on_disk()
    assert store.by_subject("student:s-8") is not None  # the others are kept
