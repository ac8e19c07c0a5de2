"""End to end: a student's whole informational-interview journey across the contacts and scheduling
services, as processes, over HTTP."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import icalendar
import pytest
import requests

from shared.auth import mint_token
from tests.backends import TEST_SECRET
from tests.platform import Platform
from tests.support import wait_until

pytestmark = pytest.mark.e2e


def test_from_contact_to_a_rescheduled_then_cancelled_interview(platform: Platform) -> None:
    platform.start()
    contacts, scheduling = platform.url("contacts"), platform.url("scheduling")
    # the university's identity provider puts the student's address and name in the token
    auth = {"Authorization": "Bearer " + mint_token(TEST_SECRET, "student-5", ["student"],
                                                    extra_claims={"email": "kim@uni.example", "name": "Kim Park"})}
    session = requests.Session()
    session.headers.update(auth)

    # the student adds a professional and reaches out
    jane = session.post(f"{contacts}/contacts", timeout=10, json={
        "name": "Jane Doe", "organisation": "Acme", "time_zone": "Europe/London",
        "emails": ["jane@acme.example"]}).json()["id"]
    session.post(f"{contacts}/contacts/{jane}/touchpoints", timeout=10,
                 json={"kind": "outreach", "occurred_at": datetime.now(UTC).isoformat()})

    # requests an interview as soon as the scheduling service has heard of the contact
    def requested() -> str | None:
        response = session.post(f"{scheduling}/interviews", timeout=10, json={
            "contact_id": jane, "objectives": ["What is product management like?"], "format": "phone",
            "time_zone": "America/Chicago", "starter_questions": ["advice"]})
        return response.json()["id"] if response.status_code == 201 else None

    interview = wait_until(requested, what="the scheduling service knows the contact and accepts the request")

    # proposes two times tomorrow, schedules the second, moves it by an hour
    day = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    session.post(f"{scheduling}/interviews/{interview}/proposals", timeout=10, json={"slots": [
        {"start": f"{day}T09:00:00", "time_zone": "America/Chicago"},
        {"start": f"{day}T11:00:00", "time_zone": "America/Chicago"}]}).raise_for_status()
    slot = session.get(f"{scheduling}/interviews/{interview}", timeout=10).json()["slots"][1]["slot_id"]
    session.post(f"{scheduling}/interviews/{interview}/schedule", timeout=10, json={"slot_id": slot}).raise_for_status()
    moved = session.post(f"{scheduling}/interviews/{interview}/reschedule", timeout=10,
                         json={"start": f"{day}T12:00:00", "time_zone": "America/Chicago"})
    assert moved.status_code == 200
    invite = icalendar.Calendar.from_ical(
        session.get(f"{scheduling}/interviews/{interview}/invite.ics", timeout=10).content
    )
    [event] = invite.walk("VEVENT")
    assert invite["METHOD"] == "REQUEST" and event["SEQUENCE"] == 1 and str(event["UID"]) == f"{interview}@careerloop"
    assert str(event["ORGANIZER"]) == "mailto:kim@uni.example" and event["ORGANIZER"].params["CN"] == "Kim Park"
    assert {str(a): a.params["PARTSTAT"] for a in event["ATTENDEE"]} == {
        "mailto:kim@uni.example": "ACCEPTED", "mailto:jane@acme.example": "NEEDS-ACTION"}

    # the upcoming list and the calendar feed show it
    upcoming = session.get(f"{scheduling}/interviews?when=upcoming&min_version={interview}:{moved.json()['version']}",
                           timeout=10).json()["items"]
    assert [(i["id"], i["state"]) for i in upcoming] == [(interview, "scheduled")]
    feed_url = session.get(f"{scheduling}/calendar/feed", timeout=10).json()["url"]
    feed = icalendar.Calendar.from_ical(requests.get(feed_url, timeout=10).content)
    assert [str(e["UID"]) for e in feed.walk("VEVENT")] == [f"{interview}@careerloop"]

    # the feed URL leaked: the student rotates it; the old one stops working, the new one works
    rotated = session.post(f"{scheduling}/calendar/feed/rotate", timeout=10)
    assert rotated.status_code == 200 and rotated.json()["url"] != feed_url
    assert requests.get(feed_url, timeout=10).status_code == 404
    assert requests.get(rotated.json()["url"], timeout=10).status_code == 200
    # and gunicorn's access log (`--access-logfile -`) shows neither token
    tokens = [url.rsplit("/", 1)[1].removesuffix(".ics") for url in (feed_url, rotated.json()["url"])]
    def feed_requests_logged() -> str | None:
        text = platform.logs["scheduling-api"].read_text()
        return text if text.count("GET /calendar/student-5/[redacted].ics HTTP/1.1") >= 3 else None

    access_log = wait_until(feed_requests_logged, what="the three feed requests are in the access log")
    assert not any(t in access_log for t in tokens)

    # the contact cancels: the record stays, and a cancelled interview cannot be completed
    cancel = session.post(
        f"{scheduling}/interviews/{interview}/cancel", timeout=10, json={"by": "contact", "reason": "ill"}
    )
    assert cancel.status_code == 200
    cancelled = icalendar.Calendar.from_ical(
        session.get(f"{scheduling}/interviews/{interview}/invite.ics", timeout=10).content
    )
    [gone] = cancelled.walk("VEVENT")
    assert cancelled["METHOD"] == "CANCEL" and gone["SEQUENCE"] == 2 and gone["UID"] == event["UID"]
    assert {str(a) for a in gone["ATTENDEE"]} == {"mailto:kim@uni.example", "mailto:jane@acme.example"}
    assert session.post(f"{scheduling}/interviews/{interview}/complete", timeout=10).status_code == 409
    wait_until(lambda: session.get(f"{scheduling}/interviews?state=cancelled", timeout=10).json()["items"],
               what="the cancelled interview is listed")
