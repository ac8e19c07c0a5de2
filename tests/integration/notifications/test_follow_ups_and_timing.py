"""Follow-ups that became due (FollowUpBecameDue from the followups stream), on each backend profile:
the daily digest collects them for push channels while the inbox gets each one; a dismissed item
leaves the digest; quiet hours delay, never drop; a dispatcher that was down sends late, marked
late; and a webhook endpoint that keeps failing is retried with backoff, then disabled with an event."""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from services.notifications.domain import dedupe_key, notification_id
from tests.integration.notifications.harness import Notifications
from tests.integration.notifications.peers import SmtpServer, WebhookReceiver


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_a_digest_collects_follow_ups_quiet_hours_delay_and_a_late_send_says_so(
        notifications: Callable[..., Notifications], smtp_server: SmtpServer, token: Callable[..., str]) -> None:
    world = notifications(SMTP_URL=smtp_server.url, NOTIFICATIONS_DIGEST_HOUR="8")
    ada, bob = token("ada"), token("bob")
    follow_ups = {kind: ["email", "in_app"] for kind in ("thank_you_due", "follow_up_due", "check_in_due")}
    # Ada wants a daily digest (New York time); Bob single messages, but quiet from 22:00 to 07:00
    world.prefer(ada, email="ada@example.org", time_zone="America/New_York", channels=follow_ups, digest=True)
    world.prefer(bob, email="bob@example.org", time_zone="America/New_York", channels=follow_ups,
                 quiet_hours={"start": "22:00", "end": "07:00"})
    jane = world.add_contact(ada, name="Jane Doe", organisation="Acme Corp")
    world.sync()

    # Monday 09:00 New York: Ada's thank-you falls due; the inbox has it at once, e-mail waits for the digest
    world.clock.now = utc("2031-03-03T14:00:00")
    thanks = world.announce_due("ada", "thank_you", "interview-1", reason="Send Jane Doe a thank-you",
                                due_at=utc("2031-03-03T14:00:00"), contact_id=jane, link="/interviews/interview-1")
    world.clock.now = utc("2031-03-03T20:00:00")
    world.announce_due("ada", "action_item", "item-1", reason="Action item: read Inspired",
                       due_at=utc("2031-03-03T20:00:00"), link="/notes/note-1")
    check_in = world.announce_due("ada", "stay_in_touch", "c9:t1", reason="Check in with Bob Roe",
                                  due_at=utc("2031-03-03T20:00:00"), link="/contacts/c9")
    world.dispatch()
    assert len(world.ok(world.get("/inbox", ada))["items"]) == 3
    bundled = world.history(ada, "status=bundled")
    assert len(bundled) == 3 and len({n["digest_id"] for n in bundled}) == 1
    assert smtp_server.messages == []
    # Ada dismisses the check-in: it leaves the digest (the inbox already showed it)
    world.dismiss("ada", check_in)
    [withdrawn] = world.history(ada, "status=suppressed")
    assert withdrawn["kind"] == "check_in_due" and withdrawn["reason"] == "the follow-up was dismissed"

    # Tuesday 08:00 New York: one digest e-mail with the two items left
    assert world.dispatch(utc("2031-03-04T12:59:59")) == 0
    world.dispatch(utc("2031-03-04T13:00:00"))
    [digest] = smtp_server.wait_for(1)
    assert digest["Subject"] == "Your follow-ups for 2031-03-04: 2"
    assert "- Send Jane Doe a thank-you (/interviews/interview-1)" in digest.body("text/plain")
    assert "Action item: read Inspired (/notes/note-1)" in digest.body("text/plain")
    assert "Bob Roe" not in digest.body("text/plain")
    items = world.history(ada, "channel=email&status=sent")
    assert {n["kind"] for n in items} == {"digest", "thank_you_due", "follow_up_due"}
    assert {n["digest_id"] for n in items if n["kind"] != "digest"} == {next(
        n["id"] for n in items if n["kind"] == "digest")}
    assert thanks == "thank_you:interview-1"

    # Bob's follow-up falls due at 22:30 in New York: delayed to 07:00, never dropped
    world.clock.now = utc("2031-03-05T03:30:00")
    world.announce_due("bob", "outreach_follow_up", "t-7", reason="No reply from Jane yet: send one follow-up",
                       due_at=utc("2031-03-05T03:30:00"), link="/contacts/c1/touchpoints")
    world.dispatch()
    [deferred] = world.history(bob, "channel=email")
    assert deferred["status"] == "scheduled" and deferred["due_at"] == "2031-03-05T12:00:00.000000Z"
    assert world.ok(world.get("/inbox", bob))["unread"] == 1  # the inbox is silent: no quiet hours
    assert world.dispatch(utc("2031-03-05T11:59:00")) == 0
    world.dispatch(utc("2031-03-05T12:00:00"))
    assert smtp_server.wait_for(2)[1]["Subject"] == "No reply from Jane yet: send one follow-up"
    assert "late" not in smtp_server.messages[1].body("text/plain")

    # a follow-up due at 10:00 while the dispatcher is down until 10:20: sent late, and it says so
    world.clock.now = utc("2031-03-05T15:00:00")
    world.announce_due("bob", "action_item", "item-2", reason="Action item: update the CV",
                       due_at=utc("2031-03-05T15:00:00"), link="/notes/note-2")
    world.dispatch(utc("2031-03-05T15:20:00"))
    late = smtp_server.wait_for(3)[2]
    assert late.body("text/plain").startswith("This message is late: it was due Wed 05 Mar 2031 10:00 "
                                              "(America/New_York).")
    marked = [n for n in world.history(bob, "status=sent") if n["kind"] == "follow_up_due" and n["late"]]
    assert {n["channel"] for n in marked} == {"email", "in_app"}
    # whatever happens next, nothing is sent twice
    assert world.dispatch(utc("2031-03-06T15:00:00")) == 0 and len(smtp_server.messages) == 3


def test_a_failing_webhook_is_retried_with_backoff_then_disabled_with_an_event(
        notifications: Callable[..., Notifications], webhook_receiver: WebhookReceiver,
        token: Callable[..., str]) -> None:
    world = notifications(NOTIFICATIONS_RETRY_BASE_SECONDS="60", WEBHOOK_DISABLE_AFTER_FAILURES="3")
    auth = token("student-1")
    world.prefer(auth, channels={"check_in_due": ["webhook"]})
    endpoint = world.ok(world.post("/webhooks", auth, {"url": webhook_receiver.url}), 201)
    webhook_receiver.secret = endpoint["secret"]
    world.sync()
    webhook_receiver.respond_next(503, times=3)

    start = utc("2031-03-03T09:00:00")
    world.clock.now = start
    world.announce_due("student-1", "stay_in_touch", "c1:t1", reason="Check in with Jane", due_at=start)
    world.dispatch()
    # attempts at +0, +60 s, +180 s (60, then 120 seconds of backoff)
    assert world.dispatch(utc("2031-03-03T09:00:59")) == 0
    world.dispatch(utc("2031-03-03T09:01:00"))
    assert world.dispatch(utc("2031-03-03T09:02:59")) == 0
    world.dispatch(utc("2031-03-03T09:03:00"))
    attempts = webhook_receiver.wait_for(3)
    assert [r.status for r in attempts] == [503, 503, 503] and len({r.id for r in attempts}) == 1
    assert all(r.verified for r in attempts)

    [notification] = world.history(auth)
    assert notification["status"] == "failed" and notification["attempts"] == 3
    assert notification["reason"].startswith("HTTP 503")
    [listed] = world.ok(world.get("/webhooks", auth))["items"]
    assert listed["status"] == "disabled" and listed["consecutive_failures"] == 3
    assert listed["disabled_reason"].startswith("3 deliveries failed in a row; the last: HTTP 503")
    events = [e["type"].split(".")[2] for c in world.api.store.read_all(0, 10_000) if c.stream_id == endpoint["id"]
              for e in c.events]
    assert events == ["WebhookEndpointRegistered", "WebhookDeliveryFailed", "WebhookDeliveryFailed",
                      "WebhookDeliveryFailed", "WebhookEndpointDisabled"]

    # nothing goes to a disabled endpoint; enabled again, it receives the next notification
    world.clock.now = utc("2031-03-03T10:00:00")
    world.announce_due("student-1", "stay_in_touch", "c2:t1", reason="Check in with John", due_at=world.clock.now)
    world.dispatch()
    assert len(webhook_receiver.requests) == 3
    assert {n["reason"] for n in world.history(auth, "status=suppressed")} == {"no enabled webhook endpoint"}
    world.ok(world.post(f"/webhooks/{endpoint['id']}/enable", auth))
    world.sync()
    world.clock.now = utc("2031-03-03T11:00:00")
    world.announce_due("student-1", "stay_in_touch", "c3:t1", reason="Check in with Joan", due_at=world.clock.now)
    world.dispatch()
    delivered = webhook_receiver.wait_for(4)[3]
    assert delivered.status == 200 and delivered.json["data"]["subject"] == "Check in with Joan"
    expected = notification_id(dedupe_key(next(c.events[0]["id"] for c in world.followups.store.read_all(0, 100)
                                               if c.stream_id == "stay_in_touch:c3:t1"),
                                          "check_in_due", "webhook", "student-1"))
    assert delivered.id == expected
