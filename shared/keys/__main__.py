"""The key commands:

- `python -m shared.keys new-master-key <id>` prints a new master key;
- `python -m shared.keys rotate` rewraps every data key still wrapped by a previous master key
  (`ERASURE_PREVIOUS_MASTER_KEYS`) under the current one (`ERASURE_MASTER_KEY`), without touching a
  single event. Resumable: run it again after an interruption; once none is left, drop the previous keys;
- `python -m shared.keys seal-existing [SERVICE ...]` seals the personal data of events stored before it
  was sealed, in every service's event store (or those named); resumable (`shared.keys.migration`).
"""
from __future__ import annotations

import argparse

from shared.contracts import CATALOGS
from shared.eventstore import open_event_store
from shared.keys import master_keys, open_key_store, open_personal_data
from shared.keys.migration import Progress, seal_existing
from shared.keys.vault import DataKeys, MasterKey
from shared.process import start_process

SERVICES = tuple(sorted({catalog.service for catalog in CATALOGS}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.keys", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    new = commands.add_parser("new-master-key", help="print a new random master key")
    new.add_argument("key_id", help="its name, stored beside every data key it wraps (e.g. m2027)")
    commands.add_parser("rotate", help="rewrap the data keys under the current master key")
    migrate = commands.add_parser("seal-existing", help="seal the personal data stored before it was sealed")
    migrate.add_argument("services", nargs="*", choices=[[], *SERVICES], metavar="SERVICE",
                         help=f"among {', '.join(SERVICES)} (default: all)")
    args = parser.parse_args(argv)
    if args.command == "new-master-key":
        print(MasterKey.generate(args.key_id))
        return 0
    if args.command == "seal-existing":
        return seal_existing_command(args.services or list(SERVICES))
    settings = start_process("rotate-master-key")
    master, previous = master_keys(settings)
    store = open_key_store(settings.get("KEY_STORE_URL"))
    try:
        rewrapped = DataKeys(store, master, previous).rotate()
        left = len(store.wrapped_by_other_than(master.key_id, limit=1))
    finally:
        store.close()
    print(f"rewrapped {rewrapped} data keys under master key {master.key_id!r}; "
          f"{'none' if not left else 'some'} left under another key")
    return 0 if not left else 1


def seal_existing_command(services: list[str]) -> int:
    settings = start_process("seal-existing")
    personal = open_personal_data(settings)
    try:
        for service in services:
            store = open_event_store(settings.event_store_url(service))
            def report(progress: Progress, service: str = service) -> None:
                print(f"{service}: {progress.commits_seen} commits read, {progress.commits_sealed} sealed", flush=True)

            try:
                done = seal_existing(store, personal, report=report)
            finally:
                store.close()
            print(f"{service}: done: {done.commits_sealed} of {done.commits_seen} commits sealed, "
                  f"{done.claims_blinded} claims blinded", flush=True)
    finally:
        personal.keys.store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
