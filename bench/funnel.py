"""The funnel query's latency (issue 14's goal: p99 at most 100 ms on the embedded profile with 10k
students × 40 events).

`build` makes the history the way production does: `bench.workload.Workload(students)` (about 41
domain events per student) is published to the domain topics, a roster puts every student in a
program, college, degree level and class year (one in ten changes program half-way, so cohort
attribution has work to do), the analytics translator turns the domain topics into the
pseudonymised journey, and the `analytics-funnel` projection builds its read models, each run by
the consumer runner until idle, as their workers run them.

`measure` then asks the analyst API (the Flask app of `services.analytics.app`, an analyst token)
what analysts ask, in turn: the funnel by one and by two dimensions, within a term and a date
window, and its total; p50/p99 over all of them after a warm-up (which includes the first answer
after the projection's last batch: reading the read models and making the columns, see
`services.analytics.cells`).
"""
from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from bench.freshness import percentile
from bench.workload import START, Workload, publish
from services.analytics.pseudonyms import Pseudonymiser
from services.analytics.translator import Translator
from services.analytics.worker import funnel_views
from shared.bus import open_bus
from shared.config import Settings
from shared.consumer import ConsumerRunner
from shared.contracts.analytics import ROSTER
from shared.events import Metadata, Recorded
from shared.readstore import open_read_store
from shared.relay import encode
from shared.runtime import ensure_all_topics

SECRET = "bench-secret-that-is-long-enough-for-hs256"
PSEUDONYM_KEY = "bench-analytics-pseudonym-key-0123456789"
PROGRAMS = ("Economics", "Computer Science", "History", "Biology", "Mechanical Engineering", "Psychology",
            "Mathematics", "Music")
COLLEGES = ("Arts and Sciences", "Engineering", "Business", "Fine Arts")
LEVELS = ("undergraduate", "masters", "doctoral")
QUERIES = ("/analytics/funnel?by=program", "/analytics/funnel?by=program,industry",
           "/analytics/funnel?by=college,class_year&term=spring-2026",
           "/analytics/funnel?by=organisation&from=2026-01-01&to=2026-03-01",
           "/analytics/funnel?by=degree_level,term", "/analytics/funnel")


def _roster(students: int) -> list[tuple[str, dict[str, Any]]]:
    """(student id, StudentCohortRecorded data) for every student; every tenth changes program."""
    records = []
    for index in range(students):
        student = f"student-{index:07d}"
        base = {"student_id": student, "effective_from": "2025-09-01", "program": PROGRAMS[index % len(PROGRAMS)],
                "college": COLLEGES[index % len(COLLEGES)], "degree_level": LEVELS[index % 7 % len(LEVELS)],
                "class_year": str(2026 + index % 4), "expected_graduation": None, "upload_id": "bench-roster"}
        records.append((student, base))
        if index % 10 == 0:
            moved = (START + timedelta(days=10)).date().isoformat()
            records.append((student, {**base, "effective_from": moved,
                                      "program": PROGRAMS[(index + 1) % len(PROGRAMS)], "upload_id": "bench-move"}))
    return records


def build(urls: dict[str, str], students: int) -> dict[str, Any]:
    """Publish the history and the roster, translate and project it; the settings to read it with."""
    namespace = f"bench{uuid.uuid4().hex[:8]}."
    env = {**urls, "BUS_NAMESPACE": namespace, "CAREERLOOP_JWT_SECRET": SECRET,
           "ANALYTICS_PSEUDONYM_KEY": PSEUDONYM_KEY}
    settings = Settings.from_env(env)
    bus = open_bus(urls["BUS_URL"])
    read_store = open_read_store(urls["READ_STORE_URL"])
    try:
        ensure_all_topics(bus, settings)
        started = time.perf_counter()
        published = publish(Workload(students), bus, namespace)
        producer = bus.producer()
        for version, (student, data) in enumerate(_roster(students), start=1):
            envelope = ROSTER.envelope(Recorded("StudentCohortRecorded", data), stream_id=f"cohort-{student}",
                                       stream_version=version, owner_id=student, meta=Metadata(actor="bench"))
            producer.send(namespace + ROSTER.topic, envelope["subject"], encode(envelope), {})
        producer.flush()
        producer.close()
        publish_seconds = time.perf_counter() - started
        translator = Translator(read_store, bus=bus, namespace=namespace,
                                pseudonyms=Pseudonymiser.from_settings(settings))
        started = time.perf_counter()
        ConsumerRunner(bus, translator, read_store, batch_size=500).run(threading.Event(), until_idle=True)
        translate_seconds = time.perf_counter() - started
        journey = sum(bus.end_offsets(translator.topic).values())
        translator.close()
        projection = funnel_views(settings)(read_store, namespace=namespace)
        started = time.perf_counter()
        ConsumerRunner(bus, projection, read_store, batch_size=500).run(threading.Event(), until_idle=True)
        project_seconds = time.perf_counter() - started
    finally:
        bus.close()
        read_store.close()
    return {"env": env, "students": students, "domain_events": published, "journey_events": journey,
            "publish_seconds": round(publish_seconds, 1), "translate_seconds": round(translate_seconds, 1),
            "project_seconds": round(project_seconds, 1)}


def measure_funnel_query(query: Callable[[], Any], *, repeats: int = 200, warmup: int = 10) -> dict[str, Any]:
    """Call `query` `warmup` times unmeasured (caches, first-use imports), then `repeats` times timed."""
    for _ in range(warmup):
        query()
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        query()
        timings.append(time.perf_counter() - started)
    return {"queries": repeats, "p50_ms": round(percentile(timings, 0.50) * 1000, 2),
            "p99_ms": round(percentile(timings, 0.99) * 1000, 2), "max_ms": round(max(timings) * 1000, 2)}


def measure(urls: dict[str, str], students: int, *, repeats: int = 120) -> dict[str, Any]:
    from services.analytics.app import create_app
    from shared.auth import mint_token

    built = build(urls, students)
    app = create_app(Settings.from_env(built.pop("env")))
    client = app.test_client()
    headers = {"Authorization": f"Bearer {mint_token(SECRET, 'bench-analyst', ['analyst'])}"}
    turn = iter(range(10**9))

    def ask() -> None:
        path = QUERIES[next(turn) % len(QUERIES)]
        answer = client.get(path, headers=headers)
        if answer.status_code != 200:
            raise RuntimeError(f"{path}: {answer.status_code} {answer.get_data(as_text=True)[:300]}")

    timing = measure_funnel_query(ask, repeats=repeats, warmup=len(QUERIES))
    return {**built, "asked": list(QUERIES), **timing, "goal_p99_ms": 100}
