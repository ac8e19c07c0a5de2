"""Interview reminders from preferences to every channel, on each backend profile, under the test's
clock: e-mail at a real SMTP server with the invite attached, a signed webhook at a real receiver,
the in-app inbox; a reschedule withdraws the old reminders; an admin's template changes what is
sent; and a replay of every source event from the start schedules and sends nothing new."""
from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

import icalendar

from shared.consumer import ConsumerRunner
from tests.integration.notifications.harness import Notifications
from tests.integration.notifications.peers import SmtpServer, WebhookReceiver

REMINDERS = ["interview_reminder_24h", "interview_reminder_1h"]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_interview_reminders_reach_every_channel_once_and_a_reschedule_withdraws_the_old_ones(
        notifications: Callable[..., Notifications], smtp_server: SmtpServer, webhook_receiver: WebhookReceiver,
        token: Callable[..., str]) -> None:
    world = notifications(SMTP_URL=smtp_server.url, EMAIL_FROM="Career Office <careers@uni.example>")
    auth, admin = token("student-1"), token("admin-1", "admin")

    # given a student who wants interview reminders everywhere, in Berlin time
    world.prefer(auth, email="ada@example.org", time_zone="Europe/Berlin",
                 channels={kind: ["email", "webhook", "in_app"] for kind in REMINDERS})
    registered = world.ok(world.post("/webhooks", auth, {"url": webhook_receiver.url, "description": "my bot"}), 201)
    assert registered["secret"].startswith("whsec_")
    webhook_receiver.secret = registered["secret"]
    assert "secret" not in world.ok(world.get(f"/webhooks/{registered['id']}", auth))  # shown once only

    # when an interview is scheduled for Thursday 10:00 Berlin (09:00 UTC)
    jane = world.add_contact(auth, emails=["jane@acme.example"])
    interview = world.schedule_interview(auth, jane, "2031-03-06T10:00:00", "Europe/Berlin")

    # then six reminders are scheduled: two kinds, three channels
    planned = world.history(auth)
    assert sorted((n["kind"], n["channel"], n["send_at"], n["status"]) for n in planned) == sorted(
        (kind, channel, at, "scheduled") for kind, at in [("interview_reminder_24h", "2031-03-05T09:00:00.000000Z"),
                                                          ("interview_reminder_1h", "2031-03-06T08:00:00.000000Z")]
        for channel in ("email", "webhook", "in_app"))
    assert world.dispatch(utc("2031-03-05T08:59:59")) == 0  # nothing before its time

    # when the 24-hour reminders fall due
    assert world.dispatch(utc("2031-03-05T09:00:00")) == 3
    [mail] = smtp_server.wait_for(1)
    email_id = next(n["id"] for n in world.history(auth, "channel=email&status=sent"))
    assert mail["Message-ID"] == f"<{email_id}@careerloop>" and mail.rcpt_tos == ["ada@example.org"]
    assert mail["Subject"] == "Tomorrow: informational interview with Jane Doe"
    assert "Thu 06 Mar 2031 10:00 (Europe/Berlin)" in mail.body("text/plain")
    assert "<strong>Jane Doe (Acme Corp)</strong>" in mail.body("text/html")
    [ics] = mail.attachments
    assert (ics.get_filename(), ics.get_content_type(), ics.get_param("method")) == ("invite.ics", "text/calendar",
                                                                                      "REQUEST")
    [event] = icalendar.Calendar.from_ical(ics.get_content()).walk("VEVENT")
    assert str(event["UID"]) == f"{interview}@careerloop" and event.decoded("DTSTART") == utc("2031-03-06T09:00:00")
    # RFC 5546: a REQUEST names its organizer (the career office: this student's token has no e-mail) and
    # the contact as a required attendee asked to reply, as scheduling's own invite does
    assert str(event["ORGANIZER"]) == "mailto:career-office@localhost"
    [attendee] = [event["ATTENDEE"]] if not isinstance(event["ATTENDEE"], list) else event["ATTENDEE"]
    assert str(attendee) == "mailto:jane@acme.example"
    assert (attendee.params["ROLE"], attendee.params["PARTSTAT"], attendee.params["RSVP"]) == (
        "REQ-PARTICIPANT", "NEEDS-ACTION", "TRUE")
    [hook] = webhook_receiver.wait_for(1)
    webhook_id = next(n["id"] for n in world.history(auth, "channel=webhook&status=sent"))
    assert hook.verified and hook.id == webhook_id and hook.json["id"] == webhook_id
    assert hook.json["data"]["kind"] == "interview_reminder_24h" and hook.json["data"]["interview_id"] == interview
    assert hook.json["data"]["late"] is False

    # and the inbox shows it, unread, until it is marked read
    inbox = world.ok(world.get("/inbox", auth))
    [entry] = inbox["items"]
    assert inbox["unread"] == 1 and entry["subject"] == mail["Subject"] and entry["read"] is False
    read = world.ok(world.post(f"/inbox/{entry['id']}/read", auth))
    assert world.ok(world.post(f"/inbox/{entry['id']}/read", auth)) == read  # again: nothing new
    world.sync()  # (in-process, the views run when told to)
    fresh = world.ok(world.get(f"/inbox?unread=true&min_version={entry['id']}:{read['version']}", auth))
    assert fresh == {"items": [], "next_cursor": None, "unread": 0}
    assert world.post(f"/inbox/{entry['id']}/read", token("student-2")).status_code == 404

    # when the interview moves to Friday, the pending 1-hour reminders are withdrawn and new ones planned
    world.reschedule(auth, interview, "2031-03-07T10:00:00", "Europe/Berlin")
    history = world.history(auth)
    withdrawn = [n for n in history if n["status"] == "suppressed"]
    assert {(n["kind"], n["reason"]) for n in withdrawn} == {("interview_reminder_1h", "the interview was rescheduled")}
    assert len(withdrawn) == 3 and len([n for n in history if n["status"] == "scheduled"]) == 6

    # an admin rewords the 1-hour reminder; a student may not, and an unknown placeholder is refused
    wording = {
        "subject": "Soon: {contact_name} at {start_local}",
        "text": "See you, {contact}.",
        "html": "<p>{where}</p>",
    }
    assert world.put("/templates/interview_reminder_1h", auth, wording).status_code == 403
    refused = world.put("/templates/interview_reminder_1h", admin, {**wording, "text": "Hi {first_name}"})
    assert refused.status_code == 422 and list(refused.json["fields"]) == ["text"]
    world.ok(world.put("/templates/interview_reminder_1h", admin, wording))

    # the Friday reminders go out; the withdrawn Thursday ones never do
    world.dispatch(utc("2031-03-06T09:00:00"))
    world.dispatch(utc("2031-03-07T08:00:00"))
    mails = smtp_server.wait_for(3)
    assert [m["Subject"] for m in mails] == ["Tomorrow: informational interview with Jane Doe",
                                             "Tomorrow: informational interview with Jane Doe",
                                             "Soon: Jane Doe at Fri 07 Mar 2031 10:00"]
    assert "DTSTART:20310307T090000Z" in mails[2].attachments[0].get_content()
    assert len(webhook_receiver.wait_for(3)) == 3 and all(h.verified for h in webhook_receiver.requests)
    sent_ids = [m["Message-ID"] for m in mails] + [h.id for h in webhook_receiver.requests]
    assert len(set(sent_ids)) == 6
    assert world.ok(world.get("/inbox", auth))["unread"] == 2

    # replaying every source event from offset 0 (a new consumer group, the facts dropped too)
    # schedules nothing and sends nothing
    commits = len(world.api.store.read_all(0, 100_000))
    for name in ("notification_interviews", "notification_contacts", "notification_followups"):
        world.api.read_store.drop(name)
    ConsumerRunner(world.api.bus, world.policies(version=2), world.api.read_store).run(threading.Event(),
                                                                                        until_idle=True)
    assert len(world.api.store.read_all(0, 100_000)) == commits
    assert world.dispatch(utc("2031-03-08T08:00:00")) == 0
    assert len(smtp_server.messages) == 3 and len(webhook_receiver.requests) == 3
