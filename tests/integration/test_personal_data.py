"""Personal data is sealed before it is stored (issue 15): the event store and the bus hold ciphertext,
the views show plain text, and shredding a subject's key erases exactly that subject's data.

On each backend profile, through the contacts and scheduling APIs, with distinctive strings that a raw
scan of what is stored and published must not find."""
from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.contacts.app import create_app as create_contacts_app
from services.contacts.projections import ContactDirectory
from shared.contracts import CATALOGS, INTERVIEWS
from shared.keys import open_personal_data
from shared.keys.fields import ERASED_CONTACT
from shared.keys.personal import contact_subject, seal_plan, student_subject
from shared.runtime import topics_of
from tests.integration.conftest import InProcessPlatform

NAME, EMAIL, PHONE = "Zephyrine Quillfeather", "zephyrine.q@quill.example", "+44 7700 900461"
NOTE = "met at the Thursday orchid symposium"
STUDENT_NAME, STUDENT_EMAIL = "Barnaby Oakhurst-Vell", "barnaby.ov@student.example"
SECRETS = (NAME, EMAIL, PHONE, NOTE, STUDENT_NAME, STUDENT_EMAIL, "Quillfeather", "Oakhurst")


def test_the_contracts_name_whose_key_seals_each_personal_field() -> None:
    requested = dict(seal_plan(INTERVIEWS.latest("InterviewRequested").schema()))
    assert requested == {"contact_email": "contact", "contact_name": "contact", "student_email": "student",
                         "student_name": "student", "link": "student", "place": "student"}
    plans = {t.name: dict(seal_plan(t.schema())) for c in CATALOGS for t in c.types()}
    assert plans["StudentCohortRecorded"] == {}  # the roster's student id is an identifier, kept in clear
    assert plans["ContactsMerged"]["filled"] == "contact"  # a nested field holding a contact's details
    assert plans["NoteRecorded"] and set(plans["NoteRecorded"].values()) == {"student"}


def raw_events(platform: InProcessPlatform) -> list[dict[str, Any]]:
    """Every event as stored: the commits the relay publishes, read from the store under the app's seal."""
    return [event for commit in platform.store.read_all(0, 10_000) for event in commit.events]


def raw_messages(platform: InProcessPlatform, service: str) -> list[bytes]:
    """Every message of the service's topics from the start, read by a consumer group of its own."""
    namespace = platform.settings.get("BUS_NAMESPACE")
    topics = sorted(set(topics_of(service, platform.settings).values()))
    consumer = platform.bus.consumer(f"{namespace}scan-{uuid.uuid4().hex[:6]}", topics)
    values: list[bytes] = []
    try:
        for _ in range(30):
            batch = consumer.poll(500, timeout=1.0)
            values += [m.value for m in batch]
            if not batch and values:
                break
    finally:
        consumer.close()
    return values


def test_what_is_stored_and_published_is_ciphertext_and_the_views_are_plain(
        in_process: Callable[..., InProcessPlatform], token: Callable) -> None:
    contacts = in_process(create_contacts_app, "contacts", [ContactDirectory])
    auth = token("student-1")
    added = contacts.client.post("/contacts", headers={"Authorization": auth}, json={
        "name": NAME, "emails": [EMAIL], "phone": PHONE, "note": NOTE, "organisation": "Orchid Society"})
    assert added.status_code == 201, added.json
    contact_id = added.json["id"]
    contacts.sync()

    # the view and the aggregate read plain text
    shown = contacts.client.get(f"/contacts/{contact_id}", headers={"Authorization": auth}).json
    assert (shown["name"], shown["emails"], shown["phone"]) == (NAME, [EMAIL], PHONE)

    # the store and the topic hold none of it: only sealed values naming a key, beside clear non-personal fields
    stored = raw_events(contacts)
    published = raw_messages(contacts, "contacts")
    assert stored and published
    for text in [json.dumps(e, ensure_ascii=False) for e in stored] + [v.decode() for v in published]:
        for secret in SECRETS:
            assert secret not in text
    [event] = stored
    assert event["data"]["organisation"] == "Orchid Society"
    sealed = event["data"]["name"]
    assert set(sealed) == {"$sealed", "key", "shape", "data"} and sealed["shape"] == "string"

    # it is AES-256-GCM under the contact's data key, bound to this event and field: independently checked
    personal = open_personal_data(contacts.settings)
    key = personal.keys.key_by_id(sealed["key"])
    assert len(key) == 32
    blob = base64.b64decode(sealed["data"])
    aad = f"careerloop-field\0{event['id']}\0name".encode()
    assert json.loads(AESGCM(key).decrypt(blob[:12], blob[12:], aad)) == NAME
    with pytest.raises(InvalidTag):
        AESGCM(key).decrypt(blob[:12], blob[12:], f"careerloop-field\0{event['id']}\0phone".encode())
    assert personal.keys.key_for(contact_subject("student-1", contact_id))[0] == sealed["key"]


def test_shredding_a_contacts_key_erases_that_contact_and_nothing_else(
        in_process: Callable[..., InProcessPlatform], token: Callable) -> None:
    contacts = in_process(create_contacts_app, "contacts", [ContactDirectory])
    auth = token("student-1")
    gone = contacts.client.post("/contacts", headers={"Authorization": auth},
                                json={"name": NAME, "emails": [EMAIL]}).json["id"]
    kept = contacts.client.post("/contacts", headers={"Authorization": auth},
                                json={"name": "Ada Lovelace", "emails": ["ada@example.com"]}).json["id"]
    personal = open_personal_data(contacts.settings)

    assert personal.keys.shred(contact_subject("student-1", gone))

    # the app's process still holds the key for at most its cache time: a fresh process reads the truth
    fresh = open_personal_data(contacts.settings)
    events = {e["subject"]: fresh.open(e) for e in raw_events(contacts)}
    assert events[gone]["data"]["name"] == ERASED_CONTACT and events[gone]["data"]["emails"] == []
    assert events[kept]["data"]["name"] == "Ada Lovelace"
    # nothing new can be recorded about the erased contact: 409, naming why
    app_keys = contacts.client.application.extensions["contacts"].service.contacts.store.personal.keys
    app_keys.forget(contact_subject("student-1", gone))  # what its erasure-topic consumer will do
    changed = contacts.client.patch(f"/contacts/{gone}", headers={"Authorization": auth, "If-Match": '"1"'},
                                    json={"name": "Someone Else"})
    assert changed.status_code == 409 and "erased" in changed.json["message"]
    # a student's key is another key: their other contacts stay readable
    assert fresh.keys.key_for(student_subject("student-1"))


