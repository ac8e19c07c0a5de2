"""A rebuild of the followups views defers deriving the queues to its end (`FollowUpViews.caught_up`):
what it switches to must equal what the live worker built batch by batch, whether the rebuild ran in
one go or was interrupted and resumed (the resumed run never saw the first run's students)."""
from __future__ import annotations

import io
import shutil
import threading
from pathlib import Path
from typing import Any

from bench.workload import HEADERS, Workload, publish
from services.followups.projections import FollowUpViews, advisees, items, sources, timeline, versions
from shared.bus import EventBus, open_bus
from shared.config import Settings
from shared.consumer import ConsumerRunner
from shared.contracts.followups import FOLLOWUPS
from shared.contracts.notes import ADVISING
from shared.events import Metadata, Recorded
from shared.readstore import ReadStore, iterate, open_read_store
from shared.rebuild import Rebuild
from shared.relay import encode
from shared.runtime import ensure_all_topics

NAMESPACE = "rebuildtest."
VIEWS = {"items": items, "timeline": timeline, "sources": sources, "versions": versions, "advisees": advisees}


def documents(store: ReadStore) -> dict[str, list[dict[str, Any]]]:
    """Every document of the views, in whichever generation is current."""
    return {name: list(iterate(make(store), {}, [("_id", 1)])) for name, make in VIEWS.items()}


def live(bus: EventBus, store: ReadStore) -> None:
    """As the live worker applies them: small polls, the queues derived after each."""
    projection = FollowUpViews(store, namespace=NAMESPACE)
    ConsumerRunner(bus, projection, store, batch_size=37).run(until_idle=True)


def decide(bus: EventBus, item: dict[str, Any]) -> None:
    """The student's decisions about one item, and an advisor: streams the workload does not have."""
    meta, owner = Metadata(actor="s"), item["student_id"]
    producer = bus.producer()
    for catalog, stream, version, name, data in [
            (FOLLOWUPS, item["_id"], 1, "FollowUpSnoozed", {"student_id": owner, "until": "2030-01-01T00:00:00Z"}),
            (FOLLOWUPS, item["_id"], 2, "FollowUpDismissed", {"student_id": owner, "reason": None}),
            (ADVISING, f"advising-{owner}", 1, "AdvisorAssigned", {"student_id": owner, "advisor_id": "a1"})]:
        envelope = catalog.envelope(Recorded(name, data), stream_id=stream, stream_version=version, owner_id=owner,
                                    meta=meta)
        producer.send(NAMESPACE + catalog.topic, stream, encode(envelope), HEADERS)
    producer.flush()
    producer.close()


def test_a_rebuild_derives_the_same_queues_as_the_live_worker_in_one_go_and_when_resumed(tmp_path: Path) -> None:
    stores = {name: open_read_store(f"sqlite:///{tmp_path}/{name}.db") for name in ("live", "once", "resumed")}
    try:
        bus = open_bus(f"sqlite:///{tmp_path}/bus.db")
        try:
            ensure_all_topics(bus, Settings.from_env({"BUS_NAMESPACE": NAMESPACE,
                                                      "CAREERLOOP_DATA_DIR": str(tmp_path)}))
            publish(Workload(6), bus, NAMESPACE)
            live(bus, stores["live"])
            decide(bus, next(iterate(items(stores["live"]), {}, [("_id", 1)])))
            live(bus, stores["live"])
        finally:
            bus.close()
        expected = documents(stores["live"])
        assert expected["items"] and any(i["status"] == "dismissed" for i in expected["items"])
        for name in ("once", "resumed"):  # the same topics for each rebuild, whose groups start from nothing
            shutil.copyfile(tmp_path / "bus.db", tmp_path / f"bus-{name}.db")

        bus = open_bus(f"sqlite:///{tmp_path}/bus-once.db")
        try:
            assert Rebuild(FollowUpViews, bus, stores["once"], namespace=NAMESPACE, out=io.StringIO(),
                           batch_size=50).run(keep_old=True) == 0
        finally:
            bus.close()
        assert documents(stores["once"]) == expected

        stop = threading.Event()

        class Interrupted(FollowUpViews):
            """Stopped when every event is applied and committed, before any queue is derived: the
            resumed run has no event left to see, yet must derive every student's queue."""

            def caught_up(self, stop: threading.Event | None = None) -> bool:
                assert stop is not None
                stop.set()
                return super().caught_up(stop)

        bus = open_bus(f"sqlite:///{tmp_path}/bus-resumed.db")
        try:
            out = io.StringIO()
            assert Rebuild(Interrupted, bus, stores["resumed"], namespace=NAMESPACE, out=out,
                           batch_size=50).run(stop, keep_old=True) == 1
            assert "interrupted" in out.getvalue()
            out = io.StringIO()
            assert Rebuild(FollowUpViews, bus, stores["resumed"], namespace=NAMESPACE, out=out,
                           batch_size=50).run(keep_old=True) == 0, out.getvalue()
            assert "resuming" in out.getvalue()
        finally:
            bus.close()
        assert documents(stores["resumed"]) == expected
    finally:
        for store in stores.values():
            store.close()
