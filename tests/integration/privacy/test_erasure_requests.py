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
from shared.keys.fields import ERASED_CONTACT
from shared.keys.vault import REVALIDATE_SECONDS
from tests.integration.conftest import InProcessPlatform


def contacts_and_privacy(in_process: Callable[..., InProcessPlatform]) -> tuple[
        InProcessPlatform, InProcessPlatform, PrivacyService]:
    """The contacts service with its directory, and the privacy service with its worker's projection."""
    contacts = in_process(create_contacts_app, "contacts", [ContactDirectory])
    privacy = in_process(create_privacy_app, "privacy", [])
    service = PrivacyService(privacy.store, privacy.read_store, lambda: privacy.personal)
    privacy.runners.append(ConsumerRunner(privacy.bus, ErasureViews(
        privacy.read_store, service, namespace=privacy.settings.get("BUS_NAMESPACE"), personal=privacy.personal),
        privacy.read_store))
    return contacts, privacy, service


def test_a_students_own_request_is_confirmed_by_an_admin_and_carried_out_once(
        in_process: Callable[..., InProcessPlatform], token: Callable) -> None:
    contacts, privacy, service = contacts_and_privacy(in_process)
    student, admin = {"Authorization": token("student-7")}, {"Authorization": token("admin-1", "admin")}
    contact = contacts.client.post("/contacts", headers=student, json={"name": "Orla Fennimore-Quist"}).json["id"]

    # the student asks; naming someone else is refused
    assert privacy.client.post("/me/erasure-request", headers=student,
                               json={"student_id": "student-8"}).status_code == 403
    asked = privacy.client.post("/me/erasure-request", headers=student, json={"reason": "graduated"})
    assert asked.status_code == 202, asked.json
    erasure_id = asked.json["id"]
    assert asked.headers["Location"].endswith(f"/erasures/{erasure_id}")  # where its report is
    privacy.sync()
    report = privacy.client.get(asked.headers["Location"], headers=student).json
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
    assert loaded.status_code == 200 and loaded.json["name"] == ERASED_CONTACT
    # and nothing new is recorded about the student: 409, naming why
    refused = contacts.client.post("/contacts", headers=student, json={"name": "Someone New"})
    assert refused.status_code == 409 and "erased" in refused.json["message"]


def test_a_professionals_erasure_reaches_every_students_book_that_has_them(
        in_process: Callable[..., InProcessPlatform], token: Callable) -> None:
    contacts, privacy, service = contacts_and_privacy(in_process)
    admin = {"Authorization": token("admin-1", "admin")}
    ana, ben = {"Authorization": token("student-ana")}, {"Authorization": token("student-ben")}
    # the same professional in two books, spelt differently (found as for duplicates), and someone else
    by_mail = contacts.client.post("/contacts", headers=ana, json={
        "name": "Wilhelmina Ostrakova", "emails": ["W.Ostrakova@Firm.example"], "phone": "+44 7700 900111"}).json["id"]
    by_profile = contacts.client.post("/contacts", headers=ben, json={
        "name": "Mina Ostrakova", "linkedin_url": "https://uk.linkedin.com/in/Ostrakova/"}).json["id"]
    other = contacts.client.post("/contacts", headers=ana, json={"name": "Someone Else",
                                                                 "emails": ["else@firm.example"]}).json["id"]
    privacy.sync()

    # the order names the professional by what identifies them; a malformed one is refused, naming the field
    refused = privacy.client.post("/erasures", headers=admin, json={"subject_kind": "contact", "professional": {}})
    assert refused.status_code == 422 and "emails" in str(refused.json)
    assert privacy.client.post("/erasures", headers=admin, json={"subject_kind": "contact"}).status_code == 422
    assert privacy.client.post("/erasures", headers=ana, json={
        "subject_kind": "contact", "professional": {"emails": ["w.ostrakova@firm.example"]}}).status_code == 403
    ordered = privacy.client.post("/erasures", headers=admin, json={"subject_kind": "contact", "professional": {
        "emails": ["w.ostrakova@FIRM.example"], "linkedin_url": "linkedin.com/in/ostrakova"}})
    assert ordered.status_code == 202, ordered.json
    # the order itself names nobody in clear
    assert "ostrakova" not in str(privacy.store.load(ordered.json["id"])).lower()
    privacy.sync()
    privacy.sync()
    report = privacy.client.get(f"/erasures/{ordered.json['id']}", headers=admin).json
    assert (report["subject_kind"], report["student_id"], report["status"]) == ("contact", None, "erased")
    assert (report["contacts_erased"], report["keys_shredded"]) == (2, 2)
    assert {"key-store", "contact-directory"} <= {c["component"] for c in report["components"] if c["acknowledged_at"]}

    # both books keep the contact (the student's own facts) with the professional's data as the placeholder,
    # in the directory and loaded from the events; the other contact is untouched
    for student, contact_id in ((ana, by_mail), (ben, by_profile)):
        entry = contacts.client.get(f"/contacts?q={ERASED_CONTACT[1:8]}", headers=student).json["items"]
        assert [(e["id"], e["name"], e["emails"]) for e in entry] == [(contact_id, ERASED_CONTACT, [])]
    time.sleep(REVALIDATE_SECONDS)
    loaded = contacts.client.get(f"/contacts/{by_mail}", headers=ana).json
    assert (loaded["name"], loaded["emails"], loaded["phone"]) == (ERASED_CONTACT, [], ERASED_CONTACT)
    assert contacts.client.get(f"/contacts/{other}", headers=ana).json["name"] == "Someone Else"
    assert contacts.client.get("/contacts?q=ostrakova", headers=ana).json["items"] == []
    # nothing new is recorded about the professional; the student still manages their own facts
    changed = contacts.client.patch(f"/contacts/{by_mail}", headers=ana, json={"phone": "+44 7700 900222"})
    assert changed.status_code == 409 and "erased" in changed.json["message"]
