"""The e-mail channel against a real SMTP server (aiosmtpd in-process): what arrives, and how each
kind of refusal is classified."""
from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from services.notifications.channels import Attachment, DeliveryFailed, EmailChannel, Outgoing
from shared import ics
from tests.integration.notifications.peers import SmtpServer, tls_pair, unused_port

NOW = datetime(2026, 3, 8, 14, 0, tzinfo=UTC)
INTERVIEW = {"id": "int_42", "state": "scheduled", "contact_name": "Zoë Ng", "objectives": ["careers in UX"],
             "questions": [{"text": "How did you start?"}], "start": "2026-03-09T14:00:00.000000Z",
             "end": "2026-03-09T14:30:00.000000Z", "sequence": 1, "place": None, "link": "https://meet.example/x"}


def reminder(notification_id: str = "ntf_5f2a", interview: dict = INTERVIEW) -> Outgoing:
    invite = ics.invite(interview, NOW)
    return Outgoing(
        notification_id,
        "interview_reminder_24h",
        "Tomorrow: your interview with Zoë Ng",
        "Your interview with Zoë Ng is tomorrow at 10:00 (New York).",
        "<p>Your interview with <b>Zoë Ng</b> is tomorrow at 10:00 (New York).</p>",
        payload={},
        attachments=(Attachment("invite.ics", f"text/calendar; method={ics.method_of(interview)}", invite),),
    )


def unfolded(calendar: str) -> set[str]:
    return set(calendar.replace("\r\n", "\n").replace("\n ", "").split("\n"))


def channel(server: SmtpServer, **options: object) -> EmailChannel:
    return EmailChannel(server.url, "Career Office <careers@uni.example>", **options)  # type: ignore[arg-type]


def test_a_reminder_arrives_with_text_html_and_a_parseable_invite(smtp_server: SmtpServer) -> None:
    channel(smtp_server).send(reminder(), "ada@students.example", now=NOW)
    [mail] = smtp_server.wait_for(1)
    assert mail.mail_from == "careers@uni.example" and mail.rcpt_tos == ["ada@students.example"]
    assert mail["Subject"] == "Tomorrow: your interview with Zoë Ng"
    assert mail["From"] == "Career Office <careers@uni.example>" and mail["To"] == "ada@students.example"
    assert mail["Message-ID"] == "<ntf_5f2a@careerloop>" and parsedate_to_datetime(mail["Date"]) == NOW
    assert mail.body("text/plain").strip() == "Your interview with Zoë Ng is tomorrow at 10:00 (New York)."
    assert "<b>Zoë Ng</b>" in mail.body("text/html")
    [invite] = mail.attachments
    assert invite.get_filename() == "invite.ics" and invite.get_content_type() == "text/calendar"
    assert invite.get_param("method") == "REQUEST"
    assert {"METHOD:REQUEST", "UID:int_42@careerloop", "DTSTART:20260309T140000Z", "SEQUENCE:1",
            "SUMMARY:Informational interview with Zoë Ng"} <= unfolded(invite.get_content())


def test_a_contact_name_with_line_breaks_arrives_as_one_subject_and_adds_no_header(smtp_server: SmtpServer) -> None:
    injected = reminder()
    injected = Outgoing(injected.notification_id, injected.kind,
                        "Tomorrow: Zoë\r\nBcc: everyone@uni.example\r\n\r\nforged body", injected.text, injected.html,
                        payload={})
    channel(smtp_server).send(injected, "ada@students.example")
    [mail] = smtp_server.wait_for(1)
    assert mail.rcpt_tos == ["ada@students.example"] and mail["Bcc"] is None
    assert mail["Subject"] == "Tomorrow: Zoë Bcc: everyone@uni.example forged body"
    assert mail.body("text/plain").strip() == injected.text


def test_a_cancellation_carries_a_cancel_invite(smtp_server: SmtpServer) -> None:
    channel(smtp_server).send(
        reminder(interview={**INTERVIEW, "state": "cancelled", "sequence": 2}), "ada@students.example"
    )
    [invite] = smtp_server.wait_for(1)[0].attachments
    assert invite.get_param("method") == "CANCEL"
    assert {"METHOD:CANCEL", "STATUS:CANCELLED", "SEQUENCE:2"} <= unfolded(invite.get_content())


def test_a_repeated_send_is_recognisably_the_same_message(smtp_server: SmtpServer) -> None:
    email = channel(smtp_server)
    email.send(reminder("ntf_1"), "ada@students.example")
    email.send(reminder("ntf_1"), "ada@students.example")
    email.send(reminder("ntf_2"), "ada@students.example")
    assert [m["Message-ID"] for m in smtp_server.wait_for(3)] == [
        "<ntf_1@careerloop>", "<ntf_1@careerloop>", "<ntf_2@careerloop>"]


def test_a_4xx_is_transient_a_5xx_permanent_and_neither_delivers(smtp_server: SmtpServer) -> None:
    email = channel(smtp_server)
    smtp_server.fail_next(451)
    with pytest.raises(DeliveryFailed) as busy:
        email.send(reminder(), "ada@students.example")
    assert not busy.value.permanent and busy.value.code == 451
    smtp_server.fail_next(550, "5.1.1 No such user", at="RCPT")
    with pytest.raises(DeliveryFailed) as unknown:
        email.send(reminder(), "nobody@students.example")
    assert unknown.value.permanent and unknown.value.code == 550 and "No such user" in unknown.value.reason
    smtp_server.fail_next(554, "5.6.0 Message rejected")
    with pytest.raises(DeliveryFailed) as rejected:
        email.send(reminder(), "ada@students.example")
    assert rejected.value.permanent and rejected.value.code == 554
    assert smtp_server.messages == []
    email.send(reminder(), "ada@students.example")  # the server itself is fine
    assert len(smtp_server.wait_for(1)) == 1


def test_a_server_that_is_down_is_a_transient_failure() -> None:
    with pytest.raises(DeliveryFailed) as down:
        EmailChannel(f"smtp://127.0.0.1:{unused_port()}", "careers@uni.example", timeout=5).send(
            reminder(), "ada@students.example")
    assert not down.value.permanent and "ConnectionRefusedError" in down.value.reason


def test_no_answer_to_data_is_transient_and_the_abandoned_message_is_not_delivered(smtp_server: SmtpServer) -> None:
    smtp_server.hold_next()
    with pytest.raises(DeliveryFailed) as silent:
        channel(smtp_server, timeout=0.5).send(reminder(), "ada@students.example")
    assert not silent.value.permanent and "timed out" in silent.value.reason
    assert smtp_server.wait_until_discarded(1)
    smtp_server.release()
    assert smtp_server.messages == []


def test_the_timeout_bounds_the_whole_send_not_each_reply(smtp_server: SmtpServer) -> None:
    smtp_server.reply_delay = 0.3  # each reply in time for a per-reply timeout of 0.5 s, both together not
    with pytest.raises(DeliveryFailed) as slow:
        channel(smtp_server, timeout=0.5).send(reminder(), "ada@students.example")
    assert not slow.value.permanent and "timed out" in slow.value.reason
    channel(smtp_server, timeout=5).send(reminder(), "ada@students.example")
    assert len(smtp_server.wait_for(1)) == 1


def test_a_held_message_is_delivered_once_released(smtp_server: SmtpServer) -> None:
    smtp_server.hold_next()
    sender = threading.Thread(target=channel(smtp_server).send, args=(reminder(), "ada@students.example"))
    sender.start()
    assert smtp_server.wait_until_held(1) and smtp_server.messages == []
    smtp_server.release()
    sender.join(10)
    assert [m["Message-ID"] for m in smtp_server.wait_for(1)] == ["<ntf_5f2a@careerloop>"]
    assert smtp_server.discarded == []


def test_a_sender_killed_before_the_reply_to_data_leaves_nothing_delivered(smtp_server: SmtpServer) -> None:
    # The premise of the dispatcher's kill-mid-send test: until the 250, the message is not the server's.
    smtp_server.hold_next()
    script = ("import sys; from services.notifications.channels import EmailChannel, Outgoing; "
              "EmailChannel(sys.argv[1], 'careers@uni.example').send("
              "Outgoing('ntf_k', 'digest', 's', 't', '<p>h</p>', {}), 'ada@students.example')")
    sender = subprocess.Popen([sys.executable, "-c", script, smtp_server.url])
    try:
        assert smtp_server.wait_until_held(1, timeout=30)
    finally:
        sender.send_signal(signal.SIGKILL)
        sender.wait()
    assert smtp_server.wait_until_discarded(1)
    smtp_server.release()
    channel(smtp_server).send(Outgoing("ntf_k", "digest", "s", "t", "<p>h</p>", {}), "ada@students.example")
    assert [m["Message-ID"] for m in smtp_server.wait_for(1)] == ["<ntf_k@careerloop>"]


def test_starttls_comes_before_login_and_the_certificate_is_verified(
        tmp_path: Path, smtp_server_factory: Callable[..., SmtpServer]) -> None:
    server_tls, client_tls = tls_pair(tmp_path)
    server = smtp_server_factory(starttls=server_tls, credentials=("careers", "pa ss:word"))
    assert server.url.endswith("?starttls=true")
    url = server.url.replace("pa ss:word", "pa%20ss%3Aword")
    EmailChannel(url, "careers@uni.example", ssl_context=client_tls).send(reminder(), "ada@students.example")
    [mail] = server.wait_for(1)
    assert mail.tls and mail.login == "careers"
    with pytest.raises(DeliveryFailed) as untrusted:  # the system trust store does not know the test certificate
        EmailChannel(url, "careers@uni.example").send(reminder(), "ada@students.example")
    assert not untrusted.value.permanent and "SSLCertVerificationError" in untrusted.value.reason
    with pytest.raises(DeliveryFailed) as refused:
        EmailChannel(url.replace("pa%20ss", "wrong"), "careers@uni.example", ssl_context=client_tls).send(
            reminder(), "ada@students.example")
    assert not refused.value.permanent and "check the user and password" in refused.value.reason
    assert len(server.messages) == 1


def test_smtps_speaks_tls_from_the_start(tmp_path: Path, smtp_server_factory: Callable[..., SmtpServer]) -> None:
    server_tls, client_tls = tls_pair(tmp_path)
    server = smtp_server_factory(implicit_tls=server_tls, credentials=("careers", "secret"))
    assert server.url.startswith("smtps://")
    EmailChannel(server.url, "careers@uni.example", ssl_context=client_tls).send(reminder(), "ada@students.example")
    [mail] = server.wait_for(1)
    assert mail.tls and mail.login == "careers"
