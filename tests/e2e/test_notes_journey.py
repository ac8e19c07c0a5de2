"""End to end: what a student learned from an interview, across the contacts, scheduling and notes
services as processes, over HTTP — recorded, revised, found, shared with an assigned advisor whose
read the student can see, and deleted."""
from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
import requests

from tests.platform import Platform
from tests.support import wait_until

pytestmark = pytest.mark.e2e


def test_a_note_from_the_interview_to_an_advisors_read_to_its_deletion(
        platform: Platform, token: Callable[..., str]) -> None:
    platform.start()
    contacts, scheduling, notes = platform.url("contacts"), platform.url("scheduling"), platform.url("notes")
    student = requests.Session()
    student.headers.update({"Authorization": token("student-9")})
    admin = {"Authorization": token("admin-1", "admin")}
    advisor = {"Authorization": token("advisor-3", "advisor")}

    # the student adds a professional and requests an interview with two objectives
    jane = student.post(f"{contacts}/contacts", timeout=10, json={
        "name": "Jane Doe", "organisation": "Acme Corp", "industry": "Software"}).json()["id"]

    def requested() -> str | None:
        response = student.post(f"{scheduling}/interviews", timeout=10, json={
            "contact_id": jane, "objectives": ["How do product teams work?", "What skills matter most?"],
            "format": "video", "link": "https://meet.example/x", "time_zone": "Europe/Berlin"})
        return response.json()["id"] if response.status_code == 201 else None

    interview = wait_until(requested, what="the scheduling service knows the contact and accepts the request")

    # after the conversation, records what they learned as soon as the notes service knows the interview
    due = (date.today() + timedelta(days=2)).isoformat()

    def recorded() -> dict[str, Any] | None:
        response = student.post(f"{notes}/notes", timeout=10, json={
            "interview_id": interview, "text": "Teams own a roadmap and talk to customers weekly.",
            "insights": [{"category": "career_paths", "text": "Most PMs started as engineers or analysts"}],
            "action_items": [{"text": "Send Jane a thank-you note", "due_on": due}],
            "tags": ["product"], "objectives_covered": ["How do product teams work?"]})
        return response.json() if response.status_code == 201 else None

    note = wait_until(recorded, what="the notes service knows the interview and records the note")
    view = student.get(f"{notes}/notes/{note['id']}", timeout=10)
    assert view.json()["time_zone"] == "Europe/Berlin" and view.json()["contact_id"] == jane
    assert view.json()["action_items"][0]["due_on"] == due

    # revises it, naming the version it read; both revisions stay readable
    revised = student.put(f"{notes}/notes/{note['id']}", timeout=10, headers={"If-Match": view.headers["ETag"]}, json={
        **{k: view.json()[k] for k in ("text", "insights", "tags", "objectives_covered")},
        "text": "Teams own a roadmap, talk to customers weekly and ship small.",
        "action_items": [{"item_id": view.json()["action_items"][0]["item_id"], "text": "Send Jane a thank-you note",
                          "due_on": due}, {"text": "Read Inspired"}]})
    assert revised.status_code == 200, revised.text
    revisions = student.get(f"{notes}/notes/{note['id']}/revisions", timeout=10).json()["items"]
    assert [r["revision"] for r in revisions] == [1, 2]

    # finds it by words (all of them), by the contact's organisation, and by insight category
    fresh = f"min_version={note['id']}:{revised.json()['version']}"
    found = student.get(f"{notes}/notes?q=customers+ship&organisation=acme+corp&{fresh}", timeout=10).json()["items"]
    assert [n["id"] for n in found] == [note["id"]] and found[0]["revision"] == 2
    assert student.get(f"{notes}/notes?category=career_paths", timeout=10).json()["items"][0]["id"] == note["id"]
    assert student.get(f"{notes}/notes?q=customers+salary", timeout=10).json()["items"] == []

    # an admin assigns an advisor; the note is private, so the advisor cannot read it yet
    assert requests.post(f"{notes}/advisors/advisor-3/students/student-9", headers=admin, timeout=10).status_code == 200
    assert requests.get(f"{notes}/notes/{note['id']}", headers=advisor, timeout=10).status_code == 404

    # the student shares it; the advisor lists and reads it; the student sees that read
    assert student.post(f"{notes}/notes/{note['id']}/visibility", timeout=10,
                        json={"visibility": "shared"}).status_code == 200
    listed = wait_until(
        lambda: requests.get(f"{notes}/students/student-9/notes", headers=advisor, timeout=10).json()["items"],
        what="the advisor's list shows the shared note",
    )
    assert [n["id"] for n in listed] == [note["id"]] and "text" not in listed[0]
    read = requests.get(f"{notes}/notes/{note['id']}", headers=advisor, timeout=10)
    assert read.status_code == 200 and "ship small" in read.json()["text"]
    log = wait_until(lambda: student.get(f"{notes}/notes/access-log", timeout=10).json()["items"],
                     what="the access log shows the advisor's read")
    assert [(e["note_id"], e["advisor_id"]) for e in log] == [(note["id"], "advisor-3")]

    # deleting it takes it out of the search and out of the advisor's reach
    deleted = student.delete(f"{notes}/notes/{note['id']}", timeout=10)
    assert deleted.status_code == 200
    gone = f"min_version={note['id']}:{deleted.json()['version']}"
    assert student.get(f"{notes}/notes?q=customers&{gone}", timeout=10).json()["items"] == []
    assert requests.get(f"{notes}/notes/{note['id']}", headers=advisor, timeout=10).status_code == 404
    assert requests.get(f"{notes}/students/student-9/notes", headers=advisor, timeout=10).json()["items"] == []
