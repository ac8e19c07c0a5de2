"""The notifications service's composition root: `create_app()` wires the ports once, per process."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import Flask

from services.notifications.api import NotificationsContext, api
from services.notifications.application import NotificationsService
from services.notifications.projections import NotificationViews, endpoints, notifications, queue_gauges
from shared.config import Settings
from shared.events import utcnow
from shared.eventstore import EventStore, open_event_store
from shared.keys import sealing
from shared.outbound import OutboundGuard
from shared.readstore import ReadStore, open_read_store
from shared.web import create_service_app

SERVICE = "notifications"


def create_app(settings: Settings | None = None, *, event_store: EventStore | None = None,
               read_store: ReadStore | None = None, clock: Callable[[], datetime] = utcnow,
               env: dict[str, str] | None = None, outbound: OutboundGuard | None = None) -> Flask:
    """Gunicorn calls this in each worker after fork, so every client is created per process."""
    settings = settings or Settings.from_env(env)
    event_store = sealing(event_store or open_event_store(settings.event_store_url(SERVICE)), settings)
    read_store = read_store or open_read_store(settings.get("READ_STORE_URL"))
    app = create_service_app(
        SERVICE, settings=settings, event_store=event_store, apis=[api],
        readiness={"read_store": read_store.ping}, read_store=read_store, projections=[NotificationViews],
        gauges=[queue_gauges],
        description="Reminders and follow-up notices by e-mail, signed webhooks and an in-app inbox: "
                    "preferences, quiet hours, a daily digest, templates, and each notification's history.",
    )
    service = NotificationsService(event_store, webhook_key=settings.get("WEBHOOK_SECRET_KEY"), clock=clock,
                                   outbound=outbound or OutboundGuard.from_settings(settings))
    app.extensions[SERVICE] = NotificationsContext(service, notifications(read_store), endpoints(read_store))
    return app
