"""The Interview aggregate, the student's schedule (no overlaps) and local-time rules. Pure Python."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from shared.aggregate import Aggregate, applies
from shared.events import isoformat

# Questions a student can start from, by category (the classic informational-interview set).
STARTER_QUESTIONS: dict[str, tuple[str, ...]] = {
    "trends": ("What changes do you see coming in this industry over the next few years?",
               "Which skills are becoming more valuable in your field?"),
    "insights": ("What does a typical week look like in your role?",
                 "What do you enjoy most about your work, and what is hardest?"),
    "advice": ("What do you wish you had known when you were starting out?",
               "How would you prepare for a role like yours if you were in my position?"),
    "resources": ("Which publications, communities or events do you follow?",
                  "Is there anyone else you think I should talk to?"),
    "assignments": ("Is there a small project I could do to test my interest in this field?",),
}
OPEN, SCHEDULED = ("requested", "proposed"), "scheduled"
FINISHED = ("completed", "missed", "cancelled")


class TimeError(ValueError):
    """A local time that does not exist in its zone, or an unknown zone."""


def to_utc(local: datetime, zone: str) -> datetime:
    """The instant a local wall-clock time in `zone` names.

    A time given with an offset is already an instant. A wall time skipped by a daylight-saving
    jump (02:30 on a spring-forward night) does not exist and is refused; a wall time that happens
    twice (01:30 on a fall-back night) means its first occurrence, as calendar apps assume."""
    tz = ZoneInfo(zone)
    if local.tzinfo is not None:
        return local.astimezone(UTC)
    aware = local.replace(tzinfo=tz, fold=0)
    instant = aware.astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) != local:
        raise TimeError(f"{local.isoformat()} does not exist in {zone} (the clocks jump over it)")
    return instant


def local_time(instant_utc: str, zone: str) -> str:
    """An instant as wall-clock time with offset in `zone` (for people, invites and reminders)."""
    return parse_utc(instant_utc).astimezone(ZoneInfo(zone)).isoformat()


def parse_utc(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass(frozen=True)
class SlotChoice:
    start: datetime  # aware
    time_zone: str


class Interview(Aggregate):
    stream_type = "interview"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.state = "new"
        self.request: dict[str, Any] = {}
        self.slots: dict[str, dict[str, Any]] = {}
        self.start: str | None = None
        self.end: str | None = None
        self.time_zone: str | None = None
        self.sequence = -1  # iCalendar SEQUENCE of the last invite sent; 0 for the first
        self.history: list[dict[str, Any]] = []
        self.outcome: dict[str, Any] = {}

    # -- commands ---------------------------------------------------------------------------
    @classmethod
    def request_with(cls, interview_id: str, student_id: str, contact_id: str, *, objectives: list[str],
                     questions: list[dict[str, str]], starter_categories: Iterable[str] = (), format: str,
                     link: str | None = None, place: str | None = None, duration_minutes: int = 30,
                     student_time_zone: str, contact_time_zone: str | None = None,
                     contact_name: str | None = None, contact_email: str | None = None,
                     student_email: str | None = None, student_name: str | None = None) -> Interview:
        interview = cls(interview_id)
        starters = [{"text": q, "category": c} for c in starter_categories for q in STARTER_QUESTIONS[c]]
        interview.require(5 <= duration_minutes <= 240, "an interview lasts 5 to 240 minutes")
        interview.record("InterviewRequested", student_id=student_id, contact_id=contact_id,
                         contact_name=contact_name, contact_email=contact_email, student_email=student_email,
                         student_name=student_name, objectives=objectives, questions=list(questions) + starters,
                         format=format, link=link, place=place, duration_minutes=duration_minutes,
                         student_time_zone=student_time_zone,
                         contact_time_zone=contact_time_zone or student_time_zone)
        return interview

    def propose(self, slots: list[tuple[str, SlotChoice]], now: datetime) -> None:
        self._require_state(OPEN, "propose times")
        for _, choice in slots:
            self._require_future(choice.start, now)
        self.record("TimesProposed", slots=[
            {"slot_id": slot_id, "start": isoformat(choice.start), "end": isoformat(self._end(choice.start)),
             "time_zone": choice.time_zone} for slot_id, choice in slots])

    def schedule(self, choice: SlotChoice | None, slot_id: str | None, now: datetime) -> None:
        self._require_state(OPEN, "schedule it")
        if slot_id is not None:
            self.require(slot_id in self.slots, f"no proposed slot {slot_id}", slot_id=slot_id)
            slot = self.slots[slot_id]
            choice = SlotChoice(parse_utc(slot["start"]), slot["time_zone"])
        assert choice is not None
        self._require_future(choice.start, now)
        self.record("InterviewScheduled", slot_id=slot_id, **self._times(choice), sequence=0)

    def reschedule(self, choice: SlotChoice, now: datetime) -> None:
        self._require_state((SCHEDULED,), "reschedule it")
        self._require_future(choice.start, now)
        if isoformat(choice.start) == self.start:
            return
        self.record("InterviewRescheduled", previous_start=self.start, previous_end=self.end,
                    **self._times(choice), sequence=self.sequence + 1)

    def cancel(self, by: str, reason: str | None) -> None:
        self._require_state(OPEN + (SCHEDULED,), "cancel it")
        self.record("InterviewCancelled", by=by, reason=reason, sequence=self.sequence + 1, **self._parties())

    def complete(self, now: datetime) -> None:
        self._require_state((SCHEDULED,), "mark it completed")
        self.require(parse_utc(self.start or "") <= now, "an interview cannot be completed before it starts")
        self.record("InterviewCompleted", start=self.start, end=self.end,
                    student_time_zone=self.request["student_time_zone"], **self._parties())

    def miss(self, who: str, now: datetime) -> None:
        self._require_state((SCHEDULED,), "mark it missed")
        self.require(parse_utc(self.start or "") <= now, "an interview cannot be missed before it starts")
        self.record("InterviewMissed", who=who, start=self.start, **self._parties())

    # -- rules --------------------------------------------------------------------------------
    def _require_state(self, allowed: tuple[str, ...], action: str) -> None:
        self.require(self.state in allowed, f"a {self.state} interview cannot {action}", state=self.state)

    def _require_future(self, start: datetime, now: datetime) -> None:
        self.require(start > now, "a time slot cannot be in the past", start=isoformat(start))

    def _end(self, start: datetime) -> datetime:
        return start + timedelta(minutes=self.request["duration_minutes"])

    def _parties(self) -> dict[str, str]:
        return {"student_id": self.request["student_id"], "contact_id": self.request["contact_id"]}

    def _times(self, choice: SlotChoice) -> dict[str, Any]:
        return {"start": isoformat(choice.start), "end": isoformat(self._end(choice.start)),
                "time_zone": choice.time_zone, "student_time_zone": self.request["student_time_zone"],
                "contact_time_zone": self.request["contact_time_zone"], **self._parties()}

    # -- state changes ------------------------------------------------------------------------
    @applies("InterviewRequested")
    def _requested(self, data: dict[str, Any]) -> None:
        self.owner_id = data["student_id"]
        self.request = dict(data)
        self.state = "requested"

    @applies("TimesProposed")
    def _proposed(self, data: dict[str, Any]) -> None:
        self.slots.update({s["slot_id"]: dict(s) for s in data["slots"]})
        self.state = "proposed"

    @applies("InterviewScheduled")
    def _scheduled(self, data: dict[str, Any]) -> None:
        self._set_time(data)
        self.state = SCHEDULED

    @applies("InterviewRescheduled")
    def _rescheduled(self, data: dict[str, Any]) -> None:
        self.history.append({"start": data["previous_start"], "end": data["previous_end"]})
        self._set_time(data)

    @applies("InterviewCancelled")
    def _cancelled(self, data: dict[str, Any]) -> None:
        self.state = "cancelled"
        self.sequence = data["sequence"]
        self.outcome = {"cancelled_by": data["by"], "reason": data.get("reason")}

    @applies("InterviewCompleted")
    def _completed(self, data: dict[str, Any]) -> None:
        self.state = "completed"

    @applies("InterviewMissed")
    def _missed(self, data: dict[str, Any]) -> None:
        self.state = "missed"
        self.outcome = {"no_show": data["who"]}

    def _set_time(self, data: dict[str, Any]) -> None:
        self.start, self.end, self.time_zone = data["start"], data["end"], data["time_zone"]
        self.sequence = data["sequence"]


class StudentSchedule(Aggregate):
    """A student's calendar: the times booked (the ledger that keeps interviews from overlapping)
    and the generation of the secret URL that publishes it as a feed.

    A separate stream per student, so two concurrent bookings of overlapping times cannot both
    win: the second append loses the race on this stream and is re-decided on fresh state."""

    stream_type = "student_schedule"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.bookings: dict[str, tuple[str, str]] = {}
        self.feed_generation = 0  # 0 until the first rotation: the URL handed out before rotation existed

    @staticmethod
    def stream_for(student_id: str) -> str:
        return f"schedule-{student_id}"

    def book(self, interview_id: str, start: str, end: str) -> None:
        for other, (other_start, other_end) in self.bookings.items():
            if other != interview_id and start < other_end and other_start < end:
                self.require(False, f"overlaps interview {other} ({other_start} – {other_end})",
                             clashing_interview_id=other, clash_start=other_start, clash_end=other_end)
        if self.bookings.get(interview_id) != (start, end):
            self.record("InterviewSlotBooked", interview_id=interview_id, start=start, end=end)

    def release(self, interview_id: str) -> None:
        if interview_id in self.bookings:
            self.record("InterviewSlotReleased", interview_id=interview_id)

    def rotate_feed(self, student_id: str) -> None:
        self.record("CalendarFeedRotated", student_id=student_id, generation=self.feed_generation + 1)

    @applies("InterviewSlotBooked")
    def _booked(self, data: dict[str, Any]) -> None:
        self.bookings[data["interview_id"]] = (data["start"], data["end"])

    @applies("InterviewSlotReleased")
    def _released(self, data: dict[str, Any]) -> None:
        self.bookings.pop(data["interview_id"], None)

    @applies("CalendarFeedRotated")
    def _feed_rotated(self, data: dict[str, Any]) -> None:
        self.feed_generation = data["generation"]
