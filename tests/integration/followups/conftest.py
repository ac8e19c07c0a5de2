"""Contacts, scheduling, notes and followups wired in-process on one backend profile, sharing the bus
and the read store, with one injectable clock for scheduling, the follow-up queries and the announcer.

`sync()` keeps one consumer per projection open for the whole test instead of starting new ones on
each call (as `InProcessPlatform.sync` does): on Kafka every new consumer joins its group again and
waits for the group to settle, which made these tests the slowest of the suite."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from services.contacts.app import create_app as create_contacts_app
from services.contacts.projections import ContactDirectory
from services.followups.announcer import Announcer
from services.followups.app import create_app as create_followups_app
from services.followups.projections import FollowUpViews
from services.notes.app import create_app as create_notes_app
from services.notes.projections import NotesViews
from services.scheduling.app import create_app as create_scheduling_app
from services.scheduling.projections import SchedulingViews
from shared.config import Settings
from shared.consumer import ConsumerRunner
from tests.backends import TEST_SECRET
from tests.clock import Clock
from tests.integration.conftest import InProcessPlatform

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # a Sunday


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """As everywhere, but read-your-writes gives up after one second (the 503 test waits for it)."""
    return Settings.from_env({"CAREERLOOP_DATA_DIR": str(tmp_path), "CAREERLOOP_JWT_SECRET": TEST_SECRET,
                              "CAREERLOOP_JWKS_URL": "", "READ_YOUR_WRITES_WAIT_SECONDS": "1"})


class Catcher:
    """Catch-up runs of every relay and projection built so far, over consumers that stay open: the
    loop of `ConsumerRunner.run(until_idle=True)` without leaving and rejoining the group each time."""

    def __init__(self, platform: InProcessPlatform) -> None:
        self.platform = platform
        self.opened: list[ConsumerRunner] = []

    def sync(self) -> None:
        for relay in self.platform.relays:
            while relay.publish_pending():
                pass
        for runner in self.platform.runners:
            if runner not in self.opened:
                runner.bus.ensure_topics({runner.dead_letters: 1})
                runner.consumer = runner.bus.consumer(runner.handler.group_id, runner.handler.topics)
                runner.producer = runner.bus.producer()
                self.opened.append(runner)
            assert runner.consumer is not None
            while True:
                messages = runner.consumer.poll(runner.batch_size, timeout=0.1)
                if messages:
                    runner.process(messages)
                elif runner.caught_up():
                    break

    def close(self) -> None:
        for runner in self.opened:
            for client in (runner.consumer, runner.producer):
                if client is not None:
                    client.close()
        self.opened.clear()


@dataclass
class Services:
    contacts: InProcessPlatform
    scheduling: InProcessPlatform
    notes: InProcessPlatform
    followups: InProcessPlatform
    clock: Clock
    catcher: Catcher

    def sync(self) -> None:
        self.catcher.sync()  # every relay and projection built so far

    def announcer(self, **options: Any) -> Announcer:
        """An announcer on the followups event store and the shared read store, on the test's clock."""
        return Announcer(self.followups.store, self.followups.read_store, clock=self.clock, **options)

    def _client(self, service: str) -> Any:
        return getattr(self, service).client

    def post(self, service: str, path: str, auth: str, body: Any = None, **headers: str) -> Any:
        return self._client(service).post(path, json=body if body is not None else {},
                                          headers={"Authorization": auth, **headers})

    def get(self, service: str, path: str, auth: str) -> Any:
        return self._client(service).get(path, headers={"Authorization": auth})

    def add_contact(self, auth: str, **details: Any) -> str:
        response = self.post(
            "contacts", "/contacts", auth, {"name": "Jane Doe", "organisation": "Acme Corp", **details}
        )
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
def services(in_process: Callable[..., InProcessPlatform]) -> Iterator[Services]:
    clock = Clock(NOW)
    contacts = in_process(create_contacts_app, "contacts", [ContactDirectory])
    scheduling = in_process(create_scheduling_app, "scheduling", [SchedulingViews], clock=clock)
    notes = in_process(create_notes_app, "notes", [NotesViews])
    notes.client.application.extensions["notes"].service.reference_wait_seconds = 0
    followups = in_process(create_followups_app, "followups", [FollowUpViews], clock=clock)
    catcher = Catcher(followups)
    yield Services(contacts, scheduling, notes, followups, clock, catcher)
    catcher.close()
