"""The followups service's composition root: `create_app()` wires the ports once, per process."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import Flask

from services.followups.api import FollowUpsContext, api
from services.followups.application import FollowUpsService
from services.followups.projections import FollowUpViews, advisees, items, sources, timeline, versions
from shared.config import Settings
from shared.events import utcnow
from shared.eventstore import EventStore, open_event_store
from shared.keys import sealing
from shared.readstore import ReadStore, open_read_store
from shared.web import create_service_app

SERVICE = "followups"


def create_app(settings: Settings | None = None, *, event_store: EventStore | None = None,
               read_store: ReadStore | None = None, clock: Callable[[], datetime] = utcnow,
               env: dict[str, str] | None = None) -> Flask:
    """Gunicorn calls this in each worker after fork, so every client is created per process."""
    settings = settings or Settings.from_env(env)
    event_store = sealing(event_store or open_event_store(settings.event_store_url(SERVICE)), settings)
    read_store = read_store or open_read_store(settings.get("READ_STORE_URL"))
    app = create_service_app(
        SERVICE, settings=settings, event_store=event_store, apis=[api],
        readiness={"read_store": read_store.ping}, read_store=read_store, projections=[FollowUpViews],
        description="Each student's timelines and follow-up queue: thank-yous, the 3B7 routine, "
                    "stay-in-touch check-ins and action items from notes; and each advisor's view of their students.",
    )
    app.extensions[SERVICE] = FollowUpsContext(
        FollowUpsService(event_store, items(read_store), clock=clock), sources(read_store), versions(read_store),
        items(read_store), timeline(read_store), advisees(read_store), clock)
    return app
