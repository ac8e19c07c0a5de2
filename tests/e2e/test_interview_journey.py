"""End to end: a student's whole informational-interview journey across the contacts and scheduling
services, as processes, over HTTP."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Callable

import pytest
import requests

from tests.e2e.conftest import Platform
from tests.support import wait_until

pytestmark = pytest.mark.e2e


def test_from_contact_to_a_rescheduled_then_cancelled_interview(platform: Platform, token: Callable[..., str]) -> None:
    platform.start()
    contacts, scheduling = platform.url("contacts"), platform.url("scheduling")
    auth = {"Authorization": token("student-5")}
    session = requests.Session()
    session.headers.update(auth)

    # the student adds a professional and reaches out
    jane = session.post(f"{contacts}/contacts", timeout=10, json={
        "name": "Jane Doe", "organisation": "Acme", "time_zone": "Europe/London"}).json()["id"]
    session.post(f"{contacts}/contacts/{jane}/touchpoints", timeout=10,
                 json={"kind": "outreach", "occurred_at": datetime.now(timezone.utc).isoformat()})

    # requests an interview as soon as the scheduling service has heard of the contact
    def requested() -> str | None:
        response = session.post(f"{scheduling}/interviews", timeout=10, json={
            "contact_id": jane, "objectives": ["What is product management like?"], "format": "phone",
            "time_zone": "America/Chicago", "starter_questions": ["advice"]})
        return response.json()["id"] if response.status_code == 201 else None

    interview = wait_until(requested, what="the scheduling service knows the contact and accepts the request")

    # proposes two times tomorrow, schedules the second, moves it by an hour
    day = (datetime.now(timezone.utc) + timedelta(days=2)).date().isoformat()
    session.post(f"{scheduling}/interviews/{interview}/proposals", timeout=10, json={"slots": [
        {"start": f"{day}T09:00:00", "time_zone": "America/Chicago"},
        {"start": f"{day}T11:00:00", "time_zone": "America/Chicago"}]}).raise_for_status()
    slot = session.get(f"{scheduling}/interviews/{interview}", timeout=10).json()["slots"][1]["slot_id"]
    session.post(f"{scheduling}/interviews/{interview}/schedule", timeout=10, json={"slot_id": slot}).raise_for_status()
    moved = session.post(f"{scheduling}/interviews/{interview}/reschedule", timeout=10,
                         json={"start": f"{day}T12:00:00", "time_zone": "America/Chicago"})
    assert moved.status_code == 200
    invite = session.get(f"{scheduling}/interviews/{interview}/invite.ics", timeout=10).text
    assert "SEQUENCE:1" in invite and f"UID:{interview}@careerloop" in invite

    # the upcoming list and the calendar feed show it
    upcoming = session.get(f"{scheduling}/interviews?when=upcoming&min_version={interview}:{moved.json()['version']}",
                           timeout=10).json()["items"]
    assert [(i["id"], i["state"]) for i in upcoming] == [(interview, "scheduled")]
    feed_url = session.get(f"{scheduling}/calendar/feed", timeout=10).json()["url"]
    assert f"UID:{interview}@careerloop" in requests.get(feed_url, timeout=10).text

    # the contact cancels: the record stays, and a cancelled interview cannot be completed
    cancel = session.post(f"{scheduling}/interviews/{interview}/cancel", timeout=10, json={"by": "contact", "reason": "ill"})
    assert cancel.status_code == 200
    assert session.post(f"{scheduling}/interviews/{interview}/complete", timeout=10).status_code == 409
    wait_until(lambda: session.get(f"{scheduling}/interviews?state=cancelled", timeout=10).json()["items"],
               what="the cancelled interview is listed")
