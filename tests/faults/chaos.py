"""kill -9 for the platform's processes, in turn, while a load runs; each victim is started again.

The victims cover every kind of process that holds state in flight: a relay (commits appended, not
yet acknowledged by the broker), a projection worker (a batch applied, offsets not committed), an
API worker (a command appended, its answer not sent; gunicorn's master starts a new worker), the
followups announcer and the notifications dispatcher (a send made, its outcome not recorded).
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.platform import Platform

KINDS = ("relay", "projection", "api-worker", "announcer", "dispatcher")


def victims(platform: Platform, kind: str) -> list[str]:
    names = list(platform.processes)
    match kind:
        case "relay":
            return [n for n in names if n.endswith("-relay")]
        case "projection":
            return [n for n in names if n.endswith(("-views", "-directory", "-policies", "-translator"))]
        case "api-worker":
            return [n for n in names if n.endswith("-api")]
        case "announcer":
            return [n for n in names if n.endswith("-announcer")]
        case "dispatcher":
            return [n for n in names if n.endswith("-dispatcher")]
    raise ValueError(kind)


def gunicorn_workers(master: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True)
    return [int(pid) for pid in found.stdout.split()]


@dataclass
class Chaos:
    platform: Platform
    kills: int
    progress: Callable[[], float]  # 0..1: how far the load is; kill n happens at (n + 1) / (kills + 1)
    restart_after: float = 1.0
    seed: int = 17
    log: list[dict[str, object]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos", daemon=True)
        self.errors: list[BaseException] = []

    def start(self) -> Chaos:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(120)

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def _run(self) -> None:
        rng = random.Random(self.seed)
        try:
            for n in range(self.kills):
                while self.progress() < (n + 1) / (self.kills + 1):
                    if self._stop.wait(0.1):
                        return
                kind = KINDS[n % len(KINDS)]
                name = rng.choice(victims(self.platform, kind))
                self.kill(kind, name, rng)
        except BaseException as exc:  # noqa: BLE001 - reported by the scenario, not lost in a thread
            self.errors.append(exc)

    def kill(self, kind: str, name: str, rng: random.Random) -> None:
        at = time.monotonic()
        if kind == "api-worker":  # one worker of the API; its gunicorn master replaces it
            workers = gunicorn_workers(self.platform.processes[name].pid)
            if workers:
                os.kill(rng.choice(workers), signal.SIGKILL)
        else:
            self.platform.kill(name)
            time.sleep(self.restart_after)
            self.platform.start(name)
        self.log.append({"kind": kind, "process": name, "at": round(at, 1)})
