"""The notifications aggregates as given events / when command / then events."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.notifications.domain import DomainError, Notification, Preferences, Template, WebhookEndpoint, dedupe_key
from shared.errors import RuleViolated

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
GRACE = timedelta(minutes=5)


def names(aggregate: Any) -> list[str]:
    return [event.name for event in aggregate.pending]


def scheduled(channel: str = "email", kind: str = "interview_reminder_1h", **options: Any) -> Notification:
    notification = Notification.schedule(dedupe_key("event-1", kind, channel, "student-1"), recipient_id="student-1",
                                         kind=kind, channel=channel, send_at=T0, source={"service": "test"},
                                         context={}, **options)
    notification.pending = []
    return notification


def test_a_notification_is_due_at_its_time_and_sent_once_per_target() -> None:
    notification = scheduled()
    assert not notification.due(T0 - timedelta(seconds=1)) and notification.due(T0)
    notification.record_sent("email", now=T0, grace=GRACE, subject="s", text="t")
    assert names(notification) == ["NotificationSent"] and notification.status == "sent"
    assert notification.pending[0].data["late"] is False and not notification.due(T0)
    with pytest.raises(RuleViolated):
        notification.record_sent("email", now=T0, grace=GRACE, subject="s", text="t")


def test_sent_more_than_the_grace_after_it_was_due_is_late() -> None:
    notification = scheduled()
    notification.record_sent("email", now=T0 + GRACE + timedelta(seconds=1), grace=GRACE, subject="s", text="t")
    assert notification.pending[0].data["late"] is True and notification.late


def test_a_policy_that_knows_it_is_too_late_records_the_notification_and_its_suppression_together() -> None:
    notification = Notification.schedule("k", recipient_id="s", kind="interview_reminder_24h", channel="in_app",
                                         send_at=T0, source={}, context={}, not_sent_because="too late")
    assert names(notification) == ["NotificationScheduled", "NotificationSuppressed"]
    assert notification.status == "suppressed" and not notification.due(T0)


def test_suppression_applies_only_to_what_has_not_gone_out() -> None:
    notification = scheduled()
    notification.record_sent("email", now=T0, grace=GRACE, subject="s", text="t")
    notification.pending = []
    notification.suppress("rescheduled")
    assert names(notification) == []  # sent stays sent
    bundled = scheduled(kind="follow_up_due")
    bundled.bundle("ntf_digest", T0 + timedelta(hours=20))
    bundled.suppress("dismissed")
    assert bundled.status == "suppressed"


def test_failures_are_retried_at_their_time_and_a_final_one_ends_it() -> None:
    notification = scheduled()
    notification.record_failure("email", now=T0, reason="451 busy", retry_at=T0 + timedelta(minutes=1))
    assert notification.status == "scheduled" and notification.due_at == "2026-03-02T09:01:00.000000Z"
    assert not notification.due(T0 + timedelta(seconds=59)) and notification.due(T0 + timedelta(minutes=1))
    notification.record_failure("email", now=T0, reason="550 no such user", retry_at=None)
    assert notification.status == "failed" and notification.attempts("email") == 2
    assert [e.data["final"] for e in notification.pending] == [False, True]


def test_a_retry_that_succeeds_is_not_late_because_of_the_backoff() -> None:
    notification = scheduled()
    notification.record_failure("email", now=T0, reason="451", retry_at=T0 + timedelta(hours=1))
    notification.record_sent("email", now=T0 + timedelta(hours=1, seconds=3), grace=GRACE, subject="s", text="t")
    assert notification.pending[-1].data["late"] is False and notification.pending[-1].data["attempt"] == 2


def test_a_webhook_notification_tracks_each_endpoint_and_retries_only_the_failed_ones() -> None:
    notification = scheduled(channel="webhook")
    assert notification.pending_targets(["whe_a", "whe_b"]) == ["whe_a", "whe_b"]
    notification.record_sent("whe_a", now=T0, grace=GRACE, subject="s", text="t")
    notification.record_failure("whe_b", now=T0, reason="HTTP 500", retry_at=T0 + timedelta(minutes=1))
    assert notification.status == "scheduled"
    # an endpoint registered later never gets this old message; only b is retried
    assert notification.pending_targets(["whe_a", "whe_b", "whe_c"]) == ["whe_b"]
    assert [e.data["endpoint_id"] for e in notification.pending] == ["whe_a", "whe_b"]
    notification.record_failure("whe_b", now=T0, reason="disabled", retry_at=None)
    assert notification.status == "sent"  # one endpoint has it; none awaits a retry


def test_quiet_hours_defer_and_a_digest_collects_each_follow_up_once() -> None:
    notification = scheduled(kind="thank_you_due")
    notification.defer(T0 + timedelta(hours=8), "quiet hours")
    assert notification.status == "scheduled" and not notification.due(T0 + timedelta(hours=7))
    digest = Notification.schedule("digest|x", recipient_id="student-1", kind="digest", channel="email",
                                   send_at=T0 + timedelta(hours=9), source={}, context={})
    digest.collect(notification)
    digest.collect(notification)
    assert names(digest).count("DigestItemAdded") == 1
    notification.bundle(digest.id, T0 + timedelta(hours=9))
    assert notification.status == "bundled" and not notification.due(T0 + timedelta(days=1))
    digest.record_sent("email", now=T0 + timedelta(hours=9), grace=GRACE, subject="s", text="t",
                       items=[notification.id])
    assert digest.sent_items == [notification.id]
    with pytest.raises(RuleViolated, match="gone out"):
        digest.collect(scheduled(kind="check_in_due"))
    with pytest.raises(RuleViolated):
        scheduled().bundle(digest.id, T0)  # a reminder is never bundled


def test_only_a_sent_in_app_notification_is_marked_read_and_only_once() -> None:
    with pytest.raises(RuleViolated):
        scheduled(channel="in_app").acknowledge(T0)
    with pytest.raises(RuleViolated):
        scheduled(channel="email").acknowledge(T0)
    notification = scheduled(channel="in_app")
    notification.record_sent("in_app", now=T0, grace=GRACE, subject="s", text="t")
    notification.acknowledge(T0)
    notification.acknowledge(T0)
    assert names(notification) == ["NotificationSent", "NotificationAcknowledged"]


def test_a_snapshot_restores_the_same_state() -> None:
    notification = scheduled(channel="webhook")
    notification.record_failure("whe_a", now=T0, reason="HTTP 500", retry_at=T0 + timedelta(minutes=1))
    restored = Notification.restore(notification.id, notification.version, notification.snapshot())
    assert restored.snapshot() == notification.snapshot() and restored.version == notification.version
    assert restored.owner_id == "student-1"


def test_an_endpoint_that_keeps_failing_disables_itself_with_the_reason() -> None:
    endpoint = WebhookEndpoint.register("whe_1", "student-1", "https://hooks.example.org", None, "salt")
    endpoint.pending = []
    endpoint.record_failure("ntf_1", "HTTP 500", disable_after=3)
    endpoint.record_success("ntf_2")  # a success in between starts the count again
    endpoint.record_failure("ntf_3", "HTTP 500", disable_after=3)
    endpoint.record_failure("ntf_4", "HTTP 502", disable_after=3)
    assert endpoint.enabled
    endpoint.record_failure("ntf_5", "timeout", disable_after=3)
    assert names(endpoint) == ["WebhookDeliveryFailed", "WebhookEndpointRecovered", "WebhookDeliveryFailed",
                               "WebhookDeliveryFailed", "WebhookDeliveryFailed", "WebhookEndpointDisabled"]
    disabled = endpoint.pending[-1].data
    assert disabled["consecutive_failures"] == 3 and "3 deliveries failed in a row" in disabled["reason"]
    endpoint.enable()
    assert endpoint.enabled and endpoint.consecutive_failures == 0
    endpoint.remove()
    with pytest.raises(RuleViolated):
        endpoint.enable()


def test_an_endpoint_that_answers_gone_is_disabled_at_once() -> None:
    endpoint = WebhookEndpoint.register("whe_1", "student-1", "https://hooks.example.org", None, "salt")
    endpoint.record_failure("ntf_1", "HTTP 410 from the endpoint", disable_after=5, permanent=True)
    assert endpoint.state == "disabled"
    assert endpoint.disabled_reason == "a delivery failed for good: HTTP 410 from the endpoint"


def test_preferences_record_the_whole_state_and_nothing_when_unchanged() -> None:
    preferences = Preferences(Preferences.stream_for("student-1"))
    assert preferences.wants("thank_you_due", "in_app") and not preferences.wants("thank_you_due", "email")
    choice = {
        "email": "ada@example.org",
        "time_zone": "Europe/London",
        "quiet_hours": {"start": "22:00", "end": "07:00"},
        "digest": True,
    }
    preferences.change("student-1", channels={"thank_you_due": ["email", "in_app", "email"]}, **choice)
    data = preferences.pending[0].data
    assert data["channels"]["thank_you_due"] == ["email", "in_app"]  # once each, in a fixed order
    assert data["channels"]["interview_reminder_1h"] == ["in_app"]  # kinds left out keep theirs
    preferences.change("student-1", channels={}, **choice)
    assert names(preferences) == ["NotificationPreferencesChanged"]


@pytest.mark.parametrize(("change", "field"), [
    ({"channels": {"follow_up_due": ["email"]}, "email": None}, "email"),
    ({"quiet_hours": {"start": "22:00", "end": "22:00"}}, "quiet_hours"),
])
def test_preferences_refuse_what_cannot_work(change: dict, field: str) -> None:
    arguments = {"email": None, "time_zone": None, "channels": {}, "quiet_hours": None, "digest": False, **change}
    with pytest.raises(DomainError) as refused:
        Preferences("preferences:s").change("s", **arguments)
    assert refused.value.field == field


def test_a_template_with_an_unknown_placeholder_is_refused_naming_the_part() -> None:
    template = Template(Template.stream_for("interview_reminder_1h"))
    with pytest.raises(DomainError) as refused:
        template.change("Soon: {contact_name}", "At {start_local} with {salary}", "<p>{contact}</p>")
    assert refused.value.field == "text" and "{salary}" in refused.value.message
    template.change("Soon: {contact_name}", "At {start_local}", "<p>{contact}</p>")
    template.change("Soon: {contact_name}", "At {start_local}", "<p>{contact}</p>")
    assert names(template) == ["NotificationTemplateChanged"] and template.parts["subject"] == "Soon: {contact_name}"
