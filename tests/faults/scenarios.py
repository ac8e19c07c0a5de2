"""The fault scenarios of `make faults` (see tests/faults/__init__.py). Each returns its result row;
`tests/faults/test_faults.py` runs them small in `make test` and asserts the same properties."""
from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from shared.auth import mint_token
from tests.backends import TEST_SECRET
from tests.faults import checks
from tests.faults.chaos import Chaos
from tests.faults.load import Load
from tests.faults.servers import Servers
from tests.integration.notifications.peers import SmtpServer, WebhookReceiver
from tests.platform import Platform, profile_env

APIS = ("contacts", "scheduling", "notes", "followups", "notifications")


@dataclass
class Run:
    """One platform on the fault run's servers, with the receivers its notifications go to."""
    platform: Platform
    smtp: SmtpServer
    webhooks: list[WebhookReceiver]

    def receiver(self) -> WebhookReceiver:
        receiver = WebhookReceiver().start()
        self.webhooks.append(receiver)
        return receiver

    def load(self, commands: int, students: int, **options: Any) -> Load:
        urls = {service: self.platform.url(service) for service in APIS}
        return Load(urls, secret=TEST_SECRET, commands=commands, students=students, receiver=self.receiver,
                    **options)


@contextmanager
def platform_on(servers: Servers, data_dir: Path) -> Iterator[Run]:
    data_dir.mkdir(parents=True, exist_ok=True)
    smtp = SmtpServer().start()
    env = profile_env("real", data_dir, mongo=servers.mongo, kafka=servers.kafka)
    env.update({"SMTP_URL": smtp.url, "EMAIL_FROM": "careers@uni.example",
                "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",  # the receivers listen on loopback
                "NOTIFICATIONS_DISPATCHER_POLL_SECONDS": "0.2", "FOLLOWUPS_ANNOUNCE_INTERVAL_SECONDS": "1"})
    platform = Platform(data_dir, env)
    try:
        platform.start()
        run = Run(platform, smtp, [])
        yield run
    finally:
        platform.stop()
        smtp.stop()
        for receiver in run.webhooks:
            receiver.stop()


def converge(run: Run, load: Load, timeout: float) -> tuple[float | None, dict[str, Any]]:
    """Seconds until every accepted command is visible in every read model (None: not within timeout)."""
    start = time.monotonic()
    while True:
        shown = checks.visible(run.platform, load)
        if len(shown) == 1:  # only "checked": nothing missing
            return round(time.monotonic() - start, 1), shown
        if time.monotonic() - start > timeout:
            return None, shown
        time.sleep(2)


def wait_for_reminders(run: Run, load: Load, timeout: float) -> None:
    """Each scheduled interview's 1-hour reminder, by e-mail and by webhook, has had time to arrive."""
    expected = reminders_expected(load)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len({m["Message-ID"] for m in run.smtp.messages}) >= expected and \
                len({i for r in run.webhooks for i in r.delivered_ids()}) >= expected:
            return
        time.sleep(1)


def reminders_expected(load: Load) -> int:
    """Interviews scheduled to start within the next hours (their 1-hour reminder is due in the run)."""
    return len({o.student for o in load.accepted("schedule")})


def statuses(load: Load) -> dict[str, Any]:
    counts = load.statuses.counts
    return {"answers": dict(sorted((str(k), v) for k, v in counts.items())),
            "server_errors_500": sum(v for k, v in counts.items() if k == 500 or (k > 500 and k != 503)),
            "unavailable_without_retry_after": load.statuses.without_retry_after,
            "connection_errors": load.statuses.connection_errors}


def r1_chaos(servers: Servers, data_dir: Path, *, commands: int, students: int, kills: int,
             **load_options: Any) -> dict[str, Any]:
    """R1: a load while processes are killed with SIGKILL and restarted."""
    with platform_on(servers, data_dir) as run:
        load = run.load(commands, students, **load_options)
        chaos = Chaos(run.platform, kills, progress=lambda: load.sent / commands)
        started = time.monotonic()
        load.start()
        chaos.start()
        load.wait()
        chaos.stop()
        seconds = time.monotonic() - started
        converged, shown = converge(run, load, timeout=600)
        wait_for_reminders(run, load, timeout=240)
        result = {"commands": load.sent, "seconds": round(seconds, 1),
                  "commands_per_second": round(load.sent / seconds),
                  "kills": len(chaos.log), "kills_by_kind": dict(Counter(k["kind"] for k in chaos.log)),
                  "chaos_errors": [repr(e) for e in chaos.errors],
                  "converged_seconds": converged, "visible": shown, "stored": checks.stored(run.platform, load),
                  "deliveries": checks.deliveries(run.smtp, run.webhooks),
                  "reminders_expected": reminders_expected(load), **statuses(load),
                  **gave_up(load)}
        result["rebuild"] = checks.rebuilt_equal(run.platform)
        return result


def r2_outages(servers: Servers, data_dir: Path, *, commands: int, students: int, outage: float) -> dict[str, Any]:
    """R2: the broker, then the database, stopped for `outage` seconds each in the middle of a load.

    While the broker is down the APIs go on accepting commands (each service's event store is its
    outbox; the relays publish the backlog when the broker is back) and stay ready; while the
    database is down they answer 503 with Retry-After and /readyz fails. Either way: never a 500,
    and afterwards every accepted command is stored and visible."""
    with platform_on(servers, data_dir) as run:
        load = run.load(commands, students, give_up_after=outage * 4)
        load.start()
        windows = {}
        for server, at in (("kafka", 0.25), ("ferretdb", 0.6)):
            while load.running and load.sent < commands * at:
                time.sleep(0.1)
            before = Counter(load.statuses.counts)
            servers.stop(server)
            readiness = _probe_readiness(run.platform, outage)
            servers.start(server)
            during = Counter(load.statuses.counts) - before
            windows[server] = {"seconds_down": outage, **readiness,
                               "answers_while_down": dict(sorted((str(k), v) for k, v in during.items()))}
        restarted = time.monotonic()
        load.wait()
        converged, shown = converge(run, load, timeout=300)
        since_restart = None if converged is None else round(time.monotonic() - restarted, 1)
        return {"commands": load.sent, "outages": windows, "converged_seconds": converged,
                "converged_since_restart_seconds": since_restart, "visible": shown,
                "stored": checks.stored(run.platform, load), **statuses(load),
                **gave_up(load)}


def gave_up(load: Any) -> dict[str, Any]:
    """How many commands their clients gave up on (never answered 2xx or a final 4xx within the retry
    budget), and what each last heard: "<kind> <status>" (status None: no answer, the process away)."""
    given_up = [o for o in load.outcomes if o.detail.get("gave_up")]
    return {"gave_up": len(given_up),
            "gave_up_last_answers": dict(sorted(Counter(f"{o.kind} {o.status}" for o in given_up).items()))}


def _probe_readiness(platform: Platform, seconds: float) -> dict[str, Any]:
    """While a server is down: each API's /readyz, every second (it must fail, with 503)."""
    answers: Counter = Counter()  # status (0: no answer within 5 s) -> count
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for service in APIS:
            try:
                status = requests.get(f"{platform.url(service)}/readyz", timeout=5).status_code
            except requests.RequestException:
                status = 0
            answers[str(status)] += 1
        time.sleep(1)
    return {"readyz_answers": dict(answers)}


def r4_if_match(servers: Servers, data_dir: Path, *, writers: int = 50, rounds: int = 3) -> dict[str, Any]:
    """R4: `writers` concurrent updates of one contact naming the same version with If-Match, for
    `rounds` versions; then `writers` concurrent tag additions without If-Match."""
    with platform_on(servers, data_dir) as run:
        api = run.platform.url("contacts")
        auth = {"Authorization": f"Bearer {mint_token(TEST_SECRET, 'fault-r4-student', ['student'])}"}
        contact = requests.post(f"{api}/contacts", headers=auth, json={"name": "Contended Contact"}, timeout=30).json()
        per_round = []
        for n in range(rounds):
            etag = requests.get(f"{api}/contacts/{contact['id']}", headers=auth, timeout=30).headers["ETag"]
            answers = _together(writers, lambda i, n=n, etag=etag: requests.patch(
                f"{api}/contacts/{contact['id']}", headers={**auth, "If-Match": etag},
                json={"organisation": f"Org {n}-{i}"}, timeout=60).status_code)
            per_round.append({"version": etag, "succeeded": answers.count(200),
                              "precondition_failed": answers.count(412),
                              "other": sorted(set(a for a in answers if a not in (200, 412)))})

        def tag(i: int) -> int:
            for _ in range(20):  # a lost race (409) is retried, as a client should
                status = requests.post(f"{api}/contacts/{contact['id']}/tags", headers=auth,
                                       json={"tags": [f"tag{i}"]}, timeout=60).status_code
                if status != 409:
                    return status
            return status

        tagged = _together(writers, tag)
        final = requests.get(f"{api}/contacts/{contact['id']}", headers=auth, timeout=30).json()
        return {"writers": writers, "if_match_rounds": per_round,
                "without_if_match": {"succeeded": tagged.count(200) + tagged.count(201),
                                     "other": sorted(set(a for a in tagged if a not in (200, 201))),
                                     "tags_kept": len([t for t in final.get("tags", []) if t.startswith("tag")])}}


def _together(count: int, call: Callable[[int], int]) -> list[int]:
    barrier = threading.Barrier(count)
    answers: list[int] = [0] * count

    def one(i: int) -> None:
        barrier.wait()
        try:
            answers[i] = call(i)
        except requests.RequestException:
            answers[i] = -1

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


