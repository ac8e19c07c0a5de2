"""The load: students doing what students do, as concurrent HTTP clients that retry like good clients.

Each client is one student. It sets its notification preferences and a webhook, then repeats a
script across every command service: add a contact, log an outreach, tag the contact, record a note
about an earlier contact and, every few contacts, request an interview and schedule it an hour and
a minute or two ahead (so the interview's 1-hour reminder is delivered by e-mail and webhook during
the run). Every POST carries an `Idempotency-Key`; a request that fails for a reason a client may
retry (connection refused or reset while a process restarts, 503, 409 "still in progress") is
retried with the same key, honouring `Retry-After`, until `give_up_after` seconds have passed.

What every command ended as is recorded (`Outcome`): accepted (a 2xx, with the stream and version
the service answered), refused (a 4xx it will not retry), or given up; and every answer's status,
so a scenario can assert that no 500 was ever sent and that every 503 carried `Retry-After`.
"""
from __future__ import annotations

import contextlib
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from shared.auth import mint_token

RETRYABLE = {502, 503, 504}
# The scheduling and notes services learn about a contact from the contacts topic: until their
# projection has it, a request naming it is refused with 404/422 and a client tries again later.
NOT_KNOWN_YET = {404, 422}


@dataclass
class Outcome:
    kind: str  # contact | touchpoint | tag | note | interview | schedule | preferences | webhook
    student: str
    marker: str  # a unique word carried by the command, to find it in stores and read models
    stream: str | None = None  # the aggregate the command changed (the answer's `id`)
    version: int | None = None
    status: int | None = None  # the final answer's status (None: only connection errors)
    attempts: int = 0
    detail: dict[str, Any] = field(default_factory=dict)
    answer: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def accepted(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class Statuses:
    """Every answer any client got, by status, and the 503s that lacked Retry-After."""
    counts: Counter = field(default_factory=Counter)
    without_retry_after: int = 0
    connection_errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, response: requests.Response | None) -> None:
        with self.lock:
            if response is None:
                self.connection_errors += 1
                return
            self.counts[response.status_code] += 1
            if response.status_code == 503 and not response.headers.get("Retry-After"):
                self.without_retry_after += 1


class Student:
    """One client: its own session, token and contacts."""

    def __init__(self, load: Load, name: str) -> None:
        self.load = load
        self.name = name
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {mint_token(load.secret, name, ['student'])}"
        self.contacts: list[str] = []
        self.scheduled = 0
        self.random = random.Random(name)

    def send(self, kind: str, service: str, path: str, body: dict[str, Any], *, method: str = "POST",
             marker: str | None = None, detail: dict[str, Any] | None = None) -> Outcome:
        outcome = Outcome(kind, self.name, marker or uuid.uuid4().hex[:12], detail=detail or {})
        headers = {"Idempotency-Key": uuid.uuid4().hex} if method == "POST" else {}
        deadline = time.monotonic() + self.load.give_up_after
        delay = 0.1
        while True:
            outcome.attempts += 1
            response = None
            with contextlib.suppress(requests.RequestException):  # a process restarting: retried below
                response = self.session.request(method, f"{self.load.urls[service]}{path}", json=body,
                                                headers=headers, timeout=self.load.request_timeout)
            self.load.statuses.record(response)
            if response is not None:
                outcome.status = response.status_code
                if response.ok:
                    outcome.answer = response.json()
                    outcome.stream, outcome.version = outcome.answer.get("id"), outcome.answer.get("version")
                    break
                retry = response.status_code in RETRYABLE or (
                    response.status_code in NOT_KNOWN_YET and kind in ("interview", "note")) or (
                    response.status_code == 409 and "Idempotency-Key" in response.text)  # the first try still runs
                if not retry:
                    outcome.detail["error"] = response.text[:300]
                    break
                delay = max(delay, float(response.headers.get("Retry-After", 0) or 0))
            if time.monotonic() + delay > deadline:
                outcome.detail["gave_up"] = True
                break
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
        self.load.record(outcome)
        return outcome

    def set_up(self) -> None:
        self.send("preferences", "notifications", "/preferences", method="PUT", body={
            "email": f"{self.name}@students.example", "time_zone": "UTC",
            "channels": {kind: ["email", "webhook"] for kind in ("interview_reminder_1h", "interview_reminder_24h")}})
        if self.load.receiver is not None:  # each endpoint signs with its own secret: one receiver per student
            receiver = self.load.receiver()
            registered = self.send("webhook", "notifications", "/webhooks", body={"url": receiver.url})
            receiver.secret = registered.answer.get("secret", receiver.secret)

    def step(self, n: int) -> None:
        """Commands of one round; `n` counts rounds so the mix is the same for every run."""
        marker = f"m{uuid.uuid4().hex[:10]}"
        added = self.send("contact", "contacts", "/contacts", marker=marker, body={
            "name": f"Pro {marker}", "organisation": f"Org {n % 7}", "industry": "Software",
            "emails": [f"{marker}@pros.example"]})
        if added.accepted and added.stream:
            contact = added.stream
            self.contacts.append(contact)
            self.send("touchpoint", "contacts", f"/contacts/{contact}/touchpoints", marker=marker,
                      detail={"contact": contact},
                      body={"kind": "outreach", "occurred_at": datetime.now(UTC).isoformat(),
                            "text": f"reached out {marker}"})
            self.send("tag", "contacts", f"/contacts/{contact}/tags", marker=f"t{marker}",
                      body={"tags": [f"t{marker}"]}, detail={"contact": contact})
        if len(self.contacts) > 2:
            older = self.contacts[-3]  # its ContactAdded has had time to reach the other services
            words = f"note{uuid.uuid4().hex[:10]}"
            self.send("note", "notes", "/notes", marker=words, detail={"contact": older}, body={
                "contact_id": older, "text": f"Learned about {words} today",
                "insights": [{"category": "advice", "text": "Ask for introductions"}]})
            if n % self.load.interview_every == 0:
                self.interview(older, n)

    def interview(self, contact: str, n: int) -> None:
        requested = self.send("interview", "scheduling", "/interviews", detail={"contact": contact}, body={
            "contact_id": contact, "objectives": ["What is the work like?"], "format": "phone", "time_zone": "UTC"})
        if requested.accepted and requested.stream:
            # A student's interviews never overlap (409): the first starts in an hour and a minute or
            # two, so its 1-hour reminder goes out during the run; later ones are days ahead, 2 h apart.
            start = datetime.now(UTC) + (timedelta(hours=1, seconds=self.random.randint(*self.load.reminder_in))
                                         if not self.scheduled else timedelta(days=3, hours=2 * self.scheduled))
            self.scheduled += 1
            self.send("schedule", "scheduling", f"/interviews/{requested.stream}/schedule", marker=requested.marker,
                      detail={"interview": requested.stream, "contact": contact},
                      body={"start": start.replace(tzinfo=None, microsecond=0).isoformat(), "time_zone": "UTC"})


class Load:
    """`students` clients, each running rounds until `commands` commands were sent in all."""

    def __init__(self, urls: dict[str, str], *, secret: str, commands: int, students: int = 16,
                 receiver: Callable[[], Any] | None = None, interview_every: int = 5,
                 reminder_in: tuple[int, int] = (20, 90),
                 give_up_after: float = 120.0, request_timeout: float = 15.0) -> None:
        self.urls, self.secret, self.commands = urls, secret, commands
        self.students = [Student(self, f"fault-student-{i}-{uuid.uuid4().hex[:6]}") for i in range(students)]
        self.receiver = receiver  # makes a webhook receiver (tests/integration/notifications/peers.py)
        self.interview_every, self.reminder_in = interview_every, reminder_in
        self.give_up_after, self.request_timeout = give_up_after, request_timeout
        self.outcomes: list[Outcome] = []
        self.statuses = Statuses()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def record(self, outcome: Outcome) -> None:
        with self._lock:
            self.outcomes.append(outcome)

    @property
    def sent(self) -> int:
        return len(self.outcomes)

    def start(self, on_error: Callable[[BaseException], None] | None = None) -> Load:
        def run(student: Student) -> None:
            try:
                student.set_up()
                n = 0
                while not self._stop.is_set() and self.sent < self.commands:
                    n += 1
                    student.step(n)
            except BaseException as exc:  # a bug in the harness must not look like a quiet run
                if on_error:
                    on_error(exc)
                raise

        self._threads = [threading.Thread(target=run, args=(s,), name=s.name, daemon=True) for s in self.students]
        for thread in self._threads:
            thread.start()
        return self

    def wait(self, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

    def stop(self) -> None:
        self._stop.set()
        self.wait(60)

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def accepted(self, kind: str | None = None) -> list[Outcome]:
        return [o for o in self.outcomes if o.accepted and (kind is None or o.kind == kind)]
