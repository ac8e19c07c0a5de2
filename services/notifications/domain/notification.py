"""The notification aggregate: one message to one recipient through one channel. Its stream id
comes from a deterministic dedupe key, and its first event is always `NotificationScheduled`, appended at
expected version 0: recording the key *is* the dedupe, before anything is sent. Its state machine:

    scheduled ──deferred (quiet hours)──► scheduled (later)
        │  └──bundled──► bundled ──(its digest is sent)──► sent
        ├──sent──► sent ──acknowledged (in-app: read)
        ├──failed, retry_at──► scheduled (at retry_at) ... ──failed, final──► failed
        └──suppressed──► suppressed            (from scheduled or bundled; never after sent)

A webhook notification goes to each enabled endpoint of the recipient; every endpoint is a
*target* with its own attempts. Before the first round nothing is targeted; afterwards the
notification is scheduled while any target awaits a retry, sent once some target took it and none
awaits a retry, failed when every target failed for good. E-mail and in-app have one target each.

Push channels (e-mail, webhook) respect quiet hours and the digest; the in-app inbox is silent and
is where every notification shows, so it gets each one at its time.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from services.notifications.domain.keys import notification_id
from shared.aggregate import Aggregate, applies
from shared.contracts.notifications import CHANNELS, FOLLOW_UP_KINDS, KINDS
from shared.events import isoformat
from shared.times import parse

PUSH_CHANNELS = ("email", "webhook")
SCHEDULED, BUNDLED, SENT, FAILED, SUPPRESSED = "scheduled", "bundled", "sent", "failed", "suppressed"
STATUSES = (SCHEDULED, BUNDLED, SENT, FAILED, SUPPRESSED)


class Notification(Aggregate):
    stream_type = "notification"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.recipient_id = ""
        self.kind = ""
        self.channel = ""
        self.status = "new"
        self.send_at = ""
        self.due_at = ""  # when the next attempt is due (send_at, the end of quiet hours, a retry_at)
        self.source: dict[str, Any] = {}
        self.context: dict[str, Any] = {}
        self.targets: dict[str, dict[str, Any]] = {}  # "email" | "in_app" | endpoint id -> outcome
        self.digest_id: str | None = None
        self.items: list[dict[str, str]] = []  # a digest's notifications
        self.sent_items: list[str] = []  # those a sent digest listed
        self.sent_at: str | None = None
        self.late = False
        self.subject: str | None = None
        self.text: str | None = None
        self.read_at: str | None = None
        self.reason: str | None = None  # why suppressed or failed
        self.deferrals = 0

    # -- commands ------------------------------------------------------------------------------
    @classmethod
    def schedule(cls, key: str, *, recipient_id: str, kind: str, channel: str, send_at: datetime,
                 source: dict[str, Any], context: dict[str, Any], not_sent_because: str | None = None) -> Notification:
        """The first event of the stream (appended at version 0: the dedupe record), and at once
        the suppression if the policy already knows it must not be sent (e.g. too late)."""
        notification = cls(notification_id(key))
        notification.require(kind in KINDS and channel in CHANNELS, "unknown kind or channel")
        notification.record("NotificationScheduled", recipient_id=recipient_id, kind=kind, channel=channel,
                             send_at=isoformat(send_at), dedupe_key=key, source=source, context=context)
        if not_sent_because:
            notification.suppress(not_sent_because)
        return notification

    @property
    def open(self) -> bool:
        """Still to be sent (on its own or in a digest)."""
        return self.status in (SCHEDULED, BUNDLED)

    def due(self, now: datetime) -> bool:
        return self.status == SCHEDULED and parse(self.due_at) <= now

    def suppress(self, reason: str) -> None:
        """Never send it; a notification already sent, failed or suppressed stays as it is."""
        if self.open:
            self.record("NotificationSuppressed", recipient_id=self.recipient_id, reason=reason)

    def defer(self, until: datetime, reason: str) -> None:
        self.require(self.status == SCHEDULED, f"a {self.status} notification cannot be deferred")
        self.record("NotificationDeferred", recipient_id=self.recipient_id, until=isoformat(until), reason=reason)

    def bundle(self, digest_id: str, digest_at: datetime) -> None:
        self.require(self.status == SCHEDULED and self.kind in FOLLOW_UP_KINDS, "only a scheduled follow-up is bundled")
        self.record("NotificationBundled", recipient_id=self.recipient_id, digest_id=digest_id,
                    digest_at=isoformat(digest_at))

    def collect(self, item: Notification) -> None:
        """Take a notification into this digest (once); a digest already sent takes nothing more."""
        self.require(self.kind == "digest", "only a digest collects notifications")
        self.require(self.status == SCHEDULED and not self.targets, "this digest has gone out")
        if item.id not in {i["notification_id"] for i in self.items}:
            self.record("DigestItemAdded", recipient_id=self.recipient_id, notification_id=item.id, kind=item.kind)

    def pending_targets(self, available: Iterable[str]) -> list[str]:
        """Whom this round sends to: before the first round, every available target; afterwards
        only the targets that await a retry (a target added later never gets an old message)."""
        if not self.targets:
            return list(available)
        return [t for t, outcome in self.targets.items() if outcome["state"] == "retrying"]

    def attempts(self, target: str) -> int:
        return self.targets.get(target, {}).get("attempts", 0)

    def record_sent(self, target: str, *, now: datetime, grace: timedelta, subject: str, text: str,
                    digest_id: str | None = None, items: Iterable[str] = (), due_at: str | None = None) -> None:
        """The channel took it. Late when sent more than `grace` after it was due (`due_at`: when
        the digest it went out in was due, for a bundled notification)."""
        self.require(self.targets.get(target, {}).get("state") != "sent", "already sent to this target")
        due_at = due_at or self.due_at
        late = now - parse(due_at) > grace
        self.record("NotificationSent", recipient_id=self.recipient_id, channel=self.channel,
                    sent_at=isoformat(now), due_at=due_at, late=late, attempt=self.attempts(target) + 1,
                    endpoint_id=None if target in CHANNELS else target, subject=subject, text=text,
                    digest_id=digest_id, digest_items=list(items))

    def record_failure(self, target: str, *, now: datetime, reason: str, retry_at: datetime | None) -> None:
        """An attempt failed: retried at `retry_at`, or given up when it is None."""
        self.record("NotificationFailed", recipient_id=self.recipient_id, channel=self.channel,
                    attempt=self.attempts(target) + 1, reason=reason[:1000],
                    retry_at=isoformat(retry_at) if retry_at else None, final=retry_at is None,
                    endpoint_id=None if target in CHANNELS else target)

    def acknowledge(self, now: datetime) -> None:
        """The recipient read it in the inbox (marking it read again changes nothing)."""
        self.require(self.channel == "in_app", "only in-app notifications are marked read")
        self.require(self.status == SENT, "the notification has not reached the inbox yet")
        if self.read_at is None:
            self.record("NotificationAcknowledged", recipient_id=self.recipient_id, read_at=isoformat(now))

    # -- state changes ---------------------------------------------------------------------------
    @applies("NotificationScheduled")
    def _scheduled(self, data: dict[str, Any]) -> None:
        self.owner_id = self.recipient_id = data["recipient_id"]
        self.kind, self.channel = data["kind"], data["channel"]
        self.send_at = self.due_at = data["send_at"]
        self.source, self.context = dict(data["source"]), dict(data["context"])
        self.status = SCHEDULED

    @applies("NotificationDeferred")
    def _deferred(self, data: dict[str, Any]) -> None:
        self.due_at = data["until"]
        self.deferrals += 1

    @applies("NotificationBundled")
    def _bundled(self, data: dict[str, Any]) -> None:
        self.status, self.digest_id, self.due_at = BUNDLED, data["digest_id"], data["digest_at"]

    @applies("DigestItemAdded")
    def _item_added(self, data: dict[str, Any]) -> None:
        self.items.append({"notification_id": data["notification_id"], "kind": data["kind"]})

    @applies("NotificationSent")
    def _sent(self, data: dict[str, Any]) -> None:
        target = data.get("endpoint_id") or data["channel"]
        self.targets[target] = {"state": "sent", "attempts": data["attempt"], "retry_at": None}
        self.sent_at = self.sent_at or data["sent_at"]
        self.late = self.late or data["late"]
        self.subject, self.text = data["subject"], data["text"]
        self.digest_id = data.get("digest_id") or self.digest_id
        self.sent_items = list(data.get("digest_items") or []) or self.sent_items
        self._settle()

    @applies("NotificationFailed")
    def _failed(self, data: dict[str, Any]) -> None:
        target = data.get("endpoint_id") or data["channel"]
        self.targets[target] = {"state": "failed" if data["final"] else "retrying", "attempts": data["attempt"],
                                "retry_at": data.get("retry_at")}
        self.reason = data["reason"]
        self._settle()

    @applies("NotificationSuppressed")
    def _suppressed(self, data: dict[str, Any]) -> None:
        self.status, self.reason = SUPPRESSED, data["reason"]

    @applies("NotificationAcknowledged")
    def _acknowledged(self, data: dict[str, Any]) -> None:
        self.read_at = data["read_at"]

    def _settle(self) -> None:
        if self.status == SUPPRESSED:  # a send that raced a suppression is recorded, the verdict stays
            return
        outcomes = list(self.targets.values())
        retrying = [o["retry_at"] for o in outcomes if o["state"] == "retrying"]
        if retrying:
            self.status, self.due_at = SCHEDULED, min(retrying)
        elif any(o["state"] == "sent" for o in outcomes):
            self.status = SENT
        else:
            self.status = FAILED

    def snapshot(self) -> dict[str, Any]:
        """The state a read model shows (the projection derives it with these same appliers)."""
        return {
            "recipient_id": self.recipient_id, "kind": self.kind, "channel": self.channel, "status": self.status,
            "send_at": self.send_at, "due_at": self.due_at, "source": self.source, "context": self.context,
            "targets": self.targets, "digest_id": self.digest_id, "items": self.items, "sent_items": self.sent_items,
            "sent_at": self.sent_at,
            "late": self.late, "subject": self.subject, "text": self.text, "read_at": self.read_at,
            "reason": self.reason, "deferrals": self.deferrals,
        }

    @classmethod
    def restore(cls, aggregate_id: str, version: int, state: dict[str, Any]) -> Notification:
        notification = cls(aggregate_id)
        for name, value in state.items():
            if name in notification.snapshot():
                setattr(notification, name, value)
        notification.owner_id = notification.recipient_id or None
        notification.version = version
        return notification
