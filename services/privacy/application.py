"""The privacy use cases: erasures asked for, confirmed, carried out and reported.

Carrying out an erasure shreds the student's data key and every key under it (their contacts'), then
records `SubjectErased` (so a `SubjectErased` on the topic means the keys are gone: the privacy worker
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
from shared.keys.personal import PersonalData, student_subject
from shared.readstore import ReadStore
from shared.repository import Accepted, Repository

KEY_STORE = "key-store"  # the component that shreds: acknowledged by the privacy worker once SubjectErased is out


class PrivacyService:
    def __init__(self, store: EventStore, read_store: ReadStore, personal: Callable[[], PersonalData], *,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.erasures: Repository[Erasure] = Repository(store, ERASURES, Erasure)
        self.read_store, self.personal, self.clock = read_store, personal, clock

    def now(self) -> str:
        return isoformat(self.clock())

    def order(self, student_id: str, reason: str | None, admin: Principal, meta: Metadata) -> Accepted:
        """An admin's erasure of a student: asked for and confirmed in one act."""
        erasure = Erasure.request(str(uuid.uuid4()), student_id, admin.subject, self.now(), reason)
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
        assert erasure.student_id is not None
        personal = self.personal()
        shredded = personal.keys.shred_all(student_subject(erasure.student_id))
        personal.forget(student_subject(erasure.student_id))
        self.erasures.update(erasure_id, meta, lambda e: e.carry_out(shredded, self.now()), load=self._existing)
        return True

    def get(self, erasure_id: str, principal: Principal) -> Erasure:
        """The erasure, for an admin or the student it is about (404 for anyone else)."""
        erasure = self._existing(erasure_id)
        if not (principal.has("admin") or erasure.student_id == principal.subject):
            raise NotFound(f"erasure {erasure_id} not found")
        return erasure

    def report(self, erasure: Erasure) -> dict[str, Any]:
        """Every component that must act, and when it acknowledged (None: not yet)."""
        acks = acknowledgements(self.read_store)
        components = []
        for component in ERASURE_COMPONENTS:
            doc = acks.get(f"{erasure.id}:{component}") if erasure.status == "erased" else None
            components.append({"component": component, "acknowledged_at": doc["acknowledged_at"] if doc else None})
        return {"id": erasure.id, "version": erasure.version, "subject_kind": "student",
                "student_id": erasure.student_id, "status": erasure.status,
                "requested_by": erasure.requested["by"], "requested_at": erasure.requested["at"],
                "reason": erasure.requested.get("reason"),
                "confirmed_by": erasure.confirmed.get("by"), "confirmed_at": erasure.confirmed.get("at"),
                "erased_at": erasure.erased.get("at"), "keys_shredded": erasure.erased.get("keys_shredded"),
                "components": components,
                "complete": all(c["acknowledged_at"] for c in components)}

    def _existing(self, erasure_id: str) -> Erasure:
        erasure = self.erasures.load(erasure_id)
        if not erasure.exists:
            raise NotFound(f"erasure {erasure_id} not found")
        return erasure

