"""An erasure (pure Python): asked for, confirmed by an admin, carried out once.

`Erasure` is one stream per erasure, of a student or of a professional. The rules: a student may ask
only for their own erasure, and it waits for an admin; an admin's request is confirmed by the same act;
a professional's erasure names at least one identity; an erasure is confirmed once and carried out once
(`SubjectErased`), whoever retries.
"""
from __future__ import annotations

from typing import Any

from shared.aggregate import Aggregate, applies

STATUSES = ("requested", "confirmed", "erased")


class Erasure(Aggregate):
    stream_type = "erasure"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.status: str | None = None
        self.subject_kind = "student"
        self.student_id: str | None = None
        self.identities: list[str] = []  # a professional's, as HMACs (see shared.keys.personal.identity_key)
        self.requested: dict[str, Any] = {}
        self.confirmed: dict[str, Any] = {}
        self.erased: dict[str, Any] = {}

    @classmethod
    def request(cls, erasure_id: str, student_id: str, requested_by: str, at: str, reason: str | None) -> Erasure:
        erasure = cls(erasure_id)
        erasure.record("ErasureRequested", subject_kind="student", student_id=student_id, identities=[],
                       requested_by=requested_by, requested_at=at, reason=reason)
        return erasure

    @classmethod
    def request_professional(cls, erasure_id: str, identities: list[str], requested_by: str, at: str,
                             reason: str | None) -> Erasure:
        erasure = cls(erasure_id)
        erasure.require(bool(identities), "a professional is found by an e-mail address or a LinkedIn profile",
                        field="professional")
        erasure.record("ErasureRequested", subject_kind="contact", student_id=None, identities=sorted(set(identities)),
                       requested_by=requested_by, requested_at=at, reason=reason)
        return erasure

    def confirm(self, admin: str, at: str) -> None:
        self.require(self.exists, "no such erasure")
        self.require(self.status == "requested", f"the erasure is already {self.status}", status=self.status)
        self.record("ErasureConfirmed", confirmed_by=admin, confirmed_at=at)

    def carry_out(self, keys_shredded: int, at: str, contacts: list[dict[str, str]] | None = None) -> None:
        """Record that the keys are shredded (a professional's: those of `contacts`, each
        `{student_id, contact_id}`); nothing when it was recorded already (a retry)."""
        self.require(self.status in ("confirmed", "erased"), "an erasure is carried out once confirmed",
                     status=self.status)
        if self.status == "confirmed":
            self.record("SubjectErased", subject_kind=self.subject_kind, student_id=self.student_id,
                        contacts=list(contacts or []), keys_shredded=keys_shredded, erased_at=at)

    @applies("ErasureRequested")
    def _requested(self, data: dict[str, Any]) -> None:
        self.status, self.subject_kind, self.student_id = "requested", data["subject_kind"], data["student_id"]
        self.identities = list(data.get("identities") or [])
        self.owner_id = data["student_id"]  # a professional's erasure belongs to no student
        self.requested = {"by": data["requested_by"], "at": data["requested_at"], "reason": data.get("reason")}

    @applies("ErasureConfirmed")
    def _confirmed(self, data: dict[str, Any]) -> None:
        self.status = "confirmed"
        self.confirmed = {"by": data["confirmed_by"], "at": data["confirmed_at"]}

    @applies("SubjectErased")
    def _erased(self, data: dict[str, Any]) -> None:
        self.status = "erased"
        self.erased = {"at": data["erased_at"], "keys_shredded": data["keys_shredded"],
                       "contacts": len(data.get("contacts") or [])}
