"""Erasure reaches notifications not yet sent (issue 15), on each backend profile: once a professional
is erased, the reminders about them are suppressed with that reason while the student's others still go
out; once the student is erased, whatever is left for them is suppressed too. Nothing is sent about or
to an erased subject, whichever process shredded the key. A professional's erasure carried out by the
privacy service redacts what was already sent about them, live and in a rebuild."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from services.notifications.dispatcher import CONTACT_ERASED, RECIPIENT_ERASED
from services.notifications.projections import NotificationViews
from services.privacy.app import create_app as create_privacy_app
from services.privacy.application import PrivacyService
from services.privacy.projections import ErasureViews
from shared.consumer import ConsumerRunner
from shared.keys.fields import ERASED_CONTACT
from shared.keys.personal import contact_subject, student_subject
from shared.keys.vault import REVALIDATE_SECONDS
from shared.readstore import iterate, open_read_store
from tests.integration.conftest import InProcessPlatform
from tests.integration.notifications.harness import LiveRunner, Notifications

REMINDERS = ["interview_reminder_24h", "interview_reminder_1h"]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_reminders_about_an_erased_professional_or_to_an_erased_student_are_suppressed_with_the_reason(
        notifications: Callable[..., Notifications], token: Callable[..., str]) -> None:
    world = notifications()
    auth = token("student-1")
    world.prefer(auth, time_zone="Europe/Berlin", channels={kind: ["in_app"] for kind in REMINDERS})
    jane = world.add_contact(auth, name="Jane Erasable", emails=["jane@acme.example"])
    kim = world.add_contact(auth, name="Kim Kept", emails=["kim@acme.example"])
    world.schedule_interview(auth, jane, "2031-03-06T10:00:00", "Europe/Berlin")
    world.schedule_interview(auth, kim, "2031-03-06T12:00:00", "Europe/Berlin")
    assert len(world.history(auth, "status=scheduled")) == 4

    # the professional Jane is erased (her key shredded, here by the key store's owner): the dispatcher
    # learns it from the key store within a second, without consuming any topic
    keys = world.api.personal.keys
    assert keys.shred(contact_subject("student-1", jane))
    time.sleep(REVALIDATE_SECONDS)
    assert world.dispatch(utc("2031-03-05T11:00:00")) == 2  # both 24-hour reminders fell due
    acted = {(n["status"], n.get("reason")) for n in world.history(auth, "kind=interview_reminder_24h")}
    assert acted == {("suppressed", CONTACT_ERASED), ("sent", None)}
    [inbox] = world.ok(world.get("/inbox", auth))["items"]
    assert "Kim Kept" in inbox["subject"] and "Jane" not in str(inbox)

    # the student is erased: what is left for them (Kim's and Jane's last reminders) is suppressed too
    keys.shred_all(student_subject("student-1"))
    time.sleep(REVALIDATE_SECONDS)
    left = [n["id"] for n in world.history(auth, "kind=interview_reminder_1h")]
    assert world.dispatch(utc("2031-03-06T11:00:00")) == 2
    # (the views stop applying an erased student's events, and drop them on `SubjectErased`: read the streams)
    outcomes = {(e["type"].split(".")[2], e["data"]["reason"]) for e in (world.api.store.load(n)[-1] for n in left)}
    assert outcomes == {("NotificationSuppressed", RECIPIENT_ERASED)}


def test_after_a_professionals_erasure_the_inbox_and_a_rebuilt_history_show_the_placeholder(
        notifications: Callable[..., Notifications], in_process: Callable[..., InProcessPlatform],
        token: Callable[..., str], tmp_path: Path) -> None:
    """The rendered text of a notification already sent about the professional (the student's, quoting
    the contact) reads as the placeholder: live, once the erasure is seen, and in a rebuild from the topics."""
    world = notifications()
    privacy = in_process(create_privacy_app, "privacy", [])
    # the privacy worker, kept in its group like the world's other runners (`world.sync` moves it along;
    # the platforms' own `sync` would run and close every runner of the test, the world's included)
    world.live.append(LiveRunner(ConsumerRunner(privacy.bus, ErasureViews(
        privacy.read_store, PrivacyService(privacy.store, privacy.read_store, lambda: privacy.personal),
        namespace=privacy.settings.get("BUS_NAMESPACE"), personal=privacy.personal), privacy.read_store)))
    auth, admin = token("student-1"), token("admin-1", "admin")
    world.prefer(auth, time_zone="Europe/Berlin", channels={kind: ["in_app"] for kind in REMINDERS})
    jane = world.add_contact(auth, name="Jane Erasable", emails=["jane@acme.example"])
    kim = world.add_contact(auth, name="Kim Kept", emails=["kim@acme.example"])
    world.schedule_interview(auth, jane, "2031-03-06T10:00:00", "Europe/Berlin")
    world.schedule_interview(auth, kim, "2031-03-06T12:00:00", "Europe/Berlin")
    assert world.dispatch(utc("2031-03-05T11:00:00")) == 2
    assert "Jane Erasable" in str(world.ok(world.get("/inbox", auth)))
    world.sync()  # the privacy worker's index has both contacts

    ordered = privacy.client.post("/erasures", headers={"Authorization": admin}, json={
        "subject_kind": "contact", "professional": {"emails": ["JANE@acme.example"]}})
    assert ordered.status_code == 202, ordered.json
    world.sync()
    inbox = world.ok(world.get("/inbox", auth))["items"]
    assert "Jane" not in str(inbox) and ERASED_CONTACT in {i["subject"] for i in inbox}
    assert any("Kim Kept" in i["subject"] for i in inbox)
    time.sleep(REVALIDATE_SECONDS)
    assert world.dispatch(utc("2031-03-06T11:00:00")) == 2  # Jane's last reminder suppressed, Kim's sent

    # an operator's rebuild of the history from the topics reads the same
    rebuilt = open_read_store(f"sqlite:///{tmp_path}/rebuilt.db")
    rebuild = type("RebuiltViews", (NotificationViews,), {"version": 2})  # a consumer group of its own: from offset 0
    views = rebuild(rebuilt, namespace=world.namespace, personal=privacy.personal)
    ConsumerRunner(world.api.bus, views, rebuilt).run(threading.Event(), until_idle=True)
    docs = list(iterate(views.docs, {"recipient_id": "student-1"}))
    assert "Jane" not in str(docs) and "Kim Kept" in str(docs)
    about_jane = [d for d in docs if d.get("contact_erased")]
    assert about_jane and all(d["context"] == {} and d["subject"] in (None, ERASED_CONTACT) for d in about_jane)
    assert {d["status"] for d in about_jane} == {"sent", "suppressed"}
    rebuilt.close()
