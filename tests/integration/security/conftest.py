"""All five services wired in-process on the embedded backends, with real records owned by one student.

`world` holds the owning student's contact, interview, shared note (with an action item), follow-up
item, in-app notification and webhook endpoint, an assigned advisor (assigned through the notes
advising endpoint, projected to the followups service like every other event), and factories for
fresh records so that a command that changes state (delete, archive, complete, ...) gets its own.
Tokens are minted for every principal the authorization matrix tries, with the issuer and audience
this deployment requires.
"""
from __future__ import annotations

import itertools
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest

from services.contacts.app import create_app as create_contacts_app
from services.contacts.projections import ContactDirectory
from services.followups.app import create_app as create_followups_app
from services.followups.projections import FollowUpViews
from services.notes.app import create_app as create_notes_app
from services.notes.projections import NotesViews
from services.notifications.app import create_app as create_notifications_app
from services.notifications.dispatcher import Dispatcher
from services.notifications.policy_worker import NotificationPolicies
from services.notifications.projections import NotificationViews
from services.privacy.app import create_app as create_privacy_app
from services.privacy.archive import parse_sources
from services.privacy.projections import ErasureViews
from services.scheduling.app import create_app as create_scheduling_app
from services.scheduling.projections import SchedulingViews
from shared.auth import mint_token
from shared.config import Settings
from shared.consumer import ConsumerRunner
from tests.backends import TEST_SECRET
from tests.clock import Clock
from tests.integration.conftest import InProcessFetch, InProcessPlatform

ISSUER = "https://idp.university.example"
AUDIENCE = "careerloop"
# After the real date: scheduling stamps events with the real time, and reminders due before that are "too late".
NOW = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)

OWNER, OTHER_STUDENT = "student-owner", "student-other"
ADVISOR, STRANGER_ADVISOR, ADMIN, ANALYST = "advisor-assigned", "advisor-unassigned", "admin-1", "analyst-1"
# Words only the owner's records hold: a denied answer that contains one leaked them.
SECRETS = ("Zanzibar-Contact", "Quokka-Insight", "Ocelot-Objective", "Marmot-Hook")


@pytest.fixture
def profile() -> str:
    return "embedded"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """As everywhere, plus a required issuer and audience (so that wrong ones can be tried)."""
    return Settings.from_env({"CAREERLOOP_DATA_DIR": str(tmp_path), "CAREERLOOP_JWT_SECRET": TEST_SECRET,
                              "CAREERLOOP_JWKS_URL": "", "READ_YOUR_WRITES_WAIT_SECONDS": "1",
                              "CAREERLOOP_JWT_ISSUER": ISSUER, "CAREERLOOP_JWT_AUDIENCE": AUDIENCE,
                              # the owner's webhook points at a loopback port: a campus-internal receiver
                              "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8"})


def _signed(claims: dict[str, Any], secret: str = TEST_SECRET) -> str:
    return "Bearer " + jwt.encode(claims, secret, algorithm="HS256")


def principal_headers() -> dict[str, dict[str, str]]:
    """Authorization headers by principal class, in the order the matrix tries them."""
    now = int(time.time())
    good = {"sub": OWNER, "roles": ["student"], "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 3600}

    def minted(subject: str, role: str) -> str:
        return "Bearer " + mint_token(TEST_SECRET, subject, [role], issuer=ISSUER, audience=AUDIENCE)

    return {
        "no_token": {},
        "expired": {"Authorization": _signed({**good, "iat": now - 7200, "exp": now - 3600})},
        "alg_none": {"Authorization": "Bearer " + jwt.encode(good, None, algorithm="none")},
        "bad_signature": {"Authorization": _signed(good, secret="another-secret-that-is-long-enough-too")},
        "wrong_audience": {"Authorization": _signed({**good, "aud": "someone-else"})},
        "wrong_issuer": {"Authorization": _signed({**good, "iss": "https://evil.example"})},
        "owner": {"Authorization": minted(OWNER, "student")},
        "other_student": {"Authorization": minted(OTHER_STUDENT, "student")},
        "assigned_advisor": {"Authorization": minted(ADVISOR, "advisor")},
        "unassigned_advisor": {"Authorization": minted(STRANGER_ADVISOR, "advisor")},
        "admin": {"Authorization": minted(ADMIN, "admin")},
        "analyst": {"Authorization": minted(ANALYST, "analyst")},
    }


@dataclass
class World:
    platforms: dict[str, InProcessPlatform]
    clock: Clock
    dispatcher: Dispatcher
    headers: dict[str, dict[str, str]]
    seed: dict[str, str] = field(default_factory=dict)
    _days: Iterator[int] = field(default_factory=lambda: itertools.count(2))

    # -- plumbing ----------------------------------------------------------------------------------
    def sync(self) -> None:
        """Every relay and projection, until nothing is left (policies append what the views then read)."""
        platform = self.platforms["contacts"]
        while True:
            platform.sync()
            if all(relay.store.unpublished_count() == 0 for relay in platform.relays):
                return

    def call(self, service: str, method: str, path: str, principal: str = "owner", body: Any = None,
             **kwargs: Any) -> Any:
        client = self.platforms[service].client
        headers = {**self.headers[principal], **kwargs.pop("headers", {})}
        if body is not None:
            kwargs["json"] = body
        return client.open(path, method=method, headers=headers, **kwargs)

    def ok(self, service: str, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        response = self.call(service, method, path, "owner", body, **kwargs)
        assert response.status_code in (200, 201, 204), (method, path, response.status_code, response.get_json())
        return response.get_json()

    def commits(self) -> dict[str, int]:
        """Commits per service's event store: a refused request must leave every count as it was."""
        return {name: len(p.store.read_all(0, 1_000_000)) for name, p in self.platforms.items()}

    def next_start(self) -> str:
        """A local (UTC) start a whole number of days ahead, never the same twice: no overlaps."""
        return (self.clock.now + timedelta(days=next(self._days))).strftime("%Y-%m-%dT%H:%M:%S")

    def path_parameters(self, service: str, template: str) -> dict[str, str]:
        """The owner's seeded records (and the assigned advisor) for the parameters of a path template."""
        known = {**{name: self.seed[name] for name in (
                    "contact_id", "interview_id", "note_id", "import_id", "notification_id", "endpoint_id",
                    "erasure_id")},
                 "item_id": self.seed["item_id"] if service == "notes" else self.seed["followup_id"],
                 "advisor_id": ADVISOR, "student_id": OWNER, "kind": "thank_you_due", "tag": "alumni"}
        names = re.findall(r"\{([a-z_]+)\}", template)
        if "token" in names:  # the feed URL as of now: the matrix rotates it too
            known["token"] = (
                self.ok("scheduling", "GET", "/calendar/feed")["url"].removesuffix(".ics").rsplit("/", 1)[-1]
            )
        return {name: known[name] for name in names}

    # -- fresh records of the owner ----------------------------------------------------------------
    def contact(self, **details: Any) -> str:
        return self.ok("contacts", "POST", "/contacts", {
            "name": f"{SECRETS[0]} {uuid.uuid4().hex[:6]}", "organisation": "Acme Corp", "tags": ["alumni"],
            **details})["id"]

    def archived_contact(self) -> str:
        contact_id = self.contact()
        self.ok("contacts", "POST", f"/contacts/{contact_id}/archive", {})
        return contact_id

    def interview(self) -> str:
        return self.ok("scheduling", "POST", "/interviews", {
            "contact_id": self.seed["contact_id"], "objectives": [SECRETS[2]], "format": "phone",
            "time_zone": "UTC"})["id"]

    def scheduled_interview(self) -> str:
        interview_id = self.interview()
        self.ok("scheduling", "POST", f"/interviews/{interview_id}/schedule",
                {"start": self.next_start(), "time_zone": "UTC"})
        return interview_id

    def held_interview(self) -> str:
        """Scheduled, and the clock moved past its start."""
        interview_id = self.scheduled_interview()
        start = self.ok("scheduling", "GET", f"/interviews/{interview_id}")["start"]
        self.clock.now = datetime.fromisoformat(start.replace("Z", "+00:00")) + timedelta(hours=1)
        return interview_id

    def note(self, visibility: str = "shared") -> str:
        return self.ok("notes", "POST", "/notes", {
            "contact_id": self.seed["contact_id"], "text": f"{SECRETS[1]} about the team", "visibility": visibility,
            "insights": [{"category": "advice", "text": SECRETS[1]}],
            "action_items": [{"text": "send the article", "due_on": None}]})["id"]

    def action_item(self, note_id: str) -> str:
        return self.ok("notes", "GET", f"/notes/{note_id}")["action_items"][0]["item_id"]

    def completed_item(self) -> tuple[str, str]:
        note_id = self.note()
        item_id = self.action_item(note_id)
        self.ok("notes", "POST", f"/notes/{note_id}/action-items/{item_id}/complete")
        return note_id, item_id

    def followup_item(self) -> str:
        """An open 3B7 item: outreach to a fresh contact nobody answered."""
        contact_id = self.contact()
        self.ok("contacts", "POST", f"/contacts/{contact_id}/touchpoints",
                {"kind": "outreach", "occurred_at": datetime.now(UTC).isoformat()})
        self.sync()
        items = self.ok("followups", "GET", f"/followups?contact_id={contact_id}")["items"]
        assert items, "the outreach made no follow-up item"
        return items[0]["id"]

    def webhook(self) -> str:
        return self.ok("notifications", "POST", "/webhooks",
                       {"url": "http://127.0.0.1:9/hooks", "description": SECRETS[3]})["id"]

    def erasure_request(self, student: str = "owner") -> str:
        """A student's own erasure request, waiting for an admin (never carried out here: the world's
        privacy projection has no service to carry it out with)."""
        response = self.call("privacy", "POST", "/me/erasure-request", student, {"reason": "leaving"})
        assert response.status_code == 202, response.get_json()
        return response.get_json()["id"]

    def assignment(self) -> str:
        """A fresh advisor assigned to the owner (admins assign)."""
        advisor = f"advisor-{uuid.uuid4().hex[:8]}"
        response = self.call("notes", "POST", f"/advisors/{advisor}/students/{OWNER}", "admin")
        assert response.status_code == 200, response.get_json()
        return advisor


def _build_world(in_process: Callable[..., InProcessPlatform]) -> World:
    clock = Clock(NOW)
    platforms = {
        "contacts": in_process(create_contacts_app, "contacts", [ContactDirectory]),
        "scheduling": in_process(create_scheduling_app, "scheduling", [SchedulingViews], clock=clock),
        "notes": in_process(create_notes_app, "notes", [NotesViews]),
        "followups": in_process(create_followups_app, "followups", [FollowUpViews], clock=clock),
        "notifications": in_process(create_notifications_app, "notifications", [NotificationViews], clock=clock),
        "privacy": in_process(create_privacy_app, "privacy", [ErasureViews], clock=clock),
    }
    # the data-subject export fetches every part from the in-process apps (the world has no analytics)
    fetch = InProcessFetch({name: platforms[name].client for name in
                            ("contacts", "scheduling", "notes", "followups", "notifications")})
    privacy = platforms["privacy"].client.application.extensions["privacy"]
    privacy.export_sources, privacy.fetch = parse_sources(Settings.from_env({"EXPORT_SOURCES": fetch.sources()})), fetch
    notifications = platforms["notifications"]
    platforms["notes"].client.application.extensions["notes"].service.reference_wait_seconds = 0
    notifications.runners.append(ConsumerRunner(notifications.bus, NotificationPolicies(
        notifications.read_store, notifications.store,
        namespace=notifications.client.application.extensions["careerloop"].settings.get("BUS_NAMESPACE"),
        personal=notifications.personal),
        notifications.read_store))
    settings = notifications.client.application.extensions["careerloop"].settings
    dispatcher = Dispatcher(notifications.store, notifications.read_store, settings, clock=clock)
    world = World(platforms, clock, dispatcher, principal_headers())
    _seed(world)
    return world


def _seed(world: World) -> None:
    seed = world.seed
    world.ok("notifications", "PUT", "/preferences", {
        "time_zone": "UTC", "channels": {"interview_reminder_24h": ["in_app"], "interview_reminder_1h": ["in_app"]}})
    seed["contact_id"] = world.contact()
    seed["duplicate_id"] = world.contact()
    seed["import_id"] = world.ok("contacts", "POST", "/imports", data=b"BEGIN:VCARD\r\nVERSION:4.0\r\nFN:" +
                                 SECRETS[0].encode() + b" Imported\r\nEND:VCARD\r\n",
                                 content_type="text/vcard")["id"]
    world.sync()  # scheduling and notes learn the contacts
    seed["interview_id"] = world.scheduled_interview()
    response = world.call("notes", "POST", f"/advisors/{ADVISOR}/students/{OWNER}", "admin")
    assert response.status_code == 200, response.get_json()
    seed["note_id"] = world.note("shared")
    seed["item_id"] = world.action_item(seed["note_id"])
    seed["endpoint_id"] = world.webhook()
    seed["followup_id"] = world.followup_item()
    seed["erasure_id"] = world.erasure_request()
    # the interview's reminders fall due: the dispatcher puts them in the owner's in-app inbox
    start = world.ok("scheduling", "GET", f"/interviews/{seed['interview_id']}")["start"]
    world.clock.now = datetime.fromisoformat(start.replace("Z", "+00:00")) - timedelta(hours=23)
    world.sync()
    world.dispatcher.tick()
    world.sync()
    inbox = world.ok("notifications", "GET", "/inbox")["items"]
    assert inbox, "the reminder reached no inbox"
    seed["notification_id"] = inbox[0]["id"]
    world.sync()


@pytest.fixture
def world(in_process: Callable[..., InProcessPlatform]) -> World:
    return _build_world(in_process)
