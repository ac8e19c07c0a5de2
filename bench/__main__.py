"""`python -m bench` (what `make bench` runs): the read side's speed and memory, as JSON.

For each backend profile — `embedded` (SQLite event log, bus and read models: `make run`) and `real`
(Kafka + a MongoDB-wire server: docker compose) — and each history size:

- **rebuild**: the followups projection (timelines and follow-up queues, the heaviest worker)
  replays a synthetic history of that many events from the beginning into an empty read model, in
  its own process: wall time, per-event cost, events per second and the worker's peak RSS;
- **ceiling**: the same number of documents bulk-upserted straight through the driver into the same
  store, in the same run; `apply_vs_ceiling` is the projection's rate as a share of it (the
  baseline that makes the figures comparable across machines);

and once per profile **freshness**: command accepted → visible in the timeline and the queue,
p50/p99 under a steady load with the relay and worker as their own processes; and the **translator**:
the analytics translator's rate as a share of a raw consume-and-produce loop on the same bus
(`bench.translator`, `translator_vs_raw`, goal >= 0.5); and on the real profile the **relay**: the outbox
relay's publish rate as a share of a bare kafka-python producer sending the same records with the
same delivery settings (`bench.relay`, `relay_vs_raw`, goal >= 0.8); and on the embedded profile the
**event store**: commands (load, decide, append one event) per second against the `eventsourcing`
library on SQLite doing the same (`bench.eventstore`, `careerloop_vs_library`, goal >= 1.5); and the
**command API**: `POST /contacts/{id}/touchpoints` under gunicorn against a bare Flask endpoint with
the same workers, both loaded by `wrk` (`bench.api`, `command_vs_ceiling`, goal >= 0.6; p99 at half
the ceiling's rate, goal <= 30 ms); and the **funnel query**: the analyst API's funnel answers over
the analytics read models of 10k students' histories (about 40 journey events each) made by the
translator and the projection (`bench.funnel`, p50/p99, goal p99 <= 100 ms); and the cost of
**sealing personal data**: commands through the contacts API and the contact directory's apply rate,
each with and without encryption (`bench.encryption`, `command_ratio` goal <= 1.15, `apply_ratio`
goal <= 1.25).

`--only` measures some of these parts alone (e.g. `--profiles embedded --only api`), and
`--profile-api DIR` cProfiles the command API's workers (bench/gunicorn_profile.py).

Results go to `var/bench/results.json` (and stdout). Sizes per profile are options because a
MongoDB-wire server on SQLite (FerretDB, what runs here) is two orders of magnitude slower than
MongoDB itself; see README "Benchmarks" for what was measured.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.api import measure as measure_api
from bench.ceiling import ceiling
from bench.encryption import measure as measure_encryption
from bench.eventstore import measure as measure_eventstore
from bench.freshness import measure as measure_freshness
from bench.funnel import measure as measure_funnel
from bench.relay import measure as measure_relay
from bench.translator import measure as measure_translator
from bench.workload import Workload, publish
from services.followups.projections import FollowUpViews
from shared.bus import open_bus
from shared.config import Settings
from shared.runtime import ensure_all_topics

ROOT = Path(__file__).resolve().parents[1]
EVENTS_PER_STUDENT = len(Workload(1))
# what `--only` may name; a part that does not apply to a profile is skipped there (api on real, relay on embedded)
PARTS = ("rebuild", "freshness", "translator", "eventstore", "api", "encryption", "funnel", "relay")


def _sizes(text: str) -> list[int]:
    return [int(float(s)) for s in text.split(",") if s.strip()]


def profile_urls(profile: str, data_dir: Path) -> dict[str, str]:
    """Fresh stores for one measurement: SQLite files in `data_dir`, or new databases and a new topic
    namespace on the configured servers."""
    if profile == "embedded":
        return {"EVENT_STORE_URL": f"sqlite:///{data_dir}/events-{{service}}.db", "BUS_URL": f"sqlite:///{data_dir}/bus.db",
                "READ_STORE_URL": f"sqlite:///{data_dir}/read-models.db"}
    kafka, mongo = os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), os.environ.get("MONGODB_URI")
    if not (kafka and mongo):
        raise SystemExit("the real profile needs KAFKA_BOOTSTRAP_SERVERS and MONGODB_URI (make bench starts both)")
    run = uuid.uuid4().hex[:8]
    return {"EVENT_STORE_URL": f"{mongo.rstrip('/')}/bench_{run}_{{service}}", "BUS_URL": f"kafka://{kafka}",
            "READ_STORE_URL": f"{mongo.rstrip('/')}/bench_{run}_read",
            "KEY_STORE_URL": f"{mongo.rstrip('/')}/bench_{run}_keys"}


def drop_databases(urls: dict[str, str]) -> None:
    if not urls["READ_STORE_URL"].startswith("mongodb"):
        return
    from pymongo import MongoClient
    from pymongo.uri_parser import parse_uri

    client: MongoClient = MongoClient(urls["READ_STORE_URL"])
    try:
        for name in client.list_database_names():
            prefix = parse_uri(urls["READ_STORE_URL"])["database"].rsplit("_", 1)[0]
            if name.startswith(prefix):
                client.drop_database(name)
    finally:
        client.close()


def rebuild(profile: str, events: int, work: Path) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix=f"{events}-", dir=work))
    urls = profile_urls(profile, data_dir)
    namespace = f"bench{uuid.uuid4().hex[:8]}."
    settings = Settings.from_env({**urls, "BUS_NAMESPACE": namespace})
    bus = open_bus(urls["BUS_URL"])
    try:
        ensure_all_topics(bus, settings)
        workload = Workload(max(1, round(events / EVENTS_PER_STUDENT)))
        started = time.perf_counter()
        published = publish(workload, bus, namespace)
        publish_seconds = time.perf_counter() - started
    finally:
        bus.close()
    print(
        f"[{profile}] published {published} events in {publish_seconds:.1f}s; replaying…", file=sys.stderr, flush=True
    )
    output = subprocess.run(
        [sys.executable, "-m", "bench.replay", "--projection", FollowUpViews.name, "--bus", urls["BUS_URL"],
         "--read-store", urls["READ_STORE_URL"], "--namespace", namespace, "--events", str(published)],
        cwd=ROOT, check=True, capture_output=True, text=True).stdout
    result = json.loads(output.strip().splitlines()[-1])
    print(f"[{profile}] rebuild {result}; measuring the ceiling…", file=sys.stderr, flush=True)
    ceiling_rate = ceiling(urls["READ_STORE_URL"], published)
    drop_databases(urls)
    shutil.rmtree(data_dir, ignore_errors=True)
    return {**result, "students": workload.students, "publish_seconds": round(publish_seconds, 1),
            "ceiling_upserts_per_second": round(ceiling_rate, 1),
            "apply_vs_ceiling": round(result["events_per_second"] / ceiling_rate, 4)}


def freshness(profile: str, work: Path, rate: float, seconds: float, senders: int = 8) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="freshness-", dir=work))
    urls = profile_urls(profile, data_dir)
    env = {**urls, "BUS_NAMESPACE": f"bench{uuid.uuid4().hex[:8]}.", "CAREERLOOP_DATA_DIR": str(data_dir)}
    bus = open_bus(urls["BUS_URL"])
    try:
        ensure_all_topics(bus, Settings.from_env(env))
    finally:
        bus.close()
    try:
        return measure_freshness(env, data_dir, rate=rate, seconds=seconds, senders=senders)
    finally:
        drop_databases(urls)
        shutil.rmtree(data_dir, ignore_errors=True)


def relay(work: Path, events: int) -> dict[str, Any]:
    urls = profile_urls("real", work)
    try:
        return measure_relay(urls, events)
    finally:
        drop_databases(urls)


def translator(profile: str, work: Path, events: int) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="translator-", dir=work))
    urls = profile_urls(profile, data_dir)
    try:
        return measure_translator(urls, events)
    finally:
        drop_databases(urls)
        shutil.rmtree(data_dir, ignore_errors=True)


def funnel(work: Path, students: int) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="funnel-", dir=work))
    try:
        return measure_funnel(profile_urls("embedded", data_dir), students)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--profiles", default="embedded,real")
    parser.add_argument("--embedded-sizes", default="100000,1000000", help="history sizes (events) on SQLite")
    parser.add_argument("--real-sizes", default="10000", help="history sizes (events) on Kafka + MongoDB-wire")
    parser.add_argument("--embedded-translator-events", type=int, default=20000,
                        help="translator vs raw loop: history size (events) on SQLite")
    parser.add_argument("--real-translator-events", type=int, default=5000,
                        help="translator vs raw loop: history size (events) on Kafka + MongoDB-wire")
    parser.add_argument("--embedded-eventstore-commands", type=int, default=2000,
                        help="event-store appends vs the eventsourcing library (embedded profile): commands")
    parser.add_argument("--embedded-api-seconds", type=int, default=10,
                        help="command API vs a bare Flask endpoint (embedded profile): seconds of wrk load per side")
    parser.add_argument("--embedded-encryption-commands", type=int, default=2000,
                        help="cost of sealing personal data (embedded profile): commands per side and round")
    parser.add_argument("--embedded-funnel-students", type=int, default=10000,
                        help="funnel query latency (embedded profile): students whose histories are analysed")
    parser.add_argument("--real-relay-events", type=int, default=2000,
                        help="relay vs a raw kafka-python producer (real profile): events")
    parser.add_argument("--rate", type=float, default=20.0, help="freshness: commands per second")
    parser.add_argument("--seconds", type=float, default=30.0, help="freshness: how long the load lasts")
    parser.add_argument("--senders", type=int, default=8, help="freshness: paced clients sharing the rate")
    parser.add_argument("--out", default=str(ROOT / "var" / "bench" / "results.json"))
    parser.add_argument("--only", default=",".join(PARTS),
                        help=f"the parts to measure, comma-separated, of: {', '.join(PARTS)} (e.g. `--profiles "
                             "embedded --only api` for the command API alone)")
    parser.add_argument("--profile-api", metavar="DIR",
                        help="api: cProfile each command API worker, one .prof file per worker in DIR "
                             "(slower: the figures of such a run are for finding the hot spots, not for quoting)")
    args = parser.parse_args(argv)
    only = {part.strip() for part in args.only.split(",") if part.strip()}
    if only - set(PARTS):
        parser.error(f"--only: unknown part(s) {', '.join(sorted(only - set(PARTS)))}; the parts: {', '.join(PARTS)}")
    work = ROOT / "var" / "bench" / "work"
    work.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "projection": FollowUpViews.name, "events_per_student": EVENTS_PER_STUDENT, "profiles": {}}
    for profile in [p.strip() for p in args.profiles.split(",") if p.strip()]:
        sizes = _sizes(args.embedded_sizes if profile == "embedded" else args.real_sizes)
        entry: dict[str, Any] = {}
        if "rebuild" in only:
            entry["rebuild"] = {str(size): rebuild(profile, size, work) for size in sizes}
        if "freshness" in only:
            print(f"[{profile}] freshness at {args.rate}/s for {args.seconds}s…", file=sys.stderr, flush=True)
            entry["freshness"] = freshness(profile, work, args.rate, args.seconds, args.senders)
        if "translator" in only:
            events = args.embedded_translator_events if profile == "embedded" else args.real_translator_events
            print(f"[{profile}] analytics translator vs a raw loop on {events} events…", file=sys.stderr, flush=True)
            entry["translator"] = translator(profile, work, events)
        if profile == "embedded" and "eventstore" in only:
            print(f"[embedded] event-store appends vs the eventsourcing library on {args.embedded_eventstore_commands}"
                  " commands…", file=sys.stderr, flush=True)
            entry["eventstore"] = measure_eventstore(args.embedded_eventstore_commands)
        if profile == "embedded" and "api" in only:
            print(f"[embedded] command API vs a bare Flask endpoint, {args.embedded_api_seconds}s of wrk each…",
                  file=sys.stderr, flush=True)
            entry["api"] = measure_api(seconds=args.embedded_api_seconds,
                                       paced_seconds=min(5.0, float(args.embedded_api_seconds)),
                                       profile_dir=args.profile_api)
        if profile == "embedded" and "encryption" in only:
            print(f"[embedded] sealing personal data: {args.embedded_encryption_commands} commands per side…",
                  file=sys.stderr, flush=True)
            entry["encryption"] = measure_encryption(args.embedded_encryption_commands)
        if profile == "embedded" and "funnel" in only:
            print(f"[embedded] funnel query over {args.embedded_funnel_students} students' histories…",
                  file=sys.stderr, flush=True)
            entry["funnel_query"] = funnel(work, args.embedded_funnel_students)
        if profile == "real" and "relay" in only:
            print(f"[real] relay vs a raw producer on {args.real_relay_events} events…", file=sys.stderr, flush=True)
            entry["relay"] = relay(work, args.real_relay_events)
        results["profiles"][profile] = entry
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n")  # after each profile: partial results survive
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
