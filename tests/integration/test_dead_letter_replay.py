"""An event that keeps failing is dead-lettered and parks its stream; an operator replays it later."""
from __future__ import annotations

import json
import threading
from typing import Any

from shared.bus import Message, dead_letter_topic
from shared.consumer import ConsumerRunner
from shared.readstore import Index, Update
from tests.backends import unique


class Flaky:
    """Records every event it handles; refuses any event whose payload says "poison" while `broken`."""

    def __init__(self, read_store: Any, topic: str, group: str) -> None:
        self.group_id, self.topics = group, [topic]
        self.docs = read_store.collection("flaky_docs", [Index("stream")])
        self.broken = True

    def handle(self, messages: list[Message]) -> None:
        for message in messages:
            body = json.loads(message.value)
            if body["poison"] and self.broken:
                raise ValueError(f"cannot handle {body['n']}")
            self.docs.apply(message.key, body["n"], Update(set={"stream": message.key, "last": body["n"]}))


def publish(bus: Any, topic: str, events: list[tuple[str, int, bool]]) -> None:
    producer = bus.producer()
    for key, n, poison in events:
        producer.send(topic, key, json.dumps({"n": n, "poison": poison}).encode())
    producer.flush()


def test_a_poison_event_parks_its_stream_until_replayed(bus: Any, read_store: Any) -> None:
    topic, group = unique("t.flaky"), unique("projection.flaky")
    bus.ensure_topics({topic: 2})
    handler = Flaky(read_store, topic, group)
    runner = ConsumerRunner(bus, handler, read_store, max_attempts=2, sleep=lambda s: None)
    # given stream "a" with a poison event in the middle and a healthy stream "b"
    publish(bus, topic, [("a", 1, False), ("a", 2, True), ("a", 3, False), ("b", 1, False), ("b", 2, False)])
    # when the worker runs
    runner.run(threading.Event(), until_idle=True)
    # then "b" is fully applied, "a" stops before the poison event, and both a2 and a3 are dead letters
    assert handler.docs.get("b")["last"] == 2
    assert handler.docs.get("a")["last"] == 1
    dead = read_all(bus, dead_letter_topic(group))
    assert [(m.key, json.loads(m.value)["n"]) for m in dead] == [("a", 2), ("a", 3)]
    assert "cannot handle 2" in dead[0].headers["dlq-reason"]
    assert dead[1].headers["dlq-reason"] == "stream parked after an earlier failure"
    # and later events of the parked stream are dead-lettered too, in order
    publish(bus, topic, [("a", 4, False)])
    runner.run(threading.Event(), until_idle=True)
    assert handler.docs.get("a")["last"] == 1

    # when the bug is fixed and the operator replays the dead letters
    handler.broken = False
    outcome = ConsumerRunner(bus, handler, read_store, sleep=lambda s: None).replay_dead_letters()
    # then the stream is whole again and unparked: new events flow directly
    assert outcome == {"a": "replayed"}
    assert handler.docs.get("a")["last"] == 4
    publish(bus, topic, [("a", 5, False)])
    runner.run(threading.Event(), until_idle=True)
    assert handler.docs.get("a")["last"] == 5


def test_a_replay_that_still_fails_keeps_the_stream_parked(bus: Any, read_store: Any) -> None:
    topic, group = unique("t.flaky"), unique("projection.flaky")
    bus.ensure_topics({topic: 1})
    handler = Flaky(read_store, topic, group)
    publish(bus, topic, [("a", 1, True)])
    ConsumerRunner(bus, handler, read_store, max_attempts=1, sleep=lambda s: None).run(
        threading.Event(), until_idle=True
    )
    outcome = ConsumerRunner(bus, handler, read_store, sleep=lambda s: None).replay_dead_letters()
    assert outcome["a"].startswith("still failing")
    assert handler.docs.get("a") is None


def read_all(bus: Any, topic: str) -> list[Message]:
    consumer = bus.consumer(f"reader-{topic}", [topic])
    try:
        messages: list[Message] = []
        for _ in range(50):
            batch = consumer.poll(100, timeout=0.2)
            messages += batch
            if not batch and messages:
                break
        return sorted(messages, key=lambda m: m.offset)
    finally:
        consumer.close()
