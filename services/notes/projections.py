"""The notes service's read side, one projection (`notes-views`) over five topics.

- `note_search`: each note's current content plus the terms it is found by (`words`, see `search`)
  and its contact's name, organisation and industry, for the student's search and an advisor's list.
  A deleted note's document keeps only its id, owner, `status: deleted` and version (the version
  guard must survive, or a redelivered older event would rebuild the note): its content leaves.
- `notes_contacts`, `notes_interviews`: the contacts and interviews a note may refer to, learned
  from the contacts and scheduling streams (services never import or call each other): to check
  references and objectives, and to search notes by the contact's organisation and industry.
- `note_access_log`: one row per advisor read, keyed by event id (a redelivery adds nothing).
- `advisor_assignments`: each student's advisors, for an advisor's list of students. (Access to
  notes is decided on the write side; see `application`.)

Topics are not ordered relative to each other, so a note may arrive before its contact or after
the contact changed. Both ways converge: a note takes its contact's details from the reference when
it is recorded, and every change of a contact is copied onto its notes from the reference as it is
*after* the change (never from the event itself), so a redelivered old event cannot undo a newer one.
"""
from __future__ import annotations

from typing import Any

from services.notes import search
from shared.contracts.contacts import CONTACTS
from shared.contracts.notes import ADVISING, NOTE_ACCESS_LOGS, NOTES
from shared.contracts.scheduling import INTERVIEWS
from shared.events import Recorded
from shared.projection import Projection, on
from shared.readstore import Collection, Index, Page, ReadStore, Update, iterate

NOTE_INDEXES = (
    Index("student_id"), Index("status"), Index("visibility"), Index("contact_id"), Index("interview_id"),
    Index("organisation_key"), Index("industry_key"), Index("tag_keys", array=True),
    Index("categories", array=True), Index("words", array=True), Index("recorded_at"), Index("open_actions"),
)
CONTENT = ("revision", "text", "insights", "action_items", "tags", "objectives_covered", "time_zone")
DERIVED = ("words", "tag_keys", "categories", "open_actions")
CONTACT_DETAILS = ("contact_name", "organisation", "organisation_key", "industry", "industry_key")
# What a deleted note's document keeps: enough to stay version-guarded and sorted, nothing written.
TOMBSTONE = ("_id", "_version", "student_id", "status", "recorded_at", "updated_at")
HIDDEN = {"_id", "_version", "status", "words", "tag_keys", "organisation_key", "industry_key", "updated_at"}
# What an advisor's list shows: which conversations there are notes on, not what they say (reading
# one is a recorded access).
SUMMARY = ("interview_id", "contact_id", "contact_name", "organisation", "industry", "tags", "categories",
           "revision", "open_actions", "recorded_at", "revised_at")


def note_search(read_store: ReadStore) -> Collection:
    return read_store.collection("note_search", NOTE_INDEXES)


def contact_references(read_store: ReadStore) -> Collection:
    return read_store.collection("notes_contacts", (Index("student_id"),))


def interview_references(read_store: ReadStore) -> Collection:
    return read_store.collection("notes_interviews", (Index("student_id"),))


def access_log(read_store: ReadStore) -> Collection:
    return read_store.collection("note_access_log", (Index("student_id"), Index("note_id"), Index("advisor_id"),
                                                     Index("at")))


def assignments(read_store: ReadStore) -> Collection:
    return read_store.collection("advisor_assignments", (Index("student_id"), Index("advisors", array=True)))


def _unique(values: Any) -> list[Any]:
    return list(dict.fromkeys(v for v in values if v is not None))


def written(data: dict[str, Any]) -> dict[str, Any]:
    """A revision's content and what is derived from it for searching."""
    items = data["action_items"]
    texts = [data["text"], *(i["text"] for i in data["insights"]), *(i["text"] for i in items), *data["tags"],
             *data["objectives_covered"]]
    return {**{name: data.get(name) for name in CONTENT}, "words": search.index_terms(texts),
            "tag_keys": _unique(search.key(t) for t in data["tags"]),
            "categories": _unique(i["category"] for i in data["insights"]),
            "open_actions": sum(1 for i in items if not i["completed"])}


class NotesViews(Projection):
    name = "notes-views"
    version = 1
    catalogs = (NOTES, NOTE_ACCESS_LOGS, ADVISING, CONTACTS, INTERVIEWS)

    def __init__(self, read_store: ReadStore, **options: Any) -> None:
        super().__init__(read_store, **options)
        self.search = note_search(read_store)
        self.contacts = contact_references(read_store)
        self.interviews = interview_references(read_store)
        self.access_log = access_log(read_store)
        self.assignments = assignments(read_store)
        self.versioned = {NOTES.aggregate: self.search, ADVISING.aggregate: self.assignments,
                          CONTACTS.aggregate: self.contacts, INTERVIEWS.aggregate: self.interviews}
        self.erasable = [(c, "student_id") for c in (self.search, self.contacts, self.interviews, self.access_log,
                                                     self.assignments)]
        self.contact_erasable = [(self.contacts, "_id", ("name",)), (self.search, "contact_id", ("contact_name",))]

    # -- notes --------------------------------------------------------------------------------
    @on("NoteRecorded")
    def recorded(self, envelope: dict[str, Any], event: Recorded) -> None:
        data = event.data
        self.write(envelope, Update(set={
            **written(data), **self._contact_details(data.get("contact_id")), "student_id": data["student_id"],
            "interview_id": data.get("interview_id"), "contact_id": data.get("contact_id"),
            "visibility": data["visibility"], "status": "active", "recorded_at": envelope["time"],
            "revised_at": envelope["time"]}))

    @on("NoteRevised")
    def revised(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.write(envelope, Update(set={**written(event.data), "revised_at": envelope["time"]}))

    @on("NoteVisibilityChanged")
    def visibility_changed(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.write(envelope, Update(set={"visibility": event.data["visibility"]}))

    @on("ActionItemCompleted")
    def item_completed(self, envelope: dict[str, Any], event: Recorded) -> None:
        self._set_completed(envelope, event.data["item_id"], True)

    @on("ActionItemReopened")
    def item_reopened(self, envelope: dict[str, Any], event: Recorded) -> None:
        self._set_completed(envelope, event.data["item_id"], False)

    @on("NoteDeleted")
    def deleted(self, envelope: dict[str, Any], event: Recorded) -> None:
        doc = self.search.get(envelope["subject"]) or {}
        gone = sorted((set(doc) | set(CONTENT) | set(DERIVED) | set(CONTACT_DETAILS)) - set(TOMBSTONE))
        self.write(envelope, Update(set={"status": "deleted"}, unset=gone))

    def _set_completed(self, envelope: dict[str, Any], item_id: str, completed: bool) -> None:
        doc = self.unapplied(envelope)
        if doc is None:
            return  # redelivered: nothing to recompute
        items = [{**i, "completed": completed} if i["item_id"] == item_id else i for i in doc.get("action_items") or []]
        self.write(envelope, Update(set={"action_items": items,
                                          "open_actions": sum(1 for i in items if not i["completed"])}))

    # -- contacts and interviews, as far as notes care ------------------------------------------
    @on("ContactAdded")
    def contact_added(self, envelope: dict[str, Any], event: Recorded) -> None:
        data = event.data
        self.write(envelope, Update(set={"student_id": data["student_id"], "name": data["name"],
                                          "organisation": data.get("organisation"),
                                          "industry": data.get("industry"), "merged_into": None}))
        self._copy_contact(envelope["subject"])

    @on("ContactDetailsChanged")
    def contact_changed(self, envelope: dict[str, Any], event: Recorded) -> None:
        wanted = {k: v for k, v in event.data.items() if k in ("name", "organisation", "industry")}
        self.write(envelope, Update(set=wanted))
        if wanted:
            self._copy_contact(envelope["subject"])

    @on("ContactsMerged")
    def contacts_merged(self, envelope: dict[str, Any], event: Recorded) -> None:
        filled = {k: v for k, v in (event.data.get("filled") or {}).items() if k in ("organisation", "industry")}
        self.write(envelope, Update(set=filled))
        if filled:
            self._copy_contact(envelope["subject"])

    @on("ContactAbsorbed")
    def contact_absorbed(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.write(envelope, Update(set={"merged_into": event.data["into_contact_id"]}))

    @on("InterviewRequested")
    def interview_requested(self, envelope: dict[str, Any], event: Recorded) -> None:
        data = event.data
        self.write(envelope, Update(set={"student_id": data["student_id"], "contact_id": data["contact_id"],
                                          "objectives": data["objectives"],
                                          "student_time_zone": data["student_time_zone"]}))

    def _contact_details(self, contact_id: str | None) -> dict[str, Any]:
        contact = (self.contacts.get(contact_id) if contact_id else None) or {}
        return {"contact_name": contact.get("name"),
                "organisation": contact.get("organisation"),
                "organisation_key": search.key(contact.get("organisation")),
                "industry": contact.get("industry"), "industry_key": search.key(contact.get("industry"))}

    def _copy_contact(self, contact_id: str) -> None:
        """Copy the contact's details, as they are now, onto each of its notes that differs."""
        details = self._contact_details(contact_id)
        for doc in iterate(self.search, {"contact_id": contact_id}, [("_id", 1)]):
            if any(doc.get(name) != value for name, value in details.items()):
                self.search.upsert(doc["_id"], Update(set=details))

    # -- advisors and the access log --------------------------------------------------------------
    @on("AdvisorAssigned")
    def advisor_assigned(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.write(envelope, Update(set={"student_id": event.data["student_id"]},
                                     add_to_set={"advisors": [event.data["advisor_id"]]}))

    @on("AdvisorUnassigned")
    def advisor_unassigned(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.write(envelope, Update(pull={"advisors": [event.data["advisor_id"]]}))

    @on("NoteAccessed")
    def note_accessed(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.access_log.insert_if_absent(envelope["id"], {
            "student_id": event.data["student_id"], "note_id": event.data["note_id"],
            "advisor_id": event.data["advisor_id"], "at": envelope["time"]})


# -- queries ------------------------------------------------------------------------------------
def query_notes(docs: Collection, student_id: str, query: dict[str, Any]) -> Page:
    """A page of the student's notes matching the query (see `schemas.NotesQuery`), newest first."""
    filter: dict[str, Any] = {"student_id": student_id, "status": "active"}
    if "q" in query:
        filter["words"] = {"$all": search.query_terms(query["q"])}
    if "tag" in query:
        filter["tag_keys"] = search.key(query["tag"])
    for name in ("category", "contact_id", "interview_id", "visibility"):
        if name in query:
            filter["categories" if name == "category" else name] = query[name]
    for name in ("organisation", "industry"):
        if name in query:
            filter[f"{name}_key"] = search.key(query[name])
    if "open_actions" in query:
        filter["open_actions"] = {"$gt": 0} if query["open_actions"] else 0
    return docs.find(filter, [("recorded_at", -1)], query.get("limit", 50), query.get("cursor"))


def present(doc: dict[str, Any]) -> dict[str, Any]:
    """A note as its owner's search shows it."""
    return {"id": doc["_id"], "version": doc.get("_version", 0), **{k: v for k, v in doc.items() if k not in HIDDEN}}


def summary(doc: dict[str, Any]) -> dict[str, Any]:
    """A shared note as an advisor's list shows it: no content."""
    return {"id": doc["_id"], "version": doc.get("_version", 0), **{k: doc.get(k) for k in SUMMARY}}
