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
