"""Property: replaying note and contact streams with redeliveries and any interleaving across streams
gives the same search documents as delivering every event once, in order — including notes that
arrive before their contact, and deleted notes."""
from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.contacts.domain import Contact
from services.notes.domain import Note
from services.notes.projections import NotesViews, note_search
from shared.bus import Message
from shared.contracts.contacts import CONTACTS
from shared.contracts.notes import NOTES
from shared.events import EventCatalog, Metadata
from tests.backends import READ_STORE_PARAMS
from tests.integration.replay import at_least_once, project

NOW = datetime(2026, 3, 1, tzinfo=UTC)
NOTE_COMMANDS = st.sampled_from(["revise", "add_item", "complete", "reopen", "share", "private", "delete"])
CONTACT_COMMANDS = st.sampled_from(["move", "rename", "industry"])
META = Metadata(actor="student-1", correlation_id="c")


def messages(catalog: EventCatalog, stream_id: str, events: list) -> list[Message]:
    return [Message(catalog.topic, 0, n, stream_id, json.dumps(catalog.envelope(
        event, stream_id=stream_id, stream_version=n + 1, owner_id="student-1", meta=META,
        at=NOW + timedelta(seconds=n))).encode()) for n, event in enumerate(events)]


def note_stream(note_id: str, contact_id: str, commands: list[str]) -> list[Message]:
    numbers = count()
    new_id = lambda: f"{note_id}-item-{next(numbers)}"  # noqa: E731
    note = Note.record_new(note_id, "student-1", {"text": "Risk teams hire analysts", "tags": ["finance"],
                                                  "action_items": [{"text": "Say thanks", "due_on": "2026-03-02"}]},
                           interview_id=None, contact_id=contact_id, visibility="private", time_zone="Europe/London",
                           new_item_id=new_id)
    for i, command in enumerate(commands):
        with contextlib.suppress(Exception):  # a rule refused it (no items, already deleted): no event for it
            note_commands(note, i, new_id)[command]()
    return messages(NOTES, note_id, note.pending)


def note_commands(note: Note, i: int, new_id: Callable[[], str]) -> dict[str, Callable[[], object]]:
    """The note commands by name, their arguments varied by the command's position i."""
    items = [{"item_id": it["item_id"], "text": it["text"], "due_on": it["due_on"]}
             for it in note.content.get("action_items", [])]
    return {"revise": lambda: note.revise({"text": f"Revision {i}", "action_items": items[1:],
                                           "insights": [{"category": "advice", "text": f"tip {i}"}]},
                                          "Europe/London", new_id),
            "add_item": lambda: note.revise({"text": note.content["text"],
                                             "action_items": items + [{"text": f"do {i}"}]}, "Europe/London", new_id),
            "complete": lambda: note.complete_item(items[0]["item_id"]),
            "reopen": lambda: note.reopen_item(items[0]["item_id"]),
            "share": lambda: note.set_visibility("shared"), "private": lambda: note.set_visibility("private"),
            "delete": note.delete}


def contact_stream(contact_id: str, commands: list[str]) -> list[Message]:
    contact = Contact.add(contact_id, "student-1", {"name": "Jane", "organisation": "Acme", "industry": "Software"})
    for i, command in enumerate(commands):
        contact_commands(contact, i)[command]()
    return messages(CONTACTS, contact_id, contact.pending)


def contact_commands(contact: Contact, i: int) -> dict[str, Callable[[], object]]:
    return {"move": lambda: contact.change_details({"organisation": f"Org {i}"}),
            "rename": lambda: contact.change_details({"name": f"Jane {i}"}),
            "industry": lambda: contact.change_details({"industry": f"Industry {i % 2}"})}


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[list[Message], list[Message]]:
    streams = [contact_stream("c1", draw(st.lists(CONTACT_COMMANDS, max_size=4)))]
    streams += [note_stream(f"n{k}", "c1", draw(st.lists(NOTE_COMMANDS, max_size=8)))
                for k in range(draw(st.integers(1, 3)))]
    in_order = [m for s in streams for m in s]
    return in_order, at_least_once(draw, streams)


def build(backend: str, delivered: list[Message], batch: int) -> dict[str, list[dict[str, Any]]]:
    return project(backend, NotesViews, delivered, batch, {"search": note_search})


@pytest.mark.parametrize("backend", READ_STORE_PARAMS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.large_base_example, HealthCheck.too_slow])
@given(case=deliveries(), batch=st.integers(1, 7))
def test_redelivery_and_interleaving_give_the_same_search_documents(backend: str, case: tuple, batch: int) -> None:
    in_order, mixed = case
    assert build(backend, mixed, batch) == build(backend, in_order, 1000)
