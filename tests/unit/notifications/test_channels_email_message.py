"""The e-mail channel's configuration and the MIME message it composes (no server needed)."""
from __future__ import annotations

from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser

import pytest

from services.notifications.channels import (
    Attachment,
    DeliveryFailed,
    EmailChannel,
    Outgoing,
    SmtpTarget,
    parse_smtp_url,
)
from shared.config import Settings

NOW = datetime(2026, 3, 8, 14, 0, 5, tzinfo=UTC)
INVITE = "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n"


def outgoing(**overrides: object) -> Outgoing:
    fields: dict = dict(notification_id="ntf_0123abcd", kind="interview_reminder_24h",
                        subject="Tomorrow: your interview with Zoë Ng", text="See you tomorrow at 10:00.",
                        html="<p>See you tomorrow at <b>10:00</b>.</p>", payload={},
                        attachments=(Attachment("invite.ics", "text/calendar; method=REQUEST", INVITE),))
    return Outgoing(**{**fields, **overrides})


@pytest.mark.parametrize("url, expected", [
    ("smtp://mail.example.org", SmtpTarget("mail.example.org", 25, False, False)),
    ("smtp://mail.example.org:2525", SmtpTarget("mail.example.org", 2525, False, False)),
    ("smtp://u%40uni:p%3Ass@mail.example.org?starttls=true",
     SmtpTarget("mail.example.org", 587, False, True, "u@uni", "p:ss")),
    ("smtps://user:secret@mail.example.org", SmtpTarget("mail.example.org", 465, True, False, "user", "secret")),
    ("smtp://127.0.0.1:1025?starttls=false", SmtpTarget("127.0.0.1", 1025, False, False)),
])
def test_smtp_urls_are_understood(url: str, expected: SmtpTarget) -> None:
    assert parse_smtp_url(url) == expected


@pytest.mark.parametrize("url", [
    "http://mail.example.org", "smtp://", "smtp://host:notaport", "smtp://host?starttls=maybe",
    "smtp://host?tls=true", "smtps://host?starttls=true", "smtp://:s3cret@host",
])
def test_bad_smtp_urls_are_refused_without_repeating_a_password(url: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_smtp_url(url)
    assert "s3cret" not in str(refused.value)


def test_the_password_never_shows_in_a_repr() -> None:
    assert "secret" not in repr(parse_smtp_url("smtps://user:secret@mail.example.org"))


def test_an_empty_smtp_url_means_email_is_not_configured() -> None:
    assert EmailChannel.from_settings(Settings.from_env({"SMTP_URL": ""})) is None
    channel = EmailChannel.from_settings(Settings.from_env({"SMTP_URL": "smtp://mail:2525",
                                                            "EMAIL_FROM": "Career Office <careers@uni.example>"}))
    assert channel is not None and channel.envelope_sender == "careers@uni.example"


def test_a_sender_that_is_no_address_is_refused_at_start_up() -> None:
    with pytest.raises(ValueError, match="EMAIL_FROM"):
        EmailChannel("smtp://mail", "careerloop")


def test_the_message_is_text_and_html_alternatives_plus_the_invite() -> None:
    message = EmailChannel("smtp://mail", "careers@uni.example").compose(outgoing(), "ada@uni.example", now=NOW)
    assert message.get_content_type() == "multipart/mixed"
    alternative, invite = message.get_payload()
    assert [p.get_content_type() for p in alternative.get_payload()] == ["text/plain", "text/html"]
    assert invite.get_content_type() == "text/calendar" and invite.get_param("method") == "REQUEST"
    assert invite.get_filename() == "invite.ics" and invite.is_attachment()
    assert message["Message-ID"] == "<ntf_0123abcd@careerloop>"
    assert message["Date"] == "Sun, 08 Mar 2026 14:00:05 +0000"
    assert message["Auto-Submitted"] == "auto-generated"


def test_without_attachments_the_message_is_just_the_alternatives() -> None:
    message = EmailChannel("smtp://mail", "careers@uni.example").compose(outgoing(attachments=()), "a@b.example")
    assert message.get_content_type() == "multipart/alternative"


@pytest.mark.parametrize("brk", ["\r\n", "\n", "\r", "\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x00",
                                 "\r\n\r\n"])
def test_a_line_break_in_a_subject_cannot_inject_headers(brk: str) -> None:
    message = EmailChannel("smtp://mail", "c@u.example").compose(
        outgoing(subject=f"Thank Zoë{brk}Bcc: everyone@uni.example{brk}X-Evil: 1"), "a@b.example")
    wire = message.as_bytes()
    assert not any(line.lower().startswith((b"bcc:", b"x-evil:")) for line in wire.split(b"\r\n"))
    received = BytesParser(policy=policy.default).parsebytes(wire)  # the standard library reads it back
    assert received["Subject"] == "Thank Zoë Bcc: everyone@uni.example X-Evil: 1"
    assert (
        received["Bcc"] is None and received["X-Evil"] is None and received.get_all("Subject") == [received["Subject"]]
    )
    assert wire.startswith(b"Subject: Thank =?utf-8?q?Zo=C3=AB?= Bcc:")  # non-ASCII RFC 2047-encoded, one line


def test_a_sender_with_a_line_break_is_refused_at_start_up() -> None:
    for sender in ("Careers\r\nBcc: x@y.example <c@u.example>", "Careers\u2028Bcc: x@y.example <c@u.example>"):
        with pytest.raises(ValueError, match="EMAIL_FROM"):
            EmailChannel("smtp://mail", sender)


def test_a_display_name_is_quoted_by_the_policy() -> None:
    message = EmailChannel("smtp://mail", '"Career Office, Uni" <c@u.example>').compose(outgoing(), "a@b.example")
    received = BytesParser(policy=policy.default).parsebytes(message.as_bytes())
    [sender] = received["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Career Office, Uni", "c@u.example")


@pytest.mark.parametrize("address", ["", "ada", "ada@", "@uni.example", "ada@uni.example\r\nBcc: x@y.example",
                                     "ada lovelace@uni.example", "ada@uni.example\u2028Bcc: x@y.example",
                                     "Ada\x85Bcc: x@y.example <ada@uni.example>", "ada@uni.example\x00"])
def test_an_address_that_is_not_one_fails_permanently_before_any_connection(address: str) -> None:
    # port 9 (discard) on a documentation address: were a connection attempted, the error would differ
    with pytest.raises(DeliveryFailed) as failed:
        EmailChannel("smtp://192.0.2.1:9", "c@u.example", timeout=0.01).send(outgoing(), address)
    assert failed.value.permanent and "not an e-mail address" in failed.value.reason
