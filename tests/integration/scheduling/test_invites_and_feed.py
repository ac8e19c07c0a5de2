"""Invites and the calendar feed through the scheduling API, read back by the `icalendar` parser."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import icalendar

from shared.auth import mint_token
from tests.backends import TEST_SECRET
from tests.integration.scheduling.conftest import Services
from tests.integration.scheduling.test_interview_lifecycle import add_contact, post, request

SLOT = {"start": "2026-03-09T10:00:00", "time_zone": "America/New_York"}


def student(subject: str, **claims: Any) -> str:
    """A student's bearer token carrying OpenID claims such as `email` and `name`."""
    return "Bearer " + mint_token(TEST_SECRET, subject, ["student"], extra_claims=claims)


def invite(services: Services, auth: str, interview: str) -> tuple[icalendar.Calendar, icalendar.Event]:
    response = services.scheduling.client.get(f"/interviews/{interview}/invite.ics", headers={"Authorization": auth})
    assert response.status_code == 200 and response.mimetype == "text/calendar", response.data
    calendar = icalendar.Calendar.from_ical(response.data)
    [event] = calendar.walk("VEVENT")
    return calendar, event


def parties(event: icalendar.Event) -> dict[str, Any]:
    found = event.get("ATTENDEE", [])
    return {"organizer": (str(event["ORGANIZER"]), dict(event["ORGANIZER"].params)),
            "attendees": {str(a): dict(a.params) for a in (found if isinstance(found, list) else [found])}}


def test_the_student_invites_the_contact_and_every_change_is_a_new_sequence_of_one_uid(
        services: Services, token: Callable) -> None:
    auth = student("student-1", email="ann@uni.example", name="Ann Lee")
    contact = add_contact(services, auth, name="Jane Doe", emails=["jane@acme.example", "jd@home.example"])
    interview = request(services, auth, contact).json["id"]
    unscheduled = services.scheduling.client.get(f"/interviews/{interview}/invite.ics", headers={"Authorization": auth})
    assert unscheduled.status_code == 409

    post(services, auth, f"/interviews/{interview}/schedule", SLOT)
    calendar, first = invite(services, auth, interview)
    assert calendar["METHOD"] == "REQUEST" and first["SEQUENCE"] == 0 and str(first["UID"]) == f"{interview}@careerloop"
    assert first["DTSTART"].to_ical() == b"20260309T140000Z" and "DTSTAMP" in first
    assert parties(first) == {
        "organizer": ("mailto:ann@uni.example", {"CN": "Ann Lee"}),
        "attendees": {
            "mailto:ann@uni.example": {"CUTYPE": "INDIVIDUAL", "ROLE": "REQ-PARTICIPANT", "PARTSTAT": "ACCEPTED",
                                       "RSVP": "FALSE", "CN": "Ann Lee"},
            "mailto:jane@acme.example": {"CUTYPE": "INDIVIDUAL", "ROLE": "REQ-PARTICIPANT",
                                         "PARTSTAT": "NEEDS-ACTION", "RSVP": "TRUE", "CN": "Jane Doe"}}}

    post(services, auth, f"/interviews/{interview}/reschedule", {**SLOT, "start": "2026-03-10T10:00:00"})
    _, moved = invite(services, auth, interview)
    assert moved["SEQUENCE"] == 1 and moved["UID"] == first["UID"] and parties(moved) == parties(first)
    assert moved["DTSTART"].to_ical() == b"20260310T140000Z"

    post(services, auth, f"/interviews/{interview}/cancel", {"by": "contact", "reason": "travelling; back\r\nsoon"})
    calendar, cancelled = invite(services, auth, interview)
    assert calendar["METHOD"] == "CANCEL" and cancelled["STATUS"] == "CANCELLED" and cancelled["SEQUENCE"] == 2
    assert cancelled["UID"] == first["UID"] and parties(cancelled) == parties(first)
    assert str(cancelled["DESCRIPTION"]).startswith("Cancelled: travelling; back\nsoon\n")


def test_without_an_email_claim_the_career_office_organises(services: Services, token: Callable) -> None:
    auth = token("student-1")
    interview = request(services, auth, add_contact(services, auth, emails=["jane@acme.example"])).json["id"]
    post(services, auth, f"/interviews/{interview}/schedule", SLOT)
    _, event = invite(services, auth, interview)
    assert parties(event)["organizer"] == ("mailto:career-office@localhost", {"CN": "Career Office"})
    assert list(parties(event)["attendees"]) == ["mailto:jane@acme.example"]


def test_an_admin_acting_for_a_student_does_not_become_the_organizer(services: Services, token: Callable) -> None:
    owner = token("student-1")
    contact = add_contact(services, owner)
    admin = "Bearer " + mint_token(TEST_SECRET, "admin-1", ["admin"], extra_claims={"email": "root@uni.example"})
    created = request(services, admin, contact, student_id="student-1")
    assert created.status_code == 201, created.json
    view = services.scheduling.client.get(f"/interviews/{created.json['id']}", headers={"Authorization": owner}).json
    assert (view["student_email"], view["student_name"], view["contact_email"]) == (None, None, None)


def test_hostile_names_objectives_and_questions_cannot_inject_into_the_invite(
    services: Services, token: Callable
) -> None:
    hostile = 'Eve";ROLE=CHAIR:mailto:x@y\r\nATTENDEE:mailto:mallory@evil.example\nEND:VEVENT,\\;'
    auth = student("student-1", email="ann@uni.example", name=hostile)
    contact = add_contact(services, auth, name=hostile, emails=["jane@acme.example"])
    interview = request(services, auth, contact, objectives=[hostile],
                        questions=[{"text": hostile, "category": "advice"}]).json["id"]
    post(services, auth, f"/interviews/{interview}/schedule", SLOT)
    calendar, event = invite(services, auth, interview)
    assert len(calendar.walk("VEVENT")) == 1
    assert set(parties(event)["attendees"]) == {"mailto:ann@uni.example", "mailto:jane@acme.example"}
    assert {p["ROLE"] for p in parties(event)["attendees"].values()} == {"REQ-PARTICIPANT"}
    shown = hostile.replace("\r\n", "\n")
    assert str(event["SUMMARY"]) == f"Informational interview with {shown}"
    assert str(event["DESCRIPTION"]).startswith(f"Objectives:\n- {shown}\n\nQuestions:\n- {shown}\n- ")
    # icalendar reads `\;` inside a quoted parameter value as `;` (RFC 5545 has no escapes there; the
    # backslash is ours literally): a difference of display only, the value still ends at its quote.
    cn = hostile.replace("\r\n", " ").replace("\n", " ").replace('"', "'").replace("\\;", ";")
    assert {p["CN"] for p in parties(event)["attendees"].values()} == {cn}


def feed_path(services: Services, auth: str, method: str = "GET") -> str:
    response = services.scheduling.client.open("/calendar/feed" + ("/rotate" if method == "POST" else ""),
                                               method=method, headers={"Authorization": auth})
    assert response.status_code == 200, response.json
    assert response.json["webcal"].startswith("webcal://")
    return response.json["url"].split("localhost", 1)[1]


def test_the_calendar_feed_is_at_a_secret_url_that_the_student_can_rotate(services: Services, token: Callable) -> None:
    auth = student("student-1", email="ann@uni.example")
    interview = request(services, auth, add_contact(services, auth, emails=["jane@acme.example"])).json["id"]
    post(services, auth, f"/interviews/{interview}/schedule", SLOT)
    services.scheduling.sync()
    old = feed_path(services, auth)
    served = services.scheduling.client.get(old)  # no bearer token: the URL is the secret
    assert served.status_code == 200 and served.mimetype == "text/calendar"
    feed = icalendar.Calendar.from_ical(served.data)
    [event] = feed.walk("VEVENT")
    assert str(event["UID"]) == f"{interview}@careerloop" and "METHOD" not in feed
    assert str(event["ORGANIZER"]) == "mailto:ann@uni.example" and len(event["ATTENDEE"]) == 2
    assert services.scheduling.client.get(old.replace("/student-1/", "/student-2/")).status_code == 404
    assert services.scheduling.client.get(old[:-10] + "0" * 6 + ".ics").status_code == 404
    assert services.scheduling.client.get(old[:-10] + "é" * 6 + ".ics").status_code == 404

    other = token("student-2")
    others_feed = feed_path(services, other)
    new = feed_path(services, auth, "POST")
    assert new != old
    assert services.scheduling.client.get(old).status_code == 404
    [same] = icalendar.Calendar.from_ical(services.scheduling.client.get(new).data).walk("VEVENT")
    assert same["UID"] == event["UID"]
    assert feed_path(services, auth) == new  # what the feed endpoint hands out from now on
    assert services.scheduling.client.get(others_feed).status_code == 200  # other students keep theirs
    newest = feed_path(services, auth, "POST")
    assert (
        services.scheduling.client.get(new).status_code == 404
        and services.scheduling.client.get(newest).status_code == 200
    )


def test_rotation_is_a_students_own_or_an_admins_act(services: Services, token: Callable) -> None:
    student_feed = feed_path(services, token("student-1"))
    assert services.scheduling.client.post("/calendar/feed/rotate").status_code == 401
    assert services.scheduling.client.post("/calendar/feed/rotate?student_id=student-1",
                                           headers={"Authorization": token("student-2")}).status_code == 403
    assert services.scheduling.client.post("/calendar/feed/rotate",
                                           headers={"Authorization": token("admin-1", "admin")}).status_code == 422
    rotated = services.scheduling.client.post("/calendar/feed/rotate?student_id=student-1",
                                              headers={"Authorization": token("admin-1", "admin")})
    assert rotated.status_code == 200 and rotated.json["generation"] == 1
    assert services.scheduling.client.get(student_feed).status_code == 404
