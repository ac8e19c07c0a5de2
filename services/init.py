"""`python -m services.init`: prepare the backends before the platform starts (docker compose's init step).

Creates every topic with its fixed partition count (producers never auto-create), and every
collection and index the services and projections use, so the first request or event finds them.
Safe to run again: everything it does is idempotent. `--skip-topics` where the cluster manages the topics
(the Helm chart's Strimzi KafkaTopics): the init step then needs no Kafka user of its own.
"""
from __future__ import annotations

import argparse
import logging

from services.analytics.projections import FunnelViews
from services.analytics.translator import Translator
from services.contacts.projections import ContactDirectory
from services.followups.projections import FollowUpViews
from services.notes.projections import NotesViews
from services.notifications.policy_worker import NotificationPolicies
from services.notifications.projections import NotificationViews
from services.privacy.projections import ErasureViews
from services.scheduling.projections import SchedulingViews
from shared.bus import open_bus
from shared.eventstore import open_event_store
from shared.keys import open_personal_data
from shared.process import start_process
from shared.projection import Projection
from shared.readstore import open_read_store
from shared.runtime import ensure_all_topics

SERVICES = ("contacts", "scheduling", "notes", "followups", "notifications", "analytics", "privacy")
PROJECTIONS: tuple[type[Projection], ...] = (ContactDirectory, SchedulingViews, NotesViews, FollowUpViews,
                                             NotificationViews, NotificationPolicies, Translator,
                                             FunnelViews, ErasureViews)

log = logging.getLogger("careerloop.init")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Prepare the backends before the platform starts.")
    parser.add_argument("--skip-topics", action="store_true",
                        help="leave the topics alone: the cluster manages them (Strimzi KafkaTopic resources)")
    args = parser.parse_args(argv)
    settings = start_process("init")
    if not args.skip_topics:
        bus = open_bus(settings.get("BUS_URL"), settings)
        try:
            ensure_all_topics(bus, settings)
        finally:
            bus.close()
    for service in SERVICES:
        store = open_event_store(settings.event_store_url(service))
        store.prepare()
        store.close()
    personal = open_personal_data(settings)  # under make run: generates the master key, once
    personal.keys.store.prepare()
    personal.keys.store.close()
    read_store = open_read_store(settings.get("READ_STORE_URL"))
    for projection in PROJECTIONS:
        projection(read_store)  # declaring a projection's collections creates their indexes
    read_store.prepare()
    read_store.close()
    log.info("topics, collections and indexes are ready")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
