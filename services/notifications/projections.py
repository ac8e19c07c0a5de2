"""The notifications read side.

`NotificationViews` (the notifications-views worker) projects the service's own streams:

- `notifications`: one document per notification, guarded by stream version. It is the delivery
  queue (`status`, `due_at`: what the dispatcher polls), each user's history (scheduled, bundled,
  sent, failed, suppressed; late) and the in-app inbox (`channel` in_app, `status` sent, `read`).
  The document's state is derived with the aggregate's own appliers (`Notification.restore` +
  the event), so the queue and the dispatcher's authoritative load cannot disagree about rules.
- `notification_webhook_endpoints`: each endpoint's status and consecutive failures, for the list
  endpoint and for the dispatcher to find a user's enabled endpoints.

`queue_gauges` reads the service's health from these at scrape time (`GET /metrics`): how many
notifications are due and not yet sent, and for how long the oldest has waited, per channel (the
dispatcher falling behind, or stopped), and the webhook endpoints by state (disabled ones are
receivers that keep failing).

The policy worker keeps the facts it plans from in three more collections, declared here so the
dispatcher (freshest contact names) and the init step can name them too: `notification_contacts`,
`notification_interviews`, `notification_followups`.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric

from services.notifications.domain import Notification
from services.notifications.domain.notification import SCHEDULED
from shared import tracing
from shared.contracts.notifications import CHANNELS, NOTIFICATIONS, WEBHOOK_ENDPOINTS
from shared.events import Recorded, isoformat
from shared.keys.fields import ERASED_CONTACT
from shared.keys.personal import ERASED_FIELDS
from shared.projection import Projection, on
from shared.readstore import Collection, Index, ReadStore, Update, iterate

NOTIFICATION_INDEXES = (Index("recipient_id"), Index("status"), Index("due_at"), Index("channel"), Index("kind"),
                        Index("read"), Index("sent_key"), Index("send_at"))


def notifications(read_store: ReadStore) -> Collection:
    return read_store.collection("notifications", NOTIFICATION_INDEXES)


def endpoints(read_store: ReadStore) -> Collection:
    return read_store.collection("notification_webhook_endpoints", (Index("user_id"), Index("status"),
                                                                     Index("registered_at")))


def contact_facts(read_store: ReadStore) -> Collection:
    return read_store.collection("notification_contacts", (Index("student_id"),))


def interview_facts(read_store: ReadStore) -> Collection:
    return read_store.collection("notification_interviews", (Index("student_id"), Index("contact_id")))


def followup_facts(read_store: ReadStore) -> Collection:
    return read_store.collection("notification_followups", (Index("student_id"),))


ENDPOINT_STATES = ("enabled", "disabled")  # a removed endpoint is gone: not counted


def queue_gauges(read_store: ReadStore, now: float) -> Iterable[Metric]:
    """The delivery queue and the webhook endpoints, as gauges (read at scrape time, so every API
    replica reports the same values: combine them with max)."""
    queue = notifications(read_store)
    moment = isoformat(datetime.fromtimestamp(now, UTC))
    due = GaugeMetricFamily("careerloop_notifications_due",
                            "Notifications due and not yet sent (nor deferred, bundled or settled), per channel.",
                            labels=["channel"])
    waited = GaugeMetricFamily("careerloop_notifications_oldest_due_age_seconds",
                               "How long the oldest notification due and not yet sent has waited past its due "
                               "time, per channel (0 when none is due).", labels=["channel"])
    for channel in CHANNELS:
        waiting = {"status": SCHEDULED, "channel": channel, "due_at": {"$lte": moment}}
        due.add_metric([channel], queue.count(waiting))
        oldest = queue.find(waiting, [("due_at", 1)], 1).items
        age = now - datetime.fromisoformat(oldest[0]["due_at"]).timestamp() if oldest else 0.0
        waited.add_metric([channel], max(0.0, age))
    states = GaugeMetricFamily("careerloop_webhook_endpoints",
                               "Registered webhook endpoints by state; a disabled one failed too often and "
                               "receives nothing until its owner enables it again.", labels=["state"])
    for state in ENDPOINT_STATES:
        states.add_metric([state], endpoints(read_store).count({"status": state}))
    return [due, waited, states]


def _to_notification() -> Any:
    """A reaction of its own (one per event name) that hands the event to `notification`."""

    def react(projection: NotificationViews, envelope: dict[str, Any], event: Recorded) -> None:
        projection.notification(envelope, event)

    return react


def _about_erased_contact(doc: dict[str, Any]) -> dict[str, Any]:
    return {"contact_erased": True, "context": {},
            **{name: None if doc.get(name) is None else ERASED_CONTACT for name in ("subject", "text")}}


class NotificationViews(Projection):
    name = "notifications-views"
    version = 1
    catalogs = (NOTIFICATIONS, WEBHOOK_ENDPOINTS)

    def __init__(self, read_store: ReadStore, **options: Any) -> None:
        super().__init__(read_store, **options)
        self.docs = notifications(read_store)
        self.endpoints = endpoints(read_store)
        self.versioned = {NOTIFICATIONS.aggregate: self.docs, WEBHOOK_ENDPOINTS.aggregate: self.endpoints}
        self.erasable = [(self.docs, "recipient_id"), (self.endpoints, "user_id")]

    # -- notifications ------------------------------------------------------------------------
    def notification(self, envelope: dict[str, Any], event: Recorded) -> None:
        doc_id = envelope["subject"]
        current = self.unapplied(envelope)
        if current is None:  # a redelivery changes nothing (and a gap has raised: stop, never guess)
            return
        last = current.get("_version", 0)
        state = Notification.restore(doc_id, last, current) if current else Notification(doc_id)
        state.apply(event)
        doc = state.snapshot()
        doc.update(read=state.read_at is not None, sent_key=state.sent_at or "")
        if current.get("contact_erased") or "context" in envelope.get(ERASED_FIELDS, ()):
            doc.update(_about_erased_contact(doc))  # a rebuild after the professional's erasure: as redacted live
        if event.name == "NotificationScheduled":
            doc["scheduled_at"] = envelope["time"]
            # the trace it was scheduled in: the dispatcher sends in that trace (not shown by the API)
            doc.update(tracing.carried(envelope))
        self.write(envelope, Update(set=doc))

    scheduled = on("NotificationScheduled")(_to_notification())
    deferred = on("NotificationDeferred")(_to_notification())
    bundled = on("NotificationBundled")(_to_notification())
    item_added = on("DigestItemAdded")(_to_notification())
    sent = on("NotificationSent")(_to_notification())
    failed = on("NotificationFailed")(_to_notification())
    suppressed = on("NotificationSuppressed")(_to_notification())
    acknowledged = on("NotificationAcknowledged")(_to_notification())

    def contact_erased(self, student_id: str, contact_id: str) -> None:
        """The notifications about the erased professional: their context (sealed with the contact's key)
        and their rendered text (the student's, quoting the contact) read as placeholders."""
        for doc in list(iterate(self.docs, {"recipient_id": student_id})):
            if (doc.get("context") or {}).get("contact_id") == contact_id:
                self.docs.upsert(doc["_id"], Update(set=_about_erased_contact(doc)))

    # -- webhook endpoints ----------------------------------------------------------------------
    @on("WebhookEndpointRegistered")
    def registered(self, envelope: dict[str, Any], event: Recorded) -> None:
        data = event.data
        self.write(envelope, Update(set={
            "user_id": data["user_id"], "url": data["url"], "description": data.get("description"),
            "status": "enabled", "consecutive_failures": 0, "disabled_reason": None, "last_failure": None,
            "registered_at": envelope["time"]}))

    @on("WebhookDeliveryFailed")
    def delivery_failed(self, envelope: dict[str, Any], event: Recorded) -> None:
        data = event.data
        self.write(envelope, Update(set={"consecutive_failures": data["consecutive_failures"], "last_failure": {
            "at": envelope["time"], "reason": data["reason"], "notification_id": data["notification_id"]}}))

    @on("WebhookEndpointRecovered")
    def recovered(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.write(envelope, Update(set={"consecutive_failures": 0}))

    @on("WebhookEndpointDisabled")
    def disabled(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.write(envelope, Update(set={"status": "disabled", "disabled_reason": event.data["reason"],
                                             "disabled_at": envelope["time"]}))

    @on("WebhookEndpointEnabled")
    def enabled(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.write(envelope, Update(set={"status": "enabled", "disabled_reason": None, "consecutive_failures": 0}))

    @on("WebhookEndpointRemoved")
    def removed(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.write(envelope, Update(set={"status": "removed"}))
