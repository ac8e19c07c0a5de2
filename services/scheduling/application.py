"""The scheduling use cases: load → act → save, with ownership, contact references and no overlaps.

No overlap between a student's scheduled interviews is kept by a second stream per student (the
`StudentSchedule` ledger): a booking is appended there first, with optimistic concurrency, then the
interview records its time; if that fails the booking is released. A booking left behind by a crash
in between is recognised as stale (its interview does not hold that time) and ignored.
"""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from marshmallow import ValidationError

from services.scheduling.domain import Interview, SlotChoice, StudentSchedule, to_utc
from shared.auth import Principal
from shared.contracts.scheduling import INTERVIEWS, STUDENT_SCHEDULES
from shared.errors import ConcurrencyConflict, NotFound, PreconditionFailed, RuleViolated
from shared.events import Metadata, utcnow
from shared.eventstore import EventStore
from shared.readstore import Collection
from shared.repository import RETRIES_ON_LOST_RACE, Accepted, Repository


class SchedulingService:
    def __init__(self, store: EventStore, contacts: Collection, *, clock: Callable[[], datetime] = utcnow,
                 reference_wait_seconds: float = 3.0) -> None:
        self.interviews: Repository[Interview] = Repository(store, INTERVIEWS, Interview)
        self.schedules: Repository[StudentSchedule] = Repository(store, STUDENT_SCHEDULES, StudentSchedule)
        self.contacts = contacts
        self.clock = clock
        self.reference_wait_seconds = reference_wait_seconds

    # -- reading ----------------------------------------------------------------------------
    def get(self, interview_id: str, principal: Principal) -> Interview:
        interview = self.interviews.load(interview_id)
        if not interview.exists or not (principal.has("admin") or interview.owner_id == principal.subject):
            raise NotFound(f"interview {interview_id} not found")
        return interview

    def _contact(self, student_id: str, contact_id: str) -> dict[str, Any]:
        """The student's contact, as the contacts stream told us; waits briefly for a just-added one."""
        deadline = time.monotonic() + self.reference_wait_seconds
        while True:
            contact = self.contacts.get(contact_id)
            if contact is not None and contact.get("student_id") == student_id:
                if contact.get("merged_into"):
                    raise ValidationError({"contact_id": [f"this contact was merged into {contact['merged_into']}"]})
                return contact
            if time.monotonic() >= deadline:
                raise ValidationError({"contact_id": ["not one of your contacts"]})
            time.sleep(0.05)

    # -- commands ---------------------------------------------------------------------------
    def request(self, student_id: str, body: dict[str, Any], principal: Principal, meta: Metadata) -> Accepted:
        contact = self._contact(student_id, body["contact_id"])
        # The caller's token speaks for the student only when the caller is the student (not an admin
        # acting for them): its address becomes the invite's ORGANIZER for every later SEQUENCE.
        own = principal.subject == student_id
        interview = Interview.request_with(
            str(uuid.uuid4()), student_id, body["contact_id"], objectives=body["objectives"],
            questions=body.get("questions", []), starter_categories=body.get("starter_questions", []),
            format=body["format"], link=body.get("link"), place=body.get("place"),
            duration_minutes=body.get("duration_minutes", 30), student_time_zone=body["time_zone"],
            contact_time_zone=body.get("contact_time_zone") or contact.get("time_zone") or body["time_zone"],
            contact_name=contact.get("name"), contact_email=next(iter(contact.get("emails") or []), None),
            student_email=principal.email if own and "@" in (principal.email or "") else None,
            student_name=principal.name if own else None)
        commit = self.interviews.save(interview, meta)
        return Accepted(interview.id, commit.last_version if commit else interview.version)

    def _execute(self, interview_id: str, principal: Principal, expected_version: int | None, meta: Metadata,
                 act: Callable[[Interview], None]) -> tuple[Interview, Accepted]:
        return self.interviews.update(interview_id, meta, act, expected_version=expected_version,
                                      load=lambda iid: self.get(iid, principal))

    def propose(self, interview_id: str, slots: list[dict[str, Any]], principal: Principal, meta: Metadata,
                expected_version: int | None = None) -> Accepted:
        choices = [(uuid.uuid4().hex[:12], SlotChoice(to_utc(s["start"], s["time_zone"]), s["time_zone"]))
                   for s in slots]
        return self._execute(interview_id, principal, expected_version, meta,
                             lambda i: i.propose(choices, self.clock()))[1]

    def schedule(self, interview_id: str, body: dict[str, Any], principal: Principal, meta: Metadata,
                 expected_version: int | None = None) -> Accepted:
        choice = SlotChoice(to_utc(body["start"], body["time_zone"]), body["time_zone"]) if "start" in body else None
        return self._with_booking(interview_id, principal, expected_version, meta,
                                  lambda i: i.schedule(choice, body.get("slot_id"), self.clock()))

    def reschedule(self, interview_id: str, body: dict[str, Any], principal: Principal, meta: Metadata,
                   expected_version: int | None = None) -> Accepted:
        choice = SlotChoice(to_utc(body["start"], body["time_zone"]), body["time_zone"])
        return self._with_booking(interview_id, principal, expected_version, meta,
                                  lambda i: i.reschedule(choice, self.clock()))

    def cancel(self, interview_id: str, by: str, reason: str | None, principal: Principal, meta: Metadata,
               expected_version: int | None = None) -> Accepted:
        interview, accepted = self._execute(interview_id, principal, expected_version, meta,
                                            lambda i: i.cancel(by, reason))
        self._update_schedule(interview.owner_id or "", meta, lambda s: s.release(interview_id))
        return accepted

    def complete(self, interview_id: str, principal: Principal, meta: Metadata,
                 expected_version: int | None = None) -> Accepted:
        return self._execute(interview_id, principal, expected_version, meta, lambda i: i.complete(self.clock()))[1]

    def miss(self, interview_id: str, who: str, principal: Principal, meta: Metadata,
             expected_version: int | None = None) -> Accepted:
        return self._execute(interview_id, principal, expected_version, meta, lambda i: i.miss(who, self.clock()))[1]

    # -- the calendar feed ----------------------------------------------------------------------
    def feed_generation(self, student_id: str) -> int:
        return self.schedules.load(StudentSchedule.stream_for(student_id)).feed_generation

    def rotate_feed(self, student_id: str, meta: Metadata) -> int:
        """Give the student's feed a new secret URL; the previous URL stops working at once."""
        self._update_schedule(student_id, meta, lambda s: s.rotate_feed(student_id))
        return self.feed_generation(student_id)

    # -- the no-overlap ledger ------------------------------------------------------------------
    def _with_booking(self, interview_id: str, principal: Principal, expected_version: int | None,
                      meta: Metadata, act: Callable[[Interview], None]) -> Accepted:
        """Decide on the interview, book its new time on the student's schedule, then save it."""
        current = self.get(interview_id, principal)
        if expected_version is not None and expected_version != current.version:
            raise PreconditionFailed(str(expected_version), current.version)
        probe = self.interviews.load(interview_id)
        act(probe)  # the interview's own rules first: a refused command books nothing
        if not probe.pending:
            return Accepted(interview_id, current.version)
        student = current.owner_id or ""
        previous = (current.start, current.end or "") if current.start else None
        self._update_schedule(student, meta, lambda s: self._book(s, interview_id, probe.start or "", probe.end or ""))
        try:
            return self._execute(interview_id, principal, current.version, meta, act)[1]
        except BaseException:
            restore = (
                (lambda s: self._book(s, interview_id, *previous)) if previous else (lambda s: s.release(interview_id))
            )
            self._update_schedule(student, meta, restore)
            raise

    def _book(self, schedule: StudentSchedule, interview_id: str, start: str, end: str) -> None:
        """Book, ignoring stale bookings: ones whose interview does not hold that time (any more)."""
        for _ in range(len(schedule.bookings) + 1):
            try:
                schedule.book(interview_id, start, end)
                return
            except RuleViolated as clash:
                other = clash.details["clashing_interview_id"]
                held = self.interviews.load(str(other))
                if held.state == "scheduled" and (held.start, held.end) == schedule.bookings.get(str(other)):
                    raise
                schedule.release(str(other))

    def _update_schedule(self, student_id: str, meta: Metadata, act: Callable[[StudentSchedule], None]) -> None:
        for attempt in range(RETRIES_ON_LOST_RACE):
            schedule = self.schedules.load(StudentSchedule.stream_for(student_id))
            schedule.owner_id = student_id
            act(schedule)
            try:
                self.schedules.save(schedule, meta)
                return
            except ConcurrencyConflict:  # another booking for this student landed first: decide again
                if attempt == RETRIES_ON_LOST_RACE - 1:
                    raise


