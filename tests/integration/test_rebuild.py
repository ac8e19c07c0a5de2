"""Rebuilding a live projection without downtime, on each backend profile.

The contact directory is served by a live worker (`follow_projection`, as the worker process runs
it) while a rebuild builds the next generation beside it, switches over and the live worker follows;
meanwhile a reader queries the directory without pause and a writer keeps adding contacts.
"""
from __future__ import annotations

import functools
import io
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from services.contacts.app import create_app
from services.contacts.projections import ContactDirectory
from shared.bus import Message, open_bus
from shared.readstore import Index, iterate
from shared.rebuild import Rebuild
from shared.runtime import follow_projection
from tests.backends import bus_url
from tests.integration.conftest import PROFILES, InProcessPlatform
from tests.support import wait_until


class Handled:
    """Every message the directory handled, by generation and by thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.offsets: dict[int, list[tuple[str, int, int]]] = {}
        self.by_thread: dict[int, Counter] = {}

    def projection(self) -> type[ContactDirectory]:
        handled = self

        class RecordingDirectory(ContactDirectory):
            def handle(self, messages: list[Message]) -> None:
                if threading.current_thread().name == "rebuild":
                    time.sleep(0.03 * len(messages))  # a rebuild long enough for events to arrive meanwhile
                super().handle(messages)  # recorded only once applied
                with handled.lock:
                    handled.offsets.setdefault(self.generation, []).extend(
                        (m.topic, m.partition, m.offset) for m in messages)
                    handled.by_thread.setdefault(self.generation, Counter())[threading.current_thread().name] += \
                        len(messages)

        return RecordingDirectory


class Thread:
    def __init__(self, name: str, target: Callable[[threading.Event], Any]) -> None:
        self.stop, self.error, self.result = threading.Event(), None, None

        def main() -> None:
            try:
                self.result = target(self.stop)
            except BaseException as exc:
                self.error = exc

        self.thread = threading.Thread(target=main, name=name, daemon=True)
        self.thread.start()

    def join(self) -> Any:
        self.stop.set()
        self.thread.join(90)
        assert not self.thread.is_alive(), f"{self.thread.name} did not stop"
        if self.error:
            raise self.error
        return self.result


def test_a_projection_is_rebuilt_beside_the_live_one_while_queries_answer_and_events_keep_arriving(
        in_process: Callable[..., InProcessPlatform], token: Callable, profile: str, tmp_path: Path) -> None:
    platform = in_process(create_app, "contacts", [])  # the live worker below is the directory's only runner
    app = platform.client.application
    namespace = app.extensions["careerloop"].settings.get("BUS_NAMESPACE")
    url = bus_url(PROFILES[profile][1], tmp_path)  # the bus in_process opened: each thread opens its own client
    auth = {"Authorization": token("student-1")}
    handled = Handled()
    directory = functools.partial(handled.projection(), personal=platform.personal)  # as projection_main binds it
    created: list[str] = []

    def add_contacts(count: int) -> None:
        for _ in range(count):
            response = platform.client.post("/contacts", json={"name": f"Contact {len(created):03}"}, headers=auth)
            assert response.status_code == 201, response.json
            created.append(response.json["id"])
        while platform.relays[0].publish_pending():
            pass

    def listed(client: Any) -> tuple[int, list[str]]:
        response = client.get("/contacts?limit=200&sort=name", headers=auth)
        return response.status_code, [item["id"] for item in (response.json or {}).get("items", [])]

    def live_worker(stop: threading.Event) -> None:
        bus = open_bus(url)
        try:
            follow_projection(directory, bus, platform.read_store, namespace=namespace, stop=stop)
        finally:
            bus.close()

    # given a student's contacts, served by a live worker from generation 0
    add_contacts(12)
    before = set(created)
    live = Thread("live", live_worker)
    wait_until(lambda: set(listed(platform.client)[1]) == before, what="the live worker projected every contact")

    # and a reader querying the directory without pause, from its own client (as another request would)
    answers: list[tuple[int, list[str]]] = []

    def reader(stop: threading.Event) -> None:
        client = app.test_client()
        while not stop.is_set():
            answers.append(listed(client))

    reading = Thread("reader", reader)

    # when the projection is rebuilt into a new generation, while contacts keep being added
    out = io.StringIO()

    def rebuild(stop: threading.Event) -> int:
        bus = open_bus(url)
        try:
            return Rebuild(directory, bus, platform.read_store, namespace=namespace, out=out,
                           progress_seconds=0.2).run(threading.Event(), keep_old=True)
        finally:
            bus.close()

    rebuilding = Thread("rebuild", rebuild)
    while rebuilding.thread.is_alive() and len(created) < 150:
        add_contacts(1)
        time.sleep(0.05)
    assert rebuilding.join() == 0, out.getvalue()
    during = len(created) - len(before)
    # and after the switch-over
    add_contacts(5)

    # then the live worker followed: every contact, those added after the switch too, is listed once
    try:
        wait_until(lambda: listed(platform.client)[1] == created, what="every contact listed once, in order",
                   timeout=60)
    except AssertionError as timed_out:
        got = listed(platform.client)[1]
        raise AssertionError(f"{len(set(created) - set(got))} missing, {len(got)} listed, "
                             f"{len(created)} created; {platform.read_store.load_generations()}\n{out.getvalue()}"
                             ) from timed_out
    reading.join()
    live.join()
    report = out.getvalue()
    assert "switched: queries read generation 1" in report, report
    assert "events applied" in report and "lag" in report, report

    # and no answer during the switch failed, was empty or partial, or listed anything twice
    assert len(answers) > 10 and during >= 3
    for status, ids in answers:
        assert status == 200
        assert before <= set(ids) <= set(created)
        assert len(ids) == len(set(ids))

    # and generation 1 applied every event exactly once: the rebuild up to the switch, then the live
    # worker from where the rebuild stopped
    bus = platform.bus
    topic = namespace + "careerloop.contacts.contact.v1"
    ends = bus.end_offsets(topic)
    expected = sorted((topic, p, o) for p, end in ends.items() for o in range(end))
    assert sorted(handled.offsets[1]) == expected
    assert set(handled.by_thread[1]) == {"rebuild", "live"}
    assert sum(ends.values()) == len(created)

    # and the old generation, kept with --keep-old, is dropped on request with its checkpoints
    generations = platform.read_store.load_generations()
    assert generations.of("contact_directory") == 1 and [r.generation for r in generations.retired] == [0]
    bus2 = open_bus(url)
    try:
        Rebuild(directory, bus2, platform.read_store, namespace=namespace, out=out).drop_retired()
    finally:
        bus2.close()
    assert platform.read_store.collection("contact_directory", generation=0).count({}) == 0
    checkpoints = platform.read_store.collection("checkpoints", [Index("group_id")])
    assert {doc["group_id"] for doc in iterate(checkpoints, {})} == {f"{namespace}projection.contact-directory.v1.g1"}
    assert listed(platform.client) == (200, created)
