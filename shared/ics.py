"""iCalendar (RFC 5545) invites and the per-student feed: one implementation for every service.

The scheduling service serves them over HTTP (`invite.ics`, the calendar feed); the notifications
service attaches the same invite to interview e-mails. Both hand in an interview as a plain dict,
so this module depends on no service:

    id, state ("cancelled" makes METHOD:CANCEL), start and end (RFC 3339 strings, or aware
    datetimes), sequence, contact_name, objectives [str], questions [{"text": str}], place, link,
    and optionally student_email, student_name, contact_email, reason (of a cancellation)

Times are written in UTC (`DTSTART:20260309T140000Z`): exact, valid without VTIMEZONE blocks, and
every calendar app shows them in the viewer's own zone. The UID is the interview's id, stable
across reschedules; SEQUENCE grows with each change so apps replace the old version, and a
cancellation is METHOD:CANCEL with STATUS:CANCELLED.

The parties, as RFC 5546 (iTIP) wants them in a REQUEST and a CANCEL: the ORGANIZER is the student
when their e-mail address is known, else `organizer` (the career office, `Name <address>` or a bare
address); ATTENDEEs are the student (PARTSTAT=ACCEPTED: they asked for the meeting, RSVP=FALSE)
and the contact (PARTSTAT=NEEDS-ACTION, RSVP=TRUE), each with ROLE=REQ-PARTICIPANT and CN. A party
whose address is unknown is left out: an attendee without a calendar address cannot be invited.
A CANCEL names the same attendees, so every calendar that got the invite drops it.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import parseaddr
from typing import Any

from shared.contentlines import escape, fold, mailto, param_value, uri

PRODID = "-//careerloop//informational interviews//EN"
UID_DOMAIN = "careerloop"


def _utc(value: str | datetime) -> datetime:
    """An RFC 3339 time (or an aware datetime) in UTC. Stored times are UTC already; converting
    anyway keeps an offset such as +02:00 from being written with a `Z` it does not have."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment.astimezone(UTC)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ")


def _party(name: str, address: str, display: str | None, **params: str) -> str:
    parameters = "".join(f";{key.replace('_', '-')}={value}" for key, value in params.items())
    return f"{name}{parameters};CN={param_value(display or address)}:{mailto(address)}"


def _address(value: Any) -> str | None:
    """A calendar address, or None: an erased one reads as a placeholder, which is no address."""
    return value if isinstance(value, str) and "@" in value else None


def _parties(interview: dict[str, Any], organizer: str | None) -> list[str]:
    student, student_name = _address(interview.get("student_email")), interview.get("student_name")
    contact = _address(interview.get("contact_email"))
    lines = []
    if student:
        lines.append(_party("ORGANIZER", student, student_name))
    elif organizer and parseaddr(organizer)[1]:
        office_name, office = parseaddr(organizer)
        lines.append(_party("ORGANIZER", office, office_name or None))
    attendee = {"CUTYPE": "INDIVIDUAL", "ROLE": "REQ-PARTICIPANT"}
    if student:
        lines.append(_party("ATTENDEE", student, student_name, **attendee, PARTSTAT="ACCEPTED", RSVP="FALSE"))
    if contact:
        lines.append(_party("ATTENDEE", contact, interview.get("contact_name"), **attendee,
                            PARTSTAT="NEEDS-ACTION", RSVP="TRUE"))
    return lines


def _description(interview: dict[str, Any], cancelled: bool) -> str:
    lines = (["Objectives:"] + [f"- {o}" for o in interview.get("objectives", [])]
             + ["", "Questions:"] + [f"- {q['text']}" for q in interview.get("questions", [])])
    reason = interview.get("reason") or (interview.get("outcome") or {}).get("reason")
    if cancelled and reason:
        lines = [f"Cancelled: {reason}", ""] + lines
    return "\n".join(lines)


def _event_lines(interview: dict[str, Any], now: datetime, organizer: str | None) -> list[str]:
    cancelled = interview["state"] == "cancelled"
    name = interview.get("contact_name") or "a contact"
    lines = [
        "BEGIN:VEVENT",
        f"UID:{escape(str(interview['id']))}@{UID_DOMAIN}",
        f"DTSTAMP:{_stamp(_utc(now))}",
        f"DTSTART:{_stamp(_utc(interview['start']))}",
        f"DTEND:{_stamp(_utc(interview['end']))}",
        f"SEQUENCE:{max(interview.get('sequence', 0), 0)}",
        f"SUMMARY:{escape(f'Informational interview with {name}')}",
        f"DESCRIPTION:{escape(_description(interview, cancelled))}",
        f"STATUS:{'CANCELLED' if cancelled else 'CONFIRMED'}",
        *_parties(interview, organizer),
    ]
    where = interview.get("place") or interview.get("link")
    if where:
        lines.append(f"LOCATION:{escape(where)}")
    if interview.get("link"):
        lines.append(f"URL:{uri(interview['link'])}")
    lines.append("END:VEVENT")
    return lines


def _calendar(events: list[str], method: str | None, name: str | None = None) -> str:
    head = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN"]
    if method:
        head.append(f"METHOD:{method}")
    if name:
        head.append(f"X-WR-CALNAME:{escape(name)}")
    return "\r\n".join(fold(line) for line in head + events + ["END:VCALENDAR"]) + "\r\n"


def method_of(interview: dict[str, Any]) -> str:
    """REQUEST for a scheduled interview, CANCEL once it is cancelled (the iTIP method, RFC 5546):
    also the `method` parameter of the invite's `text/calendar` content type in e-mails."""
    return "CANCEL" if interview["state"] == "cancelled" else "REQUEST"


def invite(interview: dict[str, Any], now: datetime, *, organizer: str | None = None) -> str:
    """The invite for one scheduled (or cancelled) interview; `organizer` when the student's
    address is unknown (CALENDAR_ORGANIZER_EMAIL)."""
    return _calendar(_event_lines(interview, now, organizer), method_of(interview))


def feed(interviews: Iterable[dict[str, Any]], now: datetime, *, organizer: str | None = None) -> str:
    """A subscribable calendar of a student's interviews that have (or had) a time."""
    events = [line for i in interviews if i.get("start") for line in _event_lines(i, now, organizer)]
    return _calendar(events, None, "Informational interviews")
