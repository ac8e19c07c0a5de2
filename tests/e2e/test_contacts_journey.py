"""End to end: the platform's processes, driven over HTTP with a token, as a student would use it."""
from __future__ import annotations

from typing import Callable

import pytest
import requests

from tests.e2e.conftest import Platform
from tests.support import wait_until

pytestmark = pytest.mark.e2e


def test_a_students_contacts_flow_through_to_the_directory_and_survive_a_restart(
        platform: Platform, token: Callable[..., str]) -> None:
    # given the whole platform running
    platform.start()
    api, auth = platform.url("contacts"), {"Authorization": token("student-42")}

    # when a student adds contacts and logs their outreach over HTTP
    ada = requests.post(f"{api}/contacts", headers=auth, timeout=10, json={
        "name": "Ada Lovelace", "emails": ["ada@example.org"], "industry": "Computing", "tags": ["alumni"]})
    assert ada.status_code == 201, ada.text
    grace = requests.post(f"{api}/contacts", headers=auth, timeout=10,
                          json={"name": "Grace Hopper", "industry": "Defence"}).json()
    touch = requests.post(f"{api}/contacts/{grace['id']}/touchpoints", headers=auth, timeout=10,
                          json={"kind": "outreach", "occurred_at": "2026-11-20T09:00:00Z", "channel": "email"})
    assert touch.status_code == 201

    # then the directory, built by the worker from the relayed events, shows them
    def directory(query: str = "") -> list[dict]:
        response = requests.get(f"{api}/contacts{query}", headers=auth, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()["items"]

    wait_until(lambda: [(c["name"], c["stage"]) for c in directory()] == [
        ("Ada Lovelace", "target"), ("Grace Hopper", "contacted")], what="the directory lists both contacts",
        seen=directory)
    # read-your-writes: a query naming the command's version waits for it
    renamed = requests.patch(f"{api}/contacts/{ada.json()['id']}", headers=auth, timeout=10,
                             json={"title": "Countess"}).json()
    fresh = directory(f"?min_version={renamed['id']}:{renamed['version']}&tag=alumni")
    assert fresh[0]["title"] == "Countess"
    # another student sees none of it
    assert requests.get(f"{api}/contacts", headers={"Authorization": token("student-7")}, timeout=10).json()["items"] == []

    # when the platform stops (as Ctrl-C does) and starts again
    codes = platform.stop()
    assert all(code == 0 for code in codes.values()), (codes, platform.dump_logs())  # a clean stop
    platform.start()

    # then nothing was lost and everything still works
    assert [c["name"] for c in directory()] == ["Ada Lovelace", "Grace Hopper"]
    assert requests.post(f"{api}/contacts", headers=auth, timeout=10,
                         json={"name": "Ada again", "emails": ["ADA@example.org"]}).status_code == 409
    third = requests.post(f"{api}/contacts", headers=auth, timeout=10, json={"name": "Alan Turing"}).json()
    wait_until(lambda: len(directory(f"?min_version={third['id']}:1")) == 3, what="the directory lists a third contact")
