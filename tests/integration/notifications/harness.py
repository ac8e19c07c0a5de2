"""The notifications service wired in-process with the services it listens to, on one backend profile.

Contacts and scheduling run as in their own tests (their APIs, SchedulingViews for the contact
references); the followups service is represented by its event store and relay alone: a test
records `FollowUpBecameDue` there the way the announcer does. The notifications API, its views and
its policy worker share the bus and the read store; the dispatcher runs in the test's thread, one
`tick()` at a time, under the test's clock. `sync()` runs every relay and worker until nothing moves.

Host names resolve through `world.names` (a table the test controls, no network): the API's check
at registration and the dispatcher's at delivery both ask it. WEBHOOK_ALLOWED_NETWORKS is
127.0.0.0/8 unless a test says otherwise, because the webhook receivers listen on loopback.
"""
from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from services.contacts.app import create_app as create_contacts_app
from services.followups.app import create_app as create_followups_app
from services.notifications.app import create_app as create_notifications_app
from services.notifications.channels import WebhookChannel
from services.notifications.dispatcher import Dispatcher
from services.notifications.policy_worker import NotificationPolicies
from services.notifications.projections import NotificationViews
from services.scheduling.app import create_app as create_scheduling_app
from services.scheduling.projections import SchedulingViews
from shared.config import Settings
from shared.consumer import ConsumerRunner
from shared.contracts.followups import FOLLOWUPS
from shared.events import Metadata, Recorded, isoformat
from shared.outbound import OutboundGuard
from tests.clock import Clock
from tests.integration.conftest import InProcessPlatform

# A Monday after the real date: the scheduling service stamps its events with the real time, and a
# reminder is "too late" only when its time had passed when the interview was booked.
NOW = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)
PUBLIC_ADDRESS = "93.184.215.14"  # a globally routable address (example.org's); nothing connects to it
LOOPBACK_ALLOWED = "127.0.0.0/8"


@dataclass
class Names:
    """A resolver the test controls: host name -> addresses; any other name does not resolve, and
    a name in `silent` gets no answer (a DNS server that is down)."""

    table: dict[str, list[str]] = field(default_factory=lambda: {
        "localhost": ["127.0.0.1", "::1"], "hooks.example.org": [PUBLIC_ADDRESS]})
    silent: set[str] = field(default_factory=set)

    def __call__(self, host: str, port: int) -> list[str]:
        if host in self.silent:
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(self.table[host])


class LiveRunner:
    """A consumer runner whose consumer stays in its group between catch-ups: on Kafka each new
    member waits for a join and a fetch round, which would cost a second per catch-up."""

    def __init__(self, runner: ConsumerRunner) -> None:
        self.runner = runner
        runner.bus.ensure_topics({runner.dead_letters: 1})
        runner.consumer = runner.bus.consumer(runner.handler.group_id, runner.handler.topics)
        runner.producer = runner.bus.producer()

    def catch_up(self) -> None:
        while True:
            messages = self.runner.consumer.poll(500, timeout=0.0)
            if messages:
                self.runner.process(messages)
            elif self.runner.caught_up():
                return

    def close(self) -> None:
        self.runner.consumer.close()
        self.runner.producer.close()


@dataclass
class Notifications:
    contacts: InProcessPlatform
    scheduling: InProcessPlatform
    followups: InProcessPlatform
    api: InProcessPlatform
    dispatcher: Dispatcher
    clock: Clock
    settings: Settings
    live: list[LiveRunner]
    names: Names

    @property
    def namespace(self) -> str:
        return self.settings.get("BUS_NAMESPACE")

    # -- moving things along ---------------------------------------------------------------------
    def sync(self) -> None:
        """Relays and workers until nothing is left to publish (the policy worker's appends are
        published by the next round)."""
        while True:
            for relay in self.api.relays:
                while relay.publish_pending():
                    pass
            for runner in self.live:
                runner.catch_up()
            if all(relay.store.unpublished_count() == 0 for relay in self.api.relays):
                return

    def dispatch(self, at: datetime | None = None) -> int:
        """Let the dispatcher act on what is due (at `at`, if given), then project what it did."""
        if at is not None:
            self.clock.now = at
        self.sync()
        acted = self.dispatcher.tick()
        self.sync()
        return acted

    # -- HTTP --------------------------------------------------------------------------------------
    def call(self, service: str, method: str, path: str, auth: str | None, body: Any = None, **headers: str) -> Any:
        client = getattr(self, service).client
        if auth:
            headers["Authorization"] = auth
        if body is None and method in ("GET", "DELETE"):
            return client.open(path, method=method, headers=headers)
        return client.open(path, method=method, json=body if body is not None else {}, headers=headers)

    def get(self, path: str, auth: str) -> Any:
        return self.call("api", "GET", path, auth)

    def post(self, path: str, auth: str, body: Any = None, **headers: str) -> Any:
        return self.call("api", "POST", path, auth, body, **headers)

    def put(self, path: str, auth: str, body: Any, **headers: str) -> Any:
        return self.call("api", "PUT", path, auth, body, **headers)

    def ok(self, response: Any, status: int = 200) -> Any:
        assert response.status_code == status, (response.status_code, response.json)
        return response.json

    # -- the world the notifications listen to -------------------------------------------------------
    def prefer(self, auth: str, **preferences: Any) -> dict[str, Any]:
        return self.ok(self.put("/preferences", auth, preferences))

    def add_contact(self, auth: str, **details: Any) -> str:
        response = self.call("contacts", "POST", "/contacts", auth,
                             {"name": "Jane Doe", "organisation": "Acme Corp", **details})
        return self.ok(response, 201)["id"]

    def schedule_interview(self, auth: str, contact_id: str, start: str, time_zone: str, **request: Any) -> str:
        self.sync()  # scheduling must know the contact
        created = self.call("scheduling", "POST", "/interviews", auth, {
            "contact_id": contact_id, "objectives": ["How do product teams work?"], "format": "video",
            "link": "https://meet.example.org/jane", "time_zone": time_zone, **request})
        interview = self.ok(created, 201)["id"]
        self.ok(self.call("scheduling", "POST", f"/interviews/{interview}/schedule", auth,
                          {"start": start, "time_zone": time_zone}))
        self.sync()
        return interview

    def reschedule(self, auth: str, interview: str, start: str, time_zone: str) -> None:
        self.ok(self.call("scheduling", "POST", f"/interviews/{interview}/reschedule", auth,
                          {"start": start, "time_zone": time_zone}))
        self.sync()

    def announce_due(self, student_id: str, rule: str, item_source: str, *, reason: str, due_at: datetime,
                     contact_id: str | None = None, link: str = "/followups") -> str:
        """Record FollowUpBecameDue on the item's stream, as the followups announcer does."""
        item_id = f"{rule}:{item_source}"
        store = self.followups.store
        version = store.stream_version(item_id)
        envelope = FOLLOWUPS.envelope(Recorded("FollowUpBecameDue", {
            "student_id": student_id, "rule": rule, "reason": reason, "due_at": isoformat(due_at),
            "overdue_at": None, "contact_id": contact_id, "link": link,
            "source": {"service": "test", "type": "item", "id": item_source}}),
            stream_id=item_id, stream_version=version + 1, owner_id=student_id,
            meta=Metadata(actor="system:followups-announcer"), at=self.clock.now)
        store.append(item_id, FOLLOWUPS.aggregate, version, [envelope])
        self.sync()
        return item_id

    def dismiss(self, student_id: str, item_id: str) -> None:
        store = self.followups.store
        version = store.stream_version(item_id)
        envelope = FOLLOWUPS.envelope(Recorded("FollowUpDismissed", {"student_id": student_id, "reason": None}),
                                      stream_id=item_id, stream_version=version + 1, owner_id=student_id,
                                      meta=Metadata(actor=student_id), at=self.clock.now)
        store.append(item_id, FOLLOWUPS.aggregate, version, [envelope])
        self.sync()

    # -- looking ---------------------------------------------------------------------------------
    def history(self, auth: str, query: str = "") -> list[dict[str, Any]]:
        self.sync()
        return self.ok(self.get(f"/notifications?limit=200&{query}", auth))["items"]

    def policies(self, version: int = 1) -> NotificationPolicies:
        """A policy worker instance; another `version` is another consumer group (a replay from 0)."""
        policy_class = NotificationPolicies if version == 1 else type(
            "ReplayedPolicies", (NotificationPolicies,), {"version": version})
        return policy_class(self.api.read_store, self.api.store, namespace=self.namespace, personal=self.api.personal)


@pytest.fixture
def notifications(in_process: Callable[..., InProcessPlatform]) -> Iterator[Callable[..., Notifications]]:
    """notifications(**settings) -> Notifications; settings override the dispatcher's (SMTP_URL, ...)."""
    live: list[LiveRunner] = []

    def build(**overrides: str) -> Notifications:
        clock = Clock(NOW)
        names = Names()
        overrides = {"WEBHOOK_ALLOWED_NETWORKS": LOOPBACK_ALLOWED, **overrides}
        contacts = in_process(create_contacts_app, "contacts", [])
        scheduling = in_process(create_scheduling_app, "scheduling", [SchedulingViews], clock=clock)
        followups = in_process(create_followups_app, "followups", [])
        outbound = OutboundGuard.from_settings(Settings.from_env(overrides), resolver=names)
        api = in_process(create_notifications_app, "notifications", [NotificationViews], clock=clock,
                         outbound=outbound)
        settings = api.client.application.extensions["careerloop"].settings
        settings = Settings.from_env({**settings.env, "NOTIFICATIONS_DISPATCHER_LEASE_SECONDS": "30",
                                      "NOTIFICATIONS_RETRY_BASE_SECONDS": "60", **overrides})
        world = Notifications(contacts, scheduling, followups, api, None, clock, settings, live,  # type: ignore[arg-type]
                              names)
        api.runners.append(ConsumerRunner(api.bus, world.policies(), api.read_store))
        live.extend(LiveRunner(runner) for runner in api.runners)
        # the dispatcher's own channel (10 s: a third of the 30 s lease), resolving through `names`
        world.dispatcher = Dispatcher(api.store, api.read_store, settings, clock=clock,
                                      webhook=WebhookChannel(timeout=10, guard=OutboundGuard.from_settings(
                                          settings, resolver=names)))
        return world

    yield build
    for runner in live:
        runner.close()
