"""The web front end's tests: the platform's processes it calls (started once per run, embedded
profile, as `make run` starts them: `tests/platform.py`), a signed-in test client of the front end,
and the LinkedIn file the journeys import."""
from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
from flask.testing import FlaskClient

from shared.auth import mint_token
from tests.platform import Platform, profile_env

# What the pages need: the APIs they call, and the workers that build what those read (the
# directory from the contacts topic; scheduling's and notes' knowledge of the contacts and interviews;
# the timelines, follow-up queues and advisees from the contacts, scheduling and notes topics; the
# webhook endpoints' list from the notifications topic; the career office's charts and roster from the
# analytics API).
PROCESSES = ("web", "contacts-api", "contacts-relay", "contacts-directory", "followups-api", "followups-views",
             "scheduling-api", "scheduling-relay", "scheduling-views", "notes-api", "notes-relay", "notes-views",
             "notifications-api", "notifications-relay", "notifications-views", "analytics-api")

LINKEDIN = (
    b"Notes:\r\n"
    b'"When exporting your connection data, you may notice that some of the email addresses are missing."\r\n'
    b"\r\n"
    b"First Name,Last Name,URL,Email Address,Company,Position,Connected On\r\n"
    b"Jane,Doe,https://www.linkedin.com/in/jane-doe,jane@example.com,\"Acme, Inc.\",Engineer,12 Mar 2024\r\n"
    b"Sam,Lee,https://www.linkedin.com/in/sam-lee,,Globex,Analyst,01 Feb 2023\r\n"
    b"Bad,Mail,https://www.linkedin.com/in/bad-mail,not-an-email,Hooli,PM,01 Jan 2021\r\n"
)


@pytest.fixture(scope="session")
def web_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    data = tmp_path_factory.mktemp("web-platform")
    # the settings page registers webhooks to a loopback receiver (only public addresses otherwise)
    with Platform(data, {**profile_env("embedded", data), "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8"}).running(
            *PROCESSES) as platform:
        yield platform


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def sign_in(client: FlaskClient, user: str = "student-1", role: str = "student") -> None:
    """The demo sign-in, as a browser posts it."""
    token = csrf_token(client.get("/sign-in").get_data(as_text=True))
    answer = client.post("/sign-in/demo", data={"user": user, "role": role, "csrf_token": token, "next": "/"})
    assert answer.status_code == 302 and answer.headers["Location"] == "/", answer.get_data(as_text=True)


def artifacts_dir() -> Path:
    """Screenshots of the browser tests (git-ignored)."""
    folder = Path(__file__).resolve().parents[2] / "var" / "test-artifacts" / "web"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def assign_advisor(platform: Platform, advisor: str, student: str) -> None:
    """What the career office does (no page for it yet): an admin assigns the advisor through the notes API."""
    admin = mint_token(platform.env["CAREERLOOP_JWT_SECRET"], "admin-1", ["admin"])
    answer = requests.post(f"{platform.url('notes')}/advisors/{advisor}/students/{student}", timeout=10,
                           headers={"Authorization": f"Bearer {admin}"})
    assert answer.status_code == 200, answer.text


def wall(moment: datetime, zone: str) -> str:
    """`14:00 CET (Europe/Paris)`, computed with zoneinfo alone (not the front end's formatting)."""
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local:%H:%M} {local.tzname()} ({zone})"
