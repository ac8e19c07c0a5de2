"""The projection base: the version-guarded write, the default skip, `unapplied` and the batch hooks,
on an embedded read store (the property tests replay whole services' projections on both backends)."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.bus import Message
from shared.contracts.contacts import CONTACTS
from shared.events import Metadata, Recorded
from shared.projection import Projection, on
from shared.readstore import ReadStore, Update, VersionGap, open_read_store


class Names(Projection):
    """Only ContactAdded and ContactDetailsChanged have handlers: every other contact event is skipped."""

    name = "test-names"
    catalogs = (CONTACTS,)

    def __init__(self, read_store: ReadStore, **options: Any) -> None:
        super().__init__(read_store, **options)
        self.docs = read_store.collection("test_names")
        self.versioned = {CONTACTS.aggregate: self.docs}
        self.batches: list[tuple[str, int]] = []
        self.before: dict[str, Any] | None = {}

    def before_batch(self) -> None:
        self.batches.append(("before", len(self.batches)))

    def after_batch(self) -> None:
        self.batches.append(("after", len(self.batches)))

    @on("ContactAdded")
    def added(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.write(envelope, Update(set={"name": event.data["name"]}))

    @on("ContactDetailsChanged")
    def changed(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.before = self.unapplied(envelope)
        self.write(envelope, Update(set={"name": event.data["name"]}))


def message(version: int, name: str, data: dict[str, Any]) -> Message:
    envelope = CONTACTS.envelope(Recorded(name, data), stream_id="c-1", stream_version=version, owner_id="s-1",
                                 meta=Metadata(actor="s-1"))
    return Message(CONTACTS.topic, 0, version - 1, "c-1", json.dumps(envelope).encode())


ADDED = message(1, "ContactAdded", {"student_id": "s-1", "name": "Ada"})
TAGGED = message(2, "ContactTagged", {"tags": ["alumni"]})
RENAMED = message(3, "ContactDetailsChanged", {"name": "Ada L."})


@pytest.fixture
def names(tmp_path: Path) -> Iterator[Names]:
    store = open_read_store(f"sqlite:///{tmp_path}/read.db")
    yield Names(store)
    store.close()


def test_a_stream_is_written_in_version_order_and_stamped_with_its_latest_events_time(names: Names) -> None:
    names.handle([ADDED, TAGGED, RENAMED])
    doc = names.docs.get("c-1")
    assert (doc["name"], doc["_version"]) == ("Ada L.", 3)
    assert doc["updated_at"] == json.loads(RENAMED.value)["time"]


def test_an_event_without_a_handler_still_advances_the_version_so_the_next_is_no_gap(names: Names) -> None:
    names.handle([ADDED, TAGGED])
    assert names.docs.get("c-1")["_version"] == 2
    names.handle([RENAMED])
    assert names.docs.get("c-1")["name"] == "Ada L."


def test_redelivery_changes_nothing_and_unapplied_says_so(names: Names) -> None:
    names.handle([ADDED, TAGGED, RENAMED])
    before = names.docs.get("c-1")
    names.handle([ADDED, RENAMED, TAGGED, RENAMED])
    assert names.docs.get("c-1") == before
    assert names.before is None  # RENAMED was already applied


def test_unapplied_is_the_document_before_the_event(names: Names) -> None:
    names.handle([ADDED, TAGGED])
    names.handle([RENAMED])
    assert (names.before["name"], names.before["_version"]) == ("Ada", 2)


def test_a_gap_stops_the_projection(names: Names) -> None:
    names.handle([ADDED])
    with pytest.raises(VersionGap):
        names.handle([RENAMED])  # version 2 never arrived
    assert names.docs.get("c-1")["_version"] == 1


def test_the_hooks_run_once_around_each_batch(names: Names) -> None:
    names.handle([ADDED, TAGGED])
    names.handle([RENAMED])
    assert names.batches == [("before", 0), ("after", 1), ("before", 2), ("after", 3)]
