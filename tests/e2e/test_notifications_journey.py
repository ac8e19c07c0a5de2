"""End to end: notifications with the platform as processes, over HTTP, in real time — an interview
booked an hour and a few seconds ahead: its 24-hour reminder is too late (suppressed), its 1-hour
reminder arrives at a real SMTP server with the invite, signed at a real webhook receiver and in
the inbox; outreach left unanswered becomes due in the followups service, whose announcer's event
lands in the inbox too; and every notifications process stops cleanly."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from tests.integration.notifications.peers import SmtpServer, WebhookReceiver
from tests.platform import Platform
from tests.support import wait_until

pytestmark = pytest.mark.e2e
REMINDERS = ["interview_reminder_24h", "interview_reminder_1h"]


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    webhook = WebhookReceiver().start()
    yield webhook
    webhook.stop()


def test_a_reminder_and_a_follow_up_reach_the_student_through_every_channel(
        platform: Platform, smtp: SmtpServer, receiver: WebhookReceiver, token: Callable[..., str]) -> None:
    platform.env.update({"SMTP_URL": smtp.url, "EMAIL_FROM": "careers@uni.example",
                         "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",  # the receiver listens on loopback
                         "NOTIFICATIONS_DISPATCHER_POLL_SECONDS": "0.2", "FOLLOWUPS_ANNOUNCE_INTERVAL_SECONDS": "1"})
    platform.start()
    contacts, scheduling, api = platform.url("contacts"), platform.url("scheduling"), platform.url("notifications")
    student = requests.Session()
    student.headers.update({"Authorization": token("student-9")})

    # preferences and a webhook endpoint
    preferences = student.put(f"{api}/preferences", timeout=10, json={
        "email": "nine@example.org", "time_zone": "Europe/Paris",
        "channels": {kind: ["email", "webhook", "in_app"] for kind in REMINDERS}})
    assert preferences.status_code == 200, preferences.text
    endpoint = student.post(f"{api}/webhooks", timeout=10, json={"url": receiver.url})
    assert endpoint.status_code == 201, endpoint.text
    receiver.secret = endpoint.json()["secret"]
    wait_until(lambda: student.get(f"{api}/webhooks", timeout=10).json()["items"],
               what="the webhook endpoint is listed (the dispatcher sees it)")

    # a contact, and an interview starting in an hour and five seconds
    jane = student.post(f"{contacts}/contacts", timeout=10, json={"name": "Jane Doe", "organisation": "Acme"}).json()[
        "id"
    ]

    def requested() -> str | None:
        response = student.post(f"{scheduling}/interviews", timeout=10, json={
            "contact_id": jane, "objectives": ["What is a first year like?"], "format": "phone",
            "time_zone": "Europe/Paris"})
        return response.json()["id"] if response.status_code == 201 else None

    interview = wait_until(requested, what="the scheduling service knows the contact and accepts the request")
    start = (datetime.now(UTC) + timedelta(hours=1, seconds=5)).replace(microsecond=0)
    scheduled = student.post(f"{scheduling}/interviews/{interview}/schedule", timeout=10, json={
        "start": start.replace(tzinfo=None).isoformat(), "time_zone": "UTC"})
    assert scheduled.status_code == 200, scheduled.text

    # the 1-hour reminder arrives everywhere, once
    [mail] = smtp.wait_for(1, timeout=60)
    assert mail["Subject"].startswith("In one hour: informational interview with Jane Doe")
    assert mail.attachments[0].get_filename() == "invite.ics"
    assert f"UID:{interview}@careerloop" in mail.attachments[0].get_content()
    [hook] = receiver.wait_for(1, timeout=30)
    assert hook.verified and hook.json["data"]["kind"] == "interview_reminder_1h"

    def inbox() -> list[dict[str, Any]]:
        return student.get(f"{api}/inbox", timeout=10).json()["items"]

    [entry] = wait_until(inbox, what="the reminder is in the in-app inbox")
    assert entry["subject"] == mail["Subject"] and entry["late"] is False
    assert student.post(f"{api}/inbox/{entry['id']}/read", timeout=10).status_code == 200
    # the 24-hour reminder was too late when the interview was booked: recorded, never sent
    too_late = student.get(f"{api}/notifications?kind=interview_reminder_24h", timeout=10).json()["items"]
    assert {(n["status"], n["reason"]) for n in too_late} == {
        ("suppressed", "too late: the interview was booked after this reminder's time")}

    # outreach ten days ago without a reply: the followups announcer says it fell due, the inbox shows it
    sent = (datetime.now(UTC) - timedelta(days=10)).isoformat()
    assert student.post(f"{contacts}/contacts/{jane}/touchpoints", timeout=10,
                        json={"kind": "outreach", "occurred_at": sent}).status_code == 201
    follow_ups = wait_until(lambda: [e for e in inbox() if e["kind"] == "follow_up_due"], timeout=60,
                            what="the follow-up reminder is in the inbox")
    assert all("No reply from Jane Doe yet" in e["subject"] for e in follow_ups), platform.dump_logs()

    # nothing was sent twice, and every notifications process stops cleanly
    assert len(smtp.messages) == 1 and receiver.delivered_ids() == [hook.id]
    codes = platform.stop()
    assert {name: code for name, code in codes.items() if name.startswith("notifications")} == {
        name: 0 for name in codes if name.startswith("notifications")}, platform.dump_logs()
