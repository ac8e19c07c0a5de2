"""The notifications domain (pure Python): notification, preferences, webhook endpoint and template
aggregates, and the time rules (reminder times, quiet hours, the digest hour, retry backoff).

A `Notification` is one message to one recipient through one channel. Its stream id comes from a
deterministic dedupe key, and its first event is always `NotificationScheduled`, appended at
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

import hashlib
import re
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Iterable
from zoneinfo import ZoneInfo

from shared.aggregate import Aggregate, applies
from shared.contracts.notifications import CHANNELS, FOLLOW_UP_KINDS, KINDS, REMINDER_KINDS
from shared.events import isoformat
from shared.times import parse, zone

USER_KINDS = KINDS[:-1]  # what preferences choose channels for (a digest goes where its items would)
PUSH_CHANNELS = ("email", "webhook")
DEFAULT_CHANNELS: dict[str, list[str]] = {kind: ["in_app"] for kind in USER_KINDS}
SCHEDULED, BUNDLED, SENT, FAILED, SUPPRESSED = "scheduled", "bundled", "sent", "failed", "suppressed"
STATUSES = (SCHEDULED, BUNDLED, SENT, FAILED, SUPPRESSED)
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class DomainError(ValueError):
    """Input the domain refuses, naming the field (the application answers 422 with it)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


# -- time -----------------------------------------------------------------------------------------
def wall_to_utc(local: datetime, tz: ZoneInfo) -> datetime:
    """The instant of a naive wall-clock time in `tz`. A time the clocks skip (spring forward)
    lands just after the jump; a time that happens twice means its first occurrence."""
    return local.replace(tzinfo=tz, fold=0).astimezone(timezone.utc)


def hhmm(value: str) -> time:
    match = _HHMM.match(value)
    if not match:
        raise DomainError("quiet_hours", f"{value!r} is not a time of day as HH:MM")
    return time(int(match.group(1)), int(match.group(2)))


def reminder_times(start: datetime, time_zone: str | None) -> dict[str, datetime]:
    """When each interview reminder is due: the day before at the same wall-clock time in the
    recipient's zone (so a daylight-saving change in between does not move it by an hour), and
    exactly one hour before."""
    tz = zone(time_zone)
    local = start.astimezone(tz).replace(tzinfo=None)
    return {"interview_reminder_24h": wall_to_utc(local - timedelta(days=1), tz),
            "interview_reminder_1h": start - timedelta(hours=1)}


def quiet_until(moment: datetime, time_zone: str | None, quiet_hours: dict[str, str] | None) -> datetime | None:
    """The end of the quiet period `moment` falls in (in the recipient's zone), or None if it does
    not. A period whose end is before its start runs past midnight (22:00-07:00)."""
    if not quiet_hours:
        return None
    start, end = hhmm(quiet_hours["start"]), hhmm(quiet_hours["end"])
    if start == end:
        return None
    tz = zone(time_zone)
    local = moment.astimezone(tz)
    now = local.time().replace(tzinfo=None)
    if start < end:
        inside, end_day = start <= now < end, local.date()
    else:
        inside = now >= start or now < end
        end_day = local.date() + timedelta(days=1) if now >= start else local.date()
    if not inside:
        return None
    until = wall_to_utc(datetime.combine(end_day, end), tz)
    return until if until > moment else None


def next_digest_at(moment: datetime, time_zone: str | None, hour: int) -> datetime:
    """The first digest time (a fixed local hour) after `moment`, in the recipient's zone."""
    tz = zone(time_zone)
    day = moment.astimezone(tz).date()
    for offset in range(3):
        candidate = wall_to_utc(datetime.combine(day + timedelta(days=offset), time(hour)), tz)
        if candidate > moment:
            return candidate
    raise AssertionError("a day has a digest hour")


def local_day(moment: datetime, time_zone: str | None) -> date:
    return moment.astimezone(zone(time_zone)).date()


def retry_delay(attempt: int, base_seconds: float, cap_seconds: float) -> timedelta:
    """Exponential backoff after the `attempt`-th failure: base, 2·base, 4·base, ... capped."""
    return timedelta(seconds=min(cap_seconds, base_seconds * 2 ** (attempt - 1)))


# -- dedupe -----------------------------------------------------------------------------------------
def dedupe_key(source_event_id: str, kind: str, channel: str, recipient_id: str) -> str:
    return "|".join((source_event_id, kind, channel, recipient_id))


def digest_key(recipient_id: str, channel: str, day: date) -> str:
    return "|".join(("digest", day.isoformat(), "digest", channel, recipient_id))


def notification_id(key: str) -> str:
    """The notification's stream id: the same key always names the same stream."""
    return "ntf_" + hashlib.sha256(key.encode()).hexdigest()[:32]


def notification_ids(source_event_id: str, kinds: Iterable[str], recipient_id: str) -> list[str]:
    """Every notification a source event may have scheduled (any kind of these, any channel)."""
    return [notification_id(dedupe_key(source_event_id, k, c, recipient_id)) for k in kinds for c in CHANNELS]


# -- the notification -------------------------------------------------------------------------------
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
                 source: dict[str, Any], context: dict[str, Any], not_sent_because: str | None = None) -> "Notification":
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

    def collect(self, item: "Notification") -> None:
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
    def restore(cls, aggregate_id: str, version: int, state: dict[str, Any]) -> "Notification":
        notification = cls(aggregate_id)
        for name, value in state.items():
            if name in notification.snapshot():
                setattr(notification, name, value)
        notification.owner_id = notification.recipient_id or None
        notification.version = version
        return notification


# -- preferences ------------------------------------------------------------------------------------
class Preferences(Aggregate):
    """A user's notification preferences (one stream per user)."""

    stream_type = "preferences"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.email: str | None = None
        self.time_zone: str | None = None
        self.channels: dict[str, list[str]] = {k: list(v) for k, v in DEFAULT_CHANNELS.items()}
        self.quiet_hours: dict[str, str] | None = None
        self.digest = False

    @staticmethod
    def stream_for(user_id: str) -> str:
        return f"preferences:{user_id}"

    def change(self, user_id: str, *, email: str | None, time_zone: str | None, channels: dict[str, list[str]],
               quiet_hours: dict[str, str] | None, digest: bool) -> None:
        """Replace the preferences; kinds left out keep their channels. Nothing changes, no event."""
        merged = {**self.channels, **{k: sorted(set(v), key=CHANNELS.index) for k, v in channels.items()}}
        if quiet_hours is not None:
            if hhmm(quiet_hours["start"]) == hhmm(quiet_hours["end"]):
                raise DomainError("quiet_hours", "quiet hours need an end different from their start")
            quiet_hours = {"start": quiet_hours["start"], "end": quiet_hours["end"]}
        if "email" in {c for chosen in merged.values() for c in chosen} and not email:
            raise DomainError("email", "an e-mail address is needed to receive e-mail notifications")
        state = (email, time_zone, merged, quiet_hours, digest)
        if self.exists and state == (self.email, self.time_zone, self.channels, self.quiet_hours, self.digest):
            return
        self.record("NotificationPreferencesChanged", user_id=user_id, email=email, time_zone=time_zone,
                    channels=merged, quiet_hours=quiet_hours, digest=digest)

    def wants(self, kind: str, channel: str) -> bool:
        return channel in self.channels.get(kind, [])

    def view(self) -> dict[str, Any]:
        return {"email": self.email, "time_zone": self.time_zone, "channels": self.channels,
                "quiet_hours": self.quiet_hours, "digest": self.digest}

    @applies("NotificationPreferencesChanged")
    def _changed(self, data: dict[str, Any]) -> None:
        self.owner_id = data["user_id"]
        self.email, self.time_zone = data.get("email"), data.get("time_zone")
        self.channels = {**{k: list(v) for k, v in DEFAULT_CHANNELS.items()}, **data["channels"]}
        self.quiet_hours, self.digest = data.get("quiet_hours"), data["digest"]


# -- webhook endpoints --------------------------------------------------------------------------------
class WebhookEndpoint(Aggregate):
    """One HTTPS endpoint of a user; it counts consecutive failed deliveries and disables itself."""

    stream_type = "webhook_endpoint"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.user_id = ""
        self.url = ""
        self.description: str | None = None
        self.secret_salt = ""
        self.state = "new"
        self.consecutive_failures = 0
        self.disabled_reason: str | None = None

    @classmethod
    def register(cls, endpoint_id: str, user_id: str, url: str, description: str | None, salt: str) -> "WebhookEndpoint":
        endpoint = cls(endpoint_id)
        endpoint.record("WebhookEndpointRegistered", user_id=user_id, url=url, description=description,
                        secret_salt=salt)
        return endpoint

    @property
    def enabled(self) -> bool:
        return self.state == "enabled"

    def record_failure(self, notification_id: str, reason: str, *, disable_after: int, permanent: bool = False) -> None:
        """A delivery failed. After `disable_after` in a row, or at once when the receiver said it
        wants nothing more (HTTP 410), the endpoint is disabled, in the same commit."""
        if self.state == "removed":
            return
        count = self.consecutive_failures + 1
        self.record("WebhookDeliveryFailed", user_id=self.user_id, notification_id=notification_id,
                    reason=reason[:1000], consecutive_failures=count)
        if self.enabled and (permanent or count >= disable_after):
            why = (f"the receiver refused for good: {reason}" if permanent
                   else f"{count} deliveries failed in a row; the last: {reason}")
            self.record("WebhookEndpointDisabled", user_id=self.user_id, reason=why[:1000], consecutive_failures=count)

    def record_success(self, notification_id: str) -> None:
        if self.consecutive_failures:
            self.record("WebhookEndpointRecovered", user_id=self.user_id, notification_id=notification_id)

    def enable(self) -> None:
        self.require(self.state != "removed", "a removed endpoint cannot be enabled")
        if self.state == "disabled":
            self.record("WebhookEndpointEnabled", user_id=self.user_id)

    def remove(self) -> None:
        self.require(self.state != "removed", "the endpoint is already removed")
        self.record("WebhookEndpointRemoved", user_id=self.user_id)

    def view(self) -> dict[str, Any]:
        return {"id": self.id, "url": self.url, "description": self.description, "status": self.state,
                "consecutive_failures": self.consecutive_failures, "disabled_reason": self.disabled_reason}

    @applies("WebhookEndpointRegistered")
    def _registered(self, data: dict[str, Any]) -> None:
        self.owner_id = self.user_id = data["user_id"]
        self.url, self.description, self.secret_salt = data["url"], data.get("description"), data["secret_salt"]
        self.state = "enabled"

    @applies("WebhookDeliveryFailed")
    def _delivery_failed(self, data: dict[str, Any]) -> None:
        self.consecutive_failures = data["consecutive_failures"]

    @applies("WebhookEndpointRecovered")
    def _recovered(self, data: dict[str, Any]) -> None:
        self.consecutive_failures = 0

    @applies("WebhookEndpointDisabled")
    def _disabled(self, data: dict[str, Any]) -> None:
        self.state, self.disabled_reason = "disabled", data["reason"]

    @applies("WebhookEndpointEnabled")
    def _enabled(self, data: dict[str, Any]) -> None:
        self.state, self.disabled_reason, self.consecutive_failures = "enabled", None, 0

    @applies("WebhookEndpointRemoved")
    def _removed(self, data: dict[str, Any]) -> None:
        self.state = "removed"


# -- templates -------------------------------------------------------------------------------------
class Template(Aggregate):
    """The subject, text and HTML templates of one kind (stream `template:<kind>`); the defaults
    (in `rendering`) apply until an admin changes them."""

    stream_type = "template"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.kind = aggregate_id.removeprefix("template:")
        self.parts: dict[str, str] | None = None  # None: the defaults

    @staticmethod
    def stream_for(kind: str) -> str:
        return f"template:{kind}"

    def change(self, subject: str, text: str, html: str) -> None:
        # imported here because `rendering` builds on this module's time helpers
        from services.notifications.rendering import check_template
        errors = {name: check_template(self.kind, value) for name, value in
                  (("subject", subject), ("text", text), ("html", html))}
        for name, problems in errors.items():
            if problems:
                raise DomainError(name, "; ".join(problems))
        if self.parts != {"subject": subject, "text": text, "html": html}:
            self.record("NotificationTemplateChanged", kind=self.kind, subject=subject, text=text, html=html)

    @applies("NotificationTemplateChanged")
    def _changed(self, data: dict[str, Any]) -> None:
        self.parts = {"subject": data["subject"], "text": data["text"], "html": data["html"]}


__all__ = ["CHANNELS", "FOLLOW_UP_KINDS", "KINDS", "REMINDER_KINDS", "USER_KINDS"]
