"""Contract of the EventBus port (shared.bus), run against every adapter.

Topic and group names are unique per test so that tests can share one real Kafka cluster, and every
wait is bounded polling (group joins and rebalances take seconds on Kafka).
"""
from __future__ import annotations

import contextlib
import threading
from collections import defaultdict
from typing import Any

import pytest

from shared.bus import Message, TopicPartition, open_bus
from shared.errors import UnknownTopic
from tests.support import poll_at_least, wait_until

from ._support import next_offsets, unique_name, values


def produce(bus: Any, topic: str, items: list[tuple[str | None, str]],
            headers: dict[str, str] | None = None) -> None:
    """Send (key, value) pairs and wait for the bus to acknowledge all of them."""
    producer = bus.producer()
    try:
        for key, value in items:
            producer.send(topic, key, value.encode(), headers)
        producer.flush()
    finally:
        producer.close()


def topic_with(bus: Any, partitions: int) -> str:
    topic = unique_name("contract.topic")
    bus.ensure_topics({topic: partitions})
    return topic


def numbered(prefix: str, count: int, keys: int) -> list[tuple[str, str]]:
    """`count` messages spread over `keys` keys, interleaved: (key, "prefix-<n>")."""
    return [(f"{prefix}-key{n % keys}", f"{prefix}-{n}") for n in range(count)]


def nonzero(committed: dict[int, int]) -> dict[int, int]:
    """Committed offsets, where an adapter may list a never-committed partition as 0 or leave it out."""
    return {partition: offset for partition, offset in committed.items() if offset}


@pytest.fixture
def consumers(bus: Any):
    """consumers(group, topics) opens a consumer that is closed at the end of the test."""
    opened: list[Any] = []

    def open_(group: str, topics: list[str]) -> Any:
        consumer = bus.consumer(group, topics)
        opened.append(consumer)
        return consumer

    yield open_
    for consumer in opened:
        consumer.close()


# -- topics and producing ------------------------------------------------------------------------------

def test_ensure_topics_is_idempotent_and_creates_every_partition(bus):
    # given topics created once
    first, second = unique_name("contract.topic"), unique_name("contract.topic")
    bus.ensure_topics({first: 3, second: 1})

    # when they are ensured again, alone or with a new topic
    bus.ensure_topics({first: 3, second: 1})
    bus.ensure_topics({first: 3})
    third = unique_name("contract.topic")
    bus.ensure_topics({first: 3, third: 2})

    # then every topic exists with its partitions, all empty
    assert bus.end_offsets(first) == {0: 0, 1: 0, 2: 0}
    assert bus.end_offsets(second) == {0: 0}
    assert bus.end_offsets(third) == {0: 0, 1: 0}


def test_publishing_to_an_unknown_topic_raises_unknown_topic(bus):
    # given a topic nobody created
    producer = bus.producer()
    try:
        # when a message is sent to it and flushed, then UnknownTopic is raised (on send or on flush)
        with pytest.raises(UnknownTopic):
            producer.send(unique_name("contract.missing"), "k", b"v")
            producer.flush()
    finally:
        with contextlib.suppress(UnknownTopic):  # an adapter may report it again while closing
            producer.close()


def test_a_message_arrives_with_its_key_value_and_headers(bus, consumers):
    # given a message with headers on a one-partition topic
    topic = topic_with(bus, 1)
    headers = {"content-type": "application/cloudevents+json; charset=utf-8", "x-trace": "é-1"}
    producer = bus.producer()
    producer.send(topic, "stream-1", b'{"id": "\xc3\xa9"}\x00\xff', headers)
    producer.flush()
    producer.close()

    # when a consumer reads it
    [message] = poll_at_least(consumers(unique_name("g"), [topic]), 1)

    # then it arrives unchanged, at the first offset of its partition
    assert isinstance(message, Message)
    assert (message.topic, message.partition, message.offset) == (topic, 0, 0)
    assert message.key == "stream-1"
    assert message.value == b'{"id": "\xc3\xa9"}\x00\xff'
    assert dict(message.headers) == headers


def test_messages_with_the_same_key_land_in_one_partition_in_the_order_sent(bus, consumers):
    # given sixty messages on six keys, interleaved, sent in two flushes to a four-partition topic
    topic = topic_with(bus, 4)
    sent = numbered("m", 60, keys=6)
    produce(bus, topic, sent[:25])
    produce(bus, topic, sent[25:])

    # when one consumer reads them all
    received = poll_at_least(consumers(unique_name("g"), [topic]), len(sent))

    # then each key's messages share one partition, with offsets in the order they were sent
    assert sorted(values(received)) == sorted(v for _, v in sent)
    by_key: dict[str | None, list[Message]] = defaultdict(list)
    for message in received:
        by_key[message.key].append(message)
    for key, messages in by_key.items():
        assert len({m.partition for m in messages}) == 1, key
        in_offset_order = sorted(messages, key=lambda m: m.offset)
        assert values(in_offset_order) == [v for k, v in sent if k == key]
    # and offsets within each partition are distinct and contiguous from zero
    by_partition: dict[int, list[int]] = defaultdict(list)
    for message in received:
        by_partition[message.partition].append(message.offset)
    for offsets in by_partition.values():
        assert sorted(offsets) == list(range(len(offsets)))


def test_a_consumer_in_a_group_receives_every_message_of_every_partition(bus, consumers):
    # given messages on a three-partition topic and a second topic
    topic, other = topic_with(bus, 3), topic_with(bus, 2)
    produce(bus, topic, numbered("a", 30, keys=10))
    produce(bus, other, numbered("b", 10, keys=5))

    # when one consumer of a group subscribes to both
    consumer = consumers(unique_name("g"), [topic, other])
    received = poll_at_least(consumer, 40)

    # then it gets every message once, and owns every partition
    assert sorted(values(received)) == sorted([f"a-{n}" for n in range(30)] + [f"b-{n}" for n in range(10)])
    assert consumer.assignment() == {(topic, 0), (topic, 1), (topic, 2), (other, 0), (other, 1)}


# -- offsets and redelivery ------------------------------------------------------------------------------

def test_after_commit_a_new_consumer_in_the_group_resumes_after_the_committed_offsets(bus, consumers):
    # given a group that read and committed everything on the topic, then stopped
    topic, group = topic_with(bus, 3), unique_name("g")
    produce(bus, topic, numbered("old", 20, keys=7))
    first = consumers(group, [topic])
    old = poll_at_least(first, 20)
    first.commit(next_offsets(old))
    first.close()

    # when more messages arrive and a new consumer of the group starts
    produce(bus, topic, numbered("new", 10, keys=7))
    received = poll_at_least(consumers(group, [topic]), 10)

    # then it reads only the new ones: nothing committed is read again
    assert sorted(values(received)) == sorted(f"new-{n}" for n in range(10))


def test_without_commit_a_new_consumer_in_the_group_reads_the_messages_again(bus, consumers):
    # given a consumer that read everything but crashed before committing
    topic, group = topic_with(bus, 2), unique_name("g")
    produce(bus, topic, numbered("m", 12, keys=5))
    first = consumers(group, [topic])
    assert len(poll_at_least(first, 12)) == 12
    first.close()

    # when another consumer of the group starts, then every message is delivered again (at least once)
    received = poll_at_least(consumers(group, [topic]), 12)
    assert sorted(values(received)) == sorted(f"m-{n}" for n in range(12))


def test_a_partly_committed_group_resumes_after_the_last_commit(bus, consumers):
    # given a one-partition topic whose group committed the first four of ten messages
    topic, group = topic_with(bus, 1), unique_name("g")
    produce(bus, topic, numbered("m", 10, keys=1))
    first = consumers(group, [topic])
    read = poll_at_least(first, 10)
    first.commit(next_offsets(sorted(read, key=lambda m: m.offset)[:4]))
    first.close()

    # when a new consumer starts, then it gets the remaining six, in order
    received = poll_at_least(consumers(group, [topic]), 6)
    assert values(received) == [f"m-{n}" for n in range(4, 10)]


def test_seek_to_committed_rewinds_to_the_last_committed_offsets(bus, consumers):
    # given a consumer that committed three of eight messages and read the rest
    topic, group = topic_with(bus, 1), unique_name("g")
    produce(bus, topic, numbered("m", 8, keys=1))
    consumer = consumers(group, [topic])
    read = sorted(poll_at_least(consumer, 8), key=lambda m: m.offset)
    consumer.commit(next_offsets(read[:3]))

    # when its batch failed and it seeks back to the committed offsets
    consumer.seek_to_committed()

    # then the uncommitted messages are delivered again, in order
    again = poll_at_least(consumer, 5)
    assert values(again) == [f"m-{n}" for n in range(3, 8)]


def test_seek_to_committed_without_any_commit_rewinds_to_the_beginning(bus, consumers):
    # given a consumer that read everything and committed nothing
    topic = topic_with(bus, 2)
    produce(bus, topic, numbered("m", 6, keys=3))
    consumer = consumers(unique_name("g"), [topic])
    poll_at_least(consumer, 6)

    # when it seeks to the committed offsets, then it reads everything again
    consumer.seek_to_committed()
    assert sorted(values(poll_at_least(consumer, 6))) == sorted(f"m-{n}" for n in range(6))


def test_end_offsets_and_committed_report_positions(bus, consumers):
    # given a two-partition topic holding messages on one key only
    topic, group = topic_with(bus, 2), unique_name("g")
    assert bus.end_offsets(topic) == {0: 0, 1: 0}
    produce(bus, topic, [("only-key", f"m-{n}") for n in range(5)])

    # then the end offsets count the messages of each partition
    ends = bus.end_offsets(topic)
    assert sorted(ends.values()) == [0, 5]
    [busy] = [p for p, end in ends.items() if end == 5]
    # and a group that never committed has no committed position beyond zero
    assert nonzero(bus.committed(group, topic)) == {}

    # when a consumer commits after the first three
    consumer = consumers(group, [topic])
    read = sorted(poll_at_least(consumer, 5), key=lambda m: m.offset)
    consumer.commit(next_offsets(read[:3]))

    # then committed reports the next offset to read, and other groups are unaffected
    assert nonzero(bus.committed(group, topic)) == {busy: 3}
    assert nonzero(bus.committed(unique_name("g"), topic)) == {}
    consumer.commit(next_offsets(read))
    assert nonzero(bus.committed(group, topic)) == {busy: 5}


# -- groups of several consumers -------------------------------------------------------------------------

class GroupMember(threading.Thread):
    """A consumer of a group in its own thread with its own bus client: poll, record, commit."""

    def __init__(self, url: str, group: str, topic: str) -> None:
        super().__init__(daemon=True)
        self.url, self.group, self.topic = url, group, topic
        self.received: list[Message] = []
        self.current: set[TopicPartition] = set()
        self.error: BaseException | None = None
        self.halt = threading.Event()

    def run(self) -> None:
        bus = open_bus(self.url)
        try:
            consumer = bus.consumer(self.group, [self.topic])
            try:
                while not self.halt.is_set():
                    batch = consumer.poll(100, timeout=0.2)
                    if batch:
                        consumer.commit(next_offsets(batch))
                        self.received += batch
                    self.current = consumer.assignment()
            finally:
                consumer.close()
        except BaseException as exc:
            self.error = exc
        finally:
            bus.close()

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=30)
        assert not self.is_alive(), "the consumer thread did not stop"
        assert self.error is None, self.error


def test_two_consumers_in_a_group_split_the_partitions_and_one_takes_over_when_the_other_closes(bus_and_url):
    bus, url = bus_and_url
    topic, group, partitions = unique_name("contract.topic"), unique_name("g"), 4
    bus.ensure_topics({topic: partitions})
    everything = {(topic, p) for p in range(partitions)}
    left, right = GroupMember(url, group, topic), GroupMember(url, group, topic)
    try:
        # given two consumers of one group, each in its own thread, that settled their assignment
        left.start()
        right.start()

        def split() -> bool:
            mine, theirs = left.current, right.current
            return bool(mine) and bool(theirs) and not mine & theirs and mine | theirs == everything

        wait_until(split, what="the group split the partitions between its two members")
        left_partitions, right_partitions = set(left.current), set(right.current)

        # when messages on many keys are produced
        first = numbered("first", 60, keys=60)
        produce(bus, topic, first)
        wait_until(lambda: len(left.received) + len(right.received) >= len(first),
                   what="the group received the first messages")

        # then together they get every message exactly once, each from its own partitions
        together = left.received + right.received
        assert sorted(values(together)) == sorted(v for _, v in first)
        assert {(m.topic, m.partition) for m in left.received} <= left_partitions
        assert {(m.topic, m.partition) for m in right.received} <= right_partitions
        assert left.received and right.received

        # when one consumer closes
        left.stop()
        wait_until(lambda: right.current == everything, what="the remaining member owns every partition")
        already = len(right.received)
        second = numbered("second", 40, keys=40)
        produce(bus, topic, second)
        wait_until(lambda: len(right.received) - already >= len(second),
                   what="the remaining member received the later messages")

        # then the other takes over its partitions, resuming after what was committed: no message is
        # lost and nothing the closed member handled is read again
        later = right.received[already:]
        assert sorted(values(later)) == sorted(v for _, v in second)
        everything_received = values(left.received + right.received)
        assert sorted(everything_received) == sorted(v for _, v in first + second)
    finally:
        for member in (left, right):
            if member.is_alive():
                member.halt.set()
                member.join(timeout=30)
    assert right.error is None, right.error


def test_ping_answers(bus):
    bus.ping()
