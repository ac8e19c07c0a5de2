"""Wait until a MongoDB-wire server (FerretDB here) answers ``ping``.

Usage: python wait_ready.py mongodb://127.0.0.1:PORT/ [timeout_s] [--pid PID]

Exit status: 0 ready, 1 timed out, 2 the watched process (--pid) died first,
3 pymongo is not importable with this interpreter.

``--pid`` lets start.sh fail fast when the server exits at start (bad flag,
port already taken, ...) instead of waiting for the whole timeout. It also
guards against a false "ready" from some other server on the same port.
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def _alive(pid: int) -> bool:
    # A child that already exited stays a zombie until its parent (start.sh,
    # which is blocked running us) reaps it, and kill(pid, 0) still succeeds
    # on a zombie; so look at the process state in /proc where there is one.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except FileNotFoundError:
        return False
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("uri", help="e.g. mongodb://127.0.0.1:27017/")
    p.add_argument("timeout_s", nargs="?", type=float, default=60.0)
    p.add_argument("--pid", type=int, default=None, help="give up early if this process exits")
    args = p.parse_args(argv)

    try:
        from pymongo import MongoClient
        from pymongo.errors import PyMongoError
    except ImportError as e:
        print(
            f"wait_ready.py: cannot import pymongo with {sys.executable} ({e});"
            " set PYTHON to an interpreter that has it (e.g. the project's .venv/bin/python)",
            file=sys.stderr,
        )
        return 3

    deadline = time.monotonic() + args.timeout_s
    last_err: Exception | None = None
    while True:
        if args.pid is not None and not _alive(args.pid):
            print(f"wait_ready.py: process {args.pid} exited before {args.uri} became ready", file=sys.stderr)
            return 2
        # Short per-attempt timeouts so the loop re-checks the pid and the
        # deadline often; a fresh client each time avoids pymongo's own
        # background retry state hiding a server that just came up.
        client = MongoClient(args.uri, serverSelectionTimeoutMS=1000, connectTimeoutMS=1000, socketTimeoutMS=5000)
        try:
            client.admin.command("ping")
            return 0
        except PyMongoError as e:
            last_err = e
        finally:
            client.close()
        if time.monotonic() >= deadline:
            print(f"wait_ready.py: {args.uri} not ready after {args.timeout_s:g} s: {last_err}", file=sys.stderr)
            return 1
        time.sleep(0.2)


if __name__ == "__main__":
    sys.exit(main())
