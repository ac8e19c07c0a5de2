"""`python -m tests.faults` (what `make faults` runs): see tests/faults/__init__.py."""
from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.faults import scenarios
from tests.faults.servers import Servers
from tests.platform import ROOT


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.faults", description=__doc__)
    parser.add_argument("--scenarios", default="R1,R2,R4", help="comma-separated: R1, R2, R4")
    parser.add_argument("--commands", type=int, default=10_000, help="R1: commands in all")
    parser.add_argument("--students", type=int, default=16, help="concurrent clients")
    parser.add_argument("--kills", type=int, default=20, help="R1: SIGKILLs in all")
    parser.add_argument("--outage-commands", type=int, default=2_000, help="R2: commands in all")
    parser.add_argument("--outage-seconds", type=float, default=20.0, help="R2: how long each server is down")
    parser.add_argument("--writers", type=int, default=50, help="R4: concurrent writers")
    parser.add_argument("--out", default=str(ROOT / "var" / "faults" / "results.json"))
    args = parser.parse_args()
    wanted = {s.strip().upper() for s in args.scenarios.split(",")}
    # a stop (timeout, kill) unwinds like Ctrl-C, so the platform and the servers are stopped on the way out
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    run_dir = ROOT / "var" / "faults" / datetime.now(UTC).strftime("run-%Y%m%dT%H%M%S")
    servers = Servers(run_dir / "servers").start_all()
    results: dict[str, Any] = {"started_at": datetime.now(UTC).isoformat(), "scenarios": {}}
    try:
        if "R1" in wanted:
            results["scenarios"]["R1"] = timed(lambda: scenarios.r1_chaos(
                servers, run_dir / "r1", commands=args.commands, students=args.students, kills=args.kills))
        if "R2" in wanted:
            results["scenarios"]["R2"] = timed(lambda: scenarios.r2_outages(
                servers, run_dir / "r2", commands=args.outage_commands, students=args.students,
                outage=args.outage_seconds))
        if "R4" in wanted:
            results["scenarios"]["R4"] = timed(lambda: scenarios.r4_if_match(servers, run_dir / "r4",
                                                                             writers=args.writers))
    finally:
        servers.stop_all()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(table(results))
    print(f"\nresults: {out}; process logs: {run_dir}")
    shutil.rmtree(run_dir / "servers", ignore_errors=True)
    return 0


def timed(scenario: Any) -> dict[str, Any]:
    start = time.monotonic()
    result = scenario()
    return {**result, "scenario_seconds": round(time.monotonic() - start, 1)}


def table(results: dict[str, Any]) -> str:
    rows = [("scenario", "accepted", "found", "lost", "duplicated", "5xx≠503", "503 w/o Retry-After", "converged s")]
    for name, r in results["scenarios"].items():
        stored = r.get("stored", {})
        dup = stored.get("duplicated", "")
        if "deliveries" in r:
            dup = f"{dup} (+{r['deliveries']['emails_duplicated']} mail, {r['deliveries']['webhooks_duplicated']} hook)"
        rows.append((name, stored.get("accepted", ""), stored.get("found", ""), stored.get("lost", ""), dup,
                     r.get("server_errors_500", ""), r.get("unavailable_without_retry_after", ""),
                     r.get("converged_seconds", "")))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows)


if __name__ == "__main__":
    sys.exit(main())
