"""End to end: the analytics translator as `make run` starts it turns a student's HTTP activity into
pseudonymised integration events that any CloudEvents client reads, survives a restart without
publishing anything twice under another id, and stops cleanly."""
from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import pytest
import requests

from services.analytics.integration import TOPIC
from services.analytics.pseudonyms import Pseudonymiser
from shared.bus import open_bus
from shared.config import Settings
from shared.errors import UnknownTopic
from shared.keys import open_personal_data
from tests.analytics_stream import parse_and_validate
from tests.backends import TEST_SECRETS
from tests.platform import Platform
from tests.support import wait_until

pytestmark = pytest.mark.e2e
PROCESSES = ("contacts-api", "contacts-relay", "analytics-translator")


def integration_events(platform: Platform) -> list[dict]:
    bus = open_bus(platform.env.get("BUS_URL", f"sqlite:///{platform.data_dir}/bus.db"))
    topic = platform.env.get("BUS_NAMESPACE", "") + TOPIC
    try:
        try:
            ends = bus.end_offsets(topic)
        except UnknownTopic:  # the processes have not created their topics yet
            return []
        consumer = bus.consumer(f"e2e-reader-{uuid.uuid4().hex[:8]}", [topic])
        seen = {}

        def read() -> bool:
            for message in consumer.poll(500, timeout=0.2):
                seen[(message.partition, message.offset)] = message
            return all((p, end - 1) in seen for p, end in ends.items() if end)

        try:
            wait_until(read, what=f"the analytics topic was read up to {ends}", interval=0)
        finally:
            consumer.close()
        return [parse_and_validate(seen[k].value, key=seen[k].key) for k in sorted(seen)]
    finally:
        bus.close()


def test_a_students_activity_reaches_the_analytics_stream_pseudonymised_once_across_a_restart(
        platform: Platform, token: Callable[..., str]) -> None:
    platform.start(*PROCESSES)
    api, auth = platform.url("contacts"), {"Authorization": token("student-e2e-analytics")}
    added = requests.post(f"{api}/contacts", headers=auth, timeout=10, json={
        "name": "Philippa Wrenhaven", "emails": ["p.wrenhaven@example.org"], "industry": "Banking",
        "organisation": "Initrode"})
    assert added.status_code == 201, added.text
    # salted with the student's data key (the platform's key store): the analytics secret alone does not give it
    personal = open_personal_data(Settings.from_env(platform.env))
    student = Pseudonymiser(TEST_SECRETS["ANALYTICS_PSEUDONYM_KEY"], "k1",
                            personal.pseudonym_salt).student("student-e2e-analytics")
    personal.keys.store.close()

    def names() -> list[str]:
        return [e["type"].split(".")[2] for e in integration_events(platform) if e["subject"] == student]

    wait_until(lambda: names() == ["StudentActivated", "ContactAdded"], what="the contact reached the stream",
               seen=names)

    codes = platform.stop()
    assert all(code == 0 for code in codes.values()), (codes, platform.dump_logs())
    platform.start(*PROCESSES)
    touch = requests.post(f"{api}/contacts/{added.json()['id']}/touchpoints", headers=auth, timeout=10,
                          json={"kind": "outreach", "occurred_at": "2026-11-20T09:00:00Z", "text": "Dear Philippa"})
    assert touch.status_code == 201
    wait_until(lambda: names()[-1:] == ["OutreachSent"], what="the outreach reached the stream", seen=names)
    events = integration_events(platform)
    assert len({e["id"] for e in events}) == len(events)  # nothing republished under another id
    assert "wrenhaven" not in json.dumps([e["data"] for e in events]).casefold()
    [contact] = [e["data"] for e in events if e["type"].endswith(".ContactAdded.v1")]
    assert (contact["industry"], contact["organisation"], contact["pseudonym_key_id"]) == ("finance", "Initrode", "k1")
