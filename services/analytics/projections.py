"""The analytics read side, one projection (`analytics-funnel`) over the pseudonymised journey topic
and the roster topic. It never reads a domain topic of another service, so the read models hold no
personal data by construction: students, contacts and interviews are pseudonyms, and the roster's
student ids are turned into the same student pseudonyms here (`Pseudonymiser.student`) and dropped.

The collections (all written idempotently: each change is a set union or a minimum, so redelivery,
replay and any order of two events give the same documents):

- `analytics_pairs`: per student–contact pair, the moments of its signals (outreach, reply,
  scheduled, thank-you with its hours, check-in, follow-up done) and of each held interview, and
  the steps they make under this projection's definition (`domain.pair_steps`, and whether the
  thank-you was on time), derived again whenever a signal is added.
- `analytics_interviews`: per interview, when it was scheduled, held, missed (by whom) or
  cancelled (by whom).
- `analytics_contacts`: per contact, its industry and organisation (categorical values).
- `analytics_cohorts`: per student, every roster record (attributes from a day on).
- `analytics_activity`: per student and ISO week, the first moment they did anything that week.
- `analytics_meta`: the definition the read models are built with, the moment of the newest journey
  event applied and when the last batch was: what every answer names as its definition version and
  freshness.

The funnel definition is part of the projection's version (`Definition.version`): a new definition
is a new consumer group, built beside the live read models by the generations rebuild
(`python -m services.analytics.worker --rebuild`) and switched over when caught up.
"""
from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from services.analytics.cells import Facts
from services.analytics.domain import Calendar, Definition, pair_steps, thank_you_on_time, week_of
from services.analytics.pseudonyms import Pseudonymiser
from shared.bus import Message
from shared.contracts.analytics import JOURNEY_TOPIC, ROSTER
from shared.events import Recorded, isoformat, parse_type, utcnow
from shared.keys.personal import PersonalData
from shared.keys.vault import SubjectErased
from shared.projection import Projection, on
from shared.readstore import Collection, Index, ReadStore, Update, iterate
from shared.times import normal

log = logging.getLogger("careerloop.analytics")

# The journey vocabulary this read side understands (version 1 of each type), see ANALYTICS-SPEC.
JOURNEY_TYPES = ("StudentActivated", "ContactAdded", "OutreachSent", "ReplyReceived", "CheckInMade",
                 "InterviewRequested", "InterviewScheduled", "InterviewRescheduled", "InterviewCancelled",
                 "InterviewHeld", "InterviewMissed", "ThankYouSent", "NoteRecorded", "ActionItemCompleted",
                 "FollowUpBecameDue", "FollowUpDone")
JOURNEY_VERSION = 1
NOT_ACTIVITY = ("FollowUpBecameDue",)  # announced by the platform, not done by the student
META_ID = "funnel"


def pairs(read_store: ReadStore) -> Collection:
    return read_store.collection("analytics_pairs", (Index("student"),))


def interviews(read_store: ReadStore) -> Collection:
    return read_store.collection("analytics_interviews", (Index("student"),))


def contacts(read_store: ReadStore) -> Collection:
    return read_store.collection("analytics_contacts")


def cohorts(read_store: ReadStore) -> Collection:
    return read_store.collection("analytics_cohorts")


def activity(read_store: ReadStore) -> Collection:
    return read_store.collection("analytics_activity", (Index("week"),))


def meta(read_store: ReadStore) -> Collection:
    return read_store.collection("analytics_meta")


def _union(values: list[Any], value: Any) -> list[Any]:
    return values if value in values else sorted([*values, value], key=json.dumps)


class FunnelViews(Projection):
    name = "analytics-funnel"
    catalogs = (ROSTER,)
    stamps_updated_at = False
    holds_personal_data = False  # pseudonymised facts: counts stay after an erasure (it only acknowledges)

    def __init__(self, read_store: ReadStore, *, namespace: str = "", rules: Definition | None = None,
                 pseudonymiser: Pseudonymiser | None = None, personal: PersonalData | None = None) -> None:
        super().__init__(read_store, namespace=namespace, personal=personal)
        self.rules = rules or Definition(1)
        self.version = self.rules.version  # type: ignore[misc]  # a new definition is a new group: a rebuild
        self.pseudonymiser = pseudonymiser
        self.pairs = pairs(read_store)
        self.interviews = interviews(read_store)
        self.contacts = contacts(read_store)
        self.cohorts = cohorts(read_store)
        self.activity = activity(read_store)
        self.meta = meta(read_store)
        self._newest = ""

    @property
    def topics(self) -> list[str]:
        return sorted({*super().topics, self.namespace + JOURNEY_TOPIC})

    def decode(self, message: Message) -> tuple[dict[str, Any], Recorded | None]:
        """Journey events are integration events (no domain catalogue): their data is read as it is;
        a version this code does not know is skipped, like an unknown domain event."""
        envelope = json.loads(message.value)
        parsed = parse_type(envelope.get("type", "")) if isinstance(envelope, dict) else None
        if parsed is not None and parsed[0] == "analytics" and parsed[1] in JOURNEY_TYPES:
            if parsed[2] != JOURNEY_VERSION:
                log.warning("skipping journey event of unknown version %s", envelope.get("type"))
                return envelope, None
            data = envelope.get("data")
            if not isinstance(data, dict) or not isinstance(data.get("student"), str):
                raise ValueError(f"{envelope.get('type')} {envelope.get('id')} has no student pseudonym")
            return envelope, Recorded(parsed[1], data)
        return super().decode(message)

    def before_batch(self) -> None:
        self._newest = ""

    def after_batch(self) -> None:
        known = self.meta.get(META_ID) or {}
        newest = max(self._newest, known.get("last_event_at") or "")
        self.meta.upsert(META_ID, Update(set={"definition": self.rules.describe(), "last_event_at": newest or None,
                                               "updated_at": isoformat(utcnow())}))

    # -- plumbing -----------------------------------------------------------------------------
    def _moment(self, envelope: dict[str, Any], data: dict[str, Any]) -> str:
        moment = normal(data.get("occurred_at") or envelope["time"])
        self._newest = max(self._newest, moment)
        return moment

    def _journey(self, envelope: dict[str, Any], event: Recorded) -> str:
        """Every journey event: its moment, and the student's activity that week."""
        moment = self._moment(envelope, event.data)
        if event.name not in NOT_ACTIVITY:
            student = event.data["student"]
            week = week_of(moment)
            doc_id = f"{student}:{week}"
            known = self.activity.get(doc_id)
            if known is None or known["first_at"] > moment:
                self.activity.upsert(doc_id, Update(set={"student": student, "week": week, "first_at": moment}))
        return moment

    def _pair(self, data: dict[str, Any], change: Callable[[dict[str, Any]], bool]) -> None:
        """Change a pair's signals or held interviews (`change` says whether it changed anything);
        its steps under this projection's definition are kept with them, for the queries."""
        if not data.get("contact"):
            return
        doc_id = f"{data['student']}:{data['contact']}"
        doc = self.pairs.get(doc_id) or {}
        pair = {"signals": dict(doc.get("signals") or {}), "held": dict(doc.get("held") or {})}
        if change(pair):
            self.pairs.upsert(doc_id, Update(set={
                "student": data["student"], "contact": data["contact"], **pair,
                "steps": pair_steps(pair, self.rules), "on_time": thank_you_on_time(pair, self.rules)}))

    def _signal(self, data: dict[str, Any], signal: str, value: Any) -> None:
        def add(pair: dict[str, Any]) -> bool:
            known = pair["signals"].get(signal) or []
            pair["signals"][signal] = _union(list(known), value)
            return pair["signals"][signal] != known

        self._pair(data, add)

    def _interview(self, data: dict[str, Any], **fields: Any) -> None:
        doc_id = data["interview"]
        doc = self.interviews.get(doc_id) or {}
        # the earliest moment of each fact wins, so a redelivered or reordered event changes nothing
        changed = {name: value for name, value in fields.items()
                   if not name.endswith("_at") and doc.get(name) is None
                   or name.endswith("_at") and (doc.get(name) is None or value < doc[name])}
        if changed or not doc:
            self.interviews.upsert(doc_id, Update(set={"student": data["student"], "contact": data.get("contact"),
                                                       **changed}))

    # -- the journey ----------------------------------------------------------------------------
    @on("StudentActivated")
    def student_activated(self, envelope: dict[str, Any], event: Recorded) -> None:
        self._journey(envelope, event)

    @on("ContactAdded")
    def contact_added(self, envelope: dict[str, Any], event: Recorded) -> None:
        self._journey(envelope, event)
        data = event.data
        self.contacts.upsert(data["contact"], Update(set={"industry": data.get("industry") or "other",
                                                          "organisation": data.get("organisation")}))

    @on("OutreachSent")
    def outreach_sent(self, envelope: dict[str, Any], event: Recorded) -> None:
        self._signal(event.data, "outreach", self._journey(envelope, event))

    @on("ReplyReceived")
    def reply_received(self, envelope: dict[str, Any], event: Recorded) -> None:
        self._signal(event.data, "reply", self._journey(envelope, event))

    @on("CheckInMade")
    def check_in_made(self, envelope: dict[str, Any], event: Recorded) -> None:
        self._signal(event.data, "check_in", self._journey(envelope, event))

    @on("InterviewRequested")
    def interview_requested(self, envelope: dict[str, Any], event: Recorded) -> None:
        self._interview(event.data, requested_at=self._journey(envelope, event))

    @on("InterviewScheduled")
    def interview_scheduled(self, envelope: dict[str, Any], event: Recorded) -> None:
        moment = self._journey(envelope, event)
        self._interview(event.data, scheduled_at=moment)
        self._signal(event.data, "scheduled", moment)

    @on("InterviewRescheduled")
    def interview_rescheduled(self, envelope: dict[str, Any], event: Recorded) -> None:
        self._journey(envelope, event)

    @on("InterviewCancelled")
    def interview_cancelled(self, envelope: dict[str, Any], event: Recorded) -> None:
        self._interview(event.data, cancelled_at=self._journey(envelope, event),
                        cancelled_by=event.data.get("cancelled_by") or "other")

    @on("InterviewHeld")
    def interview_held(self, envelope: dict[str, Any], event: Recorded) -> None:
        moment = self._journey(envelope, event)
        data = event.data
        self._interview(data, held_at=moment)

        def hold(pair: dict[str, Any]) -> bool:
            if pair["held"].get(data["interview"], "9999") <= moment:
                return False
            pair["held"][data["interview"]] = moment
            return True

        self._pair(data, hold)

    @on("InterviewMissed")
    def interview_missed(self, envelope: dict[str, Any], event: Recorded) -> None:
        self._interview(event.data, missed_at=self._journey(envelope, event), missed_by=event.data.get("missed_by"))

    @on("ThankYouSent")
    def thank_you_sent(self, envelope: dict[str, Any], event: Recorded) -> None:
        hours = event.data.get("hours_after_interview")
        self._signal(event.data, "thank_you", {"at": self._journey(envelope, event),
                                               "hours": float(hours) if hours is not None else None})

    @on("NoteRecorded")
    def note_recorded(self, envelope: dict[str, Any], event: Recorded) -> None:
        self._journey(envelope, event)

    @on("ActionItemCompleted")
    def action_item_completed(self, envelope: dict[str, Any], event: Recorded) -> None:
        self._journey(envelope, event)

    @on("FollowUpBecameDue")
    def follow_up_became_due(self, envelope: dict[str, Any], event: Recorded) -> None:
        self._journey(envelope, event)

    @on("FollowUpDone")
    def follow_up_done(self, envelope: dict[str, Any], event: Recorded) -> None:
        moment = self._journey(envelope, event)
        if event.data.get("outcome", "done") == "done":
            self._signal(event.data, "follow_up_done", moment)

    # -- the roster -------------------------------------------------------------------------------
    @on("SubjectErased")
    def subject_erased(self, envelope: dict[str, Any], event: Recorded) -> None:
        if self.pseudonymiser is not None:
            self.pseudonymiser.forget()  # an erased student's roster rows find no pseudonym from now on
        super().subject_erased(envelope, event)

    @on("StudentCohortRecorded")
    def cohort_recorded(self, envelope: dict[str, Any], event: Recorded) -> None:
        if self.pseudonymiser is None:
            raise RuntimeError("the analytics projection needs the pseudonymiser to read the roster")
        data = event.data
        try:
            student = self.pseudonymiser.student(data["student_id"])  # the raw id goes no further
        except SubjectErased:
            return  # an erased student's row: it can no longer be joined to their pseudonym, by design
        record = {name: data.get(name) for name in ("effective_from", "program", "college", "degree_level",
                                                    "class_year", "expected_graduation")}
        doc = self.cohorts.get(student) or {}
        records = [r for r in doc.get("records") or [] if r["effective_from"] != record["effective_from"]]
        if record not in (doc.get("records") or []):
            # one record per day: the one recorded last for that day (stream order) stands
            records = sorted([*records, record], key=lambda r: r["effective_from"])
            self.cohorts.upsert(student, Update(set={"records": records}))


# -- queries ------------------------------------------------------------------------------------
@dataclass
class ReadModels:
    """The analytics collections as the API reads them (following the current generation)."""

    pairs: Collection
    interviews: Collection
    contacts: Collection
    cohorts: Collection
    activity: Collection
    meta: Collection

    @classmethod
    def of(cls, read_store: ReadStore) -> ReadModels:
        return cls(pairs(read_store), interviews(read_store), contacts(read_store), cohorts(read_store),
                   activity(read_store), meta(read_store))

    def __post_init__(self) -> None:
        self._cached: tuple[str, Facts] | None = None
        # an API worker's threads asking at once after a batch read the read models once, not each
        self._loading = threading.Lock()

    def facts(self, *, with_activity: bool = False) -> Facts:
        """Every document a query aggregates. Kept in this process until the projection applies its
        next batch (the meta document's `updated_at` changes with every batch, after its writes), so
        questions about unchanged data do not read the read models again; the weekly activity only
        when a question needs it."""
        def every(collection: Collection) -> list[dict[str, Any]]:
            return list(iterate(collection, {}, page_size=2000))

        with self._loading:
            version = (self.meta.get(META_ID) or {}).get("updated_at")
            if self._cached is None or self._cached[0] != version or version is None:
                facts = Facts(pairs=every(self.pairs), interviews=every(self.interviews),
                              contacts={d["_id"]: d for d in every(self.contacts)},
                              cohorts={d["_id"]: d.get("records") or [] for d in every(self.cohorts)})
                self._cached = (version, facts) if version is not None else None
            else:
                facts = self._cached[1]
            if with_activity and facts.activity is None:
                facts.activity = every(self.activity)
            return facts

    def state(self) -> dict[str, Any]:
        """The definition the read models were built with, and how fresh they are."""
        doc = self.meta.get(META_ID) or {}
        return {"definition": doc.get("definition"), "last_event_at": doc.get("last_event_at"),
                "updated_at": doc.get("updated_at")}


def calendar_of(settings: Any) -> Calendar:
    return Calendar.parse(settings.get("ACADEMIC_TERMS"), settings.get("ACADEMIC_YEAR_START"))
