"""The contacts service's composition root: `create_app()` wires the ports once, per process."""
from __future__ import annotations

from typing import Any

from flask import Flask

from services.contacts.api import ContactsContext, api
from services.contacts.application import ContactsService
from services.contacts.projections import ContactDirectory, directory
from shared.config import Settings
from shared.eventstore import EventStore, open_event_store
from shared.keys import sealing
from shared.readstore import ReadStore, open_read_store
from shared.web import create_service_app

SERVICE = "contacts"


def create_app(settings: Settings | None = None, *, event_store: EventStore | None = None,
               read_store: ReadStore | None = None, **overrides: Any) -> Flask:
    """Gunicorn calls this in each worker after fork, so every client is created per process."""
    settings = settings or Settings.from_env(overrides.pop("env", None))
    event_store = sealing(event_store or open_event_store(settings.event_store_url(SERVICE)), settings)
    read_store = read_store or open_read_store(settings.get("READ_STORE_URL"))
    app = create_service_app(
        SERVICE, settings=settings, event_store=event_store, apis=[api],
        readiness={"read_store": read_store.ping}, read_store=read_store, projections=[ContactDirectory],
        description="Each student's professionals and the history of the relationship with each.",
    )
    app.extensions[SERVICE] = ContactsContext(ContactsService(event_store, **overrides), directory(read_store),
                                              settings)
    return app
