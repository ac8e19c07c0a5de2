"""`python -m services.notifications.dispatcher`: sends the notifications that are due.

One dispatcher is active at a time: it holds a lease in the notifications event store, like the
relay, and renews it before every send; a second process waits as a hot standby. Each channel's
timeout is at most a third of the lease, so a send in progress ends (or times out) long before
another dispatcher could take over.

The delivery queue (the `notifications` read model) only says what *may* be due. Before acting the
dispatcher loads the notification from the event store (authoritative) and does nothing unless it
is still scheduled and due; it never sends a notification whose stream holds `Sent`, `Suppressed`
or a final `Failed`. Then, in order:

1. the channel must still be wanted (preferences can change after scheduling) and usable (SMTP
   configured and an address known; an enabled webhook endpoint) — otherwise suppressed, with why;
2. a follow-up kind through a push channel with the digest on is *bundled* into the recipient's
   digest of the next digest hour (the digest is a notification of its own, created on demand);
3. a push channel inside the recipient's quiet hours is *deferred* to their end (delayed, never
   dropped);
4. otherwise it is rendered (the kind's template, the context recorded at scheduling, the freshest
   contact name, the recipient's zone; an interview's invite attached) and sent. `NotificationSent`
   is appended right after the channel accepted, `late` when that is more than the grace after it
   was due (the message itself says so). A failure is retried with exponential backoff up to a
   number of attempts; a permanent failure (SMTP 5xx, HTTP 410) is final at once.

Webhooks go to each enabled endpoint of the recipient. Every failed delivery is also counted on the
endpoint's own stream; one that keeps failing is disabled there, with an event saying why, and its
pending deliveries are given up.

The dispatcher counts what it does per channel (`Deliveries`, served with the process's metrics):
sends, failed attempts to be retried, deliveries given up, suppressions, and how long each channel
took to accept.

What exactly-once means here, honestly: the dedupe key is recorded before anything is sent, so no
replay, restart or rebuild sends twice. A crash *after* a peer accepted and *before* `Sent` was
appended makes the next dispatcher send again — with the same id (e-mail Message-ID
`<notification id@careerloop>`, webhook-id = notification id), so the peer can recognise the
repeat; Standard Webhooks receivers dedupe on webhook-id. A crash while the SMTP server has not yet
answered DATA loses nothing and duplicates nothing: the server takes responsibility only with its
250 reply (RFC 5321 4.1.1.4), so the restarted dispatcher's send is the only one delivered — unless
the server had already queued it and its 250 was lost with the connection (RFC 1047), which is again
a repeat with the same Message-ID.
"""
from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, TextIO

from prometheus_client import CollectorRegistry, Counter, Histogram

from services.notifications.application import webhook_secret
from services.notifications.channels import Attachment, DeliveryFailed, EmailChannel, Outgoing, WebhookChannel
from services.notifications.domain import (
    PUSH_CHANNELS,
    SCHEDULED,
    SENT,
    Notification,
    Preferences,
    Template,
    WebhookEndpoint,
    digest_key,
    local_day,
    next_digest_at,
    notification_id,
    parse,
    quiet_until,
    retry_delay,
)
from services.notifications.projections import contact_facts, endpoints, interview_facts, notifications
from services.notifications.rendering import DEFAULT_TEMPLATES, compose, local, payload, values_for
from shared import tracing
from shared.config import Settings
from shared.contracts.notifications import (
    FOLLOW_UP_KINDS,
    NOTIFICATION_PREFERENCES,
    NOTIFICATION_TEMPLATES,
    NOTIFICATIONS,
    REMINDER_KINDS,
    WEBHOOK_ENDPOINTS,
)
from shared.errors import ConcurrencyConflict
from shared.events import Metadata, isoformat, utcnow
from shared.eventstore import EventStore
from shared.ics import invite, method_of
from shared.keys.personal import student_subject
from shared.process import Lease, ProcessLoop, ProcessMetrics, command_line, holder_id, running
from shared.readstore import ReadStore, iterate
from shared.repository import Repository

log = logging.getLogger("careerloop.notifications.dispatcher")
ACTOR = "system:notifications-dispatcher"
LEASE = "dispatcher:notifications"
RECIPIENT_ERASED = "the recipient's personal data was erased"
CONTACT_ERASED = "the professional it is about was erased"


@dataclass(frozen=True)
class DispatchRules:
    """The dispatcher's settings (see shared.config for each variable)."""

    grace: timedelta
    retry_base_seconds: float
    retry_cap_seconds: float
    max_attempts: int
    disable_after: int
    digest_hour: int
    lease_seconds: float
    poll_seconds: float
    webhook_key: str
    batch: int = 100

    @classmethod
    def from_settings(cls, settings: Settings) -> DispatchRules:
        return cls(grace=timedelta(seconds=settings.int("NOTIFICATIONS_LATE_GRACE_SECONDS")),
                   retry_base_seconds=float(settings.get("NOTIFICATIONS_RETRY_BASE_SECONDS")),
                   retry_cap_seconds=float(settings.get("NOTIFICATIONS_RETRY_CAP_SECONDS")),
                   max_attempts=settings.int("NOTIFICATIONS_MAX_ATTEMPTS"),
                   disable_after=settings.int("WEBHOOK_DISABLE_AFTER_FAILURES"),
                   digest_hour=settings.int("NOTIFICATIONS_DIGEST_HOUR"),
                   lease_seconds=float(settings.get("NOTIFICATIONS_DISPATCHER_LEASE_SECONDS")),
                   poll_seconds=float(settings.get("NOTIFICATIONS_DISPATCHER_POLL_SECONDS")),
                   webhook_key=settings.get("WEBHOOK_SECRET_KEY"))


class Deliveries:
    """What the dispatcher did, per channel: `careerloop_notification_deliveries_total{outcome}` (sent;
    failed: an attempt failed and will be retried; abandoned: failed for good; suppressed: not sent,
    with a reason recorded) and how long the channel took to accept or refuse
    (`careerloop_notification_delivery_seconds`)."""

    OUTCOMES = ("sent", "failed", "abandoned", "suppressed")

    def __init__(self, registry: CollectorRegistry, process: str = "notifications-dispatcher") -> None:
        self.registry, self.process = registry, process
        self.outcomes = Counter("careerloop_notification_deliveries",
                                "Notification deliveries by channel and outcome (sent; failed, to be retried; "
                                "abandoned, failed for good; suppressed).", ["process", "channel", "outcome"],
                                registry=registry)
        self.seconds = Histogram("careerloop_notification_delivery_seconds",
                                 "How long a channel took to accept or refuse a delivery.", ["process", "channel"],
                                 buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30), registry=registry)

    def count(self, channel: str, outcome: str) -> None:
        self.outcomes.labels(self.process, channel, outcome).inc()

    def took(self, channel: str, seconds: float) -> None:
        self.seconds.labels(self.process, channel).observe(seconds)


class _Unchanged(Exception):
    """Another writer moved the notification on while this one was deciding: decide again later."""


class Dispatcher:
    def __init__(self, store: EventStore, read_store: ReadStore, settings: Settings, *,
                 clock: Callable[[], datetime] = utcnow,
                 email: EmailChannel | None | Literal["from settings"] = "from settings",
                 webhook: WebhookChannel | None = None, holder: str | None = None,
                 metrics: ProcessMetrics | None = None) -> None:
        self.store = store
        self.deliveries = Deliveries(metrics.registry if metrics is not None else CollectorRegistry())
        self.rules = DispatchRules.from_settings(settings)
        self.clock = clock
        channel_timeout = max(1.0, self.rules.lease_seconds / 3)
        self.email = (EmailChannel.from_settings(settings, timeout=min(30.0, channel_timeout))
                      if isinstance(email, str) else email)
        self.webhook = webhook or WebhookChannel.from_settings(settings, timeout=min(10.0, channel_timeout))
        self.notifications: Repository[Notification] = Repository(store, NOTIFICATIONS, Notification)
        self.preferences: Repository[Preferences] = Repository(store, NOTIFICATION_PREFERENCES, Preferences)
        self.endpoints: Repository[WebhookEndpoint] = Repository(store, WEBHOOK_ENDPOINTS, WebhookEndpoint)
        self.templates: Repository[Template] = Repository(store, NOTIFICATION_TEMPLATES, Template)
        self.queue = notifications(read_store)
        self.endpoint_views = endpoints(read_store)
        self.contacts = contact_facts(read_store)
        self.interviews = interview_facts(read_store)
        self.organizer = settings.get("CALENDAR_ORGANIZER_EMAIL")
        self.lease = Lease(store, LEASE, self.rules.lease_seconds, holder or holder_id())

    def _parties(self, interview_id: str | None) -> dict[str, Any]:
        """The invite's organizer and attendees' addresses, as the interview was requested (the same as
        scheduling's invite for this UID, so calendars see one meeting)."""
        facts = self.interviews.get(interview_id) if interview_id else None
        return {k: (facts or {}).get(k) for k in ("student_email", "student_name", "contact_email")}

    # -- the loop ---------------------------------------------------------------------------------
    def run(self, stop: threading.Event, metrics: ProcessMetrics | None = None) -> None:
        """Send what is due while this dispatcher holds the lease, until `stop` is set; a failed round
        (a store away) is retried after a backoff wait: nothing is lost, the queue is read again."""
        ProcessLoop("notifications-dispatcher", self.tick, idle_seconds=self.rules.poll_seconds, lease=self.lease,
                    metrics=metrics).run(stop)

    def hold_lease(self) -> bool:
        return self.lease.hold()

    def status(self, out: TextIO = sys.stdout, *, listing: bool = False) -> int:
        """`--status` (what the queue holds) and `--dry-run` (which notifications the next round would
        act on, too): nothing is sent or recorded."""
        now = isoformat(self.clock())
        due = list(iterate(self.queue, {"status": SCHEDULED, "due_at": {"$lte": now}}, [("due_at", 1)]))
        later = sum(1 for _ in iterate(self.queue, {"status": SCHEDULED, "due_at": {"$gt": now}}))
        bundled = sum(1 for _ in iterate(self.queue, {"status": "bundled"}))
        print(f"notifications dispatcher: {len(due):,} due now, {later:,} scheduled later, "
              f"{bundled:,} bundled into digests", file=out)
        for doc in due[:self.rules.batch] if listing else ():
            print(f"  would dispatch {doc['_id']} ({doc.get('kind')} by {doc.get('channel')}) due at {doc['due_at']}",
                  file=out)
        return 0

    def tick(self, stop: threading.Event | None = None) -> int:
        """One round over what the queue says is due; how many notifications moved on."""
        now = isoformat(self.clock())
        acted = 0
        due = self.queue.find({"status": SCHEDULED, "due_at": {"$lte": now}}, [("due_at", 1)], self.rules.batch)
        for doc in due.items:
            if (stop is not None and stop.is_set()) or not self.hold_lease():
                return acted
            # in the trace the notification was scheduled in (the request's, through its event)
            with tracing.continuing(doc, "dispatch notification", **{"careerloop.notification_id": doc["_id"]}):
                try:
                    acted += self.dispatch(doc["_id"])
                except _Unchanged:
                    continue
        bundled = self.queue.find({"status": "bundled", "due_at": {"$lte": now}}, [("due_at", 1)], self.rules.batch)
        for doc in bundled.items:
            try:
                acted += self.settle_bundled(doc["_id"])
            except _Unchanged:
                continue
        return acted

    # -- one notification ---------------------------------------------------------------------------
    def dispatch(self, notification_id: str) -> bool:
        """Act on one notification if it is due; True when something was recorded."""
        notification = self.notifications.load(notification_id)
        now = self.clock()
        if not notification.due(now):
            return False
        if self._erased(notification.recipient_id):
            return self._suppress(notification, RECIPIENT_ERASED)
        if not notification.context and notification.kind != "digest":
            # a notification's context is sealed with the key of the contact it is about (the student's when
            # none): it reads empty only once that key is shredded, the recipient being here
            return self._suppress(notification, CONTACT_ERASED)
        preferences = self.preferences.load(Preferences.stream_for(notification.recipient_id))
        time_zone = preferences.time_zone or notification.context.get("time_zone")
        channel, kind = notification.channel, notification.kind
        if kind != "digest" and not preferences.wants(kind, channel):
            return self._suppress(notification, f"the recipient no longer wants {kind} by {channel}")
        if channel == "email" and self.email is None:
            return self._suppress(notification, "email is not configured")
        if channel == "email" and not preferences.email:
            return self._suppress(notification, "no e-mail address in the recipient's preferences")
        targets = self._targets(notification)
        if not targets and not notification.targets:
            return self._suppress(notification, "no enabled webhook endpoint")
        if channel in PUSH_CHANNELS and preferences.digest and kind in FOLLOW_UP_KINDS:
            self._bundle(notification, time_zone, now)
            return True
        until = quiet_until(now, time_zone, preferences.quiet_hours) if channel in PUSH_CHANNELS else None
        if until is not None:
            notification.defer(until, "quiet hours")
            self._save(notification)
            return True
        return self._send(notification, preferences, time_zone, targets, now)

    def _erased(self, recipient_id: str) -> bool:
        """Whether the recipient was erased: the views drop their queue on the erasure, and this
        settles what was already read from it (nothing is sent to, or about, an erased student)."""
        personal = getattr(self.store, "personal", None)  # a sealing store: the deployed dispatcher's
        return personal is not None and personal.keys.erased(student_subject(recipient_id))

    def _targets(self, notification: Notification) -> list[str]:
        if notification.channel != "webhook":
            return notification.pending_targets([notification.channel])
        enabled = [d["_id"] for d in self.endpoint_views.find(
            {"user_id": notification.recipient_id, "status": "enabled"}, [("registered_at", 1)], 50).items]
        return notification.pending_targets(enabled)

    def _send(self, notification: Notification, preferences: Preferences, time_zone: str | None,
              targets: list[str], now: datetime) -> bool:
        outgoing, included = self._render(notification, time_zone, now)
        if outgoing is None:
            return self._suppress(notification, "nothing left in the digest: every item was withdrawn")
        endpoint_outcomes: list[tuple[str, Callable[[WebhookEndpoint], None]]] = []
        for target in targets:
            if target != targets[0] and not self.hold_lease():
                break  # the rest waits for whoever holds the lease now
            started = time.monotonic()
            try:
                if notification.channel == "email":
                    assert self.email is not None and preferences.email
                    self.email.send(outgoing, preferences.email)
                elif notification.channel == "webhook":
                    endpoint = self.endpoints.load(target)
                    if not endpoint.enabled:
                        notification.record_failure(target, now=now, retry_at=None,
                                                    reason=f"the webhook endpoint is {endpoint.state}")
                        self.deliveries.count(notification.channel, "abandoned")
                        continue
                    try:
                        self.webhook.send(outgoing, endpoint.url,
                                          webhook_secret(self.rules.webhook_key, endpoint.id, endpoint.secret_salt))
                    except DeliveryFailed as failure:
                        def count(e: WebhookEndpoint, f: DeliveryFailed = failure) -> None:
                            e.record_failure(notification.id, f.reason, disable_after=self.rules.disable_after,
                                             permanent=f.permanent)
                        count(endpoint)  # decided now on this copy: is the endpoint disabled by it?
                        endpoint_outcomes.append((endpoint.id, count))
                        raise DeliveryFailed(failure.reason, permanent=failure.permanent or not endpoint.enabled,
                                             retry_after=failure.retry_after) from None
                    endpoint_outcomes.append((endpoint.id, lambda e: e.record_success(notification.id)))
            except DeliveryFailed as failure:
                self.deliveries.took(notification.channel, time.monotonic() - started)
                self._failed(notification, target, failure, now)
                continue
            self.deliveries.took(notification.channel, time.monotonic() - started)
            self.deliveries.count(notification.channel, "sent")
            notification.record_sent(target, now=now, grace=self.rules.grace, subject=outgoing.subject,
                                     text=outgoing.text, items=included)
            log.info("sent %s (%s by %s%s)", notification.id, notification.kind, notification.channel,
                     ", late" if outgoing.late else "")
        self._save(notification)
        for endpoint_id, outcome in endpoint_outcomes:  # after the notification: its outcome matters most
            self.endpoints.update(endpoint_id, self._meta(notification), outcome)
        if notification.kind == "digest" and notification.status == SENT:
            self._settle_items(notification)
        return True

    def _failed(self, notification: Notification, target: str, failure: DeliveryFailed, now: datetime) -> None:
        attempt = notification.attempts(target) + 1
        retry_at = None
        if not failure.permanent and attempt < self.rules.max_attempts:
            delay = retry_delay(attempt, self.rules.retry_base_seconds, self.rules.retry_cap_seconds)
            delay = max(delay, timedelta(seconds=min(failure.retry_after or 0, self.rules.retry_cap_seconds)))
            retry_at = now + delay
        notification.record_failure(target, now=now, reason=failure.reason, retry_at=retry_at)
        self.deliveries.count(notification.channel, "failed" if retry_at else "abandoned")
        log.warning("delivery of %s to %s failed (attempt %d, %s): %s", notification.id, target, attempt,
                    f"retry at {isoformat(retry_at)}" if retry_at else "final", failure.reason)

    # -- rendering --------------------------------------------------------------------------------
    def _template(self, kind: str) -> dict[str, str]:
        return self.templates.load(Template.stream_for(kind)).parts or DEFAULT_TEMPLATES[kind]

    def _render(self, notification: Notification, time_zone: str | None,
                now: datetime) -> tuple[Outgoing | None, list[str]]:
        kind, context = notification.kind, notification.context
        late = now - parse(notification.due_at) > self.rules.grace
        late_since = f"{local(notification.due_at, time_zone)} ({time_zone or 'UTC'})" if late else None
        items: list[tuple[str, str]] = []
        included: list[str] = []
        if kind == "digest":
            for entry in notification.items:
                item = self.notifications.load(entry["notification_id"])
                if item.status == "bundled" and item.digest_id == notification.id:
                    subject, _, _ = self._compose(item, time_zone)
                    items.append((subject, item.context.get("link") or ""))
                    included.append(item.id)
            if not items:
                return None, []
        contact = self.contacts.get(context["contact_id"]) if context.get("contact_id") else None
        values = values_for(kind, context, contact, time_zone, items)
        subject, text, body = compose(kind, self._template(kind), values, late_since=late_since,
                                      html_items=items if kind == "digest" else None)
        attachments: tuple[Attachment, ...] = ()
        if kind in REMINDER_KINDS and context.get("start"):
            interview = {  # a reminder is only ever sent for a scheduled interview (a cancel suppresses it)
                "id": context.get("interview_id") or notification.id, "state": "scheduled", "start": context["start"],
                "end": context["end"], "sequence": context.get("sequence") or 0,
                "contact_name": values.get("contact_name"), "objectives": context.get("objectives") or [],
                "questions": [], "place": context.get("place"), "link": context.get("meeting_url"),
                **self._parties(context.get("interview_id"))}
            attachments = (Attachment("invite.ics", f"text/calendar; method={method_of(interview)}",
                                      invite(interview, now, organizer=self.organizer)),)
        body_payload = payload(notification.id, kind, notification.recipient_id, subject, text,
                               link=context.get("link") or "", late=late, due_at=notification.due_at, now=utcnow(),
                               context={**context, "items": included} if included else context)
        return Outgoing(notification.id, kind, subject, text, body, body_payload, attachments, late), included

    def _compose(self, notification: Notification, time_zone: str | None) -> tuple[str, str, str]:
        context = notification.context
        contact = self.contacts.get(context["contact_id"]) if context.get("contact_id") else None
        return compose(notification.kind, self._template(notification.kind),
                       values_for(notification.kind, context, contact, time_zone))

    # -- the digest -------------------------------------------------------------------------------
    def _bundle(self, notification: Notification, time_zone: str | None, now: datetime) -> None:
        """Collect the notification into the recipient's next digest on its channel (created on
        demand; a digest that has gone out takes nothing more, so the next day's is used)."""
        at = next_digest_at(now, time_zone, self.rules.digest_hour)
        meta = self._meta(notification)
        for _ in range(7):
            day = local_day(at, time_zone)
            key = digest_key(notification.recipient_id, notification.channel, day)
            digest = self.notifications.load(notification_id(key))
            if not digest.exists:
                digest = Notification.schedule(
                    key, recipient_id=notification.recipient_id, kind="digest", channel=notification.channel,
                    send_at=at, source={"service": "notifications", "type": "digest", "id": notification.recipient_id,
                                        "event_id": None, "event_type": None},
                    context={"date": day.isoformat(), "time_zone": time_zone})
            if digest.status == SCHEDULED and not digest.targets:
                digest.collect(notification)
                try:
                    self.notifications.save(digest, meta)
                except ConcurrencyConflict:
                    raise _Unchanged() from None
                notification.bundle(digest.id, parse(digest.send_at))
                self._save(notification)
                return
            at = next_digest_at(at, time_zone, self.rules.digest_hour)
        raise AssertionError("no digest open within a week")

    def _settle_items(self, digest: Notification) -> None:
        """The digest went out: its items count as sent (the digest listed them)."""
        for entry in digest.items:
            self.settle_bundled(entry["notification_id"], digest)

    def settle_bundled(self, item_id: str, digest: Notification | None = None) -> int:
        """A bundled notification whose digest has gone out is sent; if the digest failed for good,
        so did it. (Also what heals a crash between sending a digest and marking its items.)"""
        item = self.notifications.load(item_id)
        if item.status != "bundled" or not item.digest_id:
            return 0
        digest = (
            digest if digest is not None and digest.id == item.digest_id else self.notifications.load(item.digest_id)
        )
        if digest.status == SENT and item_id in digest.sent_items:
            subject, text, _ = self._compose(item, digest.context.get("time_zone"))
            item.record_sent(item.channel, now=parse(digest.sent_at or isoformat(self.clock())), grace=self.rules.grace,
                             subject=subject, text=text, digest_id=digest.id, due_at=digest.due_at)
        elif digest.status == SENT or digest.status in ("failed", "suppressed"):
            item.record_failure(item.channel, now=self.clock(), retry_at=None,
                                reason=f"its digest {digest.id} was {digest.status} without it")
        else:
            return 0
        self._save(item)
        return 1

    # -- recording --------------------------------------------------------------------------------
    def _meta(self, notification: Notification) -> Metadata:
        return Metadata(actor=ACTOR, correlation_id=notification.id)

    def _save(self, notification: Notification) -> None:
        try:
            self.notifications.save(notification, self._meta(notification))
        except ConcurrencyConflict:
            # Another writer (the policy worker suppressing it) got there first. What was sent was
            # sent: record that on the fresh stream, so the history tells the truth.
            sent = [e for e in notification.pending if e.name == "NotificationSent"]
            fresh = self.notifications.load(notification.id)
            for event in sent:
                if fresh.targets.get(event.data.get("endpoint_id") or event.data["channel"], {}).get("state") != "sent":
                    fresh.record(event.name, **event.data)
            if fresh.pending:
                self.notifications.save(fresh, self._meta(fresh))
            if not sent:
                raise _Unchanged() from None

    def _suppress(self, notification: Notification, reason: str) -> bool:
        notification.suppress(reason)
        self._save(notification)
        self.deliveries.count(notification.channel, "suppressed")
        log.info("suppressed %s: %s", notification.id, reason)
        return True


def main(argv: list[str] | None = None) -> int:
    """Run the dispatcher until SIGTERM/SIGINT; every client is created here, in this process."""
    parser = command_line(
        "python -m services.notifications.dispatcher",
        "The notifications dispatcher: sends what is due.",
        status="what the delivery queue holds",
        dry_run="which notifications the next round would act on (nothing is sent)",
    )
    args = parser.parse_args(argv)
    with running("notifications-dispatcher", one_shot=args.status or args.dry_run) as process:
        dispatcher = Dispatcher(process.event_store("notifications"), process.read_store(), process.settings,
                                metrics=process.metrics)
        if args.status or args.dry_run:
            return dispatcher.status(listing=args.dry_run)
        dispatcher.run(process.stop, process.metrics)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
