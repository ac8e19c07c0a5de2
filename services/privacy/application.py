"""The privacy use cases: erasures asked for, confirmed, carried out and reported.

Carrying out a student's erasure shreds their data key and every key under it (their contacts'); a
professional's shreds the key of every contact, in any student's book, that has one of their identities
(the privacy worker's index of professionals, `projections.professionals`). Then it records
`SubjectErased` (so a `SubjectErased` on the topic means the keys are gone: the privacy worker
acknowledges the key store's part when it sees it). The privacy worker does it for every confirmed
erasure it sees on the erasure topic (at least once: shredding is idempotent and the aggregate records
`SubjectErased` once), so an erasure accepted by the API is never lost to a crash between the steps.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.privacy.domain import Erasure
from shared.auth import Principal
from shared.contracts.privacy import ERASURE_COMPONENTS, ERASURES
from shared.erasure import acknowledgements
from shared.errors import NotFound
from shared.events import Metadata, isoformat, utcnow
from shared.eventstore import EventStore
from shared.identities import identities
from shared.keys.personal import PersonalData, contact_subject, student_subject
from shared.readstore import Collection, Index, ReadStore, iterate
from shared.repository import Accepted, Repository


def professionals(read_store: ReadStore) -> Collection:
    """The privacy worker's index of professionals: one document per contact in any student's book,
    `<student id>/<contact id>`, with the HMACs of its identities (see `projections.ProfessionalIndex`)."""
    return read_store.collection("professional_index", (Index("identities", array=True), Index("student_id")))


KEY_STORE = "key-store"  # the component that shreds: acknowledged by the privacy worker once SubjectErased is out


class PrivacyService:
    def __init__(self, store: EventStore, read_store: ReadStore, personal: Callable[[], PersonalData], *,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.erasures: Repository[Erasure] = Repository(store, ERASURES, Erasure)
        self.read_store, self.personal, self.clock = read_store, personal, clock
        self.professionals: Collection = professionals(read_store)

    def now(self) -> str:
        return isoformat(self.clock())

    def order(self, student_id: str, reason: str | None, admin: Principal, meta: Metadata) -> Accepted:
        """An admin's erasure of a student: asked for and confirmed in one act."""
        erasure = Erasure.request(str(uuid.uuid4()), student_id, admin.subject, self.now(), reason)
        erasure.confirm(admin.subject, self.now())
        commit = self.erasures.save(erasure, meta)
        return Accepted(erasure.id, commit.last_version if commit else erasure.version)

    def order_professional(self, emails: list[str], linkedin_url: str | None, reason: str | None,
                           admin: Principal, meta: Metadata) -> Accepted:
        """An admin's erasure of a professional from every student's book (asked for and confirmed in one act)."""
        personal = self.personal()
        keys = [personal.identity_key(identity) for identity in identities(emails, linkedin_url)]
        erasure = Erasure.request_professional(str(uuid.uuid4()), keys, admin.subject, self.now(), reason)
        erasure.confirm(admin.subject, self.now())
        commit = self.erasures.save(erasure, meta)
        return Accepted(erasure.id, commit.last_version if commit else erasure.version)

    def request_own(self, student: Principal, reason: str | None, meta: Metadata) -> Accepted:
        """A student asks to be forgotten; an admin confirms."""
        erasure = Erasure.request(str(uuid.uuid4()), student.subject, student.subject, self.now(), reason)
        commit = self.erasures.save(erasure, meta)
        return Accepted(erasure.id, commit.last_version if commit else erasure.version)

    def confirm(self, erasure_id: str, admin: Principal, meta: Metadata,
                expected_version: int | None = None) -> Accepted:
        return self.erasures.update(erasure_id, meta, lambda e: e.confirm(admin.subject, self.now()),
                                    load=self._existing, expected_version=expected_version)[1]

    def carry_out(self, erasure_id: str, meta: Metadata) -> bool:
        """Shred the keys of a confirmed erasure and record it; False when there is nothing (left) to do."""
        erasure = self._existing(erasure_id)
        if erasure.status != "confirmed":
            return False
        personal, contacts = self.personal(), []
        if erasure.subject_kind == "contact":
            contacts = [{"student_id": d["student_id"], "contact_id": d["contact_id"]}
                        for d in self._holding(erasure.identities)]
            subjects = [contact_subject(c["student_id"], c["contact_id"]) for c in contacts]
        else:
            assert erasure.student_id is not None
            subjects = [student_subject(erasure.student_id)]
        shredded = sum(personal.keys.shred_all(subject) for subject in subjects)
        for subject in subjects:
            personal.forget(subject)
        self.erasures.update(erasure_id, meta, lambda e: e.carry_out(shredded, self.now(), contacts),
                             load=self._existing)
        return True

    def _holding(self, identity_keys: list[str]) -> list[dict[str, Any]]:
        """Every contact, in any student's book, that has one of a professional's identities."""
        found = {d["_id"]: d for key in identity_keys for d in iterate(self.professionals, {"identities": key})}
        return sorted(found.values(), key=lambda d: d["_id"])

    def get(self, erasure_id: str, principal: Principal) -> Erasure:
        """The erasure, for an admin or the student it is about (404 for anyone else)."""
        erasure = self._existing(erasure_id)
        if not (principal.has("admin") or (erasure.student_id and erasure.student_id == principal.subject)):
            raise NotFound(f"erasure {erasure_id} not found")
        return erasure

    def report(self, erasure: Erasure) -> dict[str, Any]:
        """Every component that must act, and when it acknowledged (None: not yet)."""
        acks = acknowledgements(self.read_store)
        components = []
        for component in ERASURE_COMPONENTS:
            doc = acks.get(f"{erasure.id}:{component}") if erasure.status == "erased" else None
            components.append({"component": component, "acknowledged_at": doc["acknowledged_at"] if doc else None})
        return {"id": erasure.id, "version": erasure.version, "subject_kind": erasure.subject_kind,
                "student_id": erasure.student_id, "status": erasure.status,
                "requested_by": erasure.requested["by"], "requested_at": erasure.requested["at"],
                "reason": erasure.requested.get("reason"),
                "confirmed_by": erasure.confirmed.get("by"), "confirmed_at": erasure.confirmed.get("at"),
                "erased_at": erasure.erased.get("at"), "keys_shredded": erasure.erased.get("keys_shredded"),
                "contacts_erased": erasure.erased.get("contacts"),
                "components": components,
                "complete": all(c["acknowledged_at"] for c in components)}

    def _existing(self, erasure_id: str) -> Erasure:
        erasure = self.erasures.load(erasure_id)
        if not erasure.exists:
            raise NotFound(f"erasure {erasure_id} not found")
        return erasure

