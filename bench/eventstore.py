"""P2: embedded event-store appends (load, act, save one event per command) against the
`eventsourcing` library on SQLite doing the same, in the same run (embedded profile).

Both: 50 contacts added, then `commands` touchpoints logged round-robin, each command loading its
contact's whole stream, deciding, and appending one event with optimistic concurrency, in a fresh
SQLite file. careerloop goes through the contacts service's application layer
(`ContactsService.log_touchpoint`: the newest schema's validation, the CloudEvents envelope, the
append); the library through an `Application` whose aggregate records the same event, with its SQLite
persistence module (`eventsourcing.sqlite`). `careerloop_vs_library` is our commands per second over
the library's (goal >= 1.5).
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

CONTACTS = 50

LIBRARY = '''
import os, sys, time
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

class Contact(Aggregate):
    @event("ContactAdded")
    def __init__(self, name):
        self.name, self.touchpoints = name, []

    @event("TouchpointLogged")
    def log_touchpoint(self, kind, occurred_at, text):
        self.touchpoints.append(kind)

class Contacts(Application):
    def add(self, name):
        contact = Contact(name)
        self.save(contact)
        return contact.id

    def log_touchpoint(self, contact_id, n):
        contact = self.repository.get(contact_id)
        contact.log_touchpoint("outreach", "2026-12-01T10:00:00+00:00", f"note {n}")
        self.save(contact)

app = Contacts()
ids = [app.add(f"Contact {i}") for i in range(int(sys.argv[2]))]
commands = int(sys.argv[1])
started = time.perf_counter()
for n in range(commands):
    app.log_touchpoint(ids[n % len(ids)], n)
print(commands / (time.perf_counter() - started))
'''


def careerloop(commands: int, data_dir: Path) -> float:
    from services.contacts.application import ContactsService
    from shared.auth import Principal
    from shared.events import Metadata
    from shared.eventstore import open_event_store

    store = open_event_store(f"sqlite:///{data_dir}/events-contacts.db")
    store.prepare()
    service = ContactsService(store)
    meta = Metadata(actor="bench-student")
    student = Principal("bench-student", frozenset({"student"}))
    ids = [service.add_contact("bench-student", {"name": f"Contact {i}"}, meta).id for i in range(CONTACTS)]
    touchpoint = {"kind": "outreach", "occurred_at": datetime(2026, 12, 1, 10, tzinfo=UTC), "text": None}
    started = time.perf_counter()
    for n in range(commands):
        service.log_touchpoint(ids[n % CONTACTS], {**touchpoint, "text": f"note {n}"}, student, meta)
    rate = commands / (time.perf_counter() - started)
    store.close()
    return rate


def library(commands: int, data_dir: Path) -> float:
    """In its own process: the library reads its persistence settings from the environment."""
    env = {**os.environ, "PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(data_dir / "library.db")}
    done = subprocess.run([sys.executable, "-c", LIBRARY, str(commands), str(CONTACTS)], env=env, check=True,
                          capture_output=True, text=True)
    return float(done.stdout.strip().splitlines()[-1])


def measure(commands: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-eventstore-") as folder:
        ours = careerloop(commands, Path(folder))
        theirs = library(commands, Path(folder))
    return {"commands": commands, "streams": CONTACTS, "careerloop_commands_per_second": round(ours, 1),
            "library_commands_per_second": round(theirs, 1), "careerloop_vs_library": round(ours / theirs, 3),
            "goal": ">= 1.5"}


if __name__ == "__main__":
    print(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 2000))
