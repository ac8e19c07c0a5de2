"""The dispatcher as a real process (`python -m services.notifications.dispatcher`), killed with SIGKILL
while the SMTP server holds its reply to DATA, then started again: every message arrives exactly
once (by Message-ID) and none is lost — on each backend profile."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.notifications.application import NotificationsService
from services.notifications.domain import Preferences, dedupe_key
from services.notifications.policies import Plan
from services.notifications.projections import NotificationViews
from shared.bus import Message
from shared.config import Settings
from shared.contracts.notifications import NOTIFICATIONS
from shared.events import Metadata
from shared.eventstore import open_event_store
from shared.keys import sealing
from shared.readstore import open_read_store
from tests.backends import event_store_url, marked, read_store_url
from tests.integration.notifications.peers import SmtpServer
from tests.support import wait_until

ROOT = Path(__file__).resolve().parents[3]
PROFILES = {"embedded": "sqlite", "real": "mongo"}
KINDS = ["thank_you_due", "follow_up_due", "check_in_due", "follow_up_due", "thank_you_due"]


@pytest.fixture(params=[marked(name, backend) for name, backend in PROFILES.items()])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str, Any, Any]]:
    events_url = event_store_url(PROFILES[request.param], tmp_path)
    read_url = read_store_url(PROFILES[request.param], tmp_path)
    store, read_store = open_event_store(events_url), open_read_store(read_url)
    yield events_url, read_url, store, read_store
    for backend in (store, read_store):
        getattr(backend, "drop_database", lambda: None)()
        backend.close()


class DispatcherProcess:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "services.notifications.dispatcher"], cwd=ROOT,
                                            env={**os.environ, **self.env}, stdout=out, stderr=subprocess.STDOUT)

    def signal(self, sig: int) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        return self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


def project(store: Any, read_store: Any) -> None:
    """The delivery queue as notifications-views would build it (straight from the store, opening
    personal data as the store seals it)."""
    views = NotificationViews(read_store, personal=store.personal)
    views.handle([Message(NOTIFICATIONS.topic, 0, c.position, c.stream_id, json.dumps(e).encode())
                  for c in store.read_all(0, 10_000) for e in c.events if c.stream_type == "notification"])


def test_a_dispatcher_killed_mid_send_loses_nothing_and_sends_nothing_twice(
        stores: tuple[str, str, Any, Any], smtp_server: SmtpServer, tmp_path: Path) -> None:
    events_url, read_url, raw_store, read_store = stores
    # the test and the dispatcher process seal personal data with the same key store and master key
    store = sealing(raw_store, Settings.from_env({"CAREERLOOP_DATA_DIR": str(tmp_path)}))
    service = NotificationsService(store, webhook_key="k")
    meta = Metadata(actor="test")
    service.change_preferences("student-1", {"email": "ada@example.org", "channels": {
        kind: ["email"] for kind in set(KINDS)}}, meta)
    assert service.get_preferences("student-1").email == "ada@example.org"
    # two notifications due now, three a few seconds later (so the third send is the one held)
    now = datetime.now(UTC)
    plans = [Plan("student-1", kind, "email", now - timedelta(seconds=1) if i < 2 else now + timedelta(seconds=4),
                  {"service": "test", "type": "item", "id": f"item-{i}", "event_id": f"event-{i}", "event_type": None},
                  {"reason": f"Follow-up number {i}", "due_at": now.isoformat(), "link": f"/followups/{i}"},
                  dedupe_key(f"event-{i}", kind, "email", "student-1")) for i, kind in enumerate(KINDS)]
    assert all(service.schedule(plan, meta) for plan in plans)
    project(store, read_store)
    expected = {f"<{plan.id}@careerloop>" for plan in plans}

    dispatcher = DispatcherProcess({
        "EVENT_STORE_URL": events_url, "READ_STORE_URL": read_url, "SMTP_URL": smtp_server.url,
        "EMAIL_FROM": "careers@uni.example", "NOTIFICATIONS_DISPATCHER_LEASE_SECONDS": "6",
        "NOTIFICATIONS_DISPATCHER_POLL_SECONDS": "0.1", "LOG_LEVEL": "INFO",
        "BUS_URL": f"sqlite:///{tmp_path}/unused-bus.db", "CAREERLOOP_DATA_DIR": str(tmp_path)},
        tmp_path / "dispatcher.log")
    try:
        dispatcher.start()
        assert len(smtp_server.wait_for(2, timeout=60)) == 2, dispatcher.log.read_text()
        smtp_server.hold_next()
        # when the third message's DATA is held (the server has not taken it) the dispatcher dies
        assert smtp_server.wait_until_held(timeout=30), dispatcher.log.read_text()
        [held] = smtp_server.held
        assert dispatcher.signal(signal.SIGKILL) == -signal.SIGKILL
        assert smtp_server.wait_until_discarded(timeout=10)  # no 250 was sent: the message is not accepted
        assert len(smtp_server.messages) == 2

        # then a new dispatcher (once the dead one's lease has expired) sends the rest, each once
        dispatcher.start()
        delivered = smtp_server.wait_for(5, timeout=60)
        wait_until(lambda: all(service.notifications.load(p.id).status == "sent" for p in plans), timeout=30,
                   what="every notification is recorded as sent")
        assert dispatcher.signal(signal.SIGTERM) == 0  # and stops cleanly
    finally:
        dispatcher.stop()
    ids = [m["Message-ID"] for m in delivered]
    assert sorted(ids) == sorted(expected), dispatcher.log.read_text()  # each exactly once, none lost
    assert held["Message-ID"] in ids  # the one killed mid-send was sent again, by the new dispatcher
    sent_events = [e for c in store.read_all(0, 10_000) for e in c.events if e["type"].endswith("NotificationSent.v1")]
    assert sorted(e["subject"] for e in sent_events) == sorted(p.id for p in plans)
    assert Preferences.stream_for("student-1") not in {e["subject"] for e in sent_events}
