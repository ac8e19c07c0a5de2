"""What only the Kafka adapter (shared.bus.kafka) has to get right, beyond the port's contract.

URL parsing and the no-I/O constructor need no broker; the rest runs against the broker named by
KAFKA_BOOTSTRAP_SERVERS (skipped without one, a failure under CI=true).
"""
from __future__ import annotations

import gc
import logging
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from shared.bus import open_bus
from shared.errors import TransientError, UnknownTopic
from tests.backends import require_env
from tests.support import poll_at_least, wait_until

from ._support import next_offsets, unique_name, values

kafka_module = pytest.importorskip("shared.bus.kafka")


def closed_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kafka_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("kafka") or "careerloop-" in t.name}


@pytest.fixture
def kafka_url() -> str:
    return "kafka://" + require_env("KAFKA_BOOTSTRAP_SERVERS", "a Kafka broker")


@pytest.fixture
def kbus(kafka_url: str) -> Iterator[Any]:
    bus = open_bus(kafka_url)
    yield bus
    bus.close()


def produce(bus: Any, topic: str, items: list[tuple[str | None, str]]) -> None:
    producer = bus.producer()
    try:
        for key, value in items:
            producer.send(topic, key, value.encode())
        producer.flush()
    finally:
        producer.close()


# -- no broker needed ------------------------------------------------------------------------------

def test_the_url_names_the_bootstrap_servers_and_an_optional_replication_factor():
    parse = kafka_module.parse_url
    assert parse("kafka://127.0.0.1:9092") == (["127.0.0.1:9092"], 1)
    assert parse("kafka://k1:9092,k2:9092?replication_factor=3") == (["k1:9092", "k2:9092"], 3)
    for bad in ("kafka://", "kafka://k1:9092?replication_factor=0", "kafka://k1:9092?replication_factor=x",
                "kafka://k1:9092?replicas=3", "sqlite:///x.db"):
        with pytest.raises(ValueError):
            parse(bad)


# kafka-python 3.0.12 does not close the socket of a refused connection attempt (kafka/net/inet.py,
# KafkaNetSocket.connect); CPython reports each one as a ResourceWarning when it is collected.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_opening_the_bus_does_no_network_io_and_a_dead_broker_is_a_transient_error(monkeypatch, caplog):
    monkeypatch.setitem(kafka_module._ADMIN, "bootstrap_timeout_ms", 1_000)
    # kafka-python logs each refused connection with its exception; a captured log record would
    # keep that exception, its frames and so the leaked socket alive past the gc.collect below
    caplog.set_level(logging.CRITICAL + 1, logger="kafka")
    before = kafka_threads()
    # given a bus on a port where no broker listens: opening it is instant and starts nothing
    started = time.monotonic()
    bus = open_bus(f"kafka://127.0.0.1:{closed_port()}")
    assert time.monotonic() - started < 0.5
    assert kafka_threads() == before
    try:
        # when it is pinged (readiness) or asked for offsets, then it is a TransientError, and the
        # client that could not bootstrap left no IO thread behind
        for attempt in (bus.ping, bus.ping, lambda: bus.end_offsets("any")):
            with pytest.raises(TransientError):
                attempt()
        assert kafka_threads() == before
    finally:
        bus.close()
        with warnings.catch_warnings():  # collect the leaked sockets here, not during a later test
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()


# -- against a broker ------------------------------------------------------------------------------

@pytest.mark.kafka
def test_topics_get_the_replication_factor_of_the_url(kafka_url):
    # given a bus asking for more replicas than the single test broker has
    bus = open_bus(kafka_url + "?replication_factor=2")
    try:
        # then creating a topic is refused by the broker (it is not a retriable problem)
        with pytest.raises(Exception) as refused:
            bus.ensure_topics({unique_name("kafka.rf"): 1})
        assert not isinstance(refused.value, TransientError)
        assert "replication" in str(refused.value).lower()
    finally:
        bus.close()


@pytest.mark.kafka
def test_the_producer_is_idempotent_waits_for_all_replicas_and_never_creates_topics(kbus):
    topic = unique_name("kafka.topic")
    kbus.ensure_topics({topic: 1})
    producer = kbus.producer()
    try:
        producer.send(topic, "k", b"v")
        producer.flush()
        config = producer._producer.config
        assert config["enable_idempotence"] is True
        assert config["acks"] == -1
        assert config["allow_auto_create_topics"] is False
        assert config["max_in_flight_requests_per_connection"] <= 5
        assert config["retries"] > 0
        assert config["delivery_timeout_ms"] <= 30_000  # a relay notices a dead broker in time
    finally:
        producer.close()


@pytest.mark.kafka
def test_an_unknown_topic_is_refused_at_once_on_send_and_on_poll(kbus):
    missing = unique_name("kafka.missing")
    producer = kbus.producer()
    started = time.monotonic()
    with pytest.raises(UnknownTopic):
        producer.send(missing, "k", b"v")
    # not after kafka-python's max_block_ms of waiting for metadata that never comes
    assert time.monotonic() - started < 5
    producer.close()
    consumer = kbus.consumer(unique_name("g"), [missing])
    with pytest.raises(UnknownTopic):
        consumer.poll(timeout=0.1)
    consumer.close()


@pytest.mark.kafka
def test_the_first_poll_of_a_new_member_returns_what_is_waiting(kbus):
    # given a three-partition topic whose first partition the group already consumed entirely
    topic, group = unique_name("kafka.topic"), unique_name("g")
    kbus.ensure_topics({topic: 3})
    produce(kbus, topic, [(f"key-{n}", f"m-{n}") for n in range(30)])
    first = kbus.consumer(group, [topic])
    everything = poll_at_least(first, 30)
    first.commit(next_offsets(m for m in everything if m.partition == 0))
    first.close()

    # when a new member of the group polls once, briefly
    second = kbus.consumer(group, [topic])
    try:
        batch = second.poll(500, timeout=0.2)
        # then that one poll already returns the rest: it waited for the join and for the fetch of
        # every partition (an empty poll would end a catch-up run with work left undone)
        assert sorted(values(batch)) == sorted(m.value.decode() for m in everything if m.partition != 0)
        # and a poll with nothing left is empty
        assert second.poll(timeout=0.2) == []
    finally:
        second.close()


@pytest.mark.kafka
def test_a_closed_member_leaves_its_group_at_once(kbus):
    # given a member that owns every partition of its group's topic
    topic, group = unique_name("kafka.topic"), unique_name("g")
    kbus.ensure_topics({topic: 2})
    first = kbus.consumer(group, [topic])
    first.poll(timeout=0.1)
    assert first.assignment() == {(topic, 0), (topic, 1)}

    # when it closes, then a new member gets the partitions without waiting out the session timeout
    first.close()
    second = kbus.consumer(group, [topic])
    try:
        started = time.monotonic()
        second.poll(timeout=0.1)
        assert second.assignment() == {(topic, 0), (topic, 1)}
        assert time.monotonic() - started < kafka_module._CONSUMER["session_timeout_ms"] / 1000 / 2
    finally:
        second.close()


@pytest.mark.kafka
def test_a_commit_for_partitions_the_member_does_not_own_is_ignored(kbus):
    topic, other, group = unique_name("kafka.topic"), unique_name("kafka.topic"), unique_name("g")
    kbus.ensure_topics({topic: 1, other: 1})
    produce(kbus, topic, [("k", "m-0"), ("k", "m-1")])
    consumer = kbus.consumer(group, [topic])
    try:
        read = poll_at_least(consumer, 2)
        consumer.commit({**next_offsets(read), (other, 0): 7})
        assert kbus.committed(group, topic) == {0: 2}
        assert kbus.committed(group, other) == {}
    finally:
        consumer.close()


@pytest.mark.kafka
def test_messages_without_a_key_and_with_unicode_headers_round_trip(kbus):
    topic = unique_name("kafka.topic")
    kbus.ensure_topics({topic: 2})
    producer = kbus.producer()
    producer.send(topic, None, b"\x00\xffbinary", {"reason": "naïve ✓"})
    producer.flush()
    producer.close()
    consumer = kbus.consumer(unique_name("g"), [topic])
    try:
        [message] = poll_at_least(consumer, 1)
        assert (message.key, message.value) == (None, b"\x00\xffbinary")
        assert dict(message.headers) == {"reason": "naïve ✓"}
        assert abs(message.timestamp - time.time()) < 60
    finally:
        consumer.close()


@pytest.mark.kafka
def test_closing_the_bus_closes_its_clients_and_their_threads(kafka_url):
    before = kafka_threads()
    bus = open_bus(kafka_url)
    topic = unique_name("kafka.topic")
    bus.ensure_topics({topic: 1})
    producer = bus.producer()
    producer.send(topic, "k", b"v")
    producer.flush()
    consumer = bus.consumer(unique_name("g"), [topic])
    poll_at_least(consumer, 1)
    assert kafka_threads() - before  # admin, producer and consumer clients run IO threads

    bus.close()  # without closing the producer and consumer first

    wait_until(lambda: not kafka_threads() - before, what="the closed bus's client threads ended", timeout=10,
               seen=lambda: [t.name for t in kafka_threads() - before])
