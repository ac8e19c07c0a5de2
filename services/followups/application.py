"""The followups use cases: a student's decisions about their queue items (load → act → save).

A queue item is derived by the projection; the student's decisions about it live in the item's own
stream (`FollowUp`, stream id = the item id), which the projection folds back into the queue.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.followups.domain import FollowUp
from shared.auth import Principal
from shared.contracts.followups import FOLLOWUPS
from shared.errors import NotFound, RuleViolated
from shared.events import Metadata, utcnow
from shared.eventstore import EventStore
from shared.readstore import Collection
from shared.repository import Accepted, Repository

Decision = Callable[[FollowUp, str], None]  # (the item's stream, its student) -> records the decision


class FollowUpsService:
    def __init__(self, store: EventStore, items: Collection, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.followups: Repository[FollowUp] = Repository(store, FOLLOWUPS, FollowUp)
        self.items = items
        self.clock = clock

    def snooze(self, item_id: str, until: datetime, principal: Principal, meta: Metadata,
               expected_version: int | None = None) -> Accepted:
        """Put the item aside until `until` (a time in the future)."""
        return self._decide(item_id, principal, meta, expected_version,
                            lambda followup, student_id: followup.snooze(student_id, until, self.clock()))

    def dismiss(self, item_id: str, reason: str | None, principal: Principal, meta: Metadata,
                expected_version: int | None = None) -> Accepted:
        """The item needs no action."""
        return self._decide(item_id, principal, meta, expected_version,
                            lambda followup, student_id: followup.dismiss(student_id, reason))

    def _owned_item(self, item_id: str, principal: Principal) -> dict[str, Any]:
        """The queue item, if the principal may decide about it (404 otherwise: existence never leaks)."""
        item = self.items.get(item_id)
        if item is None or not (principal.has("admin") or item.get("student_id") == principal.subject):
            raise NotFound(f"follow-up {item_id} not found")
        return item

    def _decide(self, item_id: str, principal: Principal, meta: Metadata, expected_version: int | None,
                act: Decision) -> Accepted:
        item = self._owned_item(item_id, principal)
        if item["status"] == "done":
            raise RuleViolated("the item is already done", item_id=item_id)
        student_id = item["student_id"]

        def load(stream_id: str) -> FollowUp:
            followup = self.followups.load(stream_id)
            if followup.exists and followup.owner_id != student_id:
                raise NotFound(f"follow-up {item_id} not found")
            return followup

        _, accepted = self.followups.update(item_id, meta, lambda followup: act(followup, student_id), load=load,
                                            expected_version=expected_version)
        return accepted
