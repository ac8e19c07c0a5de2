"""Property: replaying streams with duplicates, redeliveries and any per-key interleaving gives the
same directory as delivering every event once, in order."""
from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.contacts.domain import Contact
from services.contacts.projections import ContactDirectory, directory
from shared.bus import Message
from shared.contracts.contacts import CONTACTS
from shared.events import Metadata
from tests.backends import READ_STORE_PARAMS
from tests.integration.replay import at_least_once, project

NOW = datetime(2026, 11, 25, tzinfo=UTC)
COMMANDS = st.sampled_from(["tag", "untag", "prioritise", "archive", "restore", "touch", "rename", "email"])


def commands_on(contact: Contact, contact_id: str, i: int) -> dict[str, Callable[[], object]]:
    """The commands by name, their arguments varied by the command's position i."""
    return {
        "tag": lambda: contact.tag([f"t{i % 3}"]),
        "untag": lambda: contact.untag([f"t{(i + 1) % 3}"]),
        "prioritise": lambda: contact.prioritise(1 + i % 3, 1 + (i * 7) % 3),
        "archive": lambda: contact.archive("r"),
        "restore": contact.restore,
        "touch": lambda: contact.log_touchpoint(
            f"{contact_id}-{i}", ["outreach", "reply", "conversation", "thank_you", "check_in"][i % 5],
            NOW - timedelta(days=30 - i), NOW),
        "rename": lambda: contact.change_details({"name": f"Renamed {i}", "organisation": f"Org {i % 2}"}),
        "email": lambda: contact.change_details({"emails": [f"x{i}@example.org"]}),
    }


def stream(contact_id: str, commands: list[str]) -> list[Message]:
    """The envelopes a contact's stream holds after the commands (refused commands record nothing)."""
    contact = Contact.add(contact_id, "student-1", {"name": f"Name {contact_id}"})
    for i, command in enumerate(commands):
        with contextlib.suppress(Exception):  # a rule refused it: the stream simply has no event for it
            commands_on(contact, contact_id, i)[command]()
    meta = Metadata(actor="student-1", correlation_id="c")
    return [Message(CONTACTS.topic, 0, n, contact_id, json.dumps(CONTACTS.envelope(
        event, stream_id=contact_id, stream_version=n + 1, owner_id="student-1", meta=meta,
        at=NOW + timedelta(seconds=n))).encode()) for n, event in enumerate(contact.pending)]


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[list[Message], list[Message]]:
    streams = [stream(f"c{k}", draw(st.lists(COMMANDS, max_size=12))) for k in range(draw(st.integers(1, 3)))]
    in_order = [m for s in streams for m in s]
    return in_order, at_least_once(draw, streams)


def build(backend: str, messages: list[Message], batch: int) -> dict[str, list[dict[str, Any]]]:
    return project(backend, ContactDirectory, messages, batch, {"directory": directory})


@pytest.mark.parametrize("backend", READ_STORE_PARAMS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.large_base_example, HealthCheck.too_slow])
@given(case=deliveries(), batch=st.integers(1, 7))
def test_redelivery_and_interleaving_give_the_same_directory(backend: str, case: tuple, batch: int) -> None:
    in_order, mixed = case
    assert build(backend, mixed, batch) == build(backend, in_order, 1000)
