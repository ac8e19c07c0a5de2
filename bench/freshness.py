"""Freshness under a steady load: how long from a command being accepted (201) until its effect is
visible in the student's timeline *and* follow-up queue.

The deployment shape of `make run` / docker compose: the contacts relay and the followups worker run
as their own processes (`python -m shared.relay contacts`, `python -m services.followups.worker`);
commands go through the contacts API (in this process). `senders` load threads, each with its own
share of the contacts (so no two race for one stream), log outreach touchpoints paced to `rate` in
all: one synchronous client alone cannot send faster than the event store appends (about 45/s on
FerretDB). A watcher polls `followup_versions` — the marker the projection writes *after* a batch's
timeline entries and queue items, the same one read-your-writes waits for — with one read of every
pending contact per sweep, and records the delay of each command when its version shows up.
"""
from __future__ import annotations

import os
import secrets
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from services.contacts.app import create_app as create_contacts_app
from shared.auth import mint_token
from shared.config import VARIABLES, Settings
from shared.keys.vault import MasterKey
from shared.readstore import open_read_store

SECRET = "bench-secret-that-is-long-enough-for-hs256"
ROOT = Path(__file__).resolve().parents[1]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def measure(env: dict[str, str], data_dir: Path, *, rate: float, seconds: float, contacts: int = 50,
            senders: int = 8) -> dict[str, Any]:
    senders = max(1, min(senders, contacts))  # each sender has contacts of its own
    # fresh secrets per run: the real profile refuses published ones (shared.config.check_secrets)
    run_secrets = {v.name: secrets.token_urlsafe(48) for v in VARIABLES if v.secret}
    run_secrets["ERASURE_MASTER_KEY"] = str(MasterKey.generate("bench"))
    settings = Settings.from_env({**env, **run_secrets, "CAREERLOOP_JWT_SECRET": SECRET, "CAREERLOOP_JWKS_URL": ""})
    child_env = {**os.environ, **settings.env, "LOG_LEVEL": "WARNING"}
    # each child writes to its own copy of the log's descriptor: ours can close once it has started
    with open(data_dir / "relay.log", "ab") as relay_log, open(data_dir / "worker.log", "ab") as worker_log:
        processes = [
            subprocess.Popen([sys.executable, "-m", "shared.relay", "contacts"], env=child_env, cwd=ROOT,
                             stdout=relay_log, stderr=subprocess.STDOUT),
            subprocess.Popen([sys.executable, "-m", "services.followups.worker"], env=child_env, cwd=ROOT,
                             stdout=worker_log, stderr=subprocess.STDOUT),
        ]
    app = create_contacts_app(settings)
    client = app.test_client()
    auth = {"Authorization": "Bearer " + mint_token(SECRET, "student-fresh", ["student"])}
    read_store = open_read_store(settings.get("READ_STORE_URL"))
    versions = read_store.collection("followup_versions")
    pending: dict[tuple[str, int], float] = {}
    delays: list[float] = []
    lock = threading.Lock()
    done = threading.Event()

    def watch() -> None:
        while not (done.is_set() and not pending):
            with lock:
                waiting = list(pending.items())
            shown = versions.get_many(sorted({contact_id for (contact_id, _), _ in waiting})) if waiting else {}
            seen_at = time.perf_counter()
            for (contact_id, version), accepted_at in waiting:
                if contact_id in shown and shown[contact_id]["_version"] >= version:
                    with lock:
                        pending.pop((contact_id, version), None)
                        delays.append(seen_at - accepted_at)
            time.sleep(0.005)

    failures: list[BaseException] = []  # a sender's, raised once all have stopped

    def send(share: list[str], started: float, sent: list[int]) -> None:
        client, interval = app.test_client(), senders / rate
        try:
            while time.perf_counter() - started < seconds:
                contact_id = share[sent[0] % len(share)]
                response = client.post(f"/contacts/{contact_id}/touchpoints", headers=auth, json={
                    "kind": "outreach", "occurred_at": "2026-03-02T10:00:00Z"})
                assert response.status_code == 201, response.json
                with lock:
                    pending[(contact_id, int(response.headers["ETag"].strip('"')))] = time.perf_counter()
                sent[0] += 1
                time.sleep(max(0.0, started + sent[0] * interval - time.perf_counter()))
        except BaseException as exc:
            failures.append(exc)

    try:
        ids = []
        for n in range(contacts):
            response = client.post("/contacts", json={"name": f"Fresh {n}", "organisation": "Acme Corp"}, headers=auth)
            assert response.status_code == 201, response.json
            ids.append(response.json["id"])
        wait_until(lambda: all(versions.get(i) for i in ids), timeout=120)  # warm: processes up and caught up
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        started, counts = time.perf_counter(), [[0] for _ in range(senders)]
        threads = [threading.Thread(target=send, args=(ids[n::senders], started, counts[n]), daemon=True)
                   for n in range(senders)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if failures:
            raise failures[0]
        sent = sum(count[0] for count in counts)
        achieved = sent / (time.perf_counter() - started)
        done.set()
        watcher.join(timeout=60)
        lost = len(pending)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        read_store.close()
    return {"commands": sent, "senders": senders, "target_rate_per_second": rate,
            "achieved_rate_per_second": round(achieved, 1),
            "not_visible_within_60s": lost,
            "p50_ms": round(percentile(delays, 0.50) * 1000, 1), "p99_ms": round(percentile(delays, 0.99) * 1000, 1),
            "max_ms": round(max(delays) * 1000, 1), "mean_ms": round(statistics.fmean(delays) * 1000, 1)}


def wait_until(condition: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the platform did not catch up")
        time.sleep(0.05)
