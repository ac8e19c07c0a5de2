"""The fault runs' own servers: a Kafka broker and FerretDB on PostgreSQL, started and stopped with
the same scripts `make test` uses (infra/), on free loopback ports, with their state under one folder.

The harness owns them (it never uses servers configured in the environment) because R2 stops the
broker and then the database in the middle of a load and starts them again on the same ports with
the same data, as an outage and a recovery would.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.platform import ROOT, free_port

INFRA = ROOT / "infra"


class Servers:
    def __init__(self, state: Path) -> None:
        self.state = state
        self.kafka_port, self.kafka_controller_port = free_port(), free_port()
        self.postgres_port, self.ferretdb_port = free_port(), free_port()
        self.postgres_url = ""
        self.running: list[str] = []

    @property
    def kafka(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def mongo(self) -> str:
        return f"mongodb://127.0.0.1:{self.ferretdb_port}"

    def _script(self, name: str, action: str, **env: str) -> str:
        done = subprocess.run([str(INFRA / name / f"{action}.sh"), str(self.state / name)], check=True, text=True,
                              capture_output=True, env={**os.environ, "PYTHON": sys.executable, **env}, timeout=180)
        return done.stdout.strip()

    def start(self, name: str, *, fresh: bool = False) -> None:
        if name == "kafka":
            self._script("kafka", "start", KAFKA_PORT=str(self.kafka_port),
                         KAFKA_CONTROLLER_PORT=str(self.kafka_controller_port))
        elif name == "postgres":
            self.postgres_url = self._script("postgres", "start", POSTGRES_PORT=str(self.postgres_port),
                                             POSTGRES_FRESH="1" if fresh else "0")
        elif name == "ferretdb":
            self._script("ferretdb", "start", FERRETDB_PORT=str(self.ferretdb_port),
                         FERRETDB_POSTGRESQL_URL=self.postgres_url)
        else:
            raise ValueError(name)
        self.running.append(name)

    def stop(self, name: str) -> None:
        self._script(name, "stop")
        self.running.remove(name)

    def start_all(self) -> Servers:
        self.start("kafka")
        self.start("postgres", fresh=True)
        self.start("ferretdb")
        return self

    def stop_all(self) -> None:
        for name in reversed(list(self.running)):
            try:
                self.stop(name)
            except subprocess.SubprocessError as exc:
                print(f"could not stop {name}: {exc}", file=sys.stderr)
