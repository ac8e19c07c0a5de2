"""End to end (issue 15): a student with distinctive personal data goes through a journey, an admin
erases them, and every component acknowledges within 60 s; then a scan of every event store, every
topic from its first message, every read model and the APIs finds none of that data, another student
keeps working, and a restarted worker brings nothing back. Then a professional two other students have
(by e-mail in one book, by LinkedIn profile in the other) is erased: the same scan finds none of theirs,
the students keep their contact as the placeholder, and a rebuilt read model stays redacted. On each
profile, as processes."""
from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
import requests
from pymongo import MongoClient

from services.analytics.pseudonyms import Pseudonymiser
from shared.auth import mint_token
from shared.bus import open_bus
from shared.config import Settings
from shared.contracts import CATALOGS, INTEGRATION_TOPICS
from shared.contracts.privacy import ERASURE_COMPONENTS
from shared.keys import open_personal_data
from shared.keys.fields import ERASED_CONTACT
from shared.keys.vault import SubjectErased
from tests.backends import TEST_SECRET, TEST_SECRETS
from tests.platform import ROOT, Platform
from tests.support import wait_until

pytestmark = pytest.mark.e2e

STUDENT = "student-erased"
NAME, EMAIL, PHONE = "Thaddeus Vantablack-Orr", "thaddeus.vo@orr.example", "+44 7700 900872"
NOTE = "Thaddeus said the quarterly kelp audit decides promotions"
ACTION = "Mail Thaddeus the kelp spreadsheet"
TOUCH = "asked about the marmalade committee"
STUDENT_NAME, STUDENT_EMAIL = "Perpetua Quillon-Ash", "perpetua.qa@student.example"
SECRETS = (NAME, EMAIL, PHONE, NOTE, ACTION, TOUCH, STUDENT_NAME, STUDENT_EMAIL, "Vantablack", "kelp", "marmalade",
           "Quillon")
# the professional erased next, and what students recorded of them
PRO_NAME, PRO_EMAIL, PRO_PHONE = "Ysolde Barrowclough-Fenn", "Ysolde.BF@fenn.example", "+44 7700 900555"
PRO_LINKEDIN, PRO_TOUCH = "https://www.linkedin.com/in/ysolde-bf", "Ysolde runs the heron survey"
PRO_SECRETS = (PRO_NAME, PRO_EMAIL, PRO_EMAIL.lower(), PRO_PHONE, "ysolde-bf", PRO_TOUCH, "Barrowclough", "heron")


def session(subject: str, *roles: str, **claims: str) -> requests.Session:
    s = requests.Session()
    s.headers["Authorization"] = "Bearer " + mint_token(TEST_SECRET, subject, roles or ("student",),
                                                        extra_claims=claims or None)
    return s


def journey(platform: Platform, student: requests.Session) -> dict[str, str]:
    contacts, scheduling, notes = platform.url("contacts"), platform.url("scheduling"), platform.url("notes")
    contact = student.post(f"{contacts}/contacts", timeout=10, json={
        "name": NAME, "emails": [EMAIL], "phone": PHONE, "organisation": "Orr Holdings",
        "note": "met at the marmalade committee"}).json()["id"]
    assert student.post(f"{contacts}/contacts/{contact}/touchpoints", timeout=10, json={
        "kind": "outreach", "occurred_at": "2026-11-30T10:00:00Z", "text": TOUCH}).status_code == 201

    def requested() -> str | None:
        response = student.post(f"{scheduling}/interviews", timeout=10, json={
            "contact_id": contact, "objectives": ["How do audits shape careers?"], "format": "video",
            "link": "https://meet.example/kelp", "time_zone": "Europe/London"})
        return response.json()["id"] if response.status_code == 201 else None

    interview = wait_until(requested, what="the scheduling service knows the contact")

    def recorded() -> str | None:
        response = student.post(f"{notes}/notes", timeout=10, json={
            "interview_id": interview, "text": NOTE, "insights": [], "tags": ["audits"],
            "action_items": [{"text": ACTION, "due_on": "2026-12-20"}], "objectives_covered": []})
        return response.json()["id"] if response.status_code == 201 else None

    note = wait_until(recorded, what="the notes service knows the interview")
    return {"contact": contact, "interview": interview, "note": note}


def read_models(platform: Platform) -> list[str]:
    """Every document of every read-model collection, as JSON text."""
    url = platform.env.get("READ_STORE_URL") or f"sqlite:///{platform.data_dir}/read-models.db"
    if url.startswith("sqlite:///"):
        db = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            return [json.dumps(list(row), default=str) for t in tables for row in db.execute(f'SELECT * FROM "{t}"')]
        finally:
            db.close()
    client: MongoClient = MongoClient(url)
    try:
        database = client.get_default_database()
        return [json.dumps(doc, default=str) for name in database.list_collection_names()
                for doc in database[name].find()]
    finally:
        client.close()


def event_stores(platform: Platform) -> list[str]:
    """The raw event stores: every SQLite file's bytes (WAL included), or every commit document."""
    url = platform.env.get("EVENT_STORE_URL")
    if not url:
        return [path.read_bytes().decode("utf-8", "replace") for path in platform.data_dir.glob("events-*.db*")]
    client: MongoClient = MongoClient(url.replace("{service}", "x"))
    try:
        prefix = client.get_default_database().name.removesuffix("x")
        return [json.dumps(doc, default=str) for name in client.list_database_names() if name.startswith(prefix)
                for doc in client[name]["commits"].find()]
    finally:
        client.close()


def topics(platform: Platform) -> list[str]:
    """Every message of every topic, from the first, read by a consumer group of this scan's own."""
    settings = Settings.from_env(platform.env)
    namespace = settings.get("BUS_NAMESPACE")
    names = sorted({namespace + c.topic for c in CATALOGS} | {namespace + t for t in INTEGRATION_TOPICS})
    bus = open_bus(settings.get("BUS_URL"))
    values: list[str] = []
    try:
        consumer = bus.consumer(f"{namespace}scan-{uuid.uuid4().hex[:8]}", names)
        idle = 0
        while idle < 3:
            batch = consumer.poll(1000, timeout=2.0)
            values += [m.value.decode("utf-8", "replace") for m in batch]
            idle = 0 if batch else idle + 1
        consumer.close()
    finally:
        bus.close()
    return values


def answers(platform: Platform, admin: requests.Session, ids: dict[str, str], student: str = STUDENT) -> list[str]:
    """What the APIs answer about the student (an admin acting for them)."""
    s = f"student_id={student}"
    urls = [f"{platform.url('contacts')}/contacts?{s}", f"{platform.url('contacts')}/contacts/{ids['contact']}",
            f"{platform.url('scheduling')}/interviews?{s}", f"{platform.url('notes')}/notes?{s}",
            f"{platform.url('notes')}/notes/{ids['note']}", f"{platform.url('followups')}/followups?{s}",
            f"{platform.url('followups')}/timeline?{s}", f"{platform.url('notifications')}/notifications?{s}"]
    return [admin.get(url, timeout=10).text for url in urls]


def leaks(texts: list[str], secrets: tuple[str, ...] = SECRETS) -> list[str]:
    return sorted({secret for text in texts for secret in secrets if secret in text})


def pseudonym(platform: Platform, student: str) -> str:
    """The student's analytics pseudonym as the platform derives it: its secret, salted from its key store."""
    personal = open_personal_data(Settings.from_env(platform.env))
    try:
        return Pseudonymiser(TEST_SECRETS["ANALYTICS_PSEUDONYM_KEY"], "k1", personal.pseudonym_salt).student(student)
    finally:
        personal.keys.store.close()


def rebuild(platform: Platform, worker: str) -> None:
    """An operator's rebuild of one projection into a new generation, beside the running platform."""
    done = subprocess.run([sys.executable, "-m", worker, "--rebuild", "--grace", "1"], cwd=ROOT,
                          env={**os.environ, **platform.env}, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0 and "switched" in done.stdout, done.stdout + done.stderr


def test_an_erased_student_leaves_nothing_readable_anywhere_and_the_rest_keeps_working(
        platform: Platform, token: Callable[..., str]) -> None:
    platform.env["ANALYTICS_MIN_CELL"] = "1"  # two students: the analysts' counts would be suppressed otherwise
    platform.start()
    student = session(STUDENT, name=STUDENT_NAME, email=STUDENT_EMAIL)
    other = session("student-kept")
    admin = session("admin-1", "admin")
    ids = journey(platform, student)
    kept = other.post(f"{platform.url('contacts')}/contacts", timeout=10,
                      json={"name": "Ada Lovelace", "emails": ["ada@example.org"]}).json()["id"]
    # the views show it all before the erasure (so the scan below could find it)
    wait_until(lambda: ACTION in answers(platform, admin, ids)[5], what="the follow-up queue has the action item")
    assert leaks(answers(platform, admin, ids))
    analyst = session("analyst-1", "analyst")

    def funnel() -> list[dict[str, Any]]:
        answer = analyst.get(f"{platform.url('analytics')}/analytics/funnel", timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()["total"]["steps"]

    counted = wait_until(lambda: (lambda steps: steps if steps[0]["students"] == 1 else None)(funnel()),
                         what="the analysts' funnel counts the student's outreach")
    # whoever holds the analytics secret and the key store can link the student to their pseudonym, for now
    linked = pseudonym(platform, STUDENT)
    assert any(f'"subject":"{linked}"' in message for message in topics(platform))

    # an admin erases the student; every component acknowledges within a minute
    ordered = admin.post(f"{platform.url('privacy')}/erasures", timeout=10,
                         json={"student_id": STUDENT, "reason": "left the university"})
    assert ordered.status_code == 202, ordered.text
    report_url = f"{platform.url('privacy')}{ordered.headers['Location']}"

    seen: list[dict[str, Any]] = []

    def complete() -> dict[str, Any] | None:
        seen.append(admin.get(report_url, timeout=10).json())
        return seen[-1] if seen[-1].get("complete") else None

    ordered_at = time.monotonic()
    try:
        report = wait_until(complete, timeout=60, what="every component acknowledged the erasure")
    except AssertionError as late:
        raise AssertionError(f"{late}\nthe last report: {seen[-1]}") from None
    print(f"erasure acknowledged by every component {time.monotonic() - ordered_at:.1f} s after it was ordered")
    assert report["status"] == "erased" and report["keys_shredded"] >= 2  # the student's key and the contact's
    assert [c["component"] for c in report["components"]] == list(ERASURE_COMPONENTS)

    # nothing of theirs is readable: not in the stores, not on any topic, not in a view, not in an answer
    assert leaks(event_stores(platform)) == []
    assert leaks(topics(platform)) == []
    assert leaks(read_models(platform)) == []
    # an API consumes no topic: it drops its cached keys once the key store says a key was shredded (<= 1 s)
    wait_until(lambda: leaks(answers(platform, admin, ids)) == [], timeout=5,
               what="every API answers without the erased student's data")
    # nothing new can be recorded about them
    assert student.post(f"{platform.url('contacts')}/contacts/{ids['contact']}/touchpoints", timeout=10, json={
        "kind": "reply", "occurred_at": "2026-12-01T10:00:00Z", "text": "again"}).status_code in (404, 409)

    # the rest of the platform keeps working for another student
    assert other.get(f"{platform.url('contacts')}/contacts/{kept}", timeout=10).json()["name"] == "Ada Lovelace"
    added = other.post(f"{platform.url('contacts')}/contacts", timeout=10, json={"name": "Grace Hopper"})
    assert added.status_code == 201

    # the analysts' counts for what happened before stay as they were (pseudonymised facts are kept), and
    # no one can link those facts to the student any more: their pseudonym's salt was their shredded key
    assert funnel() == counted
    with pytest.raises(SubjectErased):
        pseudonym(platform, STUDENT)

    # a restarted worker (replaying what it had not committed) brings nothing back
    platform.kill("notes-views")
    platform.start("notes-views")
    wait_until(lambda: "Grace Hopper" in other.get(f"{platform.url('contacts')}/contacts", timeout=10).text,
               what="the directory shows the other student's new contact")
    assert leaks(read_models(platform)) == [] and leaks(answers(platform, admin, ids)) == []

    # -- a professional's erasure ----------------------------------------------------------------
    contacts, scheduling = platform.url("contacts"), platform.url("scheduling")
    third = session("student-third")
    mine = {"contact": other.post(f"{contacts}/contacts", timeout=10, json={
        "name": PRO_NAME, "emails": [PRO_EMAIL], "phone": PRO_PHONE, "organisation": "Fenn Surveys"}).json()["id"]}
    theirs = third.post(f"{contacts}/contacts", timeout=10, json={"name": "Y. Barrowclough",
                                                                  "linkedin_url": PRO_LINKEDIN}).json()["id"]
    assert other.post(f"{contacts}/contacts/{mine['contact']}/touchpoints", timeout=10, json={
        "kind": "outreach", "occurred_at": "2026-12-01T10:00:00Z", "text": PRO_TOUCH}).status_code == 201

    def asked() -> str | None:
        response = other.post(f"{scheduling}/interviews", timeout=10, json={
            "contact_id": mine["contact"], "objectives": ["What does a survey lead do?"], "format": "phone",
            "time_zone": "Europe/London"})
        return response.json()["id"] if response.status_code == 201 else None

    mine["interview"] = wait_until(asked, what="the scheduling service knows the professional")
    mine["note"] = "none"
    wait_until(lambda: PRO_NAME in answers(platform, admin, mine, "student-kept")[6],
               what="the timeline names the professional")
    before = wait_until(lambda: (lambda steps: steps if steps[0]["students"] == 2 else None)(funnel()),
                        what="the analysts' funnel counts the other student's outreach")
    ordered = admin.post(f"{platform.url('privacy')}/erasures", timeout=10, json={
        "subject_kind": "contact", "professional": {"emails": [PRO_EMAIL.upper()], "linkedin_url": PRO_LINKEDIN}})
    assert ordered.status_code == 202, ordered.text
    report_url = f"{platform.url('privacy')}{ordered.headers['Location']}"
    ordered_at = time.monotonic()
    report = wait_until(complete, timeout=60, what="every component acknowledged the professional's erasure",
                        seen=lambda: seen[-1])
    print(f"professional's erasure acknowledged {time.monotonic() - ordered_at:.1f} s after it was ordered", report)
    assert (report["subject_kind"], report["contacts_erased"]) == ("contact", 2)

    assert leaks(event_stores(platform), PRO_SECRETS) == []
    assert leaks(topics(platform), PRO_SECRETS) == []
    assert leaks(read_models(platform), PRO_SECRETS) == []
    wait_until(lambda: leaks(answers(platform, admin, mine, "student-kept"), PRO_SECRETS) == [], timeout=5,
               what="every API answers without the professional's data")
    # the students keep their contact, as the placeholder, and their own facts about it
    kept_view = other.get(f"{contacts}/contacts/{mine['contact']}", timeout=10).json()
    assert (kept_view["name"], kept_view["organisation"]) == (ERASED_CONTACT, "Fenn Surveys")
    assert third.get(f"{contacts}/contacts/{theirs}", timeout=10).json()["name"] == ERASED_CONTACT
    assert ERASED_CONTACT in other.get(f"{platform.url('followups')}/timeline", timeout=10).text
    assert funnel() == before
    # and the student's data-subject export, every file of it, holds the placeholder and nothing of theirs
    export = other.get(f"{platform.url('privacy')}/me/export", timeout=60)
    assert export.status_code == 200, export.text
    with zipfile.ZipFile(io.BytesIO(export.content)) as archive:
        files = [archive.read(name).decode() for name in archive.namelist()]
    assert leaks(files, PRO_SECRETS) == [] and any(ERASED_CONTACT in f for f in files)
    # an operator's rebuild of the timelines reads the shredded fields as the placeholder: nothing comes back
    rebuild(platform, "services.followups.worker")
    assert leaks(read_models(platform), PRO_SECRETS) == []
    assert ERASED_CONTACT in other.get(f"{platform.url('followups')}/timeline", timeout=10).text
