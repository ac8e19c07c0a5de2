"""The notifications a student was sent, could not be sent or was spared appear in their timelines."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from services.followups.projections import FollowUpViews
from shared.bus import Message
from shared.contracts.notifications import NOTIFICATIONS
from shared.events import Metadata, Recorded
from shared.readstore import open_read_store
from shared.relay import encode

CONTEXT = {
    "interview_id": "interview-1",
    "contact_id": "contact-1",
    "contact_name": "Jane Doe",
    "link": "/interviews/interview-1",
}


def message(stream: str, version: int, name: str, **data: Any) -> Message:
    envelope = NOTIFICATIONS.envelope(Recorded(name, data), stream_id=stream, stream_version=version,
                                      owner_id="student-1", meta=Metadata(actor="system"))
    return Message(NOTIFICATIONS.topic, 0, version, stream, encode(envelope))


def scheduled(stream: str, kind: str, channel: str) -> Message:
    return message(stream, 1, "NotificationScheduled", recipient_id="student-1", kind=kind, channel=channel,
                   send_at="2026-03-01T09:00:00.000000Z", dedupe_key=f"e1|{kind}|{channel}|student-1",
                   source={"service": "scheduling", "type": "interview", "id": "interview-1"}, context=CONTEXT)


def test_sent_finally_failed_and_suppressed_notifications_are_entries_and_retries_are_not(tmp_path: Path) -> None:
    read_store = open_read_store(f"sqlite:///{tmp_path}/read.db")
    views = FollowUpViews(read_store)
    batch = [
        scheduled("ntf_a", "interview_reminder_24h", "email"),
        message("ntf_a", 2, "NotificationSent", recipient_id="student-1", channel="email",
                sent_at="2026-03-01T09:20:00.000000Z", due_at="2026-03-01T09:00:00.000000Z", late=True, attempt=1,
                subject="Tomorrow: your conversation with Jane Doe", text="…"),
        scheduled("ntf_b", "interview_reminder_24h", "webhook"),
        message("ntf_b", 2, "NotificationFailed", recipient_id="student-1", channel="webhook", attempt=1,
                reason="HTTP 500", retry_at="2026-03-01T09:01:00.000000Z", final=False),
        message("ntf_b", 3, "NotificationFailed", recipient_id="student-1", channel="webhook", attempt=8,
                reason="HTTP 500", retry_at=None, final=True),
        scheduled("ntf_c", "thank_you_due", "email"),
        message("ntf_c", 2, "NotificationSuppressed", recipient_id="student-1", reason="email is not configured"),
    ]
    # when the batch is handled, and then redelivered
    views.handle(batch)
    views.handle(batch)
    # then the timeline holds one entry per outcome that matters to the student, linked to its notification
    entries = {d["kind"]: d for d in views.timeline.find({"student_id": "student-1"}, limit=50).items}
    assert sorted(entries) == ["notification_failed", "notification_sent", "notification_suppressed"]
    sent = entries["notification_sent"]
    assert (
        sent["summary"]
        == "Interview reminder (a day ahead) sent by e-mail (late): Tomorrow: your conversation with Jane Doe"
    )
    assert (sent["contact_id"], sent["link"]) == ("contact-1", "/notifications/ntf_a")
    assert (
        entries["notification_failed"]["summary"]
        == "Interview reminder (a day ahead) could not be delivered by webhook: HTTP 500"
    )
    assert entries["notification_suppressed"]["summary"] == "Thank-you reminder not sent: email is not configured"
    # and notifications never touch the follow-up queue
    assert views.items.count({"student_id": "student-1"}) == 0
    read_store.close()
