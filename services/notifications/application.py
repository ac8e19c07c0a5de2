"""The notifications use cases: load → act → save for preferences, the inbox, webhook endpoints and
templates (the API), and scheduling/suppressing for the policy worker.

Scheduling appends a new notification stream at expected version 0. That append *is* the dedupe
record: when the stream exists (a replayed source event, a restarted worker, a rebuilt read model)
it raises a concurrency conflict and nothing else happens, so whatever was scheduled once is never
scheduled, and therefore never sent, twice.

A webhook endpoint's signing secret is never stored: it is an HMAC of the endpoint id and a random
salt (kept in the registration event) under WEBHOOK_SECRET_KEY, so the dispatcher can sign with it
and the API can show it once, at registration, while no event, topic or database holds it.
Rotating WEBHOOK_SECRET_KEY changes every endpoint's secret at once.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from marshmallow import ValidationError

from services.notifications.domain import (
    PLACEHOLDERS,
    DomainError,
    Notification,
    Preferences,
    Template,
    WebhookEndpoint,
)
from services.notifications.policies import Decision, Plan
from services.notifications.rendering import DEFAULT_TEMPLATES
from shared.auth import Principal
from shared.contracts.notifications import (
    NOTIFICATION_PREFERENCES,
    NOTIFICATION_TEMPLATES,
    NOTIFICATIONS,
    WEBHOOK_ENDPOINTS,
)
from shared.errors import ConcurrencyConflict, NotFound, TransientError
from shared.events import Metadata, utcnow
from shared.eventstore import EventStore
from shared.outbound import OutboundGuard, Unreachable, UnsafeUrl
from shared.repository import Accepted, Repository


def webhook_secret(key: str, endpoint_id: str, salt: str) -> str:
    """The endpoint's Standard Webhooks secret: `whsec_` + base64 of 32 bytes."""
    digest = hmac.new(key.encode(), f"webhook-secret:{endpoint_id}:{salt}".encode(), hashlib.sha256).digest()
    return "whsec_" + base64.b64encode(digest).decode("ascii")


def _domain(work: Callable[[], Any]) -> Any:
    """Refusals of the domain are 422s naming the field."""
    try:
        return work()
    except DomainError as exc:
        raise ValidationError({exc.field: [exc.message]}) from exc


class NotificationsService:
    def __init__(self, store: EventStore, *, webhook_key: str, clock: Callable[[], datetime] = utcnow,
                 outbound: OutboundGuard | None = None) -> None:
        self.store = store
        self.notifications: Repository[Notification] = Repository(store, NOTIFICATIONS, Notification)
        self.preferences: Repository[Preferences] = Repository(store, NOTIFICATION_PREFERENCES, Preferences)
        self.endpoints: Repository[WebhookEndpoint] = Repository(store, WEBHOOK_ENDPOINTS, WebhookEndpoint)
        self.templates: Repository[Template] = Repository(store, NOTIFICATION_TEMPLATES, Template)
        self.webhook_key = webhook_key
        self.clock = clock
        self.outbound = outbound or OutboundGuard()

    # -- preferences --------------------------------------------------------------------------------
    def get_preferences(self, user_id: str) -> Preferences:
        return self.preferences.load(Preferences.stream_for(user_id))

    def change_preferences(self, user_id: str, body: dict[str, Any], meta: Metadata,
                           expected_version: int | None = None) -> Accepted:
        def act(preferences: Preferences) -> None:
            preferences.owner_id = user_id
            _domain(lambda: preferences.change(
                user_id, email=body.get("email"), time_zone=body.get("time_zone"), channels=body.get("channels", {}),
                quiet_hours=body.get("quiet_hours"), digest=body.get("digest", False)))

        return self.preferences.update(Preferences.stream_for(user_id), meta, act, expected_version=expected_version)[1]

    # -- notifications and the inbox --------------------------------------------------------------
    def get(self, notification_id: str, principal: Principal) -> Notification:
        notification = self.notifications.load(notification_id)
        if not notification.exists or not (principal.has("admin") or notification.recipient_id == principal.subject):
            raise NotFound(f"notification {notification_id} not found")
        return notification

    def mark_read(self, notification_id: str, principal: Principal, meta: Metadata) -> Accepted:
        return self.notifications.update(notification_id, meta, lambda n: n.acknowledge(self.clock()),
                                         load=lambda nid: self.get(nid, principal))[1]

    # -- webhook endpoints ------------------------------------------------------------------------
    def register_endpoint(
        self, user_id: str, url: str, description: str | None, meta: Metadata
    ) -> tuple[Accepted, str]:
        """Register a URL whose host resolves, now, to addresses webhooks may reach (422 naming
        `url` otherwise); the dispatcher checks again at every delivery."""
        try:
            self.outbound.check(url)
        except UnsafeUrl as unsafe:
            raise ValidationError({"url": [f"{unsafe.reason}; webhooks reach only public addresses"]}) from None
        except Unreachable as failure:  # the resolver did not answer: 503, try again
            raise TransientError(f"webhook URL: {failure.reason}") from None
        endpoint_id = "whe_" + uuid.uuid4().hex
        salt = secrets.token_urlsafe(16)
        endpoint = WebhookEndpoint.register(endpoint_id, user_id, url, description, salt)
        commit = self.endpoints.save(endpoint, meta)
        version = commit.last_version if commit else endpoint.version
        return Accepted(endpoint_id, version), webhook_secret(self.webhook_key, endpoint_id, salt)

    def endpoint(self, endpoint_id: str, principal: Principal) -> WebhookEndpoint:
        endpoint = self.endpoints.load(endpoint_id)
        if not endpoint.exists or endpoint.state == "removed" or not (
                principal.has("admin") or endpoint.user_id == principal.subject):
            raise NotFound(f"webhook endpoint {endpoint_id} not found")
        return endpoint

    def enable_endpoint(self, endpoint_id: str, principal: Principal, meta: Metadata,
                        expected_version: int | None = None) -> Accepted:
        return self.endpoints.update(endpoint_id, meta, lambda e: e.enable(), expected_version=expected_version,
                                     load=lambda eid: self.endpoint(eid, principal))[1]

    def remove_endpoint(self, endpoint_id: str, principal: Principal, meta: Metadata,
                        expected_version: int | None = None) -> Accepted:
        return self.endpoints.update(endpoint_id, meta, lambda e: e.remove(), expected_version=expected_version,
                                     load=lambda eid: self.endpoint(eid, principal))[1]

    # -- templates ----------------------------------------------------------------------------------
    def template(self, kind: str) -> tuple[Template, dict[str, Any]]:
        if kind not in DEFAULT_TEMPLATES:
            raise NotFound(f"no notification kind {kind}")
        template = self.templates.load(Template.stream_for(kind))
        parts = template.parts or DEFAULT_TEMPLATES[kind]
        return template, {"kind": kind, **parts, "default": template.parts is None, "version": template.version,
                          "placeholders": PLACEHOLDERS[kind]}

    def change_template(self, kind: str, body: dict[str, Any], meta: Metadata,
                        expected_version: int | None = None) -> Accepted:
        if kind not in DEFAULT_TEMPLATES:
            raise NotFound(f"no notification kind {kind}")
        return self.templates.update(Template.stream_for(kind), meta, lambda t: _domain(
            lambda: t.change(body["subject"], body["text"], body["html"])), expected_version=expected_version)[1]

    # -- the policy worker's side -------------------------------------------------------------------
    def carry_out(self, decision: Decision, meta: Metadata) -> list[str]:
        """Suppress what the decision makes moot, then schedule its plans; the ids newly scheduled."""
        for suppression in decision.suppress:
            self.suppress(suppression.ids, suppression.reason, meta)
        return [plan.id for plan in decision.schedule if self.schedule(plan, meta)]

    def schedule(self, plan: Plan, meta: Metadata) -> bool:
        """Record the plan as a new stream at version 0; False when it was recorded before."""
        notification = Notification.schedule(plan.key, recipient_id=plan.recipient_id, kind=plan.kind,
                                             channel=plan.channel, send_at=plan.send_at, source=plan.source,
                                             context=plan.context, not_sent_because=plan.not_sent_because)
        try:
            self.notifications.save(notification, meta)
        except ConcurrencyConflict:
            return False  # the dedupe key is taken: a replay, nothing to do
        return True

    def suppress(self, ids: Iterable[str], reason: str, meta: Metadata) -> None:
        for notification_id in ids:
            self.notifications.update(notification_id, meta, lambda n: n.suppress(reason))
