"""`python -m services.notifications.policy_worker`: the notifications-policies process.

It consumes the contacts, scheduling and followups topics, keeps the facts the policies need (a
contact's name, an interview's request details and every time it was given, each follow-up
item's announcements) in version-guarded documents, and carries out what `policies` decide:
append `NotificationScheduled` at expected version 0 (the dedupe record) or suppress what became
moot. Every action is idempotent on its own, and each is taken again whenever its event is handled
again, whether the facts write was a duplicate or not: on MongoDB a batch can fail halfway (no
transactions), and its redelivery must finish what the first attempt began. A replay from offset 0
under a new consumer group finds every notification stream already taken and schedules nothing.

The recipient's channels and time zone come from their preferences, loaded from the event store
(authoritative; no read-model lag).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from services.notifications import policies
from services.notifications.application import NotificationsService
from services.notifications.domain import Preferences
from services.notifications.projections import contact_facts, followup_facts, interview_facts
from shared.contracts.contacts import CONTACTS
from shared.contracts.followups import FOLLOWUPS
from shared.contracts.scheduling import INTERVIEWS
from shared.events import Metadata, Recorded
from shared.eventstore import EventStore
from shared.process import Running
from shared.projection import Projection, on
from shared.readstore import ReadStore, Update

log = logging.getLogger("careerloop.notifications.policies")
ACTOR = "system:notifications-policies"


class NotificationPolicies(Projection):
    name = "notifications-policies"
    version = 1
    catalogs = (CONTACTS, INTERVIEWS, FOLLOWUPS)
    stamps_updated_at = False

    def __init__(self, read_store: ReadStore, store: EventStore | None = None, **options: Any) -> None:
        """Without `store` the instance only declares its collections (the init step, tools)."""
        super().__init__(read_store, **options)
        self._service = NotificationsService(store, webhook_key="") if store is not None else None
        self.contacts = contact_facts(read_store)
        self.interviews = interview_facts(read_store)
        self.followups = followup_facts(read_store)
        self.versioned = {CONTACTS.aggregate: self.contacts, INTERVIEWS.aggregate: self.interviews,
                          FOLLOWUPS.aggregate: self.followups}
        self.erasable = [(c, "student_id") for c in (self.contacts, self.interviews, self.followups)]
        self.contact_erasable = [(self.contacts, "_id", ("name",)),
                                 (self.interviews, "contact_id", ("contact_name", "contact_email"))]

    # -- plumbing -------------------------------------------------------------------------------
    def _facts(self, envelope: dict[str, Any], update: Update) -> dict[str, Any]:
        """Write the event's facts (a redelivery changes nothing); the document as it is now."""
        self.write(envelope, update)
        return self.versioned[envelope["streamtype"]].get(envelope["subject"]) or {}

    @staticmethod
    def _source(envelope: dict[str, Any]) -> policies.SourceEvent:
        return policies.SourceEvent(envelope["id"], envelope["type"], envelope["time"], envelope["subject"],
                                    envelope["streamversion"])

    def _carry_out(self, envelope: dict[str, Any], decision: policies.Decision) -> None:
        meta = Metadata(actor=ACTOR, correlation_id=envelope.get("correlationid") or envelope["id"],
                        causation_id=envelope["id"])
        scheduled = self.service.carry_out(decision, meta)
        if scheduled:
            log.info("scheduled %d notifications from %s %s", len(scheduled), envelope["type"], envelope["id"])

    def _preferences(self, user_id: str) -> Preferences:
        return self.service.get_preferences(user_id)

    @property
    def service(self) -> NotificationsService:
        if self._service is None:
            raise RuntimeError("the policy worker needs the notifications event store to act")
        return self._service

    # -- contacts -------------------------------------------------------------------------------
    @on("ContactAdded")
    def contact_added(self, envelope: dict[str, Any], event: Recorded) -> None:
        data = event.data
        self._facts(envelope, Update(set={"student_id": data["student_id"], "name": data["name"],
                                          "organisation": data.get("organisation")}))

    @on("ContactDetailsChanged")
    def contact_changed(self, envelope: dict[str, Any], event: Recorded) -> None:
        self._facts(envelope, Update(set={k: v for k, v in event.data.items() if k in ("name", "organisation")}))

    # -- interviews -----------------------------------------------------------------------------
    @on("InterviewRequested")
    def requested(self, envelope: dict[str, Any], event: Recorded) -> None:
        data = event.data
        self._facts(envelope, Update(set={
            "student_id": data["student_id"], "contact_id": data["contact_id"],
            "contact_name": data.get("contact_name"), "format": data["format"], "meeting_url": data.get("link"),
            "place": data.get("place"), "objectives": data.get("objectives") or [],
            "student_time_zone": data["student_time_zone"],
            # the invite's ORGANIZER and ATTENDEEs (RFC 5546), as scheduling's own invite names them
            "student_email": data.get("student_email"), "student_name": data.get("student_name"),
            "contact_email": data.get("contact_email"), "schedules": []}))

    def _time_given(self, envelope: dict[str, Any], event: Recorded) -> None:
        """Scheduled or rescheduled: remember this time's event, then plan from the event itself."""
        data = event.data
        interview = self._facts(envelope, Update(add_to_set={"schedules": [
            {"event_id": envelope["id"], "version": envelope["streamversion"]}]}))
        earlier = [s["event_id"] for s in interview.get("schedules") or [] if s["version"] < envelope["streamversion"]]
        preferences = self._preferences(data["student_id"])
        contact = self.contacts.get(data["contact_id"])
        self._carry_out(envelope, policies.on_interview_time(
            self._source(envelope), data, interview, contact, preferences.channels,
            preferences.time_zone, earlier))

    scheduled = on("InterviewScheduled")(lambda self, envelope, event: self._time_given(envelope, event))
    rescheduled = on("InterviewRescheduled")(lambda self, envelope, event: self._time_given(envelope, event))

    def _over(self, envelope: dict[str, Any], event: Recorded, reason: str) -> None:
        interview = self._facts(envelope, Update())
        schedules = [
            s["event_id"] for s in interview.get("schedules") or [] if s["version"] < envelope["streamversion"]
        ]
        self._carry_out(envelope, policies.on_interview_over(event.data["student_id"], schedules, reason))

    @on("InterviewCancelled")
    def cancelled(self, envelope: dict[str, Any], event: Recorded) -> None:
        self._over(envelope, event, "the interview was cancelled")

    @on("InterviewCompleted")
    def completed(self, envelope: dict[str, Any], event: Recorded) -> None:
        self._over(envelope, event, "the interview took place")

    @on("InterviewMissed")
    def missed(self, envelope: dict[str, Any], event: Recorded) -> None:
        self._over(envelope, event, "the interview was missed")

    # -- follow-ups -----------------------------------------------------------------------------
    @on("FollowUpBecameDue")
    def became_due(self, envelope: dict[str, Any], event: Recorded) -> None:
        data = event.data
        kind = policies.RULE_KINDS[data["rule"]]
        self._facts(envelope, Update(set={"student_id": data["student_id"]}, add_to_set={"announcements": [
            {"event_id": envelope["id"], "version": envelope["streamversion"], "kind": kind}]}))
        preferences = self._preferences(data["student_id"])
        contact = self.contacts.get(data["contact_id"]) if data.get("contact_id") else None
        self._carry_out(envelope, policies.on_follow_up_due(self._source(envelope), data, contact,
                                                            preferences.channels, preferences.time_zone))

    def _decided(self, envelope: dict[str, Any], event: Recorded, reason: str) -> None:
        item = self._facts(envelope, Update(set={"student_id": event.data["student_id"]}))
        announced = [(a["event_id"], a["kind"]) for a in item.get("announcements") or []
                     if a["version"] < envelope["streamversion"]]
        self._carry_out(envelope, policies.on_follow_up_decided(event.data["student_id"], announced, reason))

    @on("FollowUpDismissed")
    def dismissed(self, envelope: dict[str, Any], event: Recorded) -> None:
        self._decided(envelope, event, "the follow-up was dismissed")


def main(argv: list[str] | None = None) -> int:
    """The policy worker's command line: that of every projection worker (its facts are a read model;
    a rebuild replays the topics and finds every notification already scheduled)."""
    from shared.runtime import projection_main

    def bind(process: Running) -> Callable[..., NotificationPolicies]:
        store = process.event_store("notifications")  # every client is created here, in this process
        return lambda read_store, **options: NotificationPolicies(read_store, store, **options)

    return projection_main(NotificationPolicies, argv, bind=bind)


if __name__ == "__main__":
    raise SystemExit(main())
