"""End to end: a student's follow-up queue and timeline across the contacts, scheduling, notes and
followups services as processes, over HTTP — outreach suggestions, a thank-you after the interview,
an action item from a note, snooze and dismiss as events, read-your-writes, and the announcer
recording that an item fell due."""
from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import requests

from tests.platform import Platform
from tests.support import wait_until

pytestmark = pytest.mark.e2e


def test_a_students_follow_ups_from_outreach_to_thanks(platform: Platform, token: Callable[..., str]) -> None:
    platform.start()
    contacts, scheduling = platform.url("contacts"), platform.url("scheduling")
    notes, followups = platform.url("notes"), platform.url("followups")
    student = requests.Session()
    student.headers.update({"Authorization": token("student-7")})

    # a contact, reached out to two weeks ago without an answer
    jane = student.post(f"{contacts}/contacts", timeout=10, json={
        "name": "Jane Doe", "organisation": "Acme Corp", "time_zone": "Europe/Berlin"}).json()["id"]
    sent = (datetime.now(UTC) - timedelta(days=14)).isoformat()
    assert student.post(f"{contacts}/contacts/{jane}/touchpoints", timeout=10,
                        json={"kind": "outreach", "occurred_at": sent}).status_code == 201

    def queue(query: str = "") -> list[dict[str, Any]]:
        response = student.get(f"{followups}/followups?{query}", timeout=10)
        assert response.status_code == 200, response.text
        return response.json()["items"]

    def outreach_items() -> list[dict[str, Any]] | None:
        items = [i for i in queue() if i["rule"].startswith("outreach")]
        # the projection writes a student's items one by one: wait for the whole queue, not the first item
        return items if {i["rule"] for i in items} == {"outreach_next_contact", "outreach_follow_up"} else None

    outreach = wait_until(outreach_items, what="the queue suggests both outreach follow-ups")
    assert all(i["overdue"] for i in outreach)  # two weeks are ten business days: more than seven, whatever today is

    # she replies; an interview is requested, held a moment from now and completed
    assert student.post(f"{contacts}/contacts/{jane}/touchpoints", timeout=10, json={
        "kind": "reply", "occurred_at": datetime.now(UTC).isoformat()}).status_code == 201

    def requested() -> str | None:
        response = student.post(f"{scheduling}/interviews", timeout=10, json={
            "contact_id": jane, "objectives": ["What does a first year look like?"], "format": "phone",
            "time_zone": "Europe/Berlin", "duration_minutes": 5})
        return response.json()["id"] if response.status_code == 201 else None

    interview = wait_until(requested, what="the scheduling service knows the contact and accepts the request")
    start = datetime.now(UTC) + timedelta(seconds=2)
    scheduled = student.post(f"{scheduling}/interviews/{interview}/schedule", timeout=10, json={
        "start": start.replace(tzinfo=None).isoformat(timespec="seconds"), "time_zone": "UTC"})
    assert scheduled.status_code == 200, scheduled.text
    time.sleep(max(0.0, (start - datetime.now(UTC)).total_seconds()) + 1.5)
    assert student.post(f"{scheduling}/interviews/{interview}/complete", timeout=10).status_code == 200

    item_id = f"thank_you:{interview}"
    thanks = wait_until(lambda: [i for i in queue() if i["id"] == item_id], what="the thank-you is queued")
    assert thanks[0]["due"] is False and thanks[0]["link"] == f"/interviews/{interview}"
    wait_until(lambda: not [i for i in queue() if i["rule"].startswith("outreach")],
               what="the reply closed the outreach items")

    # an action item from the note about the interview
    due = (date.today() + timedelta(days=3)).isoformat()

    def recorded() -> dict[str, Any] | None:
        response = student.post(f"{notes}/notes", timeout=10, json={
            "interview_id": interview, "text": "Start with the internal tools team.", "insights": [], "tags": [],
            "action_items": [{"text": "Apply to the tools internship", "due_on": due},
                             {"text": "Connect on LinkedIn"}]})  # no due date: due from the start
        return response.json() if response.status_code == 201 else None

    wait_until(recorded, what="the notes service knows the interview and records the note")
    wait_until(lambda: [i for i in queue("rule=action_item") if i["reason"].endswith("tools internship")],
               what="the note's dated action item is queued")

    # snooze the thank-you (an event), and read our own write at once
    snoozed = student.post(f"{followups}/followups/{item_id}/snooze", timeout=10, json={
        "until": (datetime.now(UTC) + timedelta(hours=3)).isoformat()})
    assert snoozed.status_code == 200, snoozed.text
    fresh = f"min_version={item_id}:{snoozed.json()['version']}"
    assert [i["id"] for i in queue(f"state=snoozed&{fresh}")] == [item_id]
    assert item_id not in [i["id"] for i in queue()]

    # a thank-you touchpoint closes it for good
    assert student.post(f"{contacts}/contacts/{jane}/touchpoints", timeout=10, json={
        "kind": "thank_you", "occurred_at": datetime.now(UTC).isoformat()}).status_code == 201
    wait_until(
        lambda: [i for i in queue("state=done") if i["id"] == item_id], what="the thank-you touchpoint closed the item"
    )
    assert student.post(f"{followups}/followups/{item_id}/dismiss", timeout=10, json={}).status_code == 409

    # the timeline: everything, newest first, each with a link to its source
    timeline = wait_until(lambda: student.get(f"{followups}/contacts/{jane}/timeline", timeout=10).json()["items"],
                          what="the contact's timeline has entries")
    kinds = [e["kind"] for e in timeline]
    # the student's own steps in order; a notification about the contact (the undated action item falling
    # due, sent by the dispatcher whenever the announcer gets to it) may come before or after the thank-you
    steps = [kind for kind in kinds if kind != "notification_sent"]
    assert steps[0] == "thank_you" and steps[-1] == "outreach"  # sent two weeks before she was added
    assert {"outreach", "reply", "interview_requested", "interview_scheduled", "interview_completed",
            "note_recorded"} <= set(kinds)
    assert all(e["link"] and e["summary"] for e in timeline)
    other = {"Authorization": token("student-8")}
    assert requests.get(f"{followups}/contacts/{jane}/timeline", headers=other, timeout=10).status_code == 404

    # the announcer process recorded that the undated action item fell due (FollowUpBecameDue)
    linkedin = wait_until(lambda: [i for i in queue("rule=action_item") if i["reason"].endswith("LinkedIn")
                                   and i["announced"]], what="the announcer announced the undated action item")
    assert linkedin[0]["overdue_at"] is None
    assert not [i for i in queue("rule=action_item") if i["reason"].endswith("internship") and i["announced"]]
