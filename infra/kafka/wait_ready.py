#!/usr/bin/env python3
"""Wait until a Kafka broker answers a metadata round trip.

usage: wait_ready.py host:port [timeout_s] [--pid PID] [--cluster-id ID] [-v]

"Ready" means a DescribeCluster request (via kafka-python's KafkaAdminClient)
succeeds and lists at least one broker that is not fenced. An open TCP port is
not enough: a KRaft broker accepts connections before it has registered with
its controller, and clients that connect in that window see errors.

Options exist for start.sh:
  --pid PID         give up at once if that process dies (a broker that failed
                    to start should fail the wait in a second, not in 90 s).
  --cluster-id ID   only accept a broker of that cluster, so a different
                    broker that happens to own the port is not mistaken for
                    the one just started.

Exit codes: 0 ready, 1 timed out, 2 the watched process exited, 3 usage or
kafka-python missing.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); it is not a running broker.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def _probe(bootstrap: str, per_try_ms: int) -> dict:
    from kafka import KafkaAdminClient  # imported late: usage errors need no kafka-python

    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap,
        client_id="careerloop-wait-ready",
        bootstrap_timeout_ms=per_try_ms,
        request_timeout_ms=per_try_ms,
        # Retry fast: the broker is expected to come up within seconds.
        reconnect_backoff_ms=100,
        reconnect_backoff_max_ms=500,
    )
    try:
        return admin.describe_cluster()
    finally:
        admin.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bootstrap", help="host:port of the broker")
    parser.add_argument("timeout_s", nargs="?", type=float, default=90.0)
    parser.add_argument("--pid", type=int, default=None)
    parser.add_argument("--cluster-id", default=None)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)

    # kafka-python logs every refused connection at WARNING/ERROR; while
    # waiting those are expected, so keep them out of the output by default.
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.CRITICAL)

    try:
        import kafka  # noqa: F401
    except ImportError:
        print(f"wait_ready.py: kafka-python is not importable by {sys.executable}", file=sys.stderr)
        return 3

    start = time.monotonic()
    deadline = start + args.timeout_s
    last_error = "no attempt made"
    while True:
        if args.pid is not None and not _alive(args.pid):
            print(f"wait_ready.py: broker process {args.pid} exited", file=sys.stderr)
            return 2
        remaining_ms = int((deadline - time.monotonic()) * 1000)
        if remaining_ms <= 0:
            break
        try:
            meta = _probe(args.bootstrap, max(500, min(5000, remaining_ms)))
        except Exception as exc:  # any failure just means "not yet"
            last_error = f"{type(exc).__name__}: {exc}"
        else:
            brokers = meta.get("brokers") or []
            unfenced = [b for b in brokers if not b.get("is_fenced", False)]
            if args.cluster_id is not None and meta.get("cluster_id") != args.cluster_id:
                last_error = (f"{args.bootstrap} belongs to cluster {meta.get('cluster_id')!r}, "
                              f"not {args.cluster_id!r} (another broker owns the port?)")
            elif not unfenced:
                last_error = f"no unfenced broker yet: {brokers!r}"
            else:
                elapsed = time.monotonic() - start
                print(f"wait_ready.py: {args.bootstrap} ready after {elapsed:.1f}s "
                      f"(cluster {meta.get('cluster_id')}, brokers {[b['broker_id'] for b in unfenced]})")
                return 0
        time.sleep(0.25)

    print(f"wait_ready.py: {args.bootstrap} not ready after {args.timeout_s:g}s; last error: {last_error}",
          file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
