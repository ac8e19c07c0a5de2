"""Real peers for the notification channels: an SMTP server (aiosmtpd) and an HTTP webhook receiver.

Both run in-process on 127.0.0.1 on a free port, in their own threads, record what they received,
and can be scripted to fail, refuse or hang the next N messages. `conftest.py` wraps them in the
`smtp_server` and `webhook_receiver` fixtures; see its docstring for the API.
"""
from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import ssl
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from services.notifications.channels import WebhookVerificationError, new_webhook_secret, verify
from tests.support import wait_notified

HOST = "127.0.0.1"


def unused_port() -> int:
    """A port nothing listens on (for "the server is down" cases)."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


# -- SMTP ------------------------------------------------------------------------------------------
@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    tls: bool  # the session was encrypted (STARTTLS or implicit TLS)
    login: str | None  # the AUTH user, if the client logged in
    message: EmailMessage = field(init=False)

    def __post_init__(self) -> None:
        self.message = BytesParser(policy=policy.default).parsebytes(self.data)  # type: ignore[assignment]

    def __getitem__(self, header: str) -> Any:
        return self.message[header]

    def body(self, content_type: str) -> str | None:
        """The content of the first non-attachment part of this type ("text/plain", "text/html")."""
        for part in self.message.walk():
            if part.get_content_type() == content_type and not part.is_attachment():
                return part.get_content()
        return None

    @property
    def attachments(self) -> list[EmailMessage]:
        return list(self.message.iter_attachments())


@dataclass
class _Failure:
    at: str
    reply: str


class _Handler:
    def __init__(self, owner: SmtpServer) -> None:
        self.owner = owner

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        await asyncio.sleep(self.owner.reply_delay)
        failure = self.owner._take_failure("RCPT")
        if failure:
            return failure
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.owner.reply_delay)
        failure = self.owner._take_failure("DATA")
        if failure:
            return failure
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        mail = ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content),
                            tls=server.transport.get_extra_info("ssl_object") is not None, login=login)
        owner = self.owner
        if owner._take_hold():
            with owner._changed:
                owner.held.append(mail)
                owner._changed.notify_all()
            try:
                # Poll rather than block: a client that disconnects cancels this coroutine, which
                # is exactly when a real server must not deliver (no 250 was sent).
                while not owner._released.is_set():
                    await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                with owner._changed:
                    owner.discarded.append(mail)
                    owner._changed.notify_all()
                raise
            finally:
                with owner._changed:
                    owner.held.remove(mail)
        with owner._changed:
            owner.messages.append(mail)
            owner._changed.notify_all()
        return "250 Message accepted for delivery"


class _Controller(Controller):
    """aiosmtpd's Controller, able to listen on port 0: the port is read back from the socket
    before the controller's own readiness probe connects to it."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpServer:
    DEFAULT_REPLIES = {4: "4.3.0 Try again later", 5: "5.1.1 Mailbox unavailable"}

    def __init__(self, *, starttls: ssl.SSLContext | None = None, implicit_tls: ssl.SSLContext | None = None,
                 credentials: tuple[str, str] | None = None) -> None:
        self.messages: list[ReceivedMail] = []
        self.held: list[ReceivedMail] = []
        self.discarded: list[ReceivedMail] = []
        self._changed = threading.Condition()
        self._failures: deque[_Failure] = deque()
        self._holds = 0
        self._released = threading.Event()
        self._starttls, self._implicit_tls, self._credentials = starttls, implicit_tls, credentials
        self.port = 0
        self.reply_delay = 0.0  # seconds before each reply to RCPT TO and to DATA: a slow server
        self._controller: _Controller | None = None

    # lifecycle
    def start(self) -> SmtpServer:
        options: dict[str, Any] = {}
        if self._starttls is not None:
            options.update(tls_context=self._starttls, require_starttls=True)
        if self._credentials is not None:
            options.update(authenticator=self._authenticate)
            if self._implicit_tls is None:
                options.update(auth_required=True)  # and only after STARTTLS (aiosmtpd's auth_require_tls)
            else:
                # aiosmtpd cannot tell that an implicit-TLS line is encrypted: let it offer AUTH anyway
                options.update(auth_require_tls=False)
        self._controller = _Controller(_Handler(self), hostname=HOST, port=self.port, ssl_context=self._implicit_tls,
                                       server_hostname="smtp.test", **options)
        self._controller.start()
        self.port = self._controller.port
        return self

    def stop(self) -> None:
        """Stop listening (connections are then refused); start() again listens on the same port."""
        self._released.set()
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def url(self) -> str:
        scheme = "smtps" if self._implicit_tls else "smtp"
        user = f"{self._credentials[0]}:{self._credentials[1]}@" if self._credentials else ""
        return f"{scheme}://{user}{HOST}:{self.port}" + ("?starttls=true" if self._starttls else "")

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = (isinstance(data, LoginPassword) and self._credentials is not None
              and (data.login.decode(), data.password.decode()) == self._credentials)
        # handled=False: aiosmtpd then answers 535 itself (handled=True would mean "already answered")
        return AuthResult(success=ok, handled=False, auth_data=data if ok else None)

    # scripting
    def fail_next(self, code: int = 451, text: str | None = None, *, at: str = "DATA", times: int = 1) -> None:
        """Answer the next `times` RCPT TO or DATA commands with `code` instead of accepting."""
        assert at in ("RCPT", "DATA"), at
        reply = f"{code} {text or self.DEFAULT_REPLIES[code // 100]}"
        with self._changed:
            self._failures.extend(_Failure(at, reply) for _ in range(times))

    def _take_failure(self, at: str) -> str | None:
        with self._changed:
            if self._failures and self._failures[0].at == at:
                return self._failures.popleft().reply
        return None

    def hold_next(self, times: int = 1) -> None:
        """Keep the reply to the next `times` DATA commands until release(): the message is then
        accepted, unless the client went away first (then it lands in `discarded`)."""
        with self._changed:
            self._holds += times
            self._released.clear()

    def _take_hold(self) -> bool:
        with self._changed:
            if self._holds:
                self._holds -= 1
                return True
        return False

    def release(self) -> None:
        self._released.set()

    # observing
    def wait_for(self, count: int, timeout: float = 10) -> list[ReceivedMail]:
        """Block until `count` messages were accepted; return them (the test fails if the time runs out)."""
        wait_notified(self._changed, lambda: len(self.messages) >= count, timeout=timeout,
                      what=f"the SMTP server accepted {count} messages")
        return list(self.messages)

    def wait_until_held(self, count: int = 1, timeout: float = 10) -> bool:
        wait_notified(self._changed, lambda: len(self.held) >= count, timeout=timeout,
                      what=f"the SMTP server held {count} messages")
        return True

    def wait_until_discarded(self, count: int = 1, timeout: float = 10) -> bool:
        wait_notified(self._changed, lambda: len(self.discarded) >= count, timeout=timeout,
                      what=f"the SMTP server discarded {count} messages")
        return True


def tls_pair(directory: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context) for a fresh self-signed certificate of 127.0.0.1/localhost,
    which the client context (and only it) trusts."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "careerloop test peer")])
    now = datetime.now(UTC)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address(HOST))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / "peer-cert.pem", directory / "peer-key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client


# -- webhooks --------------------------------------------------------------------------------------
@dataclass
class ReceivedWebhook:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    verified: bool
    error: str | None  # why verification failed
    status: int | None = None  # what the receiver answered (None while hanging)

    @property
    def id(self) -> str | None:
        return self.headers.get("webhook-id")

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class _Scripted:
    status: int
    headers: dict[str, str]


class WebhookReceiver:
    """Verifies each POST with `secret` (401 when it fails), then answers 200 unless scripted."""

    def __init__(self, secret: str | None = None, tolerance_seconds: float = 300,
                 tls: ssl.SSLContext | None = None) -> None:
        self.secret = secret or new_webhook_secret()
        self.tls = tls  # a server context: the receiver speaks https; .server_names records each SNI
        self.server_names: list[str | None] = []
        self.tolerance_seconds = tolerance_seconds
        self.requests: list[ReceivedWebhook] = []
        self._changed = threading.Condition()
        self._script: deque[_Scripted | None] = deque()  # None: hang
        self._released = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        self._server = ThreadingHTTPServer((HOST, 0), Handler)
        self._server.daemon_threads = True
        if self.tls is not None:
            self.tls.sni_callback = lambda sock, name, context: self.server_names.append(name)  # type: ignore[assignment]
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="webhook-receiver", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            assert self._thread is not None
            self._thread.join()
            self._server = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return self.url_for("/hooks/careerloop")

    def url_for(self, path: str, host: str = HOST) -> str:
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}{path}"

    # scripting
    def respond_next(self, status: int, times: int = 1, headers: dict[str, str] | None = None) -> None:
        """Answer the next `times` verified requests with `status` (and headers, e.g. Location)."""
        with self._changed:
            self._script.extend(_Scripted(status, headers or {}) for _ in range(times))

    def hang_next(self, times: int = 1) -> None:
        """Keep the next `times` verified requests unanswered until release() (then 200)."""
        with self._changed:
            self._script.extend(None for _ in range(times))
            self._released.clear()

    def release(self) -> None:
        self._released.set()

    # observing
    @property
    def delivered(self) -> list[ReceivedWebhook]:
        """Requests answered 2xx, in arrival order."""
        return [r for r in self.requests if r.status is not None and 200 <= r.status < 300]

    def delivered_ids(self) -> list[str | None]:
        return [r.id for r in self.delivered]

    def wait_for(self, count: int, timeout: float = 10) -> list[ReceivedWebhook]:
        """Block until `count` requests arrived (answered or not); return them."""
        wait_notified(self._changed, lambda: len(self.requests) >= count, timeout=timeout,
                      what=f"the webhook receiver got {count} requests")
        return list(self.requests)

    def wait_until_answered(self, count: int, timeout: float = 10) -> bool:
        wait_notified(self._changed, lambda: sum(r.status is not None for r in self.requests) >= count,
                      timeout=timeout, what=f"the webhook receiver answered {count} requests")
        return True

    def _handle(self, http: BaseHTTPRequestHandler) -> None:
        body = http.rfile.read(int(http.headers.get("content-length") or 0))
        headers = {k.lower(): v for k, v in http.headers.items()}
        try:
            verify(self.secret, headers, body, tolerance_seconds=self.tolerance_seconds)
            verified, error = True, None
        except WebhookVerificationError as failure:
            verified, error = False, str(failure)
        request = ReceivedWebhook(http.command, http.path, headers, body, verified, error)
        with self._changed:
            self.requests.append(request)
            self._changed.notify_all()
            scripted = self._script.popleft() if verified and self._script else _Scripted(200 if verified else 401, {})
        if scripted is None:
            self._released.wait(60)
            scripted = _Scripted(200, {})
        with self._changed:  # recorded before answering: the sender may look as soon as it has the answer
            request.status = scripted.status
            self._changed.notify_all()
        try:
            http.send_response(scripted.status)
            for name, value in scripted.headers.items():
                http.send_header(name, value)
            http.send_header("content-length", "0")
            http.end_headers()
        except OSError:
            pass  # the sender gave up (timed out) before we answered

