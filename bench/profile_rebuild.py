"""`python -m bench.profile_rebuild EVENTS OUT.prof [--profile real]`: cProfile of the followups rebuild
on the embedded profile (or on the Kafka and MongoDB-wire servers that KAFKA_BOOTSTRAP_SERVERS and
MONGODB_URI name), in this process (the real rebuild path, `shared.rebuild.Rebuild`, on a synthetic history of
about EVENTS events in a fresh temporary directory); prints the top functions by cumulative time and
writes the stats to OUT.prof (`python -m pstats OUT.prof`). Wall times under cProfile are about twice
the real ones; what it is for is the shares.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from bench.__main__ import EVENTS_PER_STUDENT, drop_databases, profile_urls
from bench.workload import Workload, publish
from services.followups.projections import FollowUpViews
from shared.bus import open_bus
from shared.config import Settings
from shared.readstore import open_read_store
from shared.rebuild import Rebuild
from shared.runtime import ensure_all_topics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_rebuild")
    parser.add_argument("events", type=int)
    parser.add_argument("out")
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--profile", choices=("embedded", "real"), default="embedded")
    args = parser.parse_args(argv)
    data_dir = Path(tempfile.mkdtemp(prefix="profile-rebuild-"))
    try:
        urls = profile_urls(args.profile, data_dir)
        namespace = f"bench{uuid.uuid4().hex[:8]}."
        bus = open_bus(urls["BUS_URL"])
        read_store = open_read_store(urls["READ_STORE_URL"])
        try:
            ensure_all_topics(bus, Settings.from_env({**urls, "BUS_NAMESPACE": namespace}))
            published = publish(Workload(max(1, round(args.events / EVENTS_PER_STUDENT))), bus, namespace)
            rebuild = Rebuild(FollowUpViews, bus, read_store, namespace=namespace, out=io.StringIO(),
                              progress_seconds=3600)
            profile = cProfile.Profile()
            started = time.perf_counter()
            profile.enable()
            code = rebuild.run(keep_old=True)
            profile.disable()
            seconds = time.perf_counter() - started
        finally:
            bus.close()
            read_store.close()
            drop_databases(urls)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    print(f"exit {code}: {published} events in {seconds:.1f}s under cProfile ({published / seconds:,.0f}/s)")
    profile.dump_stats(args.out)
    pstats.Stats(args.out).sort_stats("cumulative").print_stats(args.top)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
