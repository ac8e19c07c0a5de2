"""The platform's services and the analytics translator wired in-process on one backend profile (see
tests/integration/followups/conftest.py for the services), and a reader of the integration topic from
offset 0 that uses only the bus port and independent clients (tests/analytics_stream.py)."""
from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from services.analytics.pseudonyms import Pseudonymiser
from services.analytics.translator import Translator
from services.contacts.app import create_app as create_contacts_app
from services.contacts.projections import ContactDirectory
from services.followups.app import create_app as create_followups_app
from services.followups.projections import FollowUpViews
from services.notes.app import create_app as create_notes_app
from services.notes.projections import NotesViews
from services.scheduling.app import create_app as create_scheduling_app
from services.scheduling.projections import SchedulingViews
from shared.bus import Message
from shared.config import Settings
from tests.backends import TEST_SECRET, TEST_SECRETS
from tests.clock import Clock
from tests.integration.conftest import InProcessPlatform
from tests.integration.followups.conftest import NOW, Catcher, Services
from tests.support import wait_until

PSEUDONYMS = Pseudonymiser(TEST_SECRETS["ANALYTICS_PSEUDONYM_KEY"], "k-test")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env({"CAREERLOOP_DATA_DIR": str(tmp_path), "CAREERLOOP_JWT_SECRET": TEST_SECRET,
                              "CAREERLOOP_JWKS_URL": "", "READ_YOUR_WRITES_WAIT_SECONDS": "1"})


class Journey(Services):
    """The services, with the translator among the projections `sync()` runs."""

    translator: Translator

    def integration_messages(self) -> list[Message]:
        """Every message on the analytics topic, from offset 0, in partition and offset order."""
        self.sync()
        bus, topic = self.contacts.bus, self.translator.topic
        ends = bus.end_offsets(topic)
        consumer = bus.consumer(f"test-reader-{uuid.uuid4().hex[:8]}", [topic])
        seen: dict[tuple[int, int], Message] = {}

        def read_to_the_end() -> bool:
            for message in consumer.poll(500, timeout=0.2):
                seen[(message.partition, message.offset)] = message
            return all((partition, end - 1) in seen for partition, end in ends.items() if end)

        try:
            wait_until(read_to_the_end, what=f"the analytics topic was read up to {ends}", interval=0,
                       seen=lambda: f"{len(seen)} messages")
        finally:
            consumer.close()
        return [seen[k] for k in sorted(seen)]


@pytest.fixture
def journey(in_process: Callable[..., InProcessPlatform]) -> Iterator[Journey]:
    clock = Clock(NOW)
    contacts = in_process(create_contacts_app, "contacts", [ContactDirectory])
    translator: list[Translator] = []

    def make_translator(read_store: Any, **options: Any) -> Translator:
        translator.append(Translator(read_store, bus=contacts.bus, pseudonyms=PSEUDONYMS, **options))
        return translator[-1]

    scheduling = in_process(create_scheduling_app, "scheduling", [SchedulingViews], clock=clock)
    notes = in_process(create_notes_app, "notes", [NotesViews])
    notes.client.application.extensions["notes"].service.reference_wait_seconds = 0
    followups = in_process(create_followups_app, "followups", [FollowUpViews, make_translator], clock=clock)
    catcher = Catcher(followups)
    services = Journey(contacts, scheduling, notes, followups, clock, catcher)
    services.translator = translator[0]
    yield services
    catcher.close()
    translator[0].close()

