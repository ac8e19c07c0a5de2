"""The cost of sealing personal data (issue 15), embedded profile: the same work with and without it,
in the same run.

- Commands: the contacts API (the app `create_app` builds, through Flask's test client: routing,
  authentication, validation, load, decide, append, the answer) adding contacts with a name, an
  address, a phone and a note (one command in ten), then logging touchpoints with text round-robin
  over them. Each command
  loads its contact's stream (opening every sealed field) and appends one event (sealing its fields).
  `command_ratio` is the sealed run's time per command over the plain run's (goal <= 1.15).
- The application layer alone (the same commands without HTTP): `write_ratio`, the stricter view of the
  same cost, for diagnosis.
- Projection apply: the contact directory applying those very events, as the relay published them (the
  plain store's and the sealed store's commits), to a fresh read store: `apply_ratio` is the plain apply
  rate over the sealed one (goal <= 1.25).

"Without" is the very same code with nothing to seal (a `PersonalData` that knows no contract), so the
ratio is the cost of the encryption itself: AES-256-GCM, the JSON of each field, the larger rows, the
key lookups and each new contact's first data key. Each side runs `ROUNDS` times, alternating, in
fresh SQLite files; the best round of each counts (the least disturbed by the rest of the machine).
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROUNDS = 5
APPLY_REPEATS = 5
CONTACT_SHARE = 10  # one command in ten adds a contact (and makes its data key); the rest log touchpoints
SECRET = "bench-secret-that-is-long-enough-for-hs256"


def _details(i: int) -> dict[str, Any]:
    return {"name": f"Contact Person {i}", "emails": [f"contact.{i}@example.com"], "phone": f"+44 7700 9{i:05d}",
            "note": f"met at the careers fair, table {i}", "organisation": "Example Ltd"}


def _store(folder: Path, sealed: bool) -> Any:
    """The contacts event store, sealing (or, knowing no contract, sealing nothing) with this folder's keys."""
    from shared.config import Settings
    from shared.eventstore import open_event_store
    from shared.keys import open_personal_data
    from shared.keys.personal import PersonalData, SealingEventStore

    store = open_event_store(f"sqlite:///{folder}/events-contacts.db")
    store.prepare()
    personal = open_personal_data(Settings.from_env({"CAREERLOOP_DATA_DIR": str(folder)}))
    return SealingEventStore(store, personal if sealed else PersonalData(personal.keys, catalogs=()))


def application_layer(commands: int, folder: Path, sealed: bool) -> tuple[float, list[dict[str, Any]]]:
    """(seconds per command, the events as stored) for `commands` commands on `ContactsService`."""
    from services.contacts.application import ContactsService
    from shared.auth import Principal
    from shared.events import Metadata

    store = _store(folder, sealed)
    service = ContactsService(store)
    meta = Metadata(actor="bench-student")
    student = Principal("bench-student", frozenset({"student"}))
    touchpoint = {"kind": "outreach", "occurred_at": datetime(2026, 12, 1, 10, tzinfo=UTC)}
    started = time.perf_counter()
    contacts = max(1, commands // CONTACT_SHARE)
    ids = [service.add_contact("bench-student", _details(i), meta).id for i in range(contacts)]
    for n in range(commands - contacts):
        service.log_touchpoint(ids[n % contacts], {**touchpoint, "text": f"wrote about the role, note {n}"},
                               student, meta)
    seconds = (time.perf_counter() - started) / commands
    stored = [event for commit in store.read_all(0, commands + 1) for event in commit.events]
    store.close()
    return seconds, stored


def api(commands: int, folder: Path, sealed: bool) -> float:
    """Seconds per command through the contacts API."""
    from services.contacts.app import create_app
    from shared.auth import mint_token
    from shared.config import Settings
    from shared.readstore import open_read_store

    settings = Settings.from_env({"CAREERLOOP_DATA_DIR": str(folder), "CAREERLOOP_JWT_SECRET": SECRET,
                                  "LOG_LEVEL": "WARNING"})
    store, read_store = _store(folder, sealed), open_read_store(f"sqlite:///{folder}/read-models.db")
    client = create_app(settings, event_store=store, read_store=read_store).test_client()
    auth = {"Authorization": "Bearer " + mint_token(SECRET, "bench-student", ["student"])}
    started = time.perf_counter()
    ids, contacts = [], max(1, commands // CONTACT_SHARE)
    for i in range(contacts):
        response = client.post("/contacts", json=_details(i), headers=auth)
        assert response.status_code == 201, response.json
        ids.append(response.json["id"])
    for n in range(commands - contacts):
        response = client.post(f"/contacts/{ids[n % contacts]}/touchpoints", headers=auth, json={
            "kind": "outreach", "occurred_at": "2026-12-01T10:00:00Z", "text": f"wrote about the role, note {n}"})
        assert response.status_code == 201, response.json
    seconds = (time.perf_counter() - started) / commands
    store.close()
    read_store.close()
    return seconds


def apply_rate(events: list[dict[str, Any]], folder: Path, sealed: bool) -> float:
    """Events per second the contact directory applies, in batches of 500 as a worker polls them, over
    `APPLY_REPEATS` applies of the events into fresh read stores (one apply of 2,000 events lasts a
    fifth of a second: too short to measure alone on a shared machine)."""
    from services.contacts.projections import ContactDirectory
    from shared.bus import Message
    from shared.config import Settings
    from shared.keys import open_personal_data
    from shared.readstore import open_read_store

    messages = [Message("contacts", 0, n, e["subject"], json.dumps(e, separators=(",", ":")).encode())
                for n, e in enumerate(events)]
    seconds = 0.0
    for repeat in range(APPLY_REPEATS):
        # a fresh opener each time, as a worker starting: no key or opened value cached from the last apply
        personal = open_personal_data(Settings.from_env({"CAREERLOOP_DATA_DIR": str(folder)})) if sealed else None
        read_store = open_read_store(f"sqlite:///{folder}/read-{'sealed' if sealed else 'plain'}-{repeat}.db")
        projection = ContactDirectory(read_store, personal=personal)
        started = time.perf_counter()
        for start in range(0, len(messages), 500):
            projection.handle(messages[start:start + 500])
        seconds += time.perf_counter() - started
        read_store.close()
    return len(messages) * APPLY_REPEATS / seconds


def _rounds(measure: Callable[[Path, bool], Any]) -> dict[bool, list[Any]]:
    results: dict[bool, list[Any]] = {False: [], True: []}
    for _ in range(ROUNDS):
        for sealed in (False, True):
            with tempfile.TemporaryDirectory(prefix="bench-encryption-") as folder:
                results[sealed].append(measure(Path(folder), sealed))
    return results


def measure(commands: int) -> dict[str, Any]:
    per_command = {side: min(times) for side, times in _rounds(lambda f, s: api(commands, f, s)).items()}

    def layer_and_apply(folder: Path, sealed: bool) -> tuple[float, float]:
        seconds, events = application_layer(commands, folder, sealed)
        return seconds, apply_rate(events, folder, sealed)

    layer = _rounds(layer_and_apply)
    write = {side: min(s for s, _ in runs) for side, runs in layer.items()}
    apply = {side: max(r for _, r in runs) for side, runs in layer.items()}
    return {"commands": commands, "contacts": max(1, commands // CONTACT_SHARE), "rounds": ROUNDS,
            "plain_ms_per_command": round(per_command[False] * 1000, 3),
            "sealed_ms_per_command": round(per_command[True] * 1000, 3),
            "command_ratio": round(per_command[True] / per_command[False], 3), "command_goal": "<= 1.15",
            "plain_ms_per_application_command": round(write[False] * 1000, 3),
            "sealed_ms_per_application_command": round(write[True] * 1000, 3),
            "write_ratio": round(write[True] / write[False], 3),
            "plain_apply_events_per_second": round(apply[False], 1),
            "sealed_apply_events_per_second": round(apply[True], 1),
            "apply_ratio": round(apply[False] / apply[True], 3), "apply_goal": "<= 1.25"}


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 2000), indent=2))
