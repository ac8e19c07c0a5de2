"""The analytics translator's rate as a share of a raw consume-and-produce loop on the same bus.

Both read the same synthetic history (`bench.workload`) from the start of the domain topics, in
polls of 500, under their own consumer groups:

- **raw**: poll a batch, send every message's bytes unchanged to a scratch topic keyed as it came,
  flush (wait for the acknowledgement), commit: the least any translator must do on this bus;
- **translator**: `services.analytics.translator.Translator` run by the consumer runner, as its
  worker runs it: decode and upcast, version guard, translate, pseudonymise, store the messages,
  publish, flush, checkpoint, commit.

`translator_vs_raw` is the translator's events per second over the raw loop's (the goal is >= 0.5); the raw
loop runs before and after the translator and its faster run counts. `translator_vs_raw_cpu` is the same
ratio in this process's CPU time (steadier when other jobs share the machine; blind to waiting on I/O).
"""
from __future__ import annotations

import shutil
import tempfile
import threading
import time
import uuid
from typing import Any

from bench.workload import Workload, publish
from services.analytics.pseudonyms import Pseudonymiser
from services.analytics.translator import Translator
from shared.bus import open_bus
from shared.config import Settings
from shared.consumer import ConsumerRunner
from shared.keys import open_key_store
from shared.keys.personal import PersonalData, contact_subject, student_subject
from shared.keys.vault import DataKeys, MasterKey
from shared.readstore import open_read_store
from shared.runtime import ensure_all_topics

BATCH = 500


def raw_loop(bus: Any, topics: list[str], out_topic: str, events: int) -> tuple[float, float]:
    """Seconds (wall, and this process's CPU) to consume `events` messages and produce each to
    `out_topic`, acknowledged and committed."""
    consumer = bus.consumer(f"bench-raw-{uuid.uuid4().hex[:8]}", topics)
    producer = bus.producer()
    started, cpu_started, seen = time.perf_counter(), time.process_time(), 0
    try:
        while seen < events:
            messages = consumer.poll(BATCH, timeout=1.0)
            offsets: dict[tuple[str, int], int] = {}
            for message in messages:
                producer.send(out_topic, message.key, message.value, message.headers)
                offsets[(message.topic, message.partition)] = message.offset + 1
            producer.flush()
            if offsets:
                consumer.commit(offsets)
            seen += len(messages)
        return time.perf_counter() - started, time.process_time() - cpu_started
    finally:
        consumer.close()
        producer.close()


def measure(urls: dict[str, str], events: int) -> dict[str, Any]:
    namespace = f"bench{uuid.uuid4().hex[:8]}."
    scratch_dir = tempfile.mkdtemp(prefix="careerloop-bench-keys-")
    settings = Settings.from_env({**urls, "BUS_NAMESPACE": namespace})
    bus = open_bus(urls["BUS_URL"])
    read_store = open_read_store(urls["READ_STORE_URL"])
    try:
        ensure_all_topics(bus, settings)
        scratch = f"{namespace}bench.raw-copy"
        bus.ensure_topics({scratch: settings.int("TOPIC_PARTITIONS")})
        workload = Workload(max(1, round(events / len(Workload(1)))))
        published = publish(workload, bus, namespace)
        # pseudonyms salted from each subject's data key, as in production: the services created the keys when
        # they sealed the events, so the translator reads each from the key store once (its cache is cold)
        key_store, master = open_key_store(f"sqlite:///{scratch_dir}/keys.db"), MasterKey.generate("bench")
        sealer = DataKeys(key_store, master)
        for index in range(workload.students):
            for event in workload.student_history(index):
                sealer.key_for(student_subject(event["ownerid"]))
                if event["type"].endswith(".ContactAdded.v1"):
                    sealer.key_for(contact_subject(event["ownerid"], event["subject"]))
        salts = PersonalData(DataKeys(key_store, master)).pseudonym_salt
        translator = Translator(read_store, bus=bus, namespace=namespace,
                                pseudonyms=Pseudonymiser("bench-analytics-pseudonym-key-0123456789", "bench", salts))
        raw_before = raw_loop(bus, translator.topics, scratch, published)
        started, cpu_started = time.perf_counter(), time.process_time()
        ConsumerRunner(bus, translator, read_store, batch_size=BATCH).run(threading.Event(), until_idle=True)
        translator_seconds, translator_cpu = time.perf_counter() - started, time.process_time() - cpu_started
        # the ceiling is the faster of a raw loop before and one after: on a shared machine a quieter
        # minute must not flatter the translator
        raw_after = raw_loop(bus, translator.topics, scratch, published)
        raw_seconds, raw_cpu = min(raw_before[0], raw_after[0]), min(raw_before[1], raw_after[1])
        translator.close()
        integration_events = sum(bus.end_offsets(translator.topic).values())
    finally:
        bus.close()
        read_store.close()
        shutil.rmtree(scratch_dir, ignore_errors=True)
    raw_rate, translator_rate = published / raw_seconds, published / translator_seconds
    return {"events": published, "integration_events": integration_events,
            "raw_events_per_second": round(raw_rate, 1), "translator_events_per_second": round(translator_rate, 1),
            "translator_vs_raw": round(translator_rate / raw_rate, 4),
            # CPU time in this process: steadier than wall time on a shared machine, blind to I/O waits
            "raw_cpu_us_per_event": round(raw_cpu / published * 1e6, 1),
            "translator_cpu_us_per_event": round(translator_cpu / published * 1e6, 1),
            "translator_vs_raw_cpu": round(raw_cpu / translator_cpu, 4)}
