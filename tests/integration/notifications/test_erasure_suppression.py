"""Erasure reaches notifications not yet sent (issue 15), on each backend profile: once a professional
is erased, the reminders about them are suppressed with that reason while the student's others still go
out; once the student is erased, whatever is left for them is suppressed too. Nothing is sent about or
to an erased subject, whichever process shredded the key."""
from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from services.notifications.dispatcher import CONTACT_ERASED, RECIPIENT_ERASED
from shared.keys.personal import contact_subject, student_subject
from shared.keys.vault import REVALIDATE_SECONDS
from tests.integration.notifications.harness import Notifications

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
