"""An erasure (pure Python): asked for, confirmed by an admin, carried out once.

`Erasure` is one stream per erasure. The rules: a student may ask only for their own erasure, and it
waits for an admin; an admin's request is confirmed by the same act; an erasure is confirmed once and
carried out once (`SubjectErased`), whoever retries.
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
        self.student_id: str | None = None
        self.requested: dict[str, Any] = {}
        self.confirmed: dict[str, Any] = {}
        self.erased: dict[str, Any] = {}

    @classmethod
    def request(cls, erasure_id: str, student_id: str, requested_by: str, at: str, reason: str | None) -> Erasure:
        erasure = cls(erasure_id)
        erasure.record("ErasureRequested", subject_kind="student", student_id=student_id, requested_by=requested_by,
                       requested_at=at, reason=reason)
        return erasure

    def confirm(self, admin: str, at: str) -> None:
        self.require(self.exists, "no such erasure")
        self.require(self.status == "requested", f"the erasure is already {self.status}", status=self.status)
        self.record("ErasureConfirmed", confirmed_by=admin, confirmed_at=at)

    def carry_out(self, keys_shredded: int, at: str) -> None:
        """Record that the keys are shredded; nothing when it was recorded already (a retry)."""
        self.require(self.status in ("confirmed", "erased"), "an erasure is carried out once confirmed",
                     status=self.status)
        if self.status == "confirmed":
            assert self.student_id is not None
            self.record("SubjectErased", subject_kind="student", student_id=self.student_id,
                        keys_shredded=keys_shredded, erased_at=at)

    @applies("ErasureRequested")
    def _requested(self, data: dict[str, Any]) -> None:
        self.status, self.student_id, self.owner_id = "requested", data["student_id"], data["student_id"]
        self.requested = {"by": data["requested_by"], "at": data["requested_at"], "reason": data.get("reason")}

    @applies("ErasureConfirmed")
    def _confirmed(self, data: dict[str, Any]) -> None:
        self.status = "confirmed"
        self.confirmed = {"by": data["confirmed_by"], "at": data["confirmed_at"]}

    @applies("SubjectErased")
    def _erased(self, data: dict[str, Any]) -> None:
        self.status = "erased"
        self.erased = {"at": data["erased_at"], "keys_shredded": data["keys_shredded"]}
