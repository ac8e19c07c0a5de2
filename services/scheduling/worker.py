"""`python -m services.scheduling.worker`: the scheduling read models (interviews, contact references)."""
from __future__ import annotations

import argparse

from services.scheduling.projections import SchedulingViews
from shared.runtime import run_projection


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.scheduling.worker", description=__doc__)
    parser.add_argument("--replay-dead-letters", action="store_true",
                        help="re-handle the dead letters of parked streams once, unpark what succeeds, and exit")
    args = parser.parse_args(argv)
    run_projection(SchedulingViews, replay_dead_letters=args.replay_dead_letters)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
