"""shared/ics.py: the one iCalendar implementation of the scheduling and notifications services.

Every invite and feed is read back with the `icalendar` package (an independent RFC 5545 parser),
never only by looking for our own strings."""
from __future__ import annotations

import re
from datetime import UTC, datetime

import icalendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared import ics

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
OFFICE = "Career Office <career-office@uni.example>"
INTERVIEW = {"id": "int_1", "state": "scheduled", "contact_name": "Zoë Ng", "objectives": ["careers in UX"],
             "questions": [{"text": "How did you start?"}], "start": "2026-03-09T14:00:00.000000Z",
             "end": "2026-03-09T14:30:00.000000Z", "sequence": 1, "place": None, "link": "https://meet.example/x",
             "student_email": "ann@uni.example", "student_name": "Ann Lee", "contact_email": "zoe@acme.example"}


def parse(calendar: str) -> icalendar.Calendar:
    return icalendar.Calendar.from_ical(calendar)


def event(calendar: str) -> icalendar.Event:
    [only] = parse(calendar).walk("VEVENT")
    return only


def attendees(vevent: icalendar.Event) -> dict[str, dict[str, str]]:
    found = vevent.get("ATTENDEE", [])
    found = found if isinstance(found, list) else [found]
    return {str(a): dict(a.params) for a in found}


def test_an_invite_has_a_stable_uid_utc_times_a_stamp_and_the_request_method() -> None:
    calendar = parse(ics.invite(INTERVIEW, NOW))
    [vevent] = calendar.walk("VEVENT")
    assert calendar["METHOD"] == "REQUEST" and calendar["VERSION"] == "2.0"
    assert str(vevent["UID"]) == "int_1@careerloop" and vevent["SEQUENCE"] == 1
    assert vevent.decoded("DTSTART") == datetime(2026, 3, 9, 14, 0, tzinfo=UTC)
    assert vevent.decoded("DTEND") == datetime(2026, 3, 9, 14, 30, tzinfo=UTC)
    assert vevent.decoded("DTSTAMP") == NOW and vevent["STATUS"] == "CONFIRMED"
    assert not calendar.walk("VTIMEZONE")  # UTC times need none


def test_the_student_organises_and_both_parties_attend_with_their_roles() -> None:
    vevent = event(ics.invite(INTERVIEW, NOW, organizer=OFFICE))
    assert str(vevent["ORGANIZER"]) == "mailto:ann@uni.example" and vevent["ORGANIZER"].params["CN"] == "Ann Lee"
    assert attendees(vevent) == {
        "mailto:ann@uni.example": {"CUTYPE": "INDIVIDUAL", "ROLE": "REQ-PARTICIPANT", "PARTSTAT": "ACCEPTED",
                                   "RSVP": "FALSE", "CN": "Ann Lee"},
        "mailto:zoe@acme.example": {"CUTYPE": "INDIVIDUAL", "ROLE": "REQ-PARTICIPANT", "PARTSTAT": "NEEDS-ACTION",
                                    "RSVP": "TRUE", "CN": "Zoë Ng"}}


def test_without_the_students_address_the_career_office_organises() -> None:
    anonymous = {**INTERVIEW, "student_email": None, "student_name": None}
    vevent = event(ics.invite(anonymous, NOW, organizer=OFFICE))
    assert str(vevent["ORGANIZER"]) == "mailto:career-office@uni.example"
    assert vevent["ORGANIZER"].params["CN"] == "Career Office"
    assert list(attendees(vevent)) == ["mailto:zoe@acme.example"]
    bare = event(ics.invite(anonymous, NOW, organizer="careers@uni.example"))
    assert (
        str(bare["ORGANIZER"]) == "mailto:careers@uni.example"
        and bare["ORGANIZER"].params["CN"] == "careers@uni.example"
    )


def test_an_erased_professional_is_no_attendee_and_reads_as_the_placeholder() -> None:
    """After a professional's erasure their address and name read as `[erased contact]` (issue 15): no
    invitation goes to a placeholder, and the calendar still parses."""
    erased = {**INTERVIEW, "contact_name": "[erased contact]", "contact_email": "[erased contact]"}
    vevent = event(ics.invite(erased, NOW, organizer=OFFICE))
    assert list(attendees(vevent)) == ["mailto:ann@uni.example"]
    assert "zoe" not in ics.invite(erased, NOW, organizer=OFFICE).lower()


def test_a_party_without_a_name_is_named_by_address_and_old_callers_still_get_an_invite() -> None:
    vevent = event(ics.invite({**INTERVIEW, "student_name": None, "contact_name": None}, NOW))
    assert {p["CN"] for p in attendees(vevent).values()} == {"ann@uni.example", "zoe@acme.example"}
    legacy = {k: v for k, v in INTERVIEW.items() if k not in ("student_email", "student_name", "contact_email")}
    old = event(ics.invite(legacy, NOW))  # no addresses, no organizer: as before RFC 5546 parties
    assert "ORGANIZER" not in old and "ATTENDEE" not in old and str(old["UID"]) == "int_1@careerloop"


def test_a_reschedule_keeps_the_uid_and_raises_the_sequence_and_a_cancel_names_the_same_attendees() -> None:
    first = event(ics.invite({**INTERVIEW, "sequence": 0}, NOW))
    moved = event(ics.invite({**INTERVIEW, "sequence": 1, "start": "2026-03-10T13:00:00Z",
                              "end": "2026-03-10T13:30:00Z"}, NOW))
    cancelled_text = ics.invite({**INTERVIEW, "state": "cancelled", "sequence": 2, "reason": "ill"}, NOW)
    cancelled = parse(cancelled_text)
    [gone] = cancelled.walk("VEVENT")
    assert str(first["UID"]) == str(moved["UID"]) == str(gone["UID"])
    assert (first["SEQUENCE"], moved["SEQUENCE"], gone["SEQUENCE"]) == (0, 1, 2)
    assert cancelled["METHOD"] == "CANCEL" and gone["STATUS"] == "CANCELLED"
    assert attendees(gone) == attendees(first) and str(gone["ORGANIZER"]) == str(first["ORGANIZER"])
    assert str(gone["DESCRIPTION"]).startswith("Cancelled: ill\n")
    assert ics.method_of({**INTERVIEW, "state": "cancelled"}) == "CANCEL" and ics.method_of(INTERVIEW) == "REQUEST"


def test_times_with_an_offset_or_as_datetimes_are_written_in_utc() -> None:
    offset = {**INTERVIEW, "start": "2026-03-09T10:00:00-04:00", "end": datetime(2026, 3, 9, 14, 30, tzinfo=UTC)}
    vevent = event(ics.invite(offset, NOW))
    assert vevent.decoded("DTSTART") == datetime(2026, 3, 9, 14, 0, tzinfo=UTC)
    assert vevent["DTSTART"].to_ical() == b"20260309T140000Z"
    assert vevent.decoded("DTEND") == datetime(2026, 3, 9, 14, 30, tzinfo=UTC)


def test_the_feed_lists_only_interviews_that_have_a_time_with_their_parties() -> None:
    feed = parse(ics.feed([INTERVIEW, {**INTERVIEW, "id": "int_2", "start": None}], NOW, organizer=OFFICE))
    assert "METHOD" not in feed and feed["X-WR-CALNAME"] == "Informational interviews"
    [vevent] = feed.walk("VEVENT")
    assert str(vevent["UID"]) == "int_1@careerloop" and vevent.decoded("DTSTAMP") == NOW
    assert len(attendees(vevent)) == 2


# -- hostile text -------------------------------------------------------------------------------
HOSTILE = [
    "Jane\r\nATTENDEE;CN=Mallory:mailto:mallory@evil.example",
    "x\nEND:VEVENT\nBEGIN:VEVENT\nUID:forged",
    'Quote " breaks ;param=1:mailto:x@y,z',
    "back\\slash\\n not a newline; semi, comma",
    "line\u2028separator\u0085next\x0bvt\x0cff",
    "nul\x00 bell\x07 esc\x1b[31m del\x7f",
    "ü" * 120 + "日本語" * 40 + "🙂" * 30,
]


def expected_text(text: str) -> str:
    """What a calendar app should show: line breaks kept as breaks, other control characters gone."""
    text = re.sub("\r\n|[\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]", "\n", text)
    return re.sub("[\x00-\x08\x0e-\x1f\x7f]", "", text)


def assert_well_formed(calendar: str) -> None:
    raw = calendar.encode("utf-8")
    assert raw.endswith(b"\r\n")
    for line in raw.split(b"\r\n"):
        assert len(line) <= 75, line
        line.decode("utf-8")  # folding never splits a character
    names = [line.split(b":")[0].split(b";")[0] for line in raw.replace(b"\r\n ", b"").split(b"\r\n") if line]
    assert names.count(b"BEGIN") == names.count(b"END") == 2
    assert names.count(b"UID") == names.count(b"ORGANIZER") == 1 and names.count(b"ATTENDEE") == 2


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_text_stays_inside_its_own_value(hostile: str) -> None:
    interview = {**INTERVIEW, "state": "cancelled", "contact_name": hostile, "student_name": hostile,
                 "objectives": [hostile], "questions": [{"text": hostile}], "place": hostile, "reason": hostile,
                 "link": "https://meet.example/x\r\nX-EVIL:1 \"<>"}
    calendar = ics.invite(interview, NOW, organizer=OFFICE)
    assert_well_formed(calendar)
    vevent = event(calendar)
    assert set(vevent) == {"UID", "DTSTAMP", "DTSTART", "DTEND", "SEQUENCE", "SUMMARY", "DESCRIPTION", "STATUS",
                           "ORGANIZER", "ATTENDEE", "LOCATION", "URL"}
    shown = expected_text(hostile)
    assert str(vevent["SUMMARY"]) == f"Informational interview with {shown}"
    assert str(vevent["LOCATION"]) == shown
    assert str(vevent["DESCRIPTION"]) == f"Cancelled: {shown}\n\nObjectives:\n- {shown}\n\nQuestions:\n- {shown}"
    cn = re.sub("\r\n|[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]", " ", hostile).replace('"', "'")
    assert {p["CN"] for p in attendees(vevent).values()} == {cn}
    assert vevent["ORGANIZER"].params["CN"] == cn
    assert str(vevent["URL"]) == "https://meet.example/x%0D%0AX-EVIL:1%20%22%3C%3E"


def test_hostile_addresses_cannot_add_parameters_or_lines() -> None:
    interview = {**INTERVIEW, "student_email": "ann@uni.example\r\nATTENDEE:mailto:x@evil.example",
                 "contact_email": 'zoe@acme.example;RSVP=FALSE:"x",y@z'}
    calendar = ics.invite(interview, NOW)
    assert_well_formed(calendar)
    vevent = event(calendar)
    assert set(attendees(vevent)) == {"mailto:ann@uni.example%0D%0AATTENDEE%3Amailto%3Ax@evil.example",
                                      "mailto:zoe@acme.example%3BRSVP%3DFALSE%3A%22x%22%2Cy@z"}
    assert {p["RSVP"] for p in attendees(vevent).values()} == {"TRUE", "FALSE"}


@settings(max_examples=200, deadline=None)
@given(text=st.text(st.characters(codec="utf-8"), max_size=200))
def test_any_text_round_trips_through_an_independent_parser(text: str) -> None:
    interview = {**INTERVIEW, "contact_name": text, "objectives": [text], "place": text or None}
    calendar = ics.invite(interview, NOW)
    assert_well_formed(calendar)
    vevent = event(calendar)
    assert str(vevent["SUMMARY"]) == f"Informational interview with {expected_text(text) if text else 'a contact'}"
    assert str(vevent["DESCRIPTION"]).startswith(f"Objectives:\n- {expected_text(text)}\n")
