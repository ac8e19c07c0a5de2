"""Contract of the outbox relay (shared.relay) and the consumer runner (shared.consumer), on every
combination of event store, bus and read store adapters.

The relay and the runner only use the ports, so these tests check that the ports together give the
platform's guarantees: every stored event reaches the bus at least once, in stream order; a consumer
never skips work on a transient failure; a poison message is dead-lettered and its stream parked
while other streams keep flowing.
"""
from __future__ import annotations

import json
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from shared.bus import Message, dead_letter_topic
from shared.consumer import ConsumerRunner
from shared.errors import TransientError
from shared.relay import Relay
from tests.support import poll_at_least, wait_until

from ._support import unique_name, values

STREAM_TYPE = "thing"
JOIN_SECONDS = 30


# -- helpers --------------------------------------------------------------------------------------------

def envelope(stream_id: str, version: int) -> dict[str, Any]:
    return {"specversion": "1.0", "id": str(uuid.uuid4()), "type": "careerloop.test.ThingHappened.v1",
            "subject": stream_id, "streamversion": version, "data": {"n": version}}


def append(store: Any, stream_id: str, count: int = 1) -> list[dict[str, Any]]:
    """Append `count` events to a stream in one commit; returns them."""
    version = store.stream_version(stream_id)
    events = [envelope(stream_id, version + n) for n in range(1, count + 1)]
    store.append(stream_id, STREAM_TYPE, version, events)
    return events


def read_topic(bus: Any, topic: str) -> list[Message]:
    """Everything on a topic, read by a fresh consumer group."""
    expected = sum(bus.end_offsets(topic).values())
    consumer = bus.consumer(unique_name("reader"), [topic])
    try:
        messages = poll_at_least(consumer, expected) if expected else []
    finally:
        consumer.close()
    assert len(messages) == expected
    return messages


def by_key_in_offset_order(messages: list[Message]) -> dict[str | None, list[Message]]:
    grouped: dict[str | None, list[Message]] = defaultdict(list)
    for message in sorted(messages, key=lambda m: (m.partition, m.offset)):
        grouped[message.key].append(message)
    return grouped


def caught_up(bus: Any, group: str, topics: list[str]) -> bool:
    """The group committed everything its topics hold (judged through the bus port only)."""
    for topic in topics:
        committed = bus.committed(group, topic)
        if any(committed.get(p, 0) < end for p, end in bus.end_offsets(topic).items()):
            return False
    return True


def produce(bus: Any, topic: str, items: list[tuple[str, str]]) -> None:
    producer = bus.producer()
    try:
        for key, value in items:
            producer.send(topic, key, value.encode(), {"content-type": "text/plain"})
        producer.flush()
    finally:
        producer.close()


class RecordingBus:
    """The real bus, but its producers record what they send and can lose a flush.

    A failing flush drops its whole batch and raises, as a broker outage does; `failures` counts how
    many flushes fail before the bus works again."""

    def __init__(self, bus: Any, failures: int = 0) -> None:
        self.bus, self.failures = bus, failures
        self.sent: list[tuple[str, str | None, bytes]] = []
        self.failed_flushes = 0

    def producer(self) -> RecordingProducer:
        return RecordingProducer(self, self.bus.producer())

    def __getattr__(self, name: str) -> Any:
        return getattr(self.bus, name)


class RecordingProducer:
    def __init__(self, owner: RecordingBus, real: Any) -> None:
        self.owner, self.real = owner, real
        self.pending: list[tuple[str, str | None, bytes, Mapping[str, str] | None]] = []

    def send(self, topic: str, key: str | None, value: bytes, headers: Mapping[str, str] | None = None) -> None:
        self.pending.append((topic, key, value, headers))

    def flush(self) -> None:
        batch, self.pending = self.pending, []
        if self.owner.failures > 0:
            self.owner.failures -= 1
            self.owner.failed_flushes += 1
            raise ConnectionError("broker unavailable (test double)")
        for topic, key, value, headers in batch:
            self.real.send(topic, key, value, headers)
        self.real.flush()
        self.owner.sent += [(topic, key, value) for topic, key, value, _ in batch]

    def close(self) -> None:
        self.real.close()


class RunningInThread:
    """Runs `target(stop)` in a thread; `stop()` sets the event and joins with a deadline."""

    def __init__(self, target: Callable[[threading.Event], None]) -> None:
        self.event = threading.Event()
        self.error: BaseException | None = None

        def main() -> None:
            try:
                target(self.event)
            except BaseException as exc:
                self.error = exc

        self.thread = threading.Thread(target=main, daemon=True)
        self.thread.start()

    def stop(self, timeout: float = JOIN_SECONDS) -> None:
        self.event.set()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "did not stop after the stop event was set"
        assert self.error is None, self.error


@pytest.fixture
def topic(bus: Any) -> str:
    name = unique_name("contract.events")
    bus.ensure_topics({name: 3})
    return name


# -- the relay ------------------------------------------------------------------------------------------

def test_the_relay_publishes_every_unpublished_commit_keyed_by_stream_in_stream_order(event_store, bus, topic):
    # given commits on three streams, interleaved, some holding several events
    written: dict[str, list[dict]] = defaultdict(list)
    a, b, c = unique_name("a"), unique_name("b"), unique_name("c")
    for stream, count in [(a, 1), (b, 3), (a, 2), (c, 1), (b, 1), (a, 1), (c, 4)]:
        written[stream] += append(event_store, stream, count)
    relay = Relay(event_store, bus, service=unique_name("svc"), topics={STREAM_TYPE: topic}, batch_size=2)

    # when the relay publishes until nothing is pending
    published = 0
    for _ in range(100):
        sent = relay.publish_pending()
        if not sent:
            break
        published += sent
    else:
        pytest.fail("the relay never ran out of work")

    # then every event is on the bus once, keyed by its stream, in stream order, as CloudEvents JSON
    total = sum(len(events) for events in written.values())
    assert published == total
    messages = read_topic(bus, topic)
    grouped = by_key_in_offset_order(messages)
    assert set(grouped) == {a, b, c}
    for stream, events in written.items():
        assert [json.loads(m.value) for m in grouped[stream]] == events
        assert len({m.partition for m in grouped[stream]}) == 1
    assert all(m.headers.get("content-type", "").startswith("application/cloudevents+json") for m in messages)
    # and then the commits are marked published
    assert event_store.unpublished_count() == 0
    assert event_store.read_unpublished(100) == []
    assert relay.publish_pending() == 0


def test_when_the_bus_fails_to_flush_nothing_is_marked_published_and_the_next_run_publishes_it(
        event_store, bus, topic):
    # given pending commits and a bus whose next flush fails
    stream, other = unique_name("s"), unique_name("o")
    events = append(event_store, stream, 2) + append(event_store, other, 1) + append(event_store, stream, 1)
    flaky = RecordingBus(bus, failures=1)
    relay = Relay(event_store, flaky, service=unique_name("svc"), topics={STREAM_TYPE: topic})

    # when the relay tries to publish, then the failure surfaces and nothing is marked published
    with pytest.raises(ConnectionError):
        relay.publish_pending()
    assert flaky.failed_flushes == 1
    assert event_store.unpublished_count() == 3
    assert sum(bus.end_offsets(topic).values()) == 0

    # when it runs again with the bus back, then everything is published and marked
    assert relay.publish_pending() == len(events)
    assert event_store.unpublished_count() == 0
    grouped = by_key_in_offset_order(read_topic(bus, topic))
    assert [json.loads(m.value) for m in grouped[stream]] == [events[0], events[1], events[3]]
    assert [json.loads(m.value) for m in grouped[other]] == [events[2]]


def test_a_running_relay_retries_after_a_failed_flush_until_everything_is_published(event_store, bus, topic):
    # given pending commits and a bus whose first two flushes fail
    streams = [unique_name("s") for _ in range(4)]
    written = {s: append(event_store, s, 2) for s in streams}
    flaky = RecordingBus(bus, failures=2)
    relay = Relay(event_store, flaky, service=unique_name("svc"), topics={STREAM_TYPE: topic})

    # when the relay runs
    running = RunningInThread(relay.run)
    try:
        wait_until(lambda: event_store.unpublished_count() == 0, what="the relay published everything")
    finally:
        running.stop()

    # then, after the failures, every event arrived (at least once), in stream order per key
    assert flaky.failed_flushes == 2
    grouped = by_key_in_offset_order(read_topic(bus, topic))
    for stream, events in written.items():
        seen: list[int] = []
        for message in grouped[stream]:  # consumers drop versions they have already applied
            version = json.loads(message.value)["streamversion"]
            if version not in seen:
                seen.append(version)
        assert seen == [e["streamversion"] for e in events]


def test_a_second_relay_of_the_same_service_stays_on_standby_while_the_first_holds_the_lease(
        event_store, bus, topic):
    service = unique_name("svc")
    first_bus, second_bus = RecordingBus(bus), RecordingBus(bus)
    first = Relay(event_store, first_bus, service=service, topics={STREAM_TYPE: topic}, lease_ttl=15)
    second = Relay(event_store, second_bus, service=service, topics={STREAM_TYPE: topic}, lease_ttl=0.6)
    stream = unique_name("s")
    running_first = RunningInThread(first.run)
    running_second = None
    try:
        # given a relay that is running and has published
        append(event_store, stream, 1)
        wait_until(lambda: event_store.unpublished_count() == 0, what="the first relay published")

        # when a second relay of the same service starts
        running_second = RunningInThread(second.run)

        # then it cannot take the lease, and everything is published by the first one only
        assert event_store.acquire_lease(second.lease, second.holder, 0.6) is False
        append(event_store, stream, 2)
        wait_until(lambda: event_store.unpublished_count() == 0, what="the first relay published again")
        assert len(first_bus.sent) == 3
        assert second_bus.sent == []

        # when the first relay stops, it releases the lease and the standby takes over
        running_first.stop()
        append(event_store, stream, 1)
        wait_until(lambda: event_store.unpublished_count() == 0, what="the standby relay took over")
        assert len(second_bus.sent) == 1
    finally:
        if running_first.thread.is_alive():
            running_first.stop()
        if running_second is not None:
            running_second.stop()

    # and the stream is on the bus once, in order
    assert [json.loads(m.value)["streamversion"] for m in read_topic(bus, topic)] == [1, 2, 3, 4]


# -- the consumer runner -----------------------------------------------------------------------------------

class Handler:
    """A plain handler: records what it handled; `fail(messages, calls)` may raise instead."""

    def __init__(self, group_id: str, topics: list[str],
                 fail: Callable[[list[Message], int], None] = lambda messages, calls: None) -> None:
        self.group_id, self.topics = group_id, topics
        self.fail = fail
        self.calls: list[list[Message]] = []
        self.handled: list[Message] = []

    def handle(self, messages: list[Message]) -> None:
        self.calls.append(list(messages))
        self.fail(messages, len(self.calls))  # raises before anything is recorded: all or nothing
        self.handled += messages


def dead_letters(bus: Any, group: str) -> list[Message]:
    return sorted(read_topic(bus, dead_letter_topic(group)), key=lambda m: m.offset)


def test_a_transient_failure_is_retried_until_the_batch_is_handled_and_committed(bus, read_store, topic):
    # given messages and a handler that fails transiently twice, then works
    group = unique_name("group")
    sent = [(f"k{n % 5}", f"m-{n}") for n in range(20)]
    produce(bus, topic, sent)

    def twice(messages: list[Message], calls: int) -> None:
        if calls <= 2:
            raise TransientError("read store briefly unavailable")

    handler = Handler(group, [topic], twice)
    sleeps: list[float] = []
    runner = ConsumerRunner(bus, handler, read_store, sleep=sleeps.append)

    # when the runner runs until the group has committed everything
    running = RunningInThread(runner.run)
    try:
        wait_until(lambda: caught_up(bus, group, [topic]), what="the group committed every message")
    finally:
        running.stop()

    # then every message was handled exactly once, none was skipped or dead-lettered
    assert sorted(values(handler.handled)) == sorted(v for _, v in sent)
    assert len(sleeps) == 2 and 0 < sleeps[0] <= sleeps[1]
    assert sum(bus.end_offsets(dead_letter_topic(group)).values()) == 0


def test_a_message_that_always_fails_is_dead_lettered_and_its_stream_parked_while_others_flow(
        bus, read_store, topic):
    # given a handler that can never handle one stream, and messages of that stream among others
    group, poison = unique_name("group"), unique_name("poison")
    goods = [unique_name("good") for _ in range(3)]

    def refuse_poison(messages: list[Message], calls: int) -> None:
        for message in messages:
            if message.key == poison:
                raise ValueError(f"cannot handle {message.value.decode()}")

    handler = Handler(group, [topic], refuse_poison)
    runner = ConsumerRunner(bus, handler, read_store, max_attempts=3, sleep=lambda seconds: None)
    first = [(goods[0], "g0-1"), (poison, "p-1"), (goods[1], "g1-1"), (poison, "p-2"), (goods[2], "g2-1"),
             (goods[0], "g0-2")]
    produce(bus, topic, first)

    running = RunningInThread(runner.run)
    try:
        # when the runner handles them
        wait_until(lambda: caught_up(bus, group, [topic]), what="the group committed the first messages")

        # and later messages of the parked stream arrive with others
        second = [(poison, "p-3"), (goods[1], "g1-2"), (poison, "p-4"), (goods[2], "g2-2")]
        produce(bus, topic, second)
        wait_until(lambda: caught_up(bus, group, [topic]), what="the group committed the later messages")
    finally:
        running.stop()

    # then the other streams were handled, each message once and in order, and everything committed
    handled = by_key_in_offset_order(handler.handled)
    assert values(handled[goods[0]]) == ["g0-1", "g0-2"]
    assert values(handled[goods[1]]) == ["g1-1", "g1-2"]
    assert values(handled[goods[2]]) == ["g2-1", "g2-2"]
    assert poison not in handled
    # and the failing message was tried alone max_attempts times, later ones of its stream never
    alone = [call[0].value.decode() for call in handler.calls if len(call) == 1 and call[0].key == poison]
    assert alone == ["p-1"] * 3
    # and every message of the parked stream went to the dead-letter topic, in order, with the reason
    letters = dead_letters(bus, group)
    assert values(letters) == ["p-1", "p-2", "p-3", "p-4"]
    assert all(m.key == poison for m in letters)
    assert "ValueError" in letters[0].headers["dlq-reason"]
    assert "cannot handle p-1" in letters[0].headers["dlq-reason"]
    assert all("parked" in m.headers["dlq-reason"] for m in letters[1:])
    assert all(m.headers["dlq-group"] == group and m.headers["dlq-topic"] == topic for m in letters)
    assert all(m.headers.get("content-type") == "text/plain" for m in letters)  # original headers kept
    originals = {m.value: m for m in read_topic(bus, topic)}
    for letter in letters:
        original = originals[letter.value]
        assert (letter.headers["dlq-partition"], letter.headers["dlq-offset"]) == (
            str(original.partition), str(original.offset))


def test_replaying_dead_letters_after_a_fix_handles_them_in_order_and_unparks_the_stream(bus, read_store, topic):
    # given a stream parked by a fault, with two dead letters
    group, stream = unique_name("group"), unique_name("s")
    broken = {"on": True}

    def fault(messages: list[Message], calls: int) -> None:
        if broken["on"] and any(m.key == stream for m in messages):
            raise ValueError("bug")

    handler = Handler(group, [topic], fault)
    runner = ConsumerRunner(bus, handler, read_store, max_attempts=1, sleep=lambda seconds: None)
    produce(bus, topic, [(stream, "s-1"), (stream, "s-2")])
    running = RunningInThread(runner.run)
    try:
        wait_until(lambda: caught_up(bus, group, [topic]), what="the stream was parked")
    finally:
        running.stop()
    assert values(dead_letters(bus, group)) == ["s-1", "s-2"]

    # when the fault is fixed and the dead letters are replayed
    broken["on"] = False
    outcome = runner.replay_dead_letters()

    # then they are handled in order, and later messages of the stream flow normally again
    assert outcome == {stream: "replayed"}
    assert values(handler.handled) == ["s-1", "s-2"]
    produce(bus, topic, [(stream, "s-3")])
    running = RunningInThread(runner.run)
    try:
        wait_until(lambda: caught_up(bus, group, [topic]), what="the unparked stream flowed")
    finally:
        running.stop()
    assert values(handler.handled) == ["s-1", "s-2", "s-3"]
    assert values(dead_letters(bus, group)) == ["s-1", "s-2"]


def test_run_returns_when_the_stop_event_is_set(bus, read_store, topic):
    # given a runner that is consuming
    group = unique_name("group")
    handler = Handler(group, [topic])
    runner = ConsumerRunner(bus, handler, read_store, sleep=lambda seconds: None)
    running = RunningInThread(runner.run)
    try:
        produce(bus, topic, [("k", "m-1")])
        wait_until(lambda: caught_up(bus, group, [topic]) and handler.handled, what="the runner handled a message")
    finally:
        # when the stop event is set, then run() returns promptly
        running.stop(timeout=10)
    assert values(handler.handled) == ["m-1"]


def test_a_stop_during_transient_retries_returns_and_leaves_the_batch_for_redelivery(bus, read_store, topic):
    # given a handler whose backend stays away, retried with long real waits
    group = unique_name("group")
    produce(bus, topic, [("k1", "m-1"), ("k2", "m-2")])

    def always(messages: list[Message], calls: int) -> None:
        raise TransientError("still down")

    stuck = Handler(group, [topic], always)
    runner = ConsumerRunner(bus, stuck, read_store, backoff_base=60, backoff_cap=60)
    running = RunningInThread(runner.run)
    try:
        wait_until(lambda: stuck.calls, what="the runner tried the batch")
    finally:
        # when it is stopped in the middle of a retry wait, then it returns without waiting it out
        running.stop(timeout=10)

    # then nothing was committed, skipped or dead-lettered
    assert not any(bus.committed(group, topic).values())
    assert sum(bus.end_offsets(dead_letter_topic(group)).values()) == 0
    # and a restarted runner of the group handles the batch
    healthy = Handler(group, [topic])
    running = RunningInThread(ConsumerRunner(bus, healthy, read_store, sleep=lambda seconds: None).run)
    try:
        wait_until(lambda: caught_up(bus, group, [topic]), what="the restarted runner committed the batch")
    finally:
        running.stop()
    assert sorted(values(healthy.handled)) == ["m-1", "m-2"]
