"""The scheduling service's read side.

- `contact_references`: the contacts the scheduling service may refer to, learned from the contacts
  stream (services never import each other; they talk through events). Used to check that an
  interview names one of the student's own contacts, and for the contact's name and zone.
- `interviews`: each interview's current state, for the student's upcoming/past lists and the feed.
"""
from __future__ import annotations

from typing import Any

from shared.contracts.contacts import CONTACTS
from shared.contracts.scheduling import INTERVIEWS
from shared.events import Recorded
from shared.projection import Projection, on
from shared.readstore import Collection, Index, ReadStore, Update

INTERVIEW_INDEXES = (Index("student_id"), Index("state"), Index("start_key"), Index("contact_id"))


def interviews(read_store: ReadStore) -> Collection:
    return read_store.collection("interviews", INTERVIEW_INDEXES)


def contact_references(read_store: ReadStore) -> Collection:
    return read_store.collection("scheduling_contacts", (Index("student_id"),))


class SchedulingViews(Projection):
    name = "scheduling-views"
    version = 1
    catalogs = (INTERVIEWS, CONTACTS)

    def __init__(self, read_store: ReadStore, **options: Any) -> None:
        super().__init__(read_store, **options)
        self.interviews = interviews(read_store)
        self.contacts = contact_references(read_store)
        self.versioned = {INTERVIEWS.aggregate: self.interviews, CONTACTS.aggregate: self.contacts}
        self.erasable = [(self.interviews, "student_id"), (self.contacts, "student_id")]
        self.contact_erasable = [(self.contacts, "_id", ("name", "emails")),
                                 (self.interviews, "contact_id", ("contact_name", "contact_email"))]

    # -- contacts, as far as scheduling cares ---------------------------------------------------
    @on("ContactAdded")
    def contact_added(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.write(envelope, Update(set={"student_id": event.data["student_id"], "name": event.data["name"],
                                          "time_zone": event.data.get("time_zone"), "merged_into": None,
                                          "emails": event.data.get("emails") or []}))

    @on("ContactDetailsChanged")
    def contact_changed(self, envelope: dict[str, Any], event: Recorded) -> None:
        wanted = {k: v for k, v in event.data.items() if k in ("name", "time_zone", "emails")}
        self.write(envelope, Update(set=wanted))

    @on("ContactAbsorbed")
    def contact_absorbed(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.write(envelope, Update(set={"merged_into": event.data["into_contact_id"]}))

    # -- interviews ---------------------------------------------------------------------------
    @on("InterviewRequested")
    def requested(self, envelope: dict[str, Any], event: Recorded) -> None:
        data = event.data
        self.write(envelope, Update(set={
            **{k: data.get(k) for k in ("student_id", "contact_id", "contact_name", "objectives", "questions",
                                        "format", "link", "place", "duration_minutes", "student_time_zone",
                                        "contact_time_zone", "student_email", "student_name", "contact_email")},
            "state": "requested", "slots": [], "start": None, "end": None, "start_key": "", "time_zone": None,
            "sequence": -1, "previous_times": [], "outcome": {}, "requested_at": envelope["time"]}))

    @on("TimesProposed")
    def proposed(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.write(envelope, Update(set={"state": "proposed"}, push={"slots": event.data["slots"]}))

    @on("InterviewScheduled")
    def scheduled(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.write(envelope, Update(set={"state": "scheduled", **_times(event.data)}))

    @on("InterviewRescheduled")
    def rescheduled(self, envelope: dict[str, Any], event: Recorded) -> None:
        previous = {"start": event.data["previous_start"], "end": event.data["previous_end"]}
        self.write(envelope, Update(set=_times(event.data), push={"previous_times": [previous]}))

    @on("InterviewCancelled")
    def cancelled(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.write(envelope, Update(set={"state": "cancelled", "sequence": event.data["sequence"], "outcome": {
            "cancelled_by": event.data["by"], "reason": event.data.get("reason")}}))

    @on("InterviewCompleted")
    def completed(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.write(envelope, Update(set={"state": "completed", "outcome": {"completed_at": envelope["time"]}}))

    @on("InterviewMissed")
    def missed(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.write(envelope, Update(set={"state": "missed", "outcome": {"no_show": event.data["who"]}}))


def _times(data: dict[str, Any]) -> dict[str, Any]:
    return {"start": data["start"], "end": data["end"], "start_key": data["start"], "time_zone": data["time_zone"],
            "sequence": data["sequence"]}
