"""Real peers for the notifications tests: an SMTP server and a webhook receiver (see `peers.py`).

Both listen on 127.0.0.1 on a free port, in threads of the test process, and are stopped after
the test. Neither needs the real backends, so they serve both profiles alike.

`smtp_server` -> SmtpServer (aiosmtpd, plain SMTP, no AUTH)
    .url                      "smtp://127.0.0.1:<port>", for SMTP_URL / EmailChannel
    .messages                 [ReceivedMail] accepted (the server answered 250 to DATA), in order
    .wait_for(n, timeout=10)  block until n messages were accepted; returns .messages
    .fail_next(code=451, text=None, *, at="DATA"|"RCPT", times=1)
                              answer the next `times` DATA (or RCPT TO) with that code:
                              451 -> the channel raises DeliveryFailed(permanent=False), 550 -> permanent
    .hold_next(times=1)       do not answer the next DATA until .release(); meanwhile the message
                              is in .held. If the client disconnects first (a killed dispatcher),
                              it goes to .discarded and is never in .messages: the model of an MTA
                              that takes responsibility only at its 250 reply.
    .wait_until_held(n=1, timeout=10), .wait_until_discarded(n=1, timeout=10) -> bool
    .release()                answer the held DATA commands (250: accepted)
    .reply_delay = seconds    wait before each reply to RCPT TO and DATA (a slow server)
    .stop() / .start()        stop listening (connections refused) and listen again, same port
    ReceivedMail: .mail_from, .rcpt_tos, .data (raw bytes), .message (email.message.EmailMessage),
        mail["Subject"] (any header), .body("text/plain" | "text/html"), .attachments
        [EmailMessage: .get_filename(), .get_content_type(), .get_param("method"), .get_content()],
        .tls, .login

`webhook_receiver` -> WebhookReceiver (http.server.ThreadingHTTPServer)
    .url                      "http://127.0.0.1:<port>/hooks/careerloop" (any path is accepted)
    .url_for(path, host="127.0.0.1")   another path (or host name) on the same receiver
    WebhookReceiver(tls=server_context) speaks https (see tls_pair); .server_names: the SNI of each
                              TLS handshake
    .secret                   "whsec_..." the receiver verifies with (assignable); a request that
                              fails `verify` is answered 401 and recorded with verified=False
    .requests                 [ReceivedWebhook] every POST in arrival order: .method, .path,
                              .headers (lower-case names), .body (raw bytes), .json, .id
                              (webhook-id), .verified, .error, .status (what was answered;
                              None while hanging)
    .delivered, .delivered_ids()   the requests answered 2xx (a receiver dedupes on these ids)
    .wait_for(n, timeout=10)  block until n requests arrived; .wait_until_answered(n, timeout=10)
    .respond_next(status, times=1, headers=None)   e.g. 500 (transient), 410 (permanent),
                              301 with {"Location": ...} (not followed, transient)
    .hang_next(times=1)       leave the next requests unanswered until .release() (then 200):
                              the sender's timeout fires first -> transient. Like a real receiver
                              that processed a request it answered too late, a released request
                              counts as delivered although the sender saw a timeout: the sender
                              retries with the same webhook-id, and deduping on it is the
                              receiver's part of exactly-once.

Every wait fails the test at its timeout, naming what it awaited (`tests.support`).
Also: `unused_port()` (nothing listens there: "server down"),
`tls_pair(tmp_path)` -> (server, client) SSL contexts for a throw-away certificate, and the
`smtp_server_factory` fixture: smtp_server_factory(starttls=ctx | implicit_tls=ctx,
credentials=("user", "password")) -> a started SmtpServer requiring TLS and AUTH.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.integration.notifications.harness import notifications  # noqa: F401  (the service, wired in-process)
from tests.integration.notifications.peers import SmtpServer, WebhookReceiver


@pytest.fixture
def smtp_server_factory() -> Iterator[Callable[..., SmtpServer]]:
    started: list[SmtpServer] = []

    def start(**options: Any) -> SmtpServer:
        server = SmtpServer(**options).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def smtp_server(smtp_server_factory: Callable[..., SmtpServer]) -> SmtpServer:
    return smtp_server_factory()


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()
