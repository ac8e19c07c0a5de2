"""The followups read side: timelines and follow-up queues, from the contacts, scheduling and notes
streams plus each item's own stream (snoozes, dismissals, announcements), and who advises whom.

The collections:

- `followup_sources`: one *facts* document per source stream (a contact, an interview, a note with
  its visibility, a queue item's decisions and announced due times), guarded by stream version, so
  redelivery within a stream changes nothing.
- `followup_items`: the queue. After each batch, every student whose facts changed gets their whole
  queue derived again from their facts by `domain.build_queue` (a pure function), items upserted by
  their deterministic ids and vanished ones deleted. Facts of different streams meet only there, so
  the order in which streams interleave cannot change the result; and a batch that failed halfway
  (MongoDB has no transactions) is healed by its redelivery, which derives the queue again even when
  every fact is a duplicate. While a rebuild catches up, the queues are derived once at its end
  instead (`caught_up`, before the switch-over; every student with facts when the rebuild was resumed).
- `followup_timeline`: one entry per event, keyed by event id (`insert_if_absent`), built from that
  event and its own stream's facts only.
- `followup_advisees`: one document per student's `advising` stream (careerloop.notes.advising.v1),
  guarded by stream version: the student and their advisors (an indexed array), for the advisor view
  and for letting an assigned advisor read a student's queue and timeline. Assignments change no
  queue, so they never derive one again.
- `followup_notifications`: what the timeline needs to know about each notification the student was
  sent (kind, channel, contact), from its NotificationScheduled; its outcome events become entries.
- `followup_versions`: per source stream, the newest version whose effects on the queue and the
  timeline are written (recorded after the queues are derived again; during a rebuild before, as
  nothing reads that generation until `caught_up` derived them): what read-your-writes waits for.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from services.followups.domain import RULES, build_queue, normal, parse, zone
from shared.contracts.contacts import CONTACTS
from shared.contracts.followups import FOLLOWUPS
from shared.contracts.notes import ADVISING, NOTES
from shared.contracts.notifications import NOTIFICATIONS
from shared.contracts.scheduling import INTERVIEWS
from shared.events import Recorded
from shared.keys.fields import ERASED_CONTACT
from shared.projection import Projection, on
from shared.readstore import Collection, Index, ReadStore, Update, iterate

SOURCE_TYPES = {CONTACTS.aggregate, INTERVIEWS.aggregate, NOTES.aggregate, FOLLOWUPS.aggregate}
ITEM_INDEXES = (Index("student_id"), Index("status"), Index("snoozed_until"), Index("overdue_at"), Index("due_at"),
                Index("contact_id"), Index("rule"), Index("due_announced"), Index("completion_recorded"))
TIMELINE_INDEXES = (Index("student_id"), Index("contact_id"), Index("kind"), Index("at"))
TIMELINE_KINDS = ("contact_added", "contact_merged", "outreach", "reply", "conversation", "thank_you", "check_in",
                  "update", "article", "intro", "interview_requested", "interview_scheduled",
                  "interview_rescheduled", "interview_cancelled", "interview_completed", "interview_missed",
                  "note_recorded", "note_revised", "note_deleted", "notification_sent", "notification_failed",
                  "notification_suppressed")
NOTIFICATION_LABELS = {
    "interview_reminder_24h": "Interview reminder (a day ahead)",
    "interview_reminder_1h": "Interview reminder (an hour ahead)",
    "thank_you_due": "Thank-you reminder",
    "follow_up_due": "Follow-up reminder",
    "check_in_due": "Check-in reminder",
    "digest": "Daily digest",
}
CHANNEL_LABELS = {"email": "by e-mail", "webhook": "by webhook", "in_app": "in the app"}
TOUCH_SUMMARIES: dict[str, Callable[[str], str]] = {
    "outreach": lambda n: f"Reached out to {n}",
    "reply": lambda n: f"{n} replied",
    "conversation": lambda n: f"Talked with {n}",
    "thank_you": lambda n: f"Thanked {n}",
    "check_in": lambda n: f"Checked in with {n}",
    "update": lambda n: f"Sent {n} an update",
    "article": lambda n: f"Shared an article with {n}",
    "intro": lambda n: f"Introduction with {n}",
}

# students whose queues `caught_up` derives per read-store batch: a batch's facts and item writes stay
# in memory until its bulk write (about 20 fact documents and 15 items per student)
DERIVE_CHUNK = 500
# up to this many students (a live batch's), their facts and items are read with one query per student
# and collection: an equality FerretDB filters in PostgreSQL, where a `$in` reads the whole collection
# (on MongoDB and SQLite both are index lookups); more (a rebuild's), 200 students per `$in`
FEW_STUDENTS = 8


def sources(read_store: ReadStore) -> Collection:
    return read_store.collection("followup_sources", (Index("student_id"), Index("contact_id")))


def items(read_store: ReadStore) -> Collection:
    return read_store.collection("followup_items", ITEM_INDEXES)


def timeline(read_store: ReadStore) -> Collection:
    return read_store.collection("followup_timeline", TIMELINE_INDEXES)


def versions(read_store: ReadStore) -> Collection:
    return read_store.collection("followup_versions")


def notifications(read_store: ReadStore) -> Collection:
    return read_store.collection("followup_notifications")


def advisees(read_store: ReadStore) -> Collection:
    return read_store.collection("followup_advisees", (Index("student_id"), Index("advisors", array=True)))


def _local(moment: str, time_zone: str | None) -> str:
    local = parse(moment).astimezone(zone(time_zone))
    return f"{local:%a %d %b %Y %H:%M} ({time_zone or 'UTC'})"


class FollowUpViews(Projection):
    name = f"followups-views-rules{RULES['version']}"  # a changed rule is a new group: a rebuild
    version = 3  # 2: advisors, note visibility and announced due times; 3: recorded completions
    stamps_updated_at = False  # facts: the queue is derived from them, the timeline keeps the times
    catalogs = (CONTACTS, INTERVIEWS, NOTES, FOLLOWUPS, ADVISING, NOTIFICATIONS)

    def __init__(self, read_store: ReadStore, **options: Any) -> None:
        super().__init__(read_store, **options)
        self.sources = sources(read_store)
        self.items = items(read_store)
        self.timeline = timeline(read_store)
        self.versions = versions(read_store)
        self.advisees = advisees(read_store)
        self.notifications = notifications(read_store)
        self.versioned = {**{stream_type: self.sources for stream_type in SOURCE_TYPES},
                          ADVISING.aggregate: self.advisees}
        self.erasable = [(c, "student_id") for c in (self.sources, self.items, self.timeline, self.advisees)]
        # a contact's facts, and the interviews' copies of their name (the queue is derived again from them)
        self.contact_erasable = [(self.sources, "_id", ("name",)), (self.sources, "contact_id", ("contact_name",))]
        self._dirty: set[str] = set()  # the students whose queue this batch derives again
        self._seen: dict[str, int] = {}  # per stream, the newest version this batch wrote
        self._facts: dict[str, dict[str, Any]] = {}  # per stream, its facts as this batch last wrote them
        self._deferred: set[str] = set()  # while rebuilding: the students whose queue `caught_up` derives
        self._derive_everyone = False  # while rebuilding a resumed run: every student's queue at `caught_up`

    # -- plumbing ---------------------------------------------------------------------------
    def before_batch(self) -> None:
        self._dirty, self._seen, self._facts = set(), {}, {}

    def begin_rebuild(self, *, resumed: bool) -> None:
        """While a rebuild catches up, queues are derived once per student at the end (`caught_up`),
        not after every batch: a student's streams are spread over topics and partitions, so their
        facts arrive across many batches (about ten re-derivations per student before), and only the
        last derivation was ever kept. Version guards and the facts are written per batch as live."""
        super().begin_rebuild(resumed=resumed)
        self._deferred = set()
        self._derive_everyone = resumed  # an earlier run's students are not in `_deferred`

    def caught_up(self, stop: threading.Event | None = None) -> bool:
        students = set(self._deferred)
        if self._derive_everyone:  # the interrupted run's students too: every student with facts
            students.update(d["student_id"] for d in iterate(self.sources, {}, page_size=2000) if d.get("student_id"))
        ordered = sorted(students)
        for start in range(0, len(ordered), DERIVE_CHUNK):
            if stop is not None and stop.is_set():
                return False  # the facts are all written; a resumed rebuild derives everyone again
            with self.read_store.batch():  # one bulk per chunk: bounded memory, whatever the history
                self.rebuild(*ordered[start:start + DERIVE_CHUNK])
        self._deferred = set()
        return super().caught_up(stop)

    def after_batch(self) -> None:
        if self.rebuilding:
            # nothing queries a generation being built, and the switch-over waits for `caught_up`, so
            # the versions below may be recorded before the queues are derived
            self._deferred |= self._dirty
        else:
            self.rebuild(*sorted(self._dirty))
        known = self.versions.get_many(sorted(self._seen))  # one read for the batch's streams
        for stream_id, version in sorted(self._seen.items()):  # last: the reads may now see it all
            if stream_id not in known:  # read absent just now: an insert (see `rebuild`)
                self.versions.insert_if_absent(stream_id, {"_version": version})
            elif known[stream_id]["_version"] < version:
                self.versions.upsert(stream_id, Update(set={"_version": version}))

    def advance(self, envelope: dict[str, Any], update: Update) -> None:
        """Every version-guarded write, a skipped event's too (a redelivery heals a batch that failed
        halfway), notes its stream's version for read-your-writes and marks the student's queue to be
        derived again after the batch."""
        stream_type, subject = envelope["streamtype"], envelope["subject"]
        if stream_type in SOURCE_TYPES:
            update.set["type"] = stream_type
        super().advance(envelope, update)
        self._seen[subject] = max(self._seen.get(subject, 0), envelope["streamversion"])
        if stream_type in SOURCE_TYPES:  # assignments change no queue
            doc = self._facts[subject] = self.sources.get(subject) or {}
            student_id = doc.get("student_id") or envelope.get("ownerid")
            if student_id:
                self._dirty.add(student_id)

    def _fact(self, envelope: dict[str, Any], update: Update) -> dict[str, Any]:
        """Write one event's facts to its stream's document; the document after it."""
        self.write(envelope, update)
        return self._facts[envelope["subject"]]

    def _current(self, envelope: dict[str, Any]) -> dict[str, Any]:
        return self.sources.get(envelope["subject"]) or {}

    def _entry(self, envelope: dict[str, Any], student_id: str | None, *, kind: str, at: str, summary: str,
               contact_id: str | None, link: str, source: dict[str, Any]) -> None:
        if not student_id:
            return
        self.timeline.add_if_absent(envelope["id"], {  # one entry per event, never read to be written
            "student_id": student_id, "contact_id": contact_id, "kind": kind, "at": normal(at),
            "summary": summary, "link": link, "source": {**source, "event_id": envelope["id"]}})

    def rebuild(self, *student_ids: str) -> None:
        """Derive the students' whole queues from their facts; write only what changed. A few queries
        per collection for all of them (see FEW_STUDENTS), and the item writes stay the batch's one bulk."""
        if not student_ids:
            return
        facts: dict[str, list[dict[str, Any]]] = {s: [] for s in student_ids}
        existing: dict[str, dict[str, dict[str, Any]]] = {s: {} for s in student_ids}
        size = 1 if len(student_ids) <= FEW_STUDENTS else 200
        for chunk in (student_ids[i:i + size] for i in range(0, len(student_ids), size)):
            whose = chunk[0] if len(chunk) == 1 else {"$in": list(chunk)}
            for doc in iterate(self.sources, {"student_id": whose}, page_size=2000):
                facts[doc["student_id"]].append(doc)
            for doc in iterate(self.items, {"student_id": whose}, page_size=2000):
                existing[doc["student_id"]][doc.pop("_id")] = doc
        for student_id in student_ids:
            wanted = {item.pop("_id"): item for item in build_queue(student_id, facts[student_id])}
            # an item belongs to one student, so one the query did not find is absent: inserted, which
            # on FerretDB costs no query (an upsert scans the collection: 6,832 new items of a 10k-event
            # rebuild took 34 s as upserts); if another worker inserted it meanwhile, the batch is redone
            self.items.known({item_id: existing[student_id].get(item_id) for item_id in wanted})
            for item_id, item in wanted.items():
                if item_id not in existing[student_id]:
                    self.items.insert_if_absent(item_id, item)
                elif existing[student_id][item_id] != item:
                    self.items.upsert(item_id, Update(set=item))
            for item_id in existing[student_id].keys() - wanted.keys():
                self.items.delete(item_id)

    def contact_erased(self, student_id: str, contact_id: str) -> None:
        """Redact the facts, then the timeline's sentences that quote the contact's name (as a rebuild
        writes them, from the placeholder), and derive the student's queue again from the redacted facts."""
        names = {d.get("name") or d.get("contact_name") for d in
                 [self.sources.get(contact_id) or {}, *iterate(self.sources, {"contact_id": contact_id})]}
        super().contact_erased(student_id, contact_id)
        for entry in list(iterate(self.timeline, {"contact_id": contact_id})):
            summary = entry.get("summary") or ""
            for name in sorted(filter(None, names), key=len, reverse=True):
                summary = summary.replace(name, ERASED_CONTACT)
            if summary != entry.get("summary"):
                self.timeline.upsert(entry["_id"], Update(set={"summary": summary}))
        self._dirty.add(student_id)

    # -- contacts ---------------------------------------------------------------------------
    @on("ContactAdded")
    def contact_added(self, envelope: dict[str, Any], event: Recorded) -> None:
        data = event.data
        doc = self._fact(envelope, Update(set={
            "student_id": data["student_id"], "name": data["name"], "organisation": data.get("organisation"),
            "organisation_key": (data.get("organisation") or "").strip().lower() or None,
            "time_zone": data.get("time_zone"), "tags": data.get("tags") or [], "status": "active",
            "merged_into": None, "merged_from": [], "touchpoints": []}))
        where = f" ({data['organisation']})" if data.get("organisation") else ""
        self._entry(envelope, doc.get("student_id"), kind="contact_added", at=envelope["time"],
                    summary=f"Added {data['name']}{where}", contact_id=envelope["subject"],
                    link=f"/contacts/{envelope['subject']}",
                    source={"service": "contacts", "type": "contact", "id": envelope["subject"]})

    @on("ContactDetailsChanged")
    def contact_changed(self, envelope: dict[str, Any], event: Recorded) -> None:
        wanted = {k: v for k, v in event.data.items() if k in ("name", "organisation", "time_zone")}
        if "organisation" in wanted:
            wanted["organisation_key"] = (wanted["organisation"] or "").strip().lower() or None
        self.write(envelope, Update(set=wanted))

    @on("ContactTagged")
    def tagged(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.write(envelope, Update(add_to_set={"tags": event.data["tags"]}))

    @on("ContactUntagged")
    def untagged(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.write(envelope, Update(pull={"tags": event.data["tags"]}))

    @on("CheckInCadenceChanged")
    def cadence_changed(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.write(envelope, Update(set={"check_in_every_weeks": event.data["every_weeks"]}))

    @on("ContactArchived")
    def archived(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.write(envelope, Update(set={"status": "archived"}))

    @on("ContactRestored")
    def restored(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.write(envelope, Update(set={"status": "active"}))

    @on("ContactAbsorbed")
    def absorbed(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.write(envelope, Update(set={"status": "merged", "merged_into": event.data["into_contact_id"]}))

    @on("TouchpointLogged")
    def touchpoint(self, envelope: dict[str, Any], event: Recorded) -> None:
        data = event.data
        doc = self._fact(envelope, Update(push={"touchpoints": [
            {"id": data["touchpoint_id"], "kind": data["kind"], "at": normal(data["occurred_at"])}]}))
        summary = TOUCH_SUMMARIES[data["kind"]](doc.get("name") or "a contact")
        if data.get("channel"):
            summary += f" ({data['channel']})"
        self._entry(
            envelope,
            doc.get("student_id"),
            kind=data["kind"],
            at=data["occurred_at"],
            summary=summary,
            contact_id=envelope["subject"],
            link=data.get("url") or f"/contacts/{envelope['subject']}/touchpoints",
            source={"service": "contacts", "type": "touchpoint", "id": data["touchpoint_id"]},
        )

    @on("ContactsMerged")
    def merged(self, envelope: dict[str, Any], event: Recorded) -> None:
        data = event.data
        current = self._current(envelope)
        known = {t["id"] for t in current.get("touchpoints") or []}
        moved = [{"id": t["touchpoint_id"], "kind": t["kind"], "at": normal(t["occurred_at"])}
                 for t in data.get("touchpoints") or [] if t["touchpoint_id"] not in known]
        filled = {k: v for k, v in (data.get("filled") or {}).items() if k in ("organisation", "time_zone")}
        if "organisation" in filled:
            filled["organisation_key"] = (filled["organisation"] or "").strip().lower() or None
        doc = self._fact(envelope, Update(set=filled, push={"touchpoints": moved},
                                           add_to_set={"merged_from": [data["merged_contact_id"]],
                                                       "tags": data.get("tags") or []}))
        self._entry(envelope, doc.get("student_id"), kind="contact_merged", at=envelope["time"],
                    summary=f"Merged a duplicate into {doc.get('name') or 'this contact'}",
                    contact_id=envelope["subject"], link=f"/contacts/{envelope['subject']}",
                    source={"service": "contacts", "type": "contact", "id": envelope["subject"]})

    # -- interviews -------------------------------------------------------------------------
    def _interview_entry(self, envelope: dict[str, Any], data: dict[str, Any], kind: str, summary: str) -> None:
        self._entry(envelope, data["student_id"], kind=kind, at=envelope["time"], summary=summary,
                    contact_id=data["contact_id"], link=f"/interviews/{envelope['subject']}",
                    source={"service": "scheduling", "type": "interview", "id": envelope["subject"]})

    @on("InterviewRequested")
    def requested(self, envelope: dict[str, Any], event: Recorded) -> None:
        data = event.data
        self.write(envelope, Update(set={
            "student_id": data["student_id"], "contact_id": data["contact_id"],
            "contact_name": data.get("contact_name"), "state": "requested", "start": None, "end": None,
            "student_time_zone": data["student_time_zone"], "zone_at": normal(envelope["time"])}))
        self._interview_entry(envelope, data, "interview_requested",
                              f"Requested an informational interview with {data.get('contact_name') or 'a contact'}")

    def _times(self, envelope: dict[str, Any], data: dict[str, Any], state: str) -> dict[str, Any]:
        doc = self._fact(envelope, Update(set={
            "student_id": data["student_id"], "contact_id": data["contact_id"], "state": state,
            "start": normal(data["start"]), "end": normal(data["end"]) if data.get("end") else None,
            "student_time_zone": data["student_time_zone"], "zone_at": normal(envelope["time"])}))
        return doc

    @on("InterviewScheduled")
    def scheduled(self, envelope: dict[str, Any], event: Recorded) -> None:
        data = event.data
        doc = self._times(envelope, data, "scheduled")
        self._interview_entry(envelope, data, "interview_scheduled",
                              f"Interview with {doc.get('contact_name') or 'a contact'} scheduled for "
                              f"{_local(data['start'], data['student_time_zone'])}")

    @on("InterviewRescheduled")
    def rescheduled(self, envelope: dict[str, Any], event: Recorded) -> None:
        data = event.data
        doc = self._times(envelope, data, "scheduled")
        self._interview_entry(envelope, data, "interview_rescheduled",
                              f"Interview with {doc.get('contact_name') or 'a contact'} moved to "
                              f"{_local(data['start'], data['student_time_zone'])}")

    @on("InterviewCancelled")
    def cancelled(self, envelope: dict[str, Any], event: Recorded) -> None:
        data = event.data
        doc = self._fact(envelope, Update(set={"state": "cancelled"}))
        self._interview_entry(envelope, data, "interview_cancelled",
                              f"Interview with {doc.get('contact_name') or 'a contact'} cancelled by the {data['by']}")

    @on("InterviewCompleted")
    def completed(self, envelope: dict[str, Any], event: Recorded) -> None:
        data = event.data
        doc = self._times(envelope, data, "completed")
        self._interview_entry(envelope, data, "interview_completed",
                              f"Had the informational interview with {doc.get('contact_name') or 'a contact'}")

    @on("InterviewMissed")
    def missed(self, envelope: dict[str, Any], event: Recorded) -> None:
        data = event.data
        doc = self._fact(envelope, Update(set={"state": "missed"}))
        who = "You" if data["who"] == "student" else (doc.get("contact_name") or "The contact")
        self._interview_entry(envelope, data, "interview_missed", f"Interview missed: {who} did not show up")

    # -- notes ------------------------------------------------------------------------------
    def _note_entry(self, envelope: dict[str, Any], doc: dict[str, Any], kind: str, summary: str) -> None:
        self._entry(envelope, doc.get("student_id"), kind=kind, at=envelope["time"], summary=summary,
                    contact_id=doc.get("contact_id"), link=f"/notes/{envelope['subject']}",
                    source={"service": "notes", "type": "note", "id": envelope["subject"],
                            "interview_id": doc.get("interview_id")})

    @on("NoteRecorded")
    def note_recorded(self, envelope: dict[str, Any], event: Recorded) -> None:
        data = event.data
        doc = self._fact(envelope, Update(set={
            "student_id": data["student_id"], "contact_id": data.get("contact_id"),
            "interview_id": data.get("interview_id"), "visibility": data["visibility"], "deleted": False,
            "action_items": []}))
        self._note_entry(envelope, doc, "note_recorded", "Recorded a note" + (
            " about the interview" if data.get("interview_id") else ""))

    @on("NoteRevised")
    def note_revised(self, envelope: dict[str, Any], event: Recorded) -> None:
        doc = self._fact(envelope, Update())
        self._note_entry(envelope, doc, "note_revised", f"Revised a note (revision {event.data['revision']})")

    @on("NoteVisibilityChanged")
    def note_visibility(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.write(envelope, Update(set={"visibility": event.data["visibility"]}))

    @on("NoteDeleted")
    def note_deleted(self, envelope: dict[str, Any], event: Recorded) -> None:
        doc = self._fact(envelope, Update(set={"deleted": True, "action_items": []}))
        self._note_entry(envelope, doc, "note_deleted", "Deleted a note")

    def _items_change(
        self, envelope: dict[str, Any], change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]
    ) -> None:
        """Action items are a list in the note's facts; the change is computed from the current
        document, which is exactly the state before this event whenever the event is new."""
        current = [dict(i) for i in self._current(envelope).get("action_items") or []]
        self.write(envelope, Update(set={"action_items": change(current)}))

    @on("ActionItemAdded")
    def item_added(self, envelope: dict[str, Any], event: Recorded) -> None:
        data = event.data
        added = {"item_id": data["item_id"], "text": data["text"], "due_on": data.get("due_on"),
                 "time_zone": data.get("time_zone"), "contact_id": data.get("contact_id"), "completed": False,
                 "completed_at": None, "added_at": normal(envelope["time"])}
        self._items_change(envelope, lambda items: [i for i in items if i["item_id"] != data["item_id"]] + [added])

    def _edit(self, envelope: dict[str, Any], item_id: str, **changes: Any) -> None:
        self._items_change(envelope, lambda items: [{**i, **changes} if i["item_id"] == item_id else i for i in items])

    @on("ActionItemChanged")
    def item_changed(self, envelope: dict[str, Any], event: Recorded) -> None:
        data = event.data
        self._edit(
            envelope, data["item_id"], text=data["text"], due_on=data.get("due_on"), time_zone=data.get("time_zone")
        )

    @on("ActionItemCompleted")
    def item_completed(self, envelope: dict[str, Any], event: Recorded) -> None:
        self._edit(envelope, event.data["item_id"], completed=True, completed_at=normal(envelope["time"]))

    @on("ActionItemReopened")
    def item_reopened(self, envelope: dict[str, Any], event: Recorded) -> None:
        data = event.data
        self._edit(envelope, data["item_id"], completed=False, completed_at=None, text=data["text"],
                   due_on=data.get("due_on"), time_zone=data.get("time_zone"))

    @on("ActionItemRemoved")
    def item_removed(self, envelope: dict[str, Any], event: Recorded) -> None:
        item_id = event.data["item_id"]
        self._items_change(envelope, lambda items: [i for i in items if i["item_id"] != item_id])

    # -- the student's decisions --------------------------------------------------------------
    @on("FollowUpSnoozed")
    def snoozed(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.write(envelope, Update(set={"student_id": event.data["student_id"],
                                          "snoozed_until": normal(event.data["until"])}))

    @on("FollowUpDismissed")
    def dismissed(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.write(envelope, Update(set={"student_id": event.data["student_id"], "dismissed": True,
                                          "dismissed_reason": event.data.get("reason")}))

    @on("FollowUpBecameDue")
    def became_due(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.write(envelope, Update(set={"student_id": event.data["student_id"]},
                                     add_to_set={"announced": [normal(event.data["due_at"])]}))

    @on("FollowUpCompleted")
    def completed_recorded(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.write(envelope, Update(set={"student_id": event.data["student_id"]},
                                     add_to_set={"completed": [normal(event.data["due_at"])]}))

    # -- who advises whom -----------------------------------------------------------------------
    @on("AdvisorAssigned")
    def advisor_assigned(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.write(envelope, Update(set={"student_id": event.data["student_id"]},
                                        add_to_set={"advisors": [event.data["advisor_id"]]}))

    @on("AdvisorUnassigned")
    def advisor_unassigned(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.write(envelope, Update(set={"student_id": event.data["student_id"]},
                                        pull={"advisors": [event.data["advisor_id"]]}))

    # -- notifications the student got (or did not get, and why) --------------------------------
    # Only the timeline needs them, never the queue: a notification's kind, channel and contact come
    # from its first event (Scheduled) into `followup_notifications`, and its outcome events become
    # entries keyed by event id. A stream's events share a partition, so Scheduled is always there
    # first; both writes are idempotent, so redelivery changes nothing.
    @on("NotificationScheduled")
    def notification_scheduled(self, envelope: dict[str, Any], event: Recorded) -> None:
        data = event.data
        self.notifications.upsert(envelope["subject"], Update(set={
            "student_id": data["recipient_id"], "kind": data["kind"], "channel": data["channel"],
            "contact_id": (data.get("context") or {}).get("contact_id")}))

    def _notification_entry(self, envelope: dict[str, Any], event: Recorded, kind: str, outcome: str) -> None:
        facts = self.notifications.get(envelope["subject"]) or {}
        label = NOTIFICATION_LABELS.get(facts.get("kind", ""), "Notification")
        channel = CHANNEL_LABELS.get(event.data.get("channel") or facts.get("channel", ""), "")
        self._entry(envelope, event.data["recipient_id"], kind=kind, at=envelope["time"],
                    summary=" ".join(part for part in (label, outcome.format(channel=channel)) if part),
                    contact_id=facts.get("contact_id"), link=f"/notifications/{envelope['subject']}",
                    source={"service": "notifications", "type": "notification", "id": envelope["subject"]})

    @on("NotificationSent")
    def notification_sent(self, envelope: dict[str, Any], event: Recorded) -> None:
        late = " (late)" if event.data.get("late") else ""
        self._notification_entry(envelope, event, "notification_sent",
                                 "sent {channel}" + late + f": {event.data['subject']}")

    @on("NotificationFailed")
    def notification_failed(self, envelope: dict[str, Any], event: Recorded) -> None:
        if event.data["final"]:  # attempts that will be retried are not news to the student
            self._notification_entry(envelope, event, "notification_failed",
                                     "could not be delivered {channel}: " + event.data["reason"])

    @on("NotificationSuppressed")
    def notification_suppressed(self, envelope: dict[str, Any], event: Recorded) -> None:
        self._notification_entry(envelope, event, "notification_suppressed", "not sent: " + event.data["reason"])
