"""`python -m services.contacts.worker`: the contact-directory projection worker."""
from __future__ import annotations

import argparse

from services.contacts.projections import ContactDirectory
from shared.runtime import run_projection


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.contacts.worker", description=__doc__)
    parser.add_argument("--replay-dead-letters", action="store_true",
                        help="re-handle the dead letters of parked streams once, unpark what succeeds, and exit")
    args = parser.parse_args(argv)
    run_projection(ContactDirectory, replay_dead_letters=args.replay_dead_letters)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
