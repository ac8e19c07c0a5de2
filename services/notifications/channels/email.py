"""E-mail over SMTP with the standard library's smtplib: one short session per message.

The message is multipart/alternative (text, then HTML) inside multipart/mixed when there are
attachments; the interview invite travels as `invite.ics` with `text/calendar; method=REQUEST`
(or CANCEL), the method parameter matching the calendar's METHOD as iMIP (RFC 6047) asks.
`Message-ID` is `<notification_id@careerloop>`: deterministic, so a send repeated after a crash
is recognisably the same message, and `Auto-Submitted: auto-generated` (RFC 3834) keeps vacation
responders from answering a robot.

Where delivery is decided: SMTP hands responsibility over at the server's 250 reply to the end of
DATA. An exception before that means the server did not take the message; a timeout *while
waiting for that reply* is the one ambiguous case (the server may have queued it, RFC 1047), and
is reported as transient: the retry carries the same Message-ID. Failures after the 250 (QUIT
going wrong) are ignored, because reporting them would make the dispatcher send again.

How failures are classified (DeliveryFailed.permanent):
- a 5xx reply to this message's transaction (MAIL FROM, RCPT TO, DATA), an address that is not
  one, or a non-ASCII address the server cannot carry: permanent, sending again cannot help;
- 4xx replies, refused/dropped connections, timeouts, TLS failures: transient;
- problems opening the session (greeting, EHLO, STARTTLS, AUTH), even with 5xx codes: transient,
  because they concern the configuration (SMTP_URL), not this message, and the message must not be
  given up while an operator fixes the setting; the reason names what to check.

TLS: `smtps://` speaks TLS from the first byte, `?starttls=true` upgrades before login; both verify
the server's certificate against the system's trust store (smtplib's own default context would
not), unless a test hands in its own `ssl_context`.
"""
from __future__ import annotations

import smtplib
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage, Message
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, parseaddr
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from services.notifications.channels.message import DeliveryFailed, Outgoing

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

    from shared.config import Settings

MESSAGE_ID_DOMAIN = "careerloop"
_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off", ""}


@dataclass(frozen=True)
class SmtpTarget:
    """The parts of SMTP_URL. The password is kept out of repr so it never reaches a log."""

    host: str
    port: int
    implicit_tls: bool
    starttls: bool
    username: str | None = None
    password: str | None = None

    def __repr__(self) -> str:
        scheme = "smtps" if self.implicit_tls else "smtp"
        user = f"{self.username}:***@" if self.username is not None else ""
        return f"SmtpTarget({scheme}://{user}{self.host}:{self.port}, starttls={self.starttls})"


def parse_smtp_url(url: str) -> SmtpTarget:
    """`smtp://[user:pass@]host[:port][?starttls=true]` or `smtps://[user:pass@]host[:port]`.

    Default ports: 465 for smtps, 587 with STARTTLS, 25 otherwise. Errors never quote the URL:
    it may hold a password."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError("SMTP_URL must start with smtp:// or smtps://")
    if not parts.hostname:
        raise ValueError("SMTP_URL names no host")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("SMTP_URL has an invalid port") from None
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = set(options) - {"starttls"}
    if unknown:
        raise ValueError(f"SMTP_URL has unknown options: {', '.join(sorted(unknown))} (only starttls)")
    flag = options.get("starttls", "false").lower()
    if flag not in _TRUE | _FALSE:
        raise ValueError("SMTP_URL starttls must be true or false")
    implicit_tls, starttls = parts.scheme == "smtps", flag in _TRUE
    if implicit_tls and starttls:
        raise ValueError("SMTP_URL: smtps:// is TLS already; starttls=true belongs to smtp://")
    if port is None:
        port = 465 if implicit_tls else 587 if starttls else 25
    username = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    if password is not None and not username:
        raise ValueError("SMTP_URL has a password but no user")
    return SmtpTarget(parts.hostname, port, implicit_tls, starttls, username, password)


def one_line(text: str) -> str:
    """User text fit for a header: every line break, control character and run of white space
    becomes one space (a contact's name or a template may hold any of them)."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def message_id(notification_id: str) -> str:
    return f"<{notification_id}@{MESSAGE_ID_DOMAIN}>"


def _address(value: str) -> str | None:
    """The addr-spec of an address ("Name <a@b>" or "a@b"), or None if it is not one. Line breaks
    of any kind (CR, LF, U+2028, ...) and control characters are refused: in a header they would
    start a new one."""
    if not value or not value.isprintable():
        return None
    _, addr = parseaddr(value)
    local, at, domain = addr.rpartition("@")
    if not at or not local or not domain or any(c.isspace() for c in addr):
        return None
    return addr


def _reply(code: int, text: bytes | str) -> str:
    text = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"{code} {' '.join(text.split())}"


class _Budgeted(smtplib.SMTP):
    """An smtplib client on one overall deadline: each write and reply wait gets only the time that
    is left. smtplib's own timeout applies to every socket operation afresh, so a server answering
    each of a dozen commands just in time could stretch one send far past the timeout; the
    dispatcher's lease reasoning needs `timeout` to bound the whole send. Connecting needs no
    override: the constructor connects at once with `timeout`, which is all the budget there is."""

    # a mixin: the arguments are SMTP's or SMTP_SSL's, whichever class comes next
    def __init__(self, *args: Any, deadline: float, **kwargs: Any) -> None:
        self._deadline = deadline
        super().__init__(*args, **kwargs)

    def _left(self) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out")
        if self.sock is not None:
            self.sock.settimeout(left)
        return left

    def send(self, s: ReadableBuffer | str) -> None:
        self._left()
        super().send(s)

    def getreply(self) -> tuple[int, bytes]:
        self._left()
        return super().getreply()


class _BudgetedSMTP(_Budgeted):
    pass


class _BudgetedSMTPS(_Budgeted, smtplib.SMTP_SSL):
    pass


class EmailChannel:
    """EmailChannel(smtp_url, sender, timeout=30).send(outgoing, to_address).

    `timeout` (seconds) bounds one whole send, from connecting to the reply to DATA."""

    def __init__(self, smtp_url: str, sender: str, timeout: float = 30, *,
                 ssl_context: ssl.SSLContext | None = None, local_hostname: str | None = None) -> None:
        self.target = parse_smtp_url(smtp_url)
        envelope_sender = _address(sender)
        if envelope_sender is None:
            raise ValueError("EMAIL_FROM is not an e-mail address (one line: Name <address> or address)")
        self.sender = sender
        self.envelope_sender = envelope_sender
        self.timeout = timeout
        self.ssl_context = ssl_context or ssl.create_default_context()
        self.local_hostname = local_hostname  # None: smtplib says EHLO with this machine's FQDN

    @classmethod
    def from_settings(cls, settings: Settings, *, timeout: float = 30) -> EmailChannel | None:
        """The channel SMTP_URL and EMAIL_FROM describe, or None when SMTP_URL is empty (e-mail is
        not configured). A malformed SMTP_URL raises ValueError: better at start-up than per send."""
        url = settings.get("SMTP_URL").strip()
        if not url:
            return None
        return cls(url, settings.get("EMAIL_FROM"), timeout)

    # -- the message ---------------------------------------------------------------------------
    def compose(self, outgoing: Outgoing, to_address: str, *, now: datetime | None = None) -> EmailMessage:
        """The MIME message `send` would transmit (also handy for previews)."""
        # The policy's header handling is the injection guard: it folds and RFC 2047-encodes what we
        # set, and refuses (ValueError) any value holding a line break rather than emit it.
        message = EmailMessage(policy=SMTP_POLICY)  # CRLF line ends, as SMTP wants
        message["Subject"] = one_line(outgoing.subject)
        message["From"] = self.sender
        message["To"] = to_address
        message["Date"] = format_datetime((now or datetime.now(UTC)).astimezone(UTC))
        message["Message-ID"] = message_id(outgoing.notification_id)
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(outgoing.text)
        if outgoing.html:
            message.add_alternative(outgoing.html, subtype="html")
        for attachment in outgoing.attachments:
            parsed = Message()
            parsed["Content-Type"] = attachment.content_type
            maintype, subtype = parsed.get_content_maintype(), parsed.get_content_subtype()
            params = {k: v for k, v in (parsed.get_params() or [])[1:]}
            if maintype == "text":
                message.add_attachment(attachment.content, subtype=subtype, filename=attachment.filename,
                                       params=params)
            else:
                message.add_attachment(attachment.content.encode("utf-8"), maintype=maintype, subtype=subtype,
                                       filename=attachment.filename, params=params)
        return message

    # -- the session -----------------------------------------------------------------------------
    def send(self, outgoing: Outgoing, to_address: str, *, now: datetime | None = None) -> None:
        """Deliver to the SMTP server, or raise DeliveryFailed (see the module docstring)."""
        recipient = _address(to_address)
        if recipient is None:
            raise DeliveryFailed(f"{to_address!r} is not an e-mail address", permanent=True)
        try:
            message = self.compose(outgoing, to_address, now=now)
        except ValueError:  # the policy refused a header value: never sent, and sending again cannot help
            raise DeliveryFailed("the message could not be composed: a header value was refused",
                                 permanent=True) from None
        target = self.target
        client: smtplib.SMTP | None = None
        stage = "connecting to"
        try:
            # The constructors connect and read the greeting (closing the socket if that fails);
            # they also remember the host name that TLS checks the certificate against.
            deadline = time.monotonic() + self.timeout
            if target.implicit_tls:
                client = _BudgetedSMTPS(target.host, target.port, local_hostname=self.local_hostname,
                                        timeout=self.timeout, context=self.ssl_context, deadline=deadline)
            else:
                client = _BudgetedSMTP(target.host, target.port, local_hostname=self.local_hostname,
                                       timeout=self.timeout, deadline=deadline)
            if target.starttls:
                stage = "STARTTLS with"
                client.ehlo()
                if not client.has_extn("starttls"):
                    raise DeliveryFailed(f"{target.host} does not offer STARTTLS: check SMTP_URL", permanent=False)
                client.starttls(context=self.ssl_context)
                client.ehlo()
            if target.username is not None:
                stage = "logging in to"
                client.login(target.username, target.password or "")
            stage = "sending to"
            client.send_message(message, from_addr=self.envelope_sender, to_addrs=[recipient])
        except DeliveryFailed:
            raise
        except smtplib.SMTPRecipientsRefused as error:
            code, reply = next(iter(error.recipients.values()))
            raise DeliveryFailed(f"recipient {recipient} refused: {_reply(code, reply)}",
                                 permanent=code >= 500, code=code) from None
        except smtplib.SMTPSenderRefused as error:
            raise DeliveryFailed(f"sender {self.envelope_sender} refused: {_reply(error.smtp_code, error.smtp_error)}",
                                 permanent=error.smtp_code >= 500, code=error.smtp_code) from None
        except smtplib.SMTPDataError as error:
            raise DeliveryFailed(f"message refused: {_reply(error.smtp_code, error.smtp_error)}",
                                 permanent=error.smtp_code >= 500, code=error.smtp_code) from None
        except smtplib.SMTPNotSupportedError as error:
            # While sending, the one unsupported thing is SMTPUTF8 for a non-ASCII address: this
            # server can never carry it. While logging in, the server offers no AUTH: configuration.
            raise DeliveryFailed(f"{stage} {target.host}: {error}", permanent=stage == "sending to") from None
        except smtplib.SMTPAuthenticationError as error:
            raise DeliveryFailed(f"login to {target.host} refused ({_reply(error.smtp_code, error.smtp_error)}): "
                                 "check the user and password in SMTP_URL", permanent=False,
                                 code=error.smtp_code) from None
        except smtplib.SMTPResponseException as error:  # greeting, EHLO, STARTTLS answered with an error
            raise DeliveryFailed(f"{stage} {target.host}: {_reply(error.smtp_code, error.smtp_error)}",
                                 permanent=False, code=error.smtp_code) from None
        except (smtplib.SMTPException, OSError) as error:  # refused, reset, timed out, TLS, DNS
            detail = "timed out" if isinstance(error, TimeoutError) else f"{type(error).__name__}: {error}"
            raise DeliveryFailed(f"{stage} {target.host}:{target.port} failed: {detail}", permanent=False) from None
        else:
            try:
                assert client is not None
                client.quit()
            except (smtplib.SMTPException, OSError):
                pass  # the server said 250 to DATA: the message is delivered, whatever QUIT does
        finally:
            if client is not None:
                client.close()
