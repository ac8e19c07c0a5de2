"""The privacy service's composition root: `create_app()` wires the ports once, per process."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import requests
from flask import Flask

from services.privacy.api import PrivacyContext, api
from services.privacy.application import PrivacyService
from services.privacy.archive import Get, parse_sources
from services.privacy.projections import ErasureViews, erasures
from shared.config import Settings
from shared.events import utcnow
from shared.eventstore import EventStore, open_event_store
from shared.keys import sealing
from shared.keys.personal import SealingEventStore
from shared.readstore import ReadStore, open_read_store
from shared.web import create_service_app

SERVICE = "privacy"


def create_app(settings: Settings | None = None, *, event_store: EventStore | None = None,
               read_store: ReadStore | None = None, clock: Callable[[], datetime] = utcnow,
               env: dict[str, str] | None = None, fetch: Get = requests.get) -> Flask:
    """Gunicorn calls this in each worker after fork, so every client is created per process."""
    settings = settings or Settings.from_env(env)
    sources = parse_sources(settings)  # a bad EXPORT_SOURCES stops the start, naming the variable
    store = sealing(event_store or open_event_store(settings.event_store_url(SERVICE)), settings)
    assert isinstance(store, SealingEventStore)
    read_store = read_store or open_read_store(settings.get("READ_STORE_URL"))
    app = create_service_app(
        SERVICE, settings=settings, event_store=store, apis=[api],
        readiness={"read_store": read_store.ping}, read_store=read_store, projections=[ErasureViews],
        description="Erasure by crypto-shredding: a student's (or an admin's) request, an admin's confirmation, "
                    "and the report of every component that acted on it; and the data-subject export: everything "
                    "the platform holds about a student, each service's part zipped into one archive.",
    )
    app.extensions[SERVICE] = PrivacyContext(
        PrivacyService(store, read_store, lambda: store.personal, clock=clock), erasures(read_store), sources, fetch)
    return app
