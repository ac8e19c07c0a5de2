"""The /metrics text of the APIs (shared.metrics, a prometheus_client collector): read with Prometheus's
own parser, and a scrape that never fails because one backend is down. Embedded backends only (SQLite
files): no servers. The other processes' metrics: tests/unit/test_process.py."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.contacts.projections import ContactDirectory
from shared.bus import open_bus
from shared.config import Settings
from shared.eventstore import open_event_store
from shared.metrics import BusProbe, ServiceCollector, exposition
from shared.readstore import open_read_store
from shared.runtime import ensure_all_topics


def parse(text: str) -> dict[str, list]:
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


@pytest.fixture
def stores(tmp_path: Path):
    events = open_event_store(f"sqlite:///{tmp_path}/events.db")
    reads = open_read_store(f"sqlite:///{tmp_path}/read.db")
    yield events, reads
    events.close()
    reads.close()


def scrape(**options) -> dict[str, list]:
    return parse(exposition(ServiceCollector(**options)).decode())


def test_odd_label_values_survive_the_exposition_and_parse_back(stores, tmp_path: Path):
    events, reads = stores
    # the namespace is part of every topic name: quotes, backslashes and new lines must be escaped
    namespace = 'odd "quoted" \\ ns\n.'
    bus_url = f"sqlite:///{tmp_path}/bus.db"
    bus = open_bus(bus_url)
    ensure_all_topics(bus, Settings.from_env({"BUS_NAMESPACE": namespace, "TOPIC_PARTITIONS": "2"}))
    bus.close()
    probe = BusProbe(bus_url)
    try:
        text = exposition(ServiceCollector("contacts", [ContactDirectory], event_store=events, read_store=reads,
                                           bus=probe, namespace=namespace)).decode()
    finally:
        probe.close()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert all(family.type == "gauge" for family in families.values())
    assert {s.labels["backend"]: s.value for s in families["careerloop_up"].samples} == {
        "event_store": 1, "read_store": 1, "bus": 1}
    topics = {s.labels["topic"] for s in families["careerloop_projection_lag"].samples}
    # the directory follows its own topic and, as every projection, the erasure topic
    assert topics == {namespace + "careerloop.contacts.contact.v1", namespace + "careerloop.privacy.erasure.v1"}
    assert sorted((s.labels["topic"], s.labels["partition"], s.value)
                  for s in families["careerloop_topic_end_offset"].samples) == [
        (topic, partition, 0) for topic in sorted(topics) for partition in ("0", "1")]


def test_a_bus_that_cannot_be_opened_is_reported_down_and_the_rest_is_still_scraped(stores, tmp_path: Path):
    events, reads = stores
    (tmp_path / "not-a-file").mkdir()
    probe = BusProbe(f"sqlite:///{tmp_path}/not-a-file")  # a directory: SQLite cannot open it
    try:
        metrics = scrape(service="contacts", projections=[ContactDirectory], event_store=events,
                         read_store=reads, bus=probe)
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
        metrics = scrape(service="contacts", projections=[ContactDirectory], event_store=events,
                         read_store=reads, bus=probe)
        assert {s.labels["backend"]: s.value for s in metrics["careerloop_up"]}["bus"] == 0
        # once the bus answers again, so do the scrapes
        release.set()
        assert probe.call(lambda bus: bus.end_offsets("t"), timeout=30) == {0: 0}
    finally:
        release.set()
        probe.close()


def test_a_service_without_a_read_side_reports_its_outbox_only(stores):
    events, _ = stores
    metrics = scrape(service="notifications", projections=[], event_store=events, read_store=None, bus=None)
    assert {s.labels["backend"]: s.value for s in metrics["careerloop_up"]} == {"event_store": 1}
    assert [(s.labels, s.value) for s in metrics["careerloop_outbox_unpublished_commits"]] == [
        ({"service": "notifications"}, 0)]
