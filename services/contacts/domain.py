"""The Contact aggregate and the rules of a relationship. Pure Python: no web, storage or schemas."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from shared.aggregate import Aggregate, applies
from shared.events import isoformat

DETAIL_FIELDS = ("name", "emails", "phone", "linkedin_url", "organisation", "title", "industry",
                 "location", "time_zone", "source", "note")
STUDENT_TOUCHES = ("outreach", "check_in", "update", "article", "intro")
KEEPING_IN_TOUCH = ("check_in", "update", "article", "intro")
STAGES = ("target", "contacted", "replied", "interviewed", "following_up", "ongoing", "dormant")
# A touchpoint is something that happened: allow for clock skew, refuse the future.
FUTURE_TOLERANCE = timedelta(minutes=5)


def fingerprint(name: str, organisation: str | None) -> str:
    """Name and organisation folded: how an import recognises a row with no e-mail or profile URL."""
    fold = lambda s: " ".join((s or "").lower().split())  # noqa: E731
    return f"{fold(name)}|{fold(organisation)}"


def derive_stage(touchpoints: Iterable[dict[str, Any]]) -> str:
    """The relationship stage from what happened, never typed by hand.

    target → contacted (the student reached out) → replied → interviewed (a conversation was held)
    → following_up (thanked after the conversation) → ongoing (kept in touch after it). Dormancy is
    time-based and is applied at read time (see `is_dormant`).
    """
    ordered = sorted(touchpoints, key=lambda t: t["occurred_at"])
    kinds = [t["kind"] for t in ordered]
    if not kinds:
        return "target"
    if "conversation" in kinds:
        after = kinds[kinds.index("conversation") + 1:]
        if any(k in KEEPING_IN_TOUCH for k in after):
            return "ongoing"
        return "following_up" if "thank_you" in after else "interviewed"
    if "reply" in kinds:
        return "replied"
    return "contacted"


def is_dormant(stage: str, last_touch_at: str | None, now: datetime, dormant_after_days: int) -> bool:
    return (stage != "target" and last_touch_at is not None
            and last_touch_at < isoformat(now - timedelta(days=dormant_after_days)))


class Contact(Aggregate):
    stream_type = "contact"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.details: dict[str, Any] = {}
        self.tags: list[str] = []
        self.priority: dict[str, int] | None = None
        self.check_in_every_weeks: int | None = None
        self.status = "active"          # active | archived | merged
        self.merged_into: str | None = None
        self.merged_from: list[str] = []
        self.touchpoints: list[dict[str, Any]] = []

    # -- commands ---------------------------------------------------------------------------
    @classmethod
    def add(cls, contact_id: str, student_id: str, details: dict[str, Any], tags: Iterable[str] = (),
            import_id: str | None = None) -> Contact:
        contact = cls(contact_id)
        fields = {k: v for k, v in details.items() if k in DETAIL_FIELDS and v not in (None, "", [])}
        contact.require(bool(fields.get("name")), "a contact needs a name")
        contact.record("ContactAdded", student_id=student_id, tags=_unique(tags), import_id=import_id, **fields)
        return contact

    def change_details(self, changes: dict[str, Any]) -> None:
        self._require_editable()
        if "name" in changes:
            self.require(bool(changes["name"]), "a contact needs a name")
        changed = {k: (v if v not in ("", []) else None) for k, v in changes.items()
                   if k in DETAIL_FIELDS and self.details.get(k) != (v if v not in ("", []) else None)}
        if changed:  # an update that changes nothing records nothing
            self.record("ContactDetailsChanged", **changed)

    def tag(self, tags: Iterable[str]) -> None:
        self._require_editable()
        new = [t for t in _unique(tags) if t not in self.tags]
        if new:
            self.record("ContactTagged", tags=new)

    def untag(self, tags: Iterable[str]) -> None:
        self._require_editable()
        present = [t for t in _unique(tags) if t in self.tags]
        if present:
            self.record("ContactUntagged", tags=present)

    def prioritise(self, advocacy: int, motivation: int) -> None:
        self._require_editable()
        if self.priority != {"advocacy": advocacy, "motivation": motivation}:
            self.record("ContactPrioritised", advocacy=advocacy, motivation=motivation)

    def set_check_in_cadence(self, every_weeks: int | None) -> None:
        self._require_editable()
        if self.check_in_every_weeks != every_weeks:
            self.record("CheckInCadenceChanged", every_weeks=every_weeks)

    def archive(self, reason: str | None = None) -> None:
        self._require_not_merged()
        self.require(self.status != "archived", "the contact is already archived")
        self.record("ContactArchived", reason=reason)

    def restore(self) -> None:
        self._require_not_merged()
        self.require(self.status == "archived", "only an archived contact can be restored")
        self.record("ContactRestored")

    def log_touchpoint(self, touchpoint_id: str, kind: str, occurred_at: datetime, now: datetime, *,
                       channel: str | None = None, url: str | None = None, text: str | None = None) -> None:
        self._require_not_merged()
        self.require(occurred_at <= now + FUTURE_TOLERANCE, "a touchpoint cannot be in the future",
                     field="occurred_at")
        if any(t["touchpoint_id"] == touchpoint_id for t in self.touchpoints):
            return
        self.record("TouchpointLogged", touchpoint_id=touchpoint_id, kind=kind, occurred_at=isoformat(occurred_at),
                    channel=channel, url=url, text=text)

    def merge(self, duplicate: Contact) -> None:
        """Absorb `duplicate`: its e-mails, missing details, tags and whole history come here."""
        self._require_editable()
        self.require(duplicate.id != self.id, "a contact cannot be merged with itself")
        self.require(duplicate.owner_id == self.owner_id, "both contacts must belong to the same student")
        if duplicate.id in self.merged_from:  # a retried merge: only the absorption is missing
            if duplicate.status != "merged":
                duplicate.record("ContactAbsorbed", into_contact_id=self.id)
            return
        duplicate._require_not_merged()
        emails = [e for e in duplicate.details.get("emails", []) if e not in self.details.get("emails", [])]
        filled = {k: v for k, v in duplicate.details.items()
                  if k not in ("emails", "name") and v and not self.details.get(k)}
        known = {t["touchpoint_id"] for t in self.touchpoints}
        self.record("ContactsMerged", merged_contact_id=duplicate.id, emails=emails, filled=filled,
                    tags=[t for t in duplicate.tags if t not in self.tags],
                    touchpoints=[t for t in duplicate.touchpoints if t["touchpoint_id"] not in known])
        duplicate.record("ContactAbsorbed", into_contact_id=self.id)

    # -- derived ----------------------------------------------------------------------------
    @property
    def stage(self) -> str:
        return derive_stage(self.touchpoints)

    @property
    def last_touch_at(self) -> str | None:
        return max((t["occurred_at"] for t in self.touchpoints), default=None)

    def _require_not_merged(self) -> None:
        self.require(self.status != "merged", f"the contact was merged into {self.merged_into}",
                     merged_into=self.merged_into)

    def _require_editable(self) -> None:
        self._require_not_merged()

    # -- state changes ----------------------------------------------------------------------
    @applies("ContactAdded")
    def _added(self, data: dict[str, Any]) -> None:
        self.owner_id = data["student_id"]
        self.details = {k: data.get(k) for k in DETAIL_FIELDS if data.get(k) is not None}
        self.details.setdefault("emails", [])
        self.tags = list(data.get("tags") or [])

    @applies("ContactDetailsChanged")
    def _details_changed(self, data: dict[str, Any]) -> None:
        for key, value in data.items():
            if value is None:
                self.details.pop(key, None)
            else:
                self.details[key] = value
        self.details.setdefault("emails", [])

    @applies("ContactTagged")
    def _tagged(self, data: dict[str, Any]) -> None:
        self.tags += [t for t in data["tags"] if t not in self.tags]

    @applies("ContactUntagged")
    def _untagged(self, data: dict[str, Any]) -> None:
        self.tags = [t for t in self.tags if t not in data["tags"]]

    @applies("ContactPrioritised")
    def _prioritised(self, data: dict[str, Any]) -> None:
        self.priority = {"advocacy": data["advocacy"], "motivation": data["motivation"]}

    @applies("CheckInCadenceChanged")
    def _cadence_changed(self, data: dict[str, Any]) -> None:
        self.check_in_every_weeks = data["every_weeks"]

    @applies("ContactArchived")
    def _archived(self, data: dict[str, Any]) -> None:
        self.status = "archived"

    @applies("ContactRestored")
    def _restored(self, data: dict[str, Any]) -> None:
        self.status = "active"

    @applies("TouchpointLogged")
    def _touchpoint_logged(self, data: dict[str, Any]) -> None:
        self.touchpoints.append(dict(data))

    @applies("ContactsMerged")
    def _merged(self, data: dict[str, Any]) -> None:
        self.details["emails"] = self.details.get("emails", []) + list(data.get("emails") or [])
        for key, value in (data.get("filled") or {}).items():
            self.details[key] = value
        self.tags += [t for t in data.get("tags") or [] if t not in self.tags]
        self.touchpoints += [dict(t) for t in data.get("touchpoints") or []]
        self.merged_from.append(data["merged_contact_id"])

    @applies("ContactAbsorbed")
    def _absorbed(self, data: dict[str, Any]) -> None:
        self.status = "merged"
        self.merged_into = data["into_contact_id"]


def _unique(values: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for value in values:
        if value not in seen:
            seen.append(value)
    return seen


class ContactImport(Aggregate):
    """One uploaded file and its per-record report; the contacts themselves are their own streams."""

    stream_type = "contact_import"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.report: dict[str, Any] = {}

    @classmethod
    def record_report(cls, import_id: str, student_id: str, fmt: str, filename: str | None,
                      rows: list[dict[str, Any]]) -> ContactImport:
        report = cls(import_id)
        report.record("ContactsImported", student_id=student_id, format=fmt, filename=filename, rows=rows)
        return report

    @applies("ContactsImported")
    def _imported(self, data: dict[str, Any]) -> None:
        self.owner_id = data["student_id"]
        self.report = dict(data)
