"""`python -m bench.translator`: the analytics translator's rate as a share of a raw consume-and-produce
loop on the same bus, measured in the same run (issue 14's goal: a share of at least 0.5).

- **ceiling** (`consume_produce_ceiling`): the synthetic domain history of `bench.workload` is
  published on the domain topics; a one-off consumer group polls it in batches of 500, sends every
  record unchanged (same key, same bytes) to a scratch topic, waits for the bus to acknowledge the
  batch (`flush`) and commits its offsets. That is what any consume–translate–produce worker must at
  least do, with no decoding, no translation and no checkpoint: no translator can be faster. Timed
  from the first records received (joining the group is not throughput).
- **translator** (`measure_translator`): the translator runs as its own process (the command line
  `make run` uses) on the same history, and is timed from its start until its consumer group has
  committed the end of every domain topic (its start-up and group join count against it, so the share
  is conservative at small sizes); its rate over the ceiling's is `translator_vs_ceiling`.

Not yet part of `make bench` (`python -m bench`): the translator is being written beside this. Until
it lands, `python -m bench.translator` measures the ceiling alone; with `--translator-command` and
`--translator-group` (its consumer group without the namespace) it measures the translator too.
Wiring it in: call `measure(profile, events, work, translator=TranslatorProcess(...))` from
`bench.__main__.main` for each profile and store the result under the profile's `translator` key.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from bench.workload import Workload, publish
from shared.bus import EventBus, open_bus
from shared.config import VARIABLES, Settings
from shared.consumer import positions
from shared.contracts.contacts import CONTACTS
from shared.contracts.notes import NOTES
from shared.contracts.scheduling import INTERVIEWS
from shared.runtime import ensure_all_topics

ROOT = Path(__file__).resolve().parents[1]
BATCH = 500
# The topics bench.workload publishes on (the translator consumes them among others).
WORKLOAD_TOPICS = tuple(c.topic for c in (CONTACTS, INTERVIEWS, NOTES))


@dataclass(frozen=True)
class TranslatorProcess:
    """How to start the translator and recognise its progress: its command line, and its consumer
    group as it names it without the BUS_NAMESPACE prefix."""

    command: Sequence[str]
    group: str


def consume_produce_ceiling(bus: EventBus, topics: Sequence[str], events: int, scratch_topic: str,
                            timeout: float = 600.0) -> float:
    """Records per second of the raw loop (see the module docstring) over the `events` records on
    `topics`; `scratch_topic` must exist."""
    consumer = bus.consumer(f"bench-ceiling-{uuid.uuid4().hex}", list(topics))
    producer = bus.producer()
    moved = 0
    deadline = time.monotonic() + timeout
    try:
        started = None
        while moved < events:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the consume-and-produce loop moved {moved} of {events} records")
            batch = consumer.poll(BATCH, timeout=0.5)
            if not batch:
                continue
            if started is None:  # timed from the first records: joining the group is not throughput
                started = time.perf_counter()
            offsets = {}
            for message in batch:
                producer.send(scratch_topic, message.key, message.value, message.headers)
                offsets[(message.topic, message.partition)] = message.offset + 1
            producer.flush()
            consumer.commit(offsets)
            moved += len(batch)
        seconds = time.perf_counter() - (started or time.perf_counter())
    finally:
        consumer.close()
        producer.close()
    return moved / max(seconds, 1e-9)


def measure_translator(translator: TranslatorProcess, env: dict[str, str], bus: EventBus, topics: Sequence[str],
                       events: int, *, log: Path, timeout: float = 1800.0) -> dict[str, Any]:
    """Start the translator with `env`, time it until its group has committed the end of every topic in
    `topics` (which hold `events` records), then stop it with SIGTERM. Timed from the process start,
    so its start-up counts against it (conservative at small sizes)."""
    group = env.get("BUS_NAMESPACE", "") + translator.group
    ends = {(p.topic, p.partition): p.end for p in positions(bus, group, topics)}
    with open(log, "ab") as output:
        started = time.perf_counter()
        process = subprocess.Popen(list(translator.command), env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
        try:
            while True:
                done = all(p.committed >= ends[(p.topic, p.partition)] for p in positions(bus, group, topics))
                if done:
                    break
                if process.poll() is not None:
                    raise RuntimeError(f"the translator exited with {process.returncode} before catching up (log: {log})")
                if time.perf_counter() - started > timeout:
                    raise TimeoutError(f"the translator did not catch up within {timeout:g}s (log: {log})")
                time.sleep(0.05)
            seconds = time.perf_counter() - started
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    return {"events": events, "seconds": round(seconds, 3), "events_per_second": round(events / seconds, 1)}


def measure(profile: str, events: int, work: Path, translator: TranslatorProcess | None = None) -> dict[str, Any]:
    """Publish a history of about `events` domain events on fresh topics of `profile`'s bus, measure the
    ceiling on it and, given `translator`, the translator and its share of the ceiling."""
    from bench.__main__ import EVENTS_PER_STUDENT, drop_databases, profile_urls

    data_dir = Path(tempfile.mkdtemp(prefix=f"translator-{events}-", dir=work))
    urls = profile_urls(profile, data_dir)
    namespace = f"bench{uuid.uuid4().hex[:8]}."
    run_secrets = {v.name: secrets.token_urlsafe(48) for v in VARIABLES if v.secret}
    settings = Settings.from_env({**urls, **run_secrets, "BUS_NAMESPACE": namespace, "CAREERLOOP_JWKS_URL": "",
                                  "CAREERLOOP_DATA_DIR": str(data_dir), "LOG_LEVEL": "WARNING"})
    topics = [namespace + topic for topic in WORKLOAD_TOPICS]
    scratch = namespace + "bench.ceiling.scratch"
    bus = open_bus(urls["BUS_URL"])
    try:
        ensure_all_topics(bus, settings)
        bus.ensure_topics({scratch: settings.int("TOPIC_PARTITIONS")})
        workload = Workload(max(1, round(events / EVENTS_PER_STUDENT)))
        published = publish(workload, bus, namespace)
        print(f"[{profile}] published {published} events; measuring the consume-and-produce ceiling…",
              file=sys.stderr, flush=True)
        ceiling = consume_produce_ceiling(bus, topics, published, scratch)
        result: dict[str, Any] = {"events": published, "ceiling_events_per_second": round(ceiling, 1)}
        if translator is not None:
            print(f"[{profile}] ceiling {ceiling:.0f}/s; measuring the translator…", file=sys.stderr, flush=True)
            measured = measure_translator(translator, {**os.environ, **settings.env}, bus, topics, published,
                                          log=data_dir / "translator.log")
            result["translator"] = measured
            result["translator_vs_ceiling"] = round(measured["events_per_second"] / ceiling, 4)
    finally:
        bus.close()
        drop_databases(urls)
        shutil.rmtree(data_dir, ignore_errors=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.translator", description=__doc__.split("\n\n")[0])
    parser.add_argument("--profiles", default="embedded,real")
    parser.add_argument("--embedded-events", type=int, default=100_000)
    parser.add_argument("--real-events", type=int, default=10_000)
    parser.add_argument("--translator-command", help="the translator's command line, e.g. "
                                                     "'python -m services.analytics.translator'")
    parser.add_argument("--translator-group", help="the translator's consumer group, without the namespace")
    parser.add_argument("--out", default=str(ROOT / "var" / "bench" / "translator.json"))
    args = parser.parse_args(argv)
    if bool(args.translator_command) != bool(args.translator_group):
        parser.error("--translator-command and --translator-group go together")
    translator = (TranslatorProcess(shlex.split(args.translator_command), args.translator_group)
                  if args.translator_command else None)
    work = ROOT / "var" / "bench" / "work"
    work.mkdir(parents=True, exist_ok=True)
    results = {profile: measure(profile, args.embedded_events if profile == "embedded" else args.real_events,
                                work, translator)
               for profile in [p.strip() for p in args.profiles.split(",") if p.strip()]}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
