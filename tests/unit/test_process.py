"""The one runner of every long-running process (shared.process): backoff, lease, stop, and what it
reports, read with Prometheus's own parser. Embedded event store (a SQLite file): no servers."""
from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from shared.eventstore import open_event_store
from shared.process import Backoff, Lease, ProcessLoop, ProcessMetrics

JOIN_SECONDS = 10


@pytest.fixture
def store(tmp_path: Path) -> Iterator:
    events = open_event_store(f"sqlite:///{tmp_path}/events.db")
    yield events
    events.close()


def report(metrics: ProcessMetrics) -> dict[str, float]:
    """sample name -> value, for the process's own samples."""
    return {s.name: s.value for family in text_string_to_metric_families(generate_latest(metrics.registry).decode())
            for s in family.samples if s.labels.get("process") == metrics.process}


def test_backoff_doubles_from_its_base_up_to_its_cap_and_starts_over_after_a_success():
    backoff = Backoff(base=0.1, cap=0.5)
    assert [backoff.failed() for _ in range(5)] == [0.1, 0.2, 0.4, 0.5, 0.5]
    backoff.succeeded()
    assert backoff.failed() == 0.1
    assert Backoff(base=2, cap=60).delay(3) == 8


def test_a_failing_step_is_retried_after_backoff_and_the_metrics_tell_the_story(store):
    stop = threading.Event()
    calls: list[int] = []
    metrics = ProcessMetrics("test-process")

    def step(_: threading.Event) -> int:
        calls.append(1)
        if len(calls) <= 2:
            raise ConnectionError("the store is away")
        if len(calls) == 3:
            return 5  # something done: the loop goes on at once
        stop.set()
        return 0

    lease = Lease(store, "test:lease", ttl=5)
    ProcessLoop("test-process", step, idle_seconds=30, lease=lease, backoff=Backoff(0.01, 0.02),
                metrics=metrics).run(stop)

    assert len(calls) == 4
    seen = report(metrics)
    assert seen["careerloop_process_failures_total"] == 2
    assert seen["careerloop_process_processed_total"] == 5
    assert seen["careerloop_process_backoff_seconds"] == 0  # the last step succeeded
    assert seen["careerloop_process_heartbeat_timestamp_seconds"] > 0
    assert seen["careerloop_process_lease_held"] == 0  # released on the way out
    assert any(name.startswith("process_") for name in (
        s.name for f in text_string_to_metric_families(generate_latest(metrics.registry).decode()) for s in f.samples))
    # and then the lease is free for the next process
    assert store.acquire_lease("test:lease", "someone-else", 5)


def test_a_held_lease_is_renewed_once_a_third_of_its_time_has_passed_and_a_lost_one_is_noticed(store, monkeypatch):
    asked: list[str] = []
    acquire = store.acquire_lease
    monkeypatch.setattr(store, "acquire_lease", lambda *args: asked.append(args[1]) or acquire(*args))
    clock = [1000.0]
    lease = Lease(store, "test:lease", ttl=0.3, holder="active", clock=lambda: clock[0])
    assert lease.hold() and lease.hold()
    assert asked == ["active"]  # the second step within a third of the ttl writes nothing
    clock[0] += 0.11
    assert lease.hold() and asked == ["active"] * 2
    time.sleep(0.35)  # the store's lease expires (it keeps wall-clock time) and another takes it
    assert acquire("test:lease", "another", 30)
    clock[0] += 0.35
    assert not lease.hold()
    assert not lease.hold() and asked == ["active"] * 4  # on standby it asks at every step
    lease.release()


def test_a_standby_never_runs_its_step_while_another_process_holds_the_lease_and_stops_when_asked(store):
    assert store.acquire_lease("test:lease", "the-active-one", 30)
    stop = threading.Event()
    calls: list[int] = []
    metrics = ProcessMetrics("standby")
    loop = ProcessLoop(
        "standby",
        lambda _: calls.append(1) or 1,
        idle_seconds=0.01,
        lease=Lease(store, "test:lease", 0.3),
        metrics=metrics,
    )
    thread = threading.Thread(target=loop.run, args=(stop,))
    thread.start()
    try:
        stop.wait(0.5)
        assert calls == []
        assert report(metrics)["careerloop_process_lease_held"] == 0
    finally:
        stop.set()
        thread.join(JOIN_SECONDS)
    assert not thread.is_alive()


def test_an_error_the_loop_must_not_retry_ends_it(store):
    def step(_: threading.Event) -> int:
        raise ValueError("a bug, not a backend away")

    with pytest.raises(ValueError):
        ProcessLoop("strict", step, idle_seconds=0, retry=lambda exc: isinstance(exc, ConnectionError)).run(
            threading.Event())


def test_a_projection_runner_counts_what_it_applied_and_its_transient_retries(tmp_path: Path):
    from shared.bus import open_bus
    from shared.consumer import ConsumerRunner
    from shared.readstore import open_read_store

    bus, read_store = open_bus(f"sqlite:///{tmp_path}/bus.db"), open_read_store(f"sqlite:///{tmp_path}/read.db")
    bus.ensure_topics({"things": 2})
    producer = bus.producer()
    for n in range(3):
        producer.send("things", f"stream-{n}", b"{}")
    producer.flush()
    producer.close()

    class Flaky:
        group_id, topics = "things-group", ["things"]
        calls = 0

        def handle(self, messages: list) -> None:
            Flaky.calls += 1
            if Flaky.calls == 1:
                raise ConnectionError("the read store is away")

    metrics = ProcessMetrics("things")
    try:
        ConsumerRunner(bus, Flaky(), read_store, backoff_base=0.01, metrics=metrics).run(
            threading.Event(), until_idle=True)
    finally:
        bus.close()
        read_store.close()
    seen = report(metrics)
    assert seen["careerloop_process_processed_total"] == 3
    assert seen["careerloop_process_failures_total"] == 1
    assert seen["careerloop_process_backoff_seconds"] == 0
    assert "careerloop_process_lease_held" not in seen  # a projection worker holds no lease


def test_a_projection_runner_reports_how_old_each_applied_event_was_and_leaves_out_the_parked(tmp_path: Path):
    import json
    from datetime import UTC, datetime, timedelta

    from prometheus_client.parser import text_string_to_metric_families

    from shared.bus import open_bus
    from shared.consumer import ConsumerRunner
    from shared.readstore import open_read_store

    bus, read_store = open_bus(f"sqlite:///{tmp_path}/bus.db"), open_read_store(f"sqlite:///{tmp_path}/read.db")
    bus.ensure_topics({"things": 1})
    producer = bus.producer()
    recorded = datetime.now(UTC) - timedelta(seconds=40)
    for stream in ("fine-1", "fine-2", "broken"):
        producer.send("things", stream, json.dumps({"time": recorded.isoformat().replace("+00:00", "Z")}).encode())
    producer.send("things", "fine-3", b"not an event")  # applied, but nothing says when it was recorded
    producer.flush()
    producer.close()

    class Picky:
        group_id, topics, name = "things-group", ["things"], "things-view"

        def handle(self, messages: list) -> None:
            if any(m.key == "broken" for m in messages):
                raise ValueError("cannot apply this one")

    metrics = ProcessMetrics("things-views")
    try:
        ConsumerRunner(bus, Picky(), read_store, max_attempts=1, backoff_base=0.01, metrics=metrics).run(
            threading.Event(), until_idle=True)
    finally:
        bus.close()
        read_store.close()
    [family] = [f for f in text_string_to_metric_families(generate_latest(metrics.registry).decode())
                if f.name == "careerloop_projection_event_age_seconds"]
    count, total = (next(s for s in family.samples if s.name.endswith(end)) for end in ("_count", "_sum"))
    [under_a_minute] = [s for s in family.samples if s.labels.get("le") == "60.0"]
    assert count.value == 2  # fine-1 and fine-2: not the parked stream's, nor the one without a time
    assert count.labels == {"process": "things-views", "projection": "things-view"}
    assert 80 <= total.value < 100  # 40 s each, and a little
    assert under_a_minute.value == 2


SLOW_TO_STOP = """
import time
import shared.process as process
process.STOP_REPORT_SECONDS = 0.5
stop = process.stop_on_signals()

def step_that_ignores_the_stop():
    time.sleep(3)  # e.g. a write waiting for a lock another process holds

print("ready", flush=True)
while not stop.is_set():
    step_that_ignores_the_stop()
"""


def _stop(program: str) -> str:
    """Run `program` until it is ready, SIGTERM it, and give what it wrote to stderr (it must exit 0)."""
    child = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, cwd=Path(__file__).resolve().parents[2])
    assert child.stdout is not None and child.stdout.readline() == "ready\n"
    child.send_signal(signal.SIGTERM)
    _, stderr = child.communicate(timeout=JOIN_SECONDS)
    assert child.returncode == 0, stderr
    return stderr


def test_a_process_still_running_after_sigterm_prints_where_each_thread_is():
    """What a process slow to stop waits on reaches its log before a supervisor's SIGKILL would."""
    stderr = _stop(SLOW_TO_STOP)
    assert "step_that_ignores_the_stop" in stderr, stderr


def test_a_process_that_stops_promptly_prints_no_stacks():
    stderr = _stop(SLOW_TO_STOP.replace("time.sleep(3)", "time.sleep(0.05)"))
    assert "Thread 0x" not in stderr and "step_that_ignores_the_stop" not in stderr, stderr
