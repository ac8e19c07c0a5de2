"""The migration that seals what was stored before personal data was sealed (issue 15): it encrypts an
event store written in clear, survives SIGKILL and carries on when run again, and the platform then
reads the migrated store exactly as before (events and unique claims), on SQLite and MongoDB-wire."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from services.contacts.application import ContactsService
from shared.auth import Principal
from shared.config import Settings
from shared.errors import Conflict
from shared.events import Metadata
from shared.eventstore import open_event_store
from shared.keys import sealing
from shared.keys.fields import is_sealed
from shared.keys.personal import BLINDED
from tests.backends import event_store_url, marked

ROOT = Path(__file__).resolve().parents[2]
CONTACTS = 450  # with a touchpoint each: several pages of the migration, so a kill lands in the middle
STUDENT = "student-migrated"


@pytest.fixture(params=[marked("sqlite"), marked("mongo", "mongo")])
def written_in_clear(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Any]]:
    """An event store as the contacts service wrote it before sealing: contacts with personal data, in clear."""
    url = event_store_url(request.param, tmp_path)
    store = open_event_store(url)
    service = ContactsService(store)
    meta, principal = Metadata(actor=STUDENT), Principal(STUDENT, frozenset({"student"}))
    for n in range(CONTACTS):
        added = service.add_contact(STUDENT, {"name": f"Wilhelmina Clearwater {n}",
                                              "emails": [f"wilhelmina.{n}@clear.example"]}, meta)
        service.log_touchpoint(added.id, {"kind": "outreach", "occurred_at": datetime(2026, 11, 2, 10, tzinfo=UTC),
                                          "text": f"asked Wilhelmina about ferns, round {n}"}, principal, meta)
    yield url, store
    getattr(store, "drop_database", lambda: None)()
    store.close()


def migrate(url: str, data_dir: Path, *, kill_after_first_page: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EVENT_STORE_URL": url, "CAREERLOOP_DATA_DIR": str(data_dir), "LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "shared.keys", "seal-existing", "contacts"]
    if not kill_after_first_page:
        return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    with subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          text=True) as process:
        assert process.stdout is not None
        first = process.stdout.readline()
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    return subprocess.CompletedProcess(command, process.returncode, first, "")


def stored(store: Any) -> list[dict[str, Any]]:
    return [event for commit in store.read_all(0, 100_000) for event in commit.events]


def test_the_migration_seals_a_store_written_in_clear_resumes_after_sigkill_and_reads_unchanged(
        written_in_clear: tuple[str, Any], tmp_path: Path) -> None:
    url, store = written_in_clear
    before = {e["id"]: e for e in stored(store)}
    assert "Wilhelmina" in json.dumps(list(before.values()))

    # killed with SIGKILL after its first page: some commits are sealed, the rest not yet
    interrupted = migrate(url, tmp_path, kill_after_first_page=True)
    assert interrupted.returncode == -signal.SIGKILL and "commits read" in interrupted.stdout
    halfway = stored(store)
    assert any(is_sealed(e["data"].get("name") or e["data"].get("text")) for e in halfway)
    assert any(not is_sealed(e["data"].get("name") or e["data"].get("text")) for e in halfway)

    # run again, it carries on to the end; a third run finds nothing left
    finished = migrate(url, tmp_path)
    assert finished.returncode == 0, finished.stderr
    assert "contacts: done" in finished.stdout
    assert "done: 0 of" in migrate(url, tmp_path).stdout

    after = stored(store)
    assert "Wilhelmina" not in json.dumps(after) and "clear.example" not in json.dumps(after)
    assert [e["id"] for e in after] == list(before)  # same events, same order, same ids
    if url.startswith("sqlite:///"):  # the file itself keeps no clear text in a freed page
        path = Path(url.removeprefix("sqlite:///"))
        for file in [path, *path.parent.glob(path.name + "-wal")]:
            assert b"Wilhelmina" not in file.read_bytes()
    claims = store.claims_after("", "", 10_000)
    assert claims and all(value.startswith(BLINDED) for _, value, _ in claims)

    # the platform reads the migrated store as it read the store in clear
    settings = Settings.from_env({"CAREERLOOP_DATA_DIR": str(tmp_path), "EVENT_STORE_URL": url})
    sealed_store = sealing(store, settings)
    opened = {e["id"]: e for e in map(sealed_store.personal.open, after)}
    assert opened == before
    service = ContactsService(sealed_store)
    some = after[0]["subject"]
    assert service.contacts.load(some).details["name"] == before[after[0]["id"]]["data"]["name"]
    # and its unique claims still hold: the same address cannot be added twice
    with pytest.raises(Conflict, match="already have this contact"):
        service.add_contact(STUDENT, {"name": "Someone", "emails": ["wilhelmina.7@clear.example"]},
                            Metadata(actor=STUDENT))
