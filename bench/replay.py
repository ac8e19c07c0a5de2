"""`python -m bench.replay`: one projection rebuilt from the beginning of its topics by the real
rebuild path (`shared.rebuild.Rebuild`: a new generation of collections beside the live one, its own
consumer group, then the switch-over), in a separate process so that its peak memory is its own.
Prints one JSON line; the peak RSS is the kernel's `VmHWM` of this process when it is done.
"""
from __future__ import annotations

import argparse
import io
import json
import time

from shared.bus import open_bus
from shared.readstore import open_read_store
from shared.rebuild import Rebuild


def peak_rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def main(argv: list[str] | None = None) -> int:
    from services.init import PROJECTIONS

    parser = argparse.ArgumentParser(prog="python -m bench.replay")
    parser.add_argument("--projection", required=True, choices=[p.name for p in PROJECTIONS])
    parser.add_argument("--bus", required=True)
    parser.add_argument("--read-store", required=True)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--events", type=int, required=True, help="how many events the topics hold")
    args = parser.parse_args(argv)
    projection_class = next(p for p in PROJECTIONS if p.name == args.projection)
    bus = open_bus(args.bus)
    read_store = open_read_store(args.read_store)
    try:
        progress = io.StringIO()  # the rebuild's own progress lines; kept quiet here
        rebuild = Rebuild(projection_class, bus, read_store, namespace=args.namespace, out=progress,
                          progress_seconds=3600)
        started = time.perf_counter()
        if rebuild.run(keep_old=True) != 0:
            raise SystemExit(f"the rebuild did not complete:\n{progress.getvalue()}")
        seconds = time.perf_counter() - started
    finally:
        bus.close()
        read_store.close()
    print(json.dumps({"events": args.events, "seconds": round(seconds, 3),
                      "events_per_second": round(args.events / seconds, 1),
                      "microseconds_per_event": round(seconds / args.events * 1e6, 1),
                      "peak_rss_mb": round(peak_rss_bytes() / 2**20, 1)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
