"""Contacts, scheduling and notes wired in-process on one backend profile, sharing bus and read store,
and the steps most note tests begin with."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from services.contacts.app import create_app as create_contacts_app
from services.contacts.projections import ContactDirectory
from services.notes.app import create_app as create_notes_app
from services.notes.projections import NotesViews
from services.scheduling.app import create_app as create_scheduling_app
from services.scheduling.projections import SchedulingViews
from tests.integration.conftest import InProcessPlatform

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
OBJECTIVES = ["How do product teams work?", "What does a first year look like?"]


@dataclass
class Services:
    contacts: InProcessPlatform
    scheduling: InProcessPlatform
    notes: InProcessPlatform

    def sync(self) -> None:
        self.notes.sync()  # every relay and projection built so far

    def add_contact(self, auth: str, **details: Any) -> str:
        response = self.contacts.client.post("/contacts", headers={"Authorization": auth}, json={
            "name": "Jane Doe", "organisation": "Acme Corp", "industry": "Software", **details})
        assert response.status_code == 201, response.json
        self.sync()
        return response.json["id"]

    def request_interview(self, auth: str, contact_id: str) -> str:
        response = self.scheduling.client.post("/interviews", headers={"Authorization": auth}, json={
            "contact_id": contact_id, "objectives": OBJECTIVES, "format": "phone", "time_zone": "America/New_York"})
        assert response.status_code == 201, response.json
        self.sync()
        return response.json["id"]

    def record(self, auth: str, **body: Any) -> Any:
        return self.notes.client.post("/notes", json=body, headers={"Authorization": auth})

    def call(self, method: str, path: str, auth: str, body: Any = None, **headers: str) -> Any:
        return self.notes.client.open(path, method=method, json=body, headers={"Authorization": auth, **headers})

    def search(self, auth: str, query: str = "") -> list[dict[str, Any]]:
        self.sync()
        response = self.notes.client.get(f"/notes?{query}", headers={"Authorization": auth})
        assert response.status_code == 200, response.json
        return response.json["items"]


@pytest.fixture
def services(in_process: Callable[..., InProcessPlatform]) -> Services:
    contacts = in_process(create_contacts_app, "contacts", [ContactDirectory])
    scheduling = in_process(create_scheduling_app, "scheduling", [SchedulingViews], clock=lambda: NOW)
    notes = in_process(create_notes_app, "notes", [NotesViews])
    # references are synced explicitly in these tests: a missing one is refused at once
    notes.client.application.extensions["notes"].service.reference_wait_seconds = 0
    return Services(contacts, scheduling, notes)
