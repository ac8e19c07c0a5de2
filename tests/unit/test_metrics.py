"""The /metrics text (shared.metrics): valid exposition format whatever the label values, and a scrape
that never fails because one backend is down. Embedded backends only (SQLite files): no servers."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.contacts.projections import ContactDirectory
from shared.eventstore import open_event_store
from shared.metrics import BusProbe, Family, collect, render
from shared.readstore import open_read_store


def parse(text: str) -> dict[str, list]:
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def test_rendered_families_parse_back_to_the_same_names_labels_and_values():
    family = Family("careerloop_example", "gauge", 'A help text with a backslash \\ and\na new line.')
    family.add(3, topic='odd "quoted" \\ name\nwith a line', partition=0)
    family.add(0.25, topic="plain", partition=1)
    empty = Family("careerloop_nothing", "gauge", "No samples at all is still a valid family.")
    text = render([family, empty])

    parsed = {f.name: f for f in text_string_to_metric_families(text)}
    assert parsed["careerloop_example"].type == "gauge"
    assert parsed["careerloop_example"].documentation == 'A help text with a backslash \\ and\na new line.'
    assert [(s.labels, s.value) for s in parsed["careerloop_example"].samples] == [
        ({"topic": 'odd "quoted" \\ name\nwith a line', "partition": "0"}, 3.0),
        ({"topic": "plain", "partition": "1"}, 0.25)]
    assert parsed["careerloop_nothing"].samples == []
    assert text.endswith("\n")


@pytest.fixture
def stores(tmp_path: Path):
    events = open_event_store(f"sqlite:///{tmp_path}/events.db")
    reads = open_read_store(f"sqlite:///{tmp_path}/read.db")
    yield events, reads
    events.close()
    reads.close()


def test_a_bus_that_cannot_be_opened_is_reported_down_and_the_rest_is_still_scraped(stores, tmp_path: Path):
    events, reads = stores
    (tmp_path / "not-a-file").mkdir()
    probe = BusProbe(f"sqlite:///{tmp_path}/not-a-file")  # a directory: SQLite cannot open it
    try:
        metrics = parse(render(collect("contacts", [ContactDirectory], event_store=events, read_store=reads,
                                       bus=probe)))
    finally:
        probe.close()
    assert {s.labels["backend"]: s.value for s in metrics["careerloop_up"]} == {
        "event_store": 1, "read_store": 1, "bus": 0}
    assert [s.value for s in metrics["careerloop_projection_generation"]] == [0]
    assert [s.value for s in metrics["careerloop_outbox_unpublished_commits"]] == [0]
    assert metrics["careerloop_projection_lag"] == []


def test_while_a_slow_bus_query_still_runs_the_next_scrape_reports_the_bus_down_within_its_budget(stores):
    events, reads = stores
    release = threading.Event()

    class SlowBus:  # stands in for a broker that does not answer
        def committed(self, group_id, topic):
            release.wait(30)
            return {}

        def end_offsets(self, topic):
            return {0: 0}

        def close(self):
            pass

    probe = BusProbe("unused://", opener=lambda url: SlowBus(), budget=0.05)
    try:
        with pytest.raises(TimeoutError):
            probe.call(lambda bus: bus.committed("g", "t"))
        # the first query still hangs: the next scrape gives up within its budget, and still answers
        metrics = parse(render(collect("contacts", [ContactDirectory], event_store=events, read_store=reads,
                                       bus=probe)))
        assert {s.labels["backend"]: s.value for s in metrics["careerloop_up"]}["bus"] == 0
        # once the bus answers again, so do the scrapes
        release.set()
        assert probe.call(lambda bus: bus.end_offsets("t"), timeout=30) == {0: 0}
    finally:
        release.set()
        probe.close()


def test_a_service_without_a_read_side_reports_its_outbox_only(stores):
    events, _ = stores
    metrics = parse(render(collect("notifications", [], event_store=events, read_store=None, bus=None)))
    assert {s.labels["backend"]: s.value for s in metrics["careerloop_up"]} == {"event_store": 1}
    assert [(s.labels, s.value) for s in metrics["careerloop_outbox_unpublished_commits"]] == [
        ({"service": "notifications"}, 0)]
