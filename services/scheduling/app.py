"""The scheduling service's composition root: `create_app()` wires the ports once, per process."""
from __future__ import annotations

from typing import Any

from flask import Flask

from services.scheduling.api import SchedulingContext, api
from services.scheduling.application import SchedulingService
from services.scheduling.projections import SchedulingViews, contact_references, interviews
from shared.config import Settings
from shared.eventstore import EventStore, open_event_store
from shared.keys import sealing
from shared.readstore import ReadStore, open_read_store
from shared.web import create_service_app

SERVICE = "scheduling"


def create_app(settings: Settings | None = None, *, event_store: EventStore | None = None,
               read_store: ReadStore | None = None, **overrides: Any) -> Flask:
    """Gunicorn calls this in each worker after fork, so every client is created per process."""
    settings = settings or Settings.from_env(overrides.pop("env", None))
    event_store = sealing(event_store or open_event_store(settings.event_store_url(SERVICE)), settings)
    read_store = read_store or open_read_store(settings.get("READ_STORE_URL"))
    app = create_service_app(
        SERVICE, settings=settings, event_store=event_store, apis=[api],
        readiness={"read_store": read_store.ping}, read_store=read_store, projections=[SchedulingViews],
        description="Informational interviews from the first request to the finished conversation.",
    )
    service = SchedulingService(event_store, contact_references(read_store),
                                reference_wait_seconds=settings.int("READ_YOUR_WRITES_WAIT_SECONDS"), **overrides)
    app.extensions[SERVICE] = SchedulingContext(service, interviews(read_store), settings)
    return app
