"""iCalendar (RFC 5545) invites and the per-student feed: one implementation for every service.

The scheduling service serves them over HTTP (`invite.ics`, the calendar feed); the notifications
service attaches the same invite to interview e-mails. Both hand in an interview as a plain dict,
so this module depends on no service:

    id, state ("cancelled" makes METHOD:CANCEL), start and end (RFC 3339 strings, or aware
    datetimes), sequence, contact_name, objectives [str], questions [{"text": str}], place, link

Times are written in UTC (`DTSTART:20260309T140000Z`): exact, valid without VTIMEZONE blocks, and
every calendar app shows them in the viewer's own zone. The UID is the interview's id, stable
across reschedules; SEQUENCE grows with each change so apps replace the old version, and a
cancellation is METHOD:CANCEL with STATUS:CANCELLED.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterable

from shared.contentlines import escape, fold

PRODID = "-//careerloop//informational interviews//EN"
UID_DOMAIN = "careerloop"


def _utc(value: str | datetime) -> datetime:
    """An RFC 3339 time (or an aware datetime) in UTC. Stored times are UTC already; converting
    anyway keeps an offset such as +02:00 from being written with a `Z` it does not have."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment.astimezone(timezone.utc)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ")


def _event_lines(interview: dict[str, Any], now: datetime) -> list[str]:
    cancelled = interview["state"] == "cancelled"
    name = interview.get("contact_name") or "a contact"
    description = "\n".join(
        ["Objectives:"] + [f"- {o}" for o in interview.get("objectives", [])]
        + ["", "Questions:"] + [f"- {q['text']}" for q in interview.get("questions", [])])
    lines = [
        "BEGIN:VEVENT",
        f"UID:{interview['id']}@{UID_DOMAIN}",
        f"DTSTAMP:{_stamp(_utc(now))}",
        f"DTSTART:{_stamp(_utc(interview['start']))}",
        f"DTEND:{_stamp(_utc(interview['end']))}",
        f"SEQUENCE:{max(interview.get('sequence', 0), 0)}",
        f"SUMMARY:{escape(f'Informational interview with {name}')}",
        f"DESCRIPTION:{escape(description)}",
        f"STATUS:{'CANCELLED' if cancelled else 'CONFIRMED'}",
    ]
    where = interview.get("place") or interview.get("link")
    if where:
        lines.append(f"LOCATION:{escape(where)}")
    if interview.get("link"):
        lines.append(f"URL:{interview['link']}")
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


def invite(interview: dict[str, Any], now: datetime) -> str:
    """The invite for one scheduled (or cancelled) interview."""
    return _calendar(_event_lines(interview, now), method_of(interview))


def feed(interviews: Iterable[dict[str, Any]], now: datetime) -> str:
    """A subscribable calendar of a student's interviews that have (or had) a time."""
    events = [line for i in interviews if i.get("start") for line in _event_lines(i, now)]
    return _calendar(events, None, "Informational interviews")
