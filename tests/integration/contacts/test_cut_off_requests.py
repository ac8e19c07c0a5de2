"""A POST with an Idempotency-Key cut off before it could store its answer (its worker killed, its
database gone), on each backend profile: once the key's lease has run out, a retry with the key learns
the outcome, and nothing is applied twice (`shared.web.api._idempotent`)."""
from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from shared.config import Settings
from tests.integration.conftest import InProcessPlatform
from tests.integration.contacts.test_contacts_api import JANE, add, directory

LEASE_SECONDS = 2  # time enough, on a busy machine, for the retry at once to come within it


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return Settings.from_env({**settings.env, "IDEMPOTENCY_LEASE_SECONDS": str(LEASE_SECONDS)})


class Killed(Exception):
    """Stands for the worker dying at that point: nothing after it runs."""


def cut_off(monkeypatch: pytest.MonkeyPatch, obj: object, name: str) -> None:
    def die(*_: object, **__: object) -> None:
        raise Killed(name)
    monkeypatch.setattr(obj, name, die)


def unchecked(platform: InProcessPlatform) -> FlaskClient:
    """A client that does not hold the answers to the OpenAPI document: the cut-off attempt's 500 stands
    for the answer its client never got."""
    app = platform.client.application
    return FlaskClient(app, app.response_class)


def test_a_retry_after_an_add_cut_off_after_its_append_gets_the_answer_made_again(
        contacts: InProcessPlatform, token: Callable, monkeypatch: pytest.MonkeyPatch) -> None:
    auth, key = token("student-1"), {"Idempotency-Key": "add-jane-cut-off"}
    # given an add whose contact was appended, cut off before its answer was stored
    with monkeypatch.context() as patched:
        cut_off(patched, contacts.store, "finish_request")
        answer = unchecked(contacts).post("/contacts", json=JANE, headers={"Authorization": auth, **key})
        assert answer.status_code == 500

    # when it is retried at once, then the key is still held by the cut-off attempt
    assert add(contacts, auth, JANE, **key).status_code == 409
    [jane] = directory(contacts, auth)

    # when it is retried after the lease, then the answer is what the first attempt would have said
    time.sleep(LEASE_SECONDS + 0.2)
    retried = add(contacts, auth, JANE, **key)
    assert retried.status_code == 201, retried.json
    assert retried.json == {"id": jane["id"], "version": 1} and retried.headers["ETag"] == '"1"'
    assert retried.headers["Location"].endswith(f"/contacts/{jane['id']}")
    assert retried.headers["Idempotent-Replayed"] == "true"
    # and the contact was added once; later retries replay the same answer
    assert [c["id"] for c in directory(contacts, auth)] == [jane["id"]]
    again = add(contacts, auth, JANE, **key)
    assert (again.status_code, again.json) == (201, retried.json)
    assert again.headers["Location"] == retried.headers["Location"]


def test_a_retry_after_a_request_cut_off_before_its_append_carries_it_out(
        contacts: InProcessPlatform, token: Callable, monkeypatch: pytest.MonkeyPatch) -> None:
    auth, key = token("student-1"), {"Idempotency-Key": "add-jane-cut-early"}
    # given an add cut off before its append, with no chance to free its key
    with monkeypatch.context() as patched:
        cut_off(patched, contacts.store, "append")
        cut_off(patched, contacts.store, "abandon_request")
        answer = unchecked(contacts).post("/contacts", json=JANE, headers={"Authorization": auth, **key})
        assert answer.status_code == 500
    assert directory(contacts, auth) == []

    # when it is retried after the lease, then it is carried out, once
    time.sleep(LEASE_SECONDS + 0.2)
    retried = add(contacts, auth, JANE, **key)
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried.headers
    assert [c["id"] for c in directory(contacts, auth)] == [retried.json["id"]]
    assert add(contacts, auth, JANE, **key).json == retried.json


def test_a_retry_of_an_applied_request_whose_answer_cannot_be_made_again_says_so(
        contacts: InProcessPlatform, token: Callable, monkeypatch: pytest.MonkeyPatch) -> None:
    auth, h = token("student-1"), {"Authorization": token("student-1")}
    jane = add(contacts, auth, JANE).json["id"]
    dup = add(contacts, auth, {"name": "J Doe", "emails": ["jd@acme.example"]}).json["id"]
    key = {**h, "Idempotency-Key": "merge-cut-off"}
    # given a merge (it appends to both contacts) cut off before its answer was stored
    with monkeypatch.context() as patched:
        cut_off(patched, contacts.store, "finish_request")
        answer = unchecked(contacts).post(f"/contacts/{jane}/merge", json={"duplicate_id": dup}, headers=key)
        assert answer.status_code == 500

    # when retried after the lease, then 409 says it was applied, and it is not merged again
    time.sleep(LEASE_SECONDS + 0.2)
    retried = contacts.client.post(f"/contacts/{jane}/merge", json={"duplicate_id": dup}, headers=key)
    assert retried.status_code == 409 and "was applied" in retried.json["message"]
    versions = {c: contacts.client.get(f"/contacts/{c}", headers=h).json["version"] for c in (jane, dup)}
    again = contacts.client.post(f"/contacts/{jane}/merge", json={"duplicate_id": dup}, headers=key)
    assert again.status_code == 409 and again.headers["Idempotent-Replayed"] == "true"
    assert {c: contacts.client.get(f"/contacts/{c}", headers=h).json["version"] for c in (jane, dup)} == versions
