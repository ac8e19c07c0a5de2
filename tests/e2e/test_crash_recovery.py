"""A relay and a projection worker killed with SIGKILL mid-batch and restarted: nothing is lost,
nothing is applied twice."""
from __future__ import annotations

import random
import signal
import threading
import time
from collections.abc import Callable

import pytest
import requests

from tests.platform import Platform
from tests.support import wait_until

pytestmark = pytest.mark.e2e


def test_killed_relay_and_worker_lose_nothing_and_apply_nothing_twice(
        platform: Platform, token: Callable[..., str]) -> None:
    platform.start()
    api, auth = platform.url("contacts"), {"Authorization": token("student-1")}
    session = requests.Session()
    expected: dict[str, int] = {}
    errors: list[str] = []

    def write(offset: int, count: int) -> None:
        for i in range(offset, offset + count):
            created = session.post(f"{api}/contacts", headers=auth, timeout=30, json={"name": f"Person {i:04d}"})
            if created.status_code != 201:
                errors.append(created.text)
                continue
            touches = i % 4
            for t in range(touches):
                response = session.post(
                    f"{api}/contacts/{created.json()['id']}/touchpoints",
                    headers=auth,
                    timeout=30,
                    json={"kind": "outreach", "occurred_at": f"2026-10-{t + 1:02d}T10:00:00Z"},
                )
                if response.status_code != 201:
                    errors.append(response.text)
            expected[created.json()["id"]] = touches

    # given a steady stream of commands
    writer = threading.Thread(target=write, args=(0, 240))
    writer.start()
    # when the relay and the worker are killed without warning, twice, mid-stream, and restarted
    rng = random.Random(7)
    for _ in range(2):
        time.sleep(rng.uniform(0.5, 1.5))
        platform.kill("contacts-relay", signal.SIGKILL)
        time.sleep(rng.uniform(0.1, 0.5))
        platform.kill("contacts-directory", signal.SIGKILL)
        time.sleep(rng.uniform(0.1, 0.5))
        platform.start("contacts-relay", "contacts-directory")
    writer.join()
    assert not errors, errors[:3]

    # then every accepted command shows in the directory exactly once
    def directory() -> dict[str, int]:
        seen: dict[str, int] = {}
        cursor = ""
        while True:
            page = session.get(f"{api}/contacts?limit=200{cursor}", headers=auth, timeout=30).json()
            for item in page["items"]:
                assert item["id"] not in seen
                seen[item["id"]] = item["touch_count"]
            if not page["next_cursor"]:
                return seen
            cursor = f"&cursor={page['next_cursor']}"

    wait_until(
        lambda: directory() == expected,
        timeout=90,
        what="every contact is listed once with all its touchpoints",
        seen=lambda: (lambda final: {k: (v, final.get(k)) for k, v in expected.items() if final.get(k) != v})(
            directory()
        ),
    )
