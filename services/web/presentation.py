"""How the pages show times and names: every time in a zone that is named beside it (WCAG: times
with their zone), labels for the APIs' codes. Pure functions, registered as Jinja filters."""
from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

STAGES = {"target": "Target", "contacted": "Contacted", "replied": "Replied", "interviewed": "Interviewed",
          "following_up": "Following up", "ongoing": "Ongoing", "dormant": "Dormant"}
SORTS = {"name": "Name", "-priority": "Priority, highest first", "-last_touch": "Last touch, newest first",
         "-added": "Added, newest first"}
OUTCOMES = {"created": "Added", "duplicate": "Already in your contacts", "invalid": "Not imported: invalid",
            "skipped": "Skipped"}
FORMATS = {"linkedin_csv": "LinkedIn Connections.csv", "google_csv": "Google Contacts CSV", "vcard": "vCard"}
# What the "done" button of each follow-up rule records; the rules without one close on their own
# (outreach_next_contact: a reply, or outreach to someone else at the organisation).
DONE_ACTIONS = {"thank_you": ("thank_you", "I sent a thank-you"),
                "outreach_follow_up": ("outreach", "I sent the follow-up"),
                "stay_in_touch": ("check_in", "I checked in"),
                "action_item": (None, "Done")}


INTERVIEW_FORMATS = {"video": "Video call", "phone": "Phone", "in_person": "In person"}
INTERVIEW_STATES = {"requested": "Requested", "proposed": "Times proposed", "scheduled": "Scheduled",
                    "completed": "Held", "missed": "Missed", "cancelled": "Cancelled"}
QUESTION_CATEGORIES = {"trends": "Industry trends", "insights": "Insights into the role", "advice": "Advice",
                       "resources": "Resources and people", "assignments": "Trying it out", "other": "Your own"}
INSIGHT_CATEGORIES = {"industry_trends": "Industry trends", "organisation_culture": "Organisation culture",
                      "career_paths": "Career paths", "challenges": "Challenges", "advice": "Advice",
                      "resources": "Resources", "assignments": "Assignments"}
VISIBILITIES = {"private": "Private (only you)", "shared": "Shared with your advisors"}
# The contact page's one-click touchpoints: what the student did, as the contacts API records it.
TOUCHPOINTS = {"thank_you": "I sent a thank-you", "reply": "They replied", "outreach": "I reached out",
               "check_in": "I checked in"}
PARTIES = {"student": "I cancelled", "contact": "They cancelled"}
# The settings page: what each notification kind is, and the channels it can go by.
NOTIFICATION_KINDS = {"interview_reminder_24h": "Interview tomorrow (a day before)",
                      "interview_reminder_1h": "Interview soon (an hour before)",
                      "thank_you_due": "A thank-you is due", "follow_up_due": "A follow-up is due",
                      "check_in_due": "Time to check in with a contact", "digest": "Daily digest"}
CHANNELS = {"in_app": "In the app", "email": "E-mail", "webhook": "Webhook"}
WEBHOOK_STATES = {"enabled": "Enabled", "disabled": "Disabled", "removed": "Removed"}
# Every touchpoint the contacts API records (the one-click ones above are the common four).
TOUCHPOINT_KINDS = {"outreach": "I reached out", "reply": "They replied", "conversation": "We talked",
                    "thank_you": "I sent a thank-you", "check_in": "I checked in", "update": "I sent an update",
                    "article": "I shared an article", "intro": "An introduction"}
TOUCHPOINT_CHANNELS = {"email": "E-mail", "linkedin": "LinkedIn", "phone": "Phone", "video": "Video call",
                       "in_person": "In person", "event": "At an event", "other": "Other"}
# IANA zones for the zone selectors: the canonical Area/Location names and UTC (not the legacy
# aliases such as US/Eastern, nor the Etc/ offsets, whose signs read backwards).
ZONES = ("UTC", *sorted(z for z in available_timezones()
                        if "/" in z and z.split("/")[0] in {"Africa", "America", "Antarctica", "Asia", "Atlantic",
                                                             "Australia", "Europe", "Indian", "Pacific"}))


def zone_or_utc(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def parse_moment(moment: str) -> datetime:
    parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def local_time(moment: str | None, zone: str | None) -> str:
    """`2026-12-08T13:00:00Z` in Europe/Paris: `Tue 8 Dec 2026, 14:00 CET (Europe/Paris)`."""
    if not moment:
        return ""
    tz = zone_or_utc(zone)
    local = parse_moment(moment).astimezone(tz)
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M} {local.tzname()} ({tz.key})"


def wall_clock(moment: str | None, zone: str | None) -> str:
    """The value of a `datetime-local` control: the moment's wall-clock time in `zone`, to the minute."""
    return parse_moment(moment).astimezone(zone_or_utc(zone)).strftime("%Y-%m-%dT%H:%M") if moment else ""


def machine_time(moment: str | None) -> str:
    """The `datetime` attribute of a `<time>` element: RFC 3339 in UTC."""
    return parse_moment(moment).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else ""


def label(value: str | None, names: dict[str, str]) -> str:
    return names.get(value or "", (value or "").replace("_", " ").capitalize())


FILTERS = {"local_time": local_time, "machine_time": machine_time, "wall_clock": wall_clock, "label": label}
