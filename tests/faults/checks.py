"""What a fault run must show afterwards, each check computed from the stores and the answers, never
from the code under test's own bookkeeping.

- `stored`: every accepted command's event is in its service's event store, once (found by the
  unique marker the command carried); markers of commands the client never saw accepted are counted
  too (`applied_unacknowledged`: the process died after the append, before the answer).
- `visible`: every accepted command shows in the read models that should show it, read through
  the query APIs as a student would (the directory, the timeline, notes, interviews).
- `rebuilt_equal`: each projection is rebuilt from the topics beside the live one
  (`--rebuild --keep-old`, the operator's command), and the live generation's documents equal the
  clean rebuild's, collection by collection.
- `deliveries`: no reminder reached the SMTP or webhook receiver twice (by Message-ID / webhook-id),
  and how many distinct ones arrived.
"""
from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import requests
from pymongo import MongoClient

from shared.config import Settings
from shared.eventstore import open_event_store
from shared.keys import open_personal_data
from shared.keys.personal import PersonalData
from shared.readstore import open_read_store
from shared.readstore.port import physical_name
from tests.faults.load import Load, Outcome
from tests.platform import ROOT, Platform

SERVICES = ("contacts", "scheduling", "notes", "followups", "notifications")
# A command's marker is in its event's data under these (type suffix: field); see tests/faults/load.py.
MARKED = {"ContactAdded": "name", "TouchpointLogged": "text", "ContactTagged": "tags", "NoteRecorded": "text"}
KIND_OF_TYPE = {"ContactAdded": "contact", "TouchpointLogged": "touchpoint", "ContactTagged": "tag",
                "NoteRecorded": "note"}


def _events(url: str, personal: PersonalData) -> Iterator[dict[str, Any]]:
    """Every stored event, its personal data opened as the platform's processes open it."""
    store = open_event_store(url)
    try:
        position = 0
        while commits := store.read_all(position, 500):
            for commit in commits:
                for event in commit.events:
                    yield {**personal.open(event), "stream_id": commit.stream_id}
            position = commits[-1].position
    finally:
        store.close()


def event_name(event: dict[str, Any]) -> str:
    """`careerloop.contacts.ContactAdded.v1` -> `ContactAdded`."""
    return event.get("type", "").split(".")[-2]


def _markers_in(event: dict[str, Any]) -> list[str]:
    field = MARKED.get(event_name(event))
    value = (event.get("data") or {}).get(field) if field else None
    words = value if isinstance(value, list) else str(value or "").split()
    return [w for w in words if w[:1] in "mnt" and len(w) > 8]


def stored(platform: Platform, load: Load) -> dict[str, Any]:
    seen: Counter = Counter()
    schedules: Counter = Counter()
    personal = open_personal_data(Settings.from_env(platform.env))
    try:
        for service in SERVICES:
            for event in _events(platform.env["EVENT_STORE_URL"].replace("{service}", service), personal):
                for marker in _markers_in(event):
                    seen[(KIND_OF_TYPE[event_name(event)], marker)] += 1
                if event_name(event) == "InterviewScheduled":
                    schedules[event["stream_id"]] += 1
    finally:
        personal.keys.store.close()
    marked = [o for o in load.outcomes if o.kind in ("contact", "touchpoint", "tag", "note")]
    accepted = [o for o in marked if o.accepted]
    found = [o for o in accepted if seen[(o.kind, o.marker)] >= 1]
    duplicated = [o for o in marked if seen[(o.kind, o.marker)] > 1]
    unacknowledged = [o for o in marked if not o.accepted and seen[(o.kind, o.marker)] >= 1]
    scheduled = [o for o in load.outcomes if o.kind == "schedule" and o.accepted]
    return {"accepted": len(accepted), "found": len(found), "lost": len(accepted) - len(found),
            "duplicated": len(duplicated) + sum(1 for o in scheduled if schedules[o.detail["interview"]] > 1),
            "applied_unacknowledged": len(unacknowledged),
            "lost_examples": [o.__dict__ for o in accepted if seen[(o.kind, o.marker)] == 0][:5]}


def _all(session: requests.Session, url: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        response = session.get(url, params={"limit": 200, **({"cursor": cursor} if cursor else {})}, timeout=60)
        response.raise_for_status()
        page = response.json()
        items += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return items


def visible(platform: Platform, load: Load) -> dict[str, Any]:
    """Missing entries by read model; empty lists when everything accepted is shown."""
    missing: dict[str, list[str]] = defaultdict(list)
    by_student: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in load.accepted():
        by_student[outcome.student].append(outcome)
    for student in load.students:
        mine = by_student[student.name]
        directory = {c["id"]: c for c in _all(student.session, f"{platform.url('contacts')}/contacts")}
        timeline = _all(student.session, f"{platform.url('followups')}/timeline")
        notes = {n["id"] for n in _all(student.session, f"{platform.url('notes')}/notes")}
        interviews = {i["id"]: i for i in _all(student.session, f"{platform.url('scheduling')}/interviews")}
        touched = Counter(e.get("contact_id") for e in timeline if e["kind"] == "outreach")
        for o in mine:
            if o.kind == "contact" and o.stream not in directory:
                missing["contact-directory"].append(o.marker)
            elif o.kind == "tag" and o.marker not in (directory.get(o.detail["contact"]) or {}).get("tags", []):
                missing["contact-directory tags"].append(o.marker)
            elif o.kind == "touchpoint" and touched[o.detail["contact"]] < 1:
                missing["timeline"].append(o.marker)
            elif o.kind == "note" and o.stream not in notes:
                missing["notes"].append(o.marker)
            elif o.kind == "schedule" and (interviews.get(o.detail["interview"]) or {}).get("state") != "scheduled":
                missing["interviews"].append(o.marker)
    return {name: len(markers) for name, markers in missing.items()} | {"checked": len(load.accepted())}


def projection_workers() -> list[str]:
    """Every projection worker of the Procfile (`python -m services.<service>.worker`)."""
    from tests.platform import procfile
    return sorted({command.split("python -m ")[1].split()[0] for command in procfile().values()
                   if command.startswith("exec python -m services.") and command.split()[3].endswith(".worker")})


def rebuilt_equal(platform: Platform) -> dict[str, Any]:
    """Rebuild every projection beside the live one and compare the generations' documents."""
    env = platform.env
    results: dict[str, Any] = {}
    store = open_read_store(env["READ_STORE_URL"])
    client: MongoClient = MongoClient(env["READ_STORE_URL"].rsplit("/", 1)[0])
    database = client[env["READ_STORE_URL"].rsplit("/", 1)[1]]
    try:
        for module in projection_workers():
            done = subprocess.run([sys.executable, "-m", module, "--rebuild", "--keep-old", "--grace", "0"],
                                  cwd=ROOT, env=platform.environment(), capture_output=True, text=True,
                                  timeout=1800)
            if done.returncode != 0:
                results[module] = {"error": (done.stdout + done.stderr)[-2000:]}
                continue
            generations = store.load_generations()
            retired = max(generations.retired, key=lambda r: r.generation)
            differences = {}
            for name in retired.collections:
                old = {d["_id"]: d for d in database[physical_name(name, retired.generation)].find()}
                new = {d["_id"]: d for d in database[physical_name(name, generations.of(name))].find()}
                changed = [k for k in old.keys() | new.keys() if _canonical(old.get(k)) != _canonical(new.get(k))]
                if changed:
                    differences[name] = {"documents": len(old), "rebuilt": len(new), "different": len(changed),
                                         "example": changed[:3]}
            results[module] = {"collections": len(retired.collections), "differences": differences}
    finally:
        store.close()
        client.close()
    return results


def _canonical(doc: dict[str, Any] | None) -> str:
    return json.dumps(doc, sort_keys=True, default=str)


def deliveries(smtp: Any, receivers: list[Any]) -> dict[str, Any]:
    mails = Counter(str(m["Message-ID"]) for m in smtp.messages)
    hooks = Counter(i for r in receivers for i in r.delivered_ids())
    return {"emails": len(mails), "emails_duplicated": sum(n - 1 for n in mails.values()),
            "webhooks": len(hooks), "webhooks_duplicated": sum(n - 1 for n in hooks.values())}
