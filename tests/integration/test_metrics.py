"""`GET /metrics` of a service API on each backend profile, and a relay process's own metrics endpoint
(`METRICS_PORT`), read with Prometheus's own parser."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from prometheus_client.parser import text_string_to_metric_families

from services.contacts.app import create_app
from services.contacts.projections import ContactDirectory
from shared.bus import Message
from shared.consumer import ConsumerRunner
from shared.eventstore import open_event_store
from tests.integration.conftest import InProcessPlatform
from tests.platform import ROOT, free_port
from tests.support import wait_until


def envelope(stream_id: str, version: int) -> dict[str, Any]:
    return {"specversion": "1.0", "id": str(uuid.uuid4()), "type": "careerloop.contacts.ThingHappened.v1",
            "subject": stream_id, "streamversion": version, "data": {"n": version}}


def scrape(platform: InProcessPlatform) -> dict[str, list[Any]]:
    response = platform.client.get("/metrics")  # no token: scraped like /healthz
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return {family.name: family.samples for family in text_string_to_metric_families(response.get_data(as_text=True))}


def total(samples: list[Any], **labels: str) -> float:
    return sum(s.value for s in samples if all(s.labels.get(k) == v for k, v in labels.items()))


def test_metrics_show_the_outbox_backlog_and_a_lag_that_grows_with_unconsumed_events_and_drops_to_zero(
        in_process: Callable[..., InProcessPlatform], token: Callable) -> None:
    platform = in_process(create_app, "contacts", [ContactDirectory])
    runtime = platform.client.application.extensions["careerloop"]
    topic = runtime.settings.get("BUS_NAMESPACE") + "careerloop.contacts.contact.v1"
    try:
        # given a quiet platform: every backend up, generation 0, nothing to publish or apply
        metrics = scrape(platform)
        assert {s.labels["backend"]: s.value for s in metrics["careerloop_up"]} == {
            "event_store": 1, "read_store": 1, "bus": 1}
        assert [(s.labels, s.value) for s in metrics["careerloop_projection_generation"]] == [
            ({"projection": "contact-directory"}, 0)]
        assert total(metrics["careerloop_outbox_unpublished_commits"]) == 0
        assert total(metrics["careerloop_projection_lag"]) == 0
        assert {s.labels["partition"] for s in metrics["careerloop_projection_lag"]} == {"0", "1", "2"}

        # when three contacts are added, then the outbox holds them until the relay publishes
        for name in ("Ada", "Grace", "Alan"):
            assert platform.client.post("/contacts", json={"name": name},
                                        headers={"Authorization": token("student-1")}).status_code == 201
        assert total(scrape(platform)["careerloop_outbox_unpublished_commits"], service="contacts") == 3

        # when they are published but not yet applied, then the lag counts them
        while platform.relays[0].publish_pending():
            pass
        metrics = scrape(platform)
        assert total(metrics["careerloop_outbox_unpublished_commits"]) == 0
        assert total(metrics["careerloop_projection_lag"], projection="contact-directory", topic=topic) == 3
        assert total(metrics["careerloop_topic_end_offset"], topic=topic) == 3

        # when the projection catches up, then the lag is 0 and the positions say where it is
        platform.sync()
        metrics = scrape(platform)
        assert total(metrics["careerloop_projection_lag"]) == 0
        assert total(metrics["careerloop_projection_committed_offset"], generation="0", topic=topic) == 3
        assert total(metrics["careerloop_projection_checkpoint_offset"], topic=topic) == 3
        ages = [s.value for s in metrics["careerloop_projection_checkpoint_age_seconds"]]
        assert ages and all(0 <= age < 600 for age in ages)
        assert [(s.labels, s.value) for s in metrics["careerloop_projection_parked_streams"]] == [
            ({"projection": "contact-directory", "generation": "0"}, 0)]

        # when the consumer parks a stream (a message that failed for good), then the gauge counts it
        ConsumerRunner(platform.bus, ContactDirectory(platform.read_store, namespace=runtime.settings.get(
            "BUS_NAMESPACE")), platform.read_store)._park(Message(topic, 0, 0, "stream-1", b"{}", {}), "broken")
        assert total(scrape(platform)["careerloop_projection_parked_streams"], projection="contact-directory") == 1
    finally:
        runtime.close()


def test_a_relay_process_serves_its_own_metrics_lease_heartbeat_and_published_count(tmp_path: Path) -> None:
    # given the contacts relay as its own process, on the embedded backends, with a metrics port
    port = free_port()
    env = {**os.environ, "CAREERLOOP_DATA_DIR": str(tmp_path), "METRICS_PORT": str(port), "TOPIC_PARTITIONS": "2",
           "LOG_LEVEL": "INFO"}
    for name in ("EVENT_STORE_URL", "READ_STORE_URL", "BUS_URL", "BUS_NAMESPACE"):
        env.pop(name, None)
    store = open_event_store(f"sqlite:///{tmp_path}/events-contacts.db")
    log = tmp_path / "relay.log"
    with log.open("wb") as out:  # the child keeps its own descriptor
        process = subprocess.Popen([sys.executable, "-m", "shared.relay", "contacts"], cwd=ROOT, env=env,
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        def process_metrics() -> dict[str, float] | None:
            try:
                text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except requests.ConnectionError:
                return None
            return {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples
                    if s.labels.get("process") == "relay-contacts"}

        # then it is alive and holds the lease, and has published nothing yet
        first = wait_until(lambda: (lambda m: m if m and m.get("careerloop_process_lease_held") == 1 else None)(
            process_metrics()), what="the relay serves its metrics holding the lease", timeout=30,
            seen=lambda: log.read_text()[-2000:])
        assert first["careerloop_process_processed_total"] == 0
        assert first["careerloop_process_backoff_seconds"] == 0
        assert time.time() - first["careerloop_process_heartbeat_timestamp_seconds"] < 30

        # when two events are stored, then the relay counts them as published, and its heartbeat moves
        store.append("contact-1", "contact", 0, [envelope("contact-1", 1), envelope("contact-1", 2)])
        later = wait_until(lambda: (lambda m: m if m and m["careerloop_process_processed_total"] == 2 else None)(
            process_metrics()), what="the relay counts two published events", timeout=30)
        assert later["careerloop_process_heartbeat_timestamp_seconds"] >= first[
            "careerloop_process_heartbeat_timestamp_seconds"]
        assert store.unpublished_count() == 0

        # and SIGTERM stops it cleanly
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        store.close()


def test_an_api_counts_its_requests_by_route_method_and_status_and_times_them(
        in_process: Callable[..., InProcessPlatform], token: Callable) -> None:
    platform = in_process(create_app, "contacts", [ContactDirectory])
    auth = {"Authorization": token("student-1")}
    for _ in range(3):
        assert platform.client.get("/contacts/no-such-contact", headers=auth).status_code == 404
    assert platform.client.post("/contacts", json={"name": "Ada"}, headers=auth).status_code == 201
    assert platform.client.get("/no/such/route").status_code == 404
    metrics = scrape(platform)
    requests_ = metrics["careerloop_http_requests"]
    assert total(requests_, route="/contacts/<contact_id>", method="GET", status="404", service="contacts") == 3
    assert total(requests_, route="/contacts", method="POST", status="201") == 1
    assert total(requests_, route="unmatched", status="404") == 1  # a path never becomes a label
    assert not [s for s in requests_ if "no-such" in str(s.labels)]
    durations = metrics["careerloop_http_request_duration_seconds"]
    assert total(durations, route="/contacts/<contact_id>", method="GET") > 0
    counts = [s for s in durations if s.name.endswith("_count") and s.labels["route"] == "/contacts/<contact_id>"]
    assert [s.value for s in counts] == [3]


def test_under_gunicorn_every_worker_answers_the_requests_of_all_of_them(tmp_path: Path) -> None:
    # given the contacts API under gunicorn with the Procfile's two workers and gunicorn.conf.py
    port = free_port()
    env = {**os.environ, "CAREERLOOP_DATA_DIR": str(tmp_path), "LOG_LEVEL": "WARNING"}
    for name in ("EVENT_STORE_URL", "READ_STORE_URL", "BUS_URL", "BUS_NAMESPACE"):
        env.pop(name, None)
    samples = tmp_path / "metrics"  # where the workers write (gunicorn.conf.py makes one when unset)
    samples.mkdir()
    env["PROMETHEUS_MULTIPROC_DIR"] = str(samples)
    subprocess.run([sys.executable, "-m", "services.init"], cwd=ROOT, env=env, check=True, capture_output=True)
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        server = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "--workers", "2", "--bind",
                                   f"127.0.0.1:{port}", "services.contacts.app:create_app()"], cwd=ROOT, env=env,
                                  stdout=out, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: _answers(f"{base}/healthz"), what="gunicorn answers", timeout=60,
                   seen=lambda: log.read_text()[-2000:])
        # when requests are spread over the workers (a new connection each) until both have answered
        # some (a worker still booting answers none), each worker writing its own counts
        def workers_counting() -> int:
            return len({path.stem.rsplit("_", 1)[1] for path in samples.glob("counter_*.db")})

        sent = 0
        while sent < 40 or workers_counting() < 2 and sent < 2000:
            assert requests.get(f"{base}/openapi.json", timeout=10).status_code == 200
            sent += 1
        assert workers_counting() == 2

        # then every scrape, whichever worker answers it, counts all of them
        def counted() -> set[float]:
            seen = set()
            for _ in range(6):
                text = requests.get(f"{base}/metrics", timeout=10).text
                seen.add(sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
                             if s.name == "careerloop_http_requests_total" and s.labels["route"] == "/openapi.json"))
            return seen

        assert counted() == {float(sent)}
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.ConnectionError:
        return False
