"""The contact directory: each student's contacts, searchable and filterable, built from the stream.

One document per contact, guarded by stream version (redelivery changes nothing). The stage is
derived here with the domain's own rule, from the touchpoints the document keeps; dormancy depends on
the clock, so it is decided at query time from `last_touch_at`.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from services.contacts.domain import DETAIL_FIELDS, derive_stage
from shared.contracts.contacts import CONTACTS
from shared.events import Recorded, isoformat
from shared.projection import Projection, on
from shared.readstore import Collection, Index, Page, ReadStore, Update

DIRECTORY_INDEXES = (
    Index("student_id"), Index("name_key"), Index("status"), Index("stage"), Index("industry_key"),
    Index("organisation_key"), Index("tags", array=True), Index("priority_score"), Index("last_touch_key"),
    Index("added_at"),
)
SORTS = {
    "name": [("name_key", 1)],
    "-priority": [("priority_score", -1), ("name_key", 1)],
    "-last_touch": [("last_touch_key", -1)],
    "-added": [("added_at", -1)],
}


# what a directory entry holds of the professional themself (their sealed fields, and the key of the name)
CONTACT_DATA = ("name", "name_key", "emails", "phone", "linkedin_url", "note")


def directory(read_store: ReadStore) -> Collection:
    return read_store.collection("contact_directory", DIRECTORY_INDEXES)


def _keys(details: dict[str, Any]) -> dict[str, Any]:
    """Lower-cased copies for case-insensitive equality and sorting."""
    keys: dict[str, Any] = {}
    if "name" in details:
        keys["name_key"] = (details["name"] or "").lower()
    for field in ("industry", "organisation"):
        if field in details:
            keys[f"{field}_key"] = (details[field] or "").lower() or None
    return keys


class ContactDirectory(Projection):
    name = "contact-directory"
    version = 1
    catalogs = (CONTACTS,)

    def __init__(self, read_store: ReadStore, **options: Any) -> None:
        super().__init__(read_store, **options)
        self.docs = directory(read_store)
        self.versioned = {CONTACTS.aggregate: self.docs}
        self.erasable = [(self.docs, "student_id")]
        self.contact_erasable = [(self.docs, "_id", CONTACT_DATA)]

    @on("ContactAdded")
    def added(self, envelope: dict[str, Any], event: Recorded) -> None:
        data = event.data
        details = {k: data.get(k) for k in DETAIL_FIELDS}
        details["emails"] = data.get("emails") or []
        self.write(envelope, Update(set={
            **details, **_keys(details), "student_id": data["student_id"], "tags": data.get("tags") or [],
            "status": "active", "merged_into": None, "stage": "target", "touchpoints": [], "last_touch_at": None,
            "last_touch_key": "", "priority_score": 0, "advocacy": None, "motivation": None,
            "check_in_every_weeks": None, "added_at": envelope["time"], "import_id": data.get("import_id"),
        }))

    @on("ContactDetailsChanged")
    def details_changed(self, envelope: dict[str, Any], event: Recorded) -> None:
        changes = dict(event.data)
        if "emails" in changes and changes["emails"] is None:
            changes["emails"] = []
        self.write(envelope, Update(set={**changes, **_keys(changes)}))

    @on("ContactTagged")
    def tagged(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.write(envelope, Update(add_to_set={"tags": event.data["tags"]}))

    @on("ContactUntagged")
    def untagged(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.write(envelope, Update(pull={"tags": event.data["tags"]}))

    @on("ContactPrioritised")
    def prioritised(self, envelope: dict[str, Any], event: Recorded) -> None:
        advocacy, motivation = event.data["advocacy"], event.data["motivation"]
        self.write(envelope, Update(set={"advocacy": advocacy, "motivation": motivation,
                                          "priority_score": advocacy + motivation}))

    @on("CheckInCadenceChanged")
    def cadence_changed(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.write(envelope, Update(set={"check_in_every_weeks": event.data["every_weeks"]}))

    @on("ContactArchived")
    def archived(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.write(envelope, Update(set={"status": "archived"}))

    @on("ContactRestored")
    def restored(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.write(envelope, Update(set={"status": "active"}))

    @on("TouchpointLogged")
    def touchpoint_logged(self, envelope: dict[str, Any], event: Recorded) -> None:
        self._with_touchpoints(envelope, [event.data], Update())

    @on("ContactsMerged")
    def merged(self, envelope: dict[str, Any], event: Recorded) -> None:
        filled = dict(event.data.get("filled") or {})
        update = Update(set={**filled, **_keys(filled)},
                        add_to_set={"emails": event.data.get("emails") or [], "tags": event.data.get("tags") or []})
        self._with_touchpoints(envelope, event.data.get("touchpoints") or [], update)

    @on("ContactAbsorbed")
    def absorbed(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.write(envelope, Update(set={"status": "merged", "merged_into": event.data["into_contact_id"]}))

    def _with_touchpoints(self, envelope: dict[str, Any], new: list[dict[str, Any]], update: Update) -> None:
        """Keep a compact touchpoint list and derive the stage from it with the domain's rule."""
        doc = self.unapplied(envelope)
        if doc is None:
            return  # redelivered: nothing to recompute
        compact = [{"touchpoint_id": t["touchpoint_id"], "kind": t["kind"], "occurred_at": t["occurred_at"]}
                   for t in new]
        touchpoints = list(doc.get("touchpoints") or []) + compact
        last = max((t["occurred_at"] for t in touchpoints), default=None)
        update.set.update({"stage": derive_stage(touchpoints), "last_touch_at": last, "last_touch_key": last or ""})
        update.push["touchpoints"] = compact
        self.write(envelope, update)


def query_directory(docs: Collection, student_id: str, query: dict[str, Any], now: datetime,
                    dormant_after_days: int) -> Page:
    """The page of a student's directory matching the query (see `schemas.DirectoryQuery`)."""
    dormant_before = isoformat(now - timedelta(days=dormant_after_days))
    filter: dict[str, Any] = {"student_id": student_id, "status": query.get("status", "active")}
    if "q" in query:
        filter["name_key"] = {"$contains": query["q"].lower()}
    if "tag" in query:
        filter["tags"] = query["tag"]
    if "industry" in query:
        filter["industry_key"] = query["industry"].lower()
    if "organisation" in query:
        filter["organisation_key"] = query["organisation"].lower()
    if "min_priority" in query:
        filter["priority_score"] = {"$gte": query["min_priority"]}
    stage = query.get("stage")
    if stage == "dormant":
        filter["stage"] = {"$ne": "target"}
        filter["last_touch_key"] = {"$lt": dormant_before}
    elif stage == "target":
        filter["stage"] = "target"
    elif stage:
        filter["stage"] = stage
        filter["last_touch_key"] = {"$gte": dormant_before}
    page = docs.find(filter, SORTS[query.get("sort", "name")], query.get("limit", 50), query.get("cursor"))
    return Page([present(doc, dormant_before) for doc in page.items], page.next_cursor)


def present(doc: dict[str, Any], dormant_before: str) -> dict[str, Any]:
    """A directory entry as the API shows it."""
    stage = doc.get("stage", "target")
    if stage != "target" and (doc.get("last_touch_key") or "") < dormant_before:
        stage = "dormant"
    hidden = {"_id", "_version", "name_key", "industry_key", "organisation_key", "last_touch_key", "touchpoints"}
    entry = {"id": doc["_id"], "version": doc.get("_version", 0)}
    entry.update({k: v for k, v in doc.items() if k not in hidden})
    entry["stage"] = stage
    entry["touch_count"] = len(doc.get("touchpoints") or [])
    return entry
