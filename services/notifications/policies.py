"""The notification policies (pure): from a source event and the facts known about it, what to
schedule, for whom, through which channels and when, and which earlier notifications it makes moot.

Each plan carries its dedupe key (source event id, kind, channel, recipient); the notification's
stream id is derived from it, so planning the same event twice gives the same streams and the
event store's expected-version append turns the second into nothing. The policies never read the
clock: "too late" is judged against the *source event's* time (when the interview was booked), so
a replay decides exactly as the first run did, and a policy worker that was down still schedules
what is due; the dispatcher then sends it late, marked late.

- Interview reminders: 24 hours (the same wall-clock time the day before, in the recipient's
  zone) and 1 hour before the start. A reminder whose time had passed when the interview was booked
  is recorded and suppressed at once ("too late"). A reschedule suppresses the reminders of every
  earlier time and plans new ones (its own event id, so new keys); a cancellation, completion or
  no-show suppresses whatever is still pending.
- Follow-ups due (`FollowUpBecameDue`): thank-you due, follow-up due (3B7 outreach, action items)
  and check-in due, sent when announced (never before `due_at`); dismissing the item suppresses
  what has not gone out yet (e.g. waiting for the digest). A snooze does not: the item still needs
  doing, and the followups service does not announce the same due time again after a snooze.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.notifications.domain import dedupe_key, notification_id, notification_ids, parse, reminder_times
from shared.contracts.notifications import REMINDER_KINDS

RULE_KINDS = {"thank_you": "thank_you_due", "outreach_next_contact": "follow_up_due",
              "outreach_follow_up": "follow_up_due", "action_item": "follow_up_due", "stay_in_touch": "check_in_due"}


@dataclass(frozen=True)
class SourceEvent:
    """What the policies need of an envelope."""

    id: str
    type: str
    time: str
    subject: str
    version: int


@dataclass(frozen=True)
class Plan:
    recipient_id: str
    kind: str
    channel: str
    send_at: datetime
    source: dict[str, Any]
    context: dict[str, Any]
    key: str
    not_sent_because: str | None = None

    @property
    def id(self) -> str:
        return notification_id(self.key)


@dataclass(frozen=True)
class Suppression:
    ids: list[str]
    reason: str


@dataclass(frozen=True)
class Decision:
    schedule: list[Plan] = field(default_factory=list)
    suppress: list[Suppression] = field(default_factory=list)


def _plans(event: SourceEvent, service: str, stream_type: str, recipient_id: str, kind: str,
           channels: Mapping[str, list[str]], send_at: datetime, context: dict[str, Any],
           not_sent_because: str | None = None) -> list[Plan]:
    source = {"service": service, "type": stream_type, "id": event.subject, "event_id": event.id,
              "event_type": event.type}
    return [Plan(recipient_id, kind, channel, send_at, source, context,
                 dedupe_key(event.id, kind, channel, recipient_id), not_sent_because)
            for channel in channels.get(kind, [])]


def interview_context(interview: Mapping[str, Any], contact: Mapping[str, Any] | None, data: Mapping[str, Any],
                      interview_id: str, time_zone: str | None) -> dict[str, Any]:
    contact = contact or {}
    return {"interview_id": interview_id, "contact_id": data.get("contact_id") or interview.get("contact_id"),
            "contact_name": contact.get("name") or interview.get("contact_name"),
            "contact_organisation": contact.get("organisation"), "start": data["start"], "end": data["end"],
            "time_zone": time_zone, "format": interview.get("format"), "link": f"/interviews/{interview_id}",
            "meeting_url": interview.get("meeting_url"), "place": interview.get("place"),
            "objectives": list(interview.get("objectives") or []), "sequence": data.get("sequence")}


def on_interview_time(event: SourceEvent, data: Mapping[str, Any], interview: Mapping[str, Any],
                      contact: Mapping[str, Any] | None, channels: Mapping[str, list[str]], time_zone: str | None,
                      earlier_schedules: list[str]) -> Decision:
    """InterviewScheduled or InterviewRescheduled: reminders for this time; earlier ones are moot."""
    student = data["student_id"]
    zone_name = time_zone or data.get("student_time_zone")
    start = parse(data["start"])
    booked = parse(event.time)
    context = interview_context(interview, contact, data, event.subject, zone_name)
    plans: list[Plan] = []
    for kind, due in reminder_times(start, zone_name).items():
        too_late = "too late: the interview was booked after this reminder's time" if due <= booked else None
        plans += _plans(event, "scheduling", "interview", student, kind, channels, due, context, too_late)
    moot = [Suppression(notification_ids(e, REMINDER_KINDS, student), "the interview was rescheduled")
            for e in earlier_schedules]
    return Decision(plans, moot)


def on_interview_over(student_id: str, schedules: list[str], reason: str) -> Decision:
    """Cancelled, completed or missed: reminders still pending are moot."""
    return Decision([], [Suppression(notification_ids(e, REMINDER_KINDS, student_id), reason) for e in schedules])


def on_follow_up_due(event: SourceEvent, data: Mapping[str, Any], contact: Mapping[str, Any] | None,
                     channels: Mapping[str, list[str]], time_zone: str | None) -> Decision:
    """FollowUpBecameDue: one notification per chosen channel, sent from when it was announced
    (the announcement may come a little after `due_at`; that is not the dispatcher being late)."""
    kind = RULE_KINDS[data["rule"]]
    contact = contact or {}
    context = {"contact_id": data.get("contact_id"), "contact_name": contact.get("name"),
               "contact_organisation": contact.get("organisation"), "rule": data["rule"], "reason": data["reason"],
               "due_at": data["due_at"], "overdue_at": data.get("overdue_at"), "link": data["link"],
               "time_zone": time_zone}
    send_at = max(parse(data["due_at"]), parse(event.time))
    return Decision(_plans(event, "followups", "followup", data["student_id"], kind, channels, send_at, context))


def on_follow_up_decided(student_id: str, announcements: list[tuple[str, str]], reason: str) -> Decision:
    """The student dismissed the item: what was announced (event id, kind) and not sent yet is moot."""
    return Decision([], [Suppression(notification_ids(event_id, [kind], student_id), reason)
                         for event_id, kind in announcements])
