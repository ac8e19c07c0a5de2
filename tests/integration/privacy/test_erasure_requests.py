"""The privacy service through HTTP, on each backend profile: a student asks to be forgotten, an admin
finds the request and confirms it, the privacy worker carries it out, and the report shows who did
what and when; the student's sealed data then reads as erased, and nothing new is sealed for them."""
from __future__ import annotations

import time
from collections.abc import Callable

from services.contacts.app import create_app as create_contacts_app
from services.contacts.projections import ContactDirectory
from services.privacy.app import create_app as create_privacy_app
from services.privacy.application import PrivacyService
from services.privacy.projections import ErasureViews
from shared.consumer import ConsumerRunner
from shared.events import Metadata
from shared.keys.fields import ERASED
from shared.keys.vault import REVALIDATE_SECONDS
from tests.integration.conftest import InProcessPlatform


def test_a_students_own_request_is_confirmed_by_an_admin_and_carried_out_once(
        in_process: Callable[..., InProcessPlatform], token: Callable) -> None:
    contacts = in_process(create_contacts_app, "contacts", [ContactDirectory])
    privacy = in_process(create_privacy_app, "privacy", [])
    service = PrivacyService(privacy.store, privacy.read_store, lambda: privacy.personal)
    privacy.runners.append(ConsumerRunner(privacy.bus, ErasureViews(
        privacy.read_store, service, namespace=privacy.settings.get("BUS_NAMESPACE"), personal=privacy.personal),
        privacy.read_store))
    student, admin = {"Authorization": token("student-7")}, {"Authorization": token("admin-1", "admin")}
    contact = contacts.client.post("/contacts", headers=student, json={"name": "Orla Fennimore-Quist"}).json["id"]

    # the student asks; naming someone else is refused
    assert privacy.client.post("/me/erasure-request", headers=student,
                               json={"student_id": "student-8"}).status_code == 403
    asked = privacy.client.post("/me/erasure-request", headers=student, json={"reason": "graduated"})
    assert asked.status_code == 202, asked.json
    erasure_id = asked.json["id"]
    privacy.sync()
    report = privacy.client.get(f"/erasures/{erasure_id}", headers=student).json
    assert (report["status"], report["requested_by"], report["confirmed_by"]) == ("requested", "student-7", None)
    assert report["complete"] is False and all(c["acknowledged_at"] is None for c in report["components"])

    # an admin finds it among the requests waiting, and confirms it (once)
    waiting = privacy.client.get("/erasures?status=requested", headers=admin).json["items"]
    assert [w["id"] for w in waiting] == [erasure_id] and waiting[0]["student_id"] == "student-7"
    confirmed = privacy.client.post(f"/erasures/{erasure_id}/confirm", headers=admin)
    assert confirmed.status_code == 202, confirmed.json
    assert privacy.client.post(f"/erasures/{erasure_id}/confirm", headers=admin).status_code == 409

    # the worker carries it out: the keys are shredded and the erasure recorded, once
    privacy.sync()
    privacy.sync()  # the erasure's own SubjectErased, seen by every projection built here
    report = privacy.client.get(f"/erasures/{erasure_id}", headers=admin).json
    assert (report["status"], report["confirmed_by"], report["keys_shredded"]) == ("erased", "admin-1", 2)
    acknowledged = {c["component"] for c in report["components"] if c["acknowledged_at"]}
    assert {"key-store", "contact-directory"} <= acknowledged  # the components this test runs
    assert privacy.client.get("/erasures?status=erased", headers=admin).json["items"][0]["id"] == erasure_id
    # a redelivered confirmation finds nothing left to do
    assert service.carry_out(erasure_id, Metadata(actor="system:privacy-worker")) is False
    assert [e["type"].split(".")[2] for e in privacy.store.load(erasure_id)] == [
        "ErasureRequested", "ErasureConfirmed", "SubjectErased"]

    # the directory dropped the student's contacts; the contact itself, loaded from its events, reads
    # as erased once the contacts app has revalidated its cached keys (within a second)
    assert contacts.client.get("/contacts?student_id=student-7", headers=admin).json["items"] == []
    time.sleep(REVALIDATE_SECONDS)
    loaded = contacts.client.get(f"/contacts/{contact}", headers=admin)
    assert loaded.status_code == 200 and loaded.json["name"] == ERASED
    # and nothing new is recorded about the student: 409, naming why
    refused = contacts.client.post("/contacts", headers=student, json={"name": "Someone New"})
    assert refused.status_code == 409 and "erased" in refused.json["message"]
