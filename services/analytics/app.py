"""The analytics service's composition root: `create_app()` wires the ports once, per process."""
from __future__ import annotations

from typing import Any

from flask import Flask

from services.analytics.api import AnalyticsContext, api
from services.analytics.application import AnalyticsService
from services.analytics.domain import definition
from services.analytics.projections import ReadModels, calendar_of
from services.analytics.worker import funnel_views
from shared.config import Settings
from shared.eventstore import EventStore, open_event_store
from shared.keys import sealing
from shared.readstore import ReadStore, open_read_store
from shared.web import create_service_app

SERVICE = "analytics"


def create_app(settings: Settings | None = None, *, event_store: EventStore | None = None,
               read_store: ReadStore | None = None, **overrides: Any) -> Flask:
    """Gunicorn calls this in each worker after fork, so every client is created per process."""
    settings = settings or Settings.from_env(overrides.pop("env", None))
    event_store = sealing(event_store or open_event_store(settings.event_store_url(SERVICE)), settings)
    read_store = read_store or open_read_store(settings.get("READ_STORE_URL"))
    app = create_service_app(
        SERVICE, settings=settings, event_store=event_store, apis=[api],
        readiness={"read_store": read_store.ping}, read_store=read_store, projections=[funnel_views(settings)],
        description="The career office's analytics: the roster of students' academic attributes, and for analysts "
                    "the informational-interview funnel and weekly engagement by cohort, term, industry and "
                    "organisation, with small cells suppressed.",
    )
    options = {"calendar": calendar_of(settings), "rules": definition(settings.int("FUNNEL_DEFINITION")),
               "min_cell": settings.int("ANALYTICS_MIN_CELL"), "max_rows": settings.int("ANALYTICS_ROSTER_MAX_ROWS"),
               **overrides}  # tests replace any of them
    service = AnalyticsService(event_store, ReadModels.of(read_store), **options)
    app.extensions[SERVICE] = AnalyticsContext(service, settings)
    return app
