"""Contacts, scheduling, notes and followups wired in-process on one backend profile, sharing the bus
and the read store, with one injectable clock for scheduling and the follow-up queries."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import pytest

from services.contacts.app import create_app as create_contacts_app
from services.contacts.projections import ContactDirectory
from services.followups.app import create_app as create_followups_app
from services.followups.projections import FollowUpViews
from services.notes.app import create_app as create_notes_app
from services.notes.projections import NotesViews
from services.scheduling.app import create_app as create_scheduling_app
from services.scheduling.projections import SchedulingViews
from shared.config import Settings
from tests.backends import TEST_SECRET
from tests.integration.conftest import InProcessPlatform

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)  # a Sunday


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """As everywhere, but read-your-writes gives up after one second (the 503 test waits for it)."""
    return Settings.from_env({"CAREERLOOP_DATA_DIR": str(tmp_path), "CAREERLOOP_JWT_SECRET": TEST_SECRET,
                              "CAREERLOOP_JWKS_URL": "", "READ_YOUR_WRITES_WAIT_SECONDS": "1"})


@dataclass
class Services:
    contacts: InProcessPlatform
    scheduling: InProcessPlatform
    notes: InProcessPlatform
    followups: InProcessPlatform
    clock: Clock

    def sync(self) -> None:
        self.followups.sync()  # every relay and projection built so far

    def _client(self, service: str) -> Any:
        return getattr(self, service).client

    def post(self, service: str, path: str, auth: str, body: Any = None, **headers: str) -> Any:
        return self._client(service).post(path, json=body if body is not None else {},
                                          headers={"Authorization": auth, **headers})

    def get(self, service: str, path: str, auth: str) -> Any:
        return self._client(service).get(path, headers={"Authorization": auth})

    def add_contact(self, auth: str, **details: Any) -> str:
        response = self.post("contacts", "/contacts", auth, {"name": "Jane Doe", "organisation": "Acme Corp", **details})
        assert response.status_code == 201, response.json
        self.sync()
        return response.json["id"]

    def touch(self, auth: str, contact_id: str, kind: str, occurred_at: str) -> dict[str, Any]:
        response = self.post("contacts", f"/contacts/{contact_id}/touchpoints", auth,
                             {"kind": kind, "occurred_at": occurred_at})
        assert response.status_code == 201, response.json
        return response.json

    def held_interview(self, auth: str, contact_id: str, start: str = "2026-03-02T10:00:00",
                       time_zone: str = "America/New_York") -> str:
        """Requested, scheduled and completed (the clock moves past its end)."""
        response = self.post("scheduling", "/interviews", auth, {
            "contact_id": contact_id, "objectives": ["How do product teams work?"], "format": "phone",
            "time_zone": time_zone})
        assert response.status_code == 201, response.json
        interview = response.json["id"]
        scheduled = self.post("scheduling", f"/interviews/{interview}/schedule", auth,
                              {"start": start, "time_zone": time_zone})
        assert scheduled.status_code == 200, scheduled.json
        self.clock.advance(days=2)
        assert self.post("scheduling", f"/interviews/{interview}/complete", auth).status_code == 200
        self.sync()
        return interview

    def queue(self, auth: str, query: str = "") -> list[dict[str, Any]]:
        self.sync()
        response = self.get("followups", f"/followups?{query}", auth)
        assert response.status_code == 200, response.json
        return response.json["items"]


@pytest.fixture
def services(in_process: Callable[..., InProcessPlatform]) -> Services:
    clock = Clock(NOW)
    contacts = in_process(create_contacts_app, "contacts", [ContactDirectory])
    scheduling = in_process(create_scheduling_app, "scheduling", [SchedulingViews], clock=clock)
    notes = in_process(create_notes_app, "notes", [NotesViews])
    notes.client.application.extensions["notes"].service.reference_wait_seconds = 0
    followups = in_process(create_followups_app, "followups", [FollowUpViews], clock=clock)
    return Services(contacts, scheduling, notes, followups, clock)
