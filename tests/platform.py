"""The platform as real processes, every Procfile entry started as `make run` starts it: for the
end-to-end tests (`tests/e2e/conftest.py`) and the fault harness (`tests/faults`).

`profile_env` gives a run its own data folder, free ports and, on the real profile, fresh databases
and a topic namespace on the configured servers. Processes are stopped with SIGTERM and must exit
cleanly; `dump_logs` shows what they printed.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
SERVERS = ("web",)  # Procfile entries that serve HTTP on <NAME>_PORT without being an API


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def procfile() -> dict[str, str]:
    entries = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = line.split(":", 1)
            entries[name.strip()] = command.strip()
    return entries


class Platform:
    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.data_dir = data_dir
        self.env = env
        self.processes: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.env[f'{service.upper()}_PORT']}"

    def ready_url(self, name: str) -> str | None:
        """The URL whose /readyz says process `name` serves: the APIs and the web front end."""
        return self.url(name.removesuffix("-api")) if name.endswith("-api") or name in SERVERS else None

    def environment(self) -> dict[str, str]:
        """What every process of this platform runs with (also the operator commands a test runs)."""
        bin_dir = str(Path(sys.executable).parent)
        return {**os.environ, **self.env, "PATH": f"{bin_dir}:{os.environ['PATH']}"}

    def start(self, *names: str, own_env: Mapping[str, Mapping[str, str]] | None = None) -> None:
        """Start the named processes of the Procfile (all when none is named); `own_env` adds variables
        to some of them (e.g. each its own Kafka user)."""
        env = self.environment()
        for name, command in procfile().items():
            if names and name not in names:
                continue
            log = self.data_dir / f"{name}.log"
            self.logs[name] = log
            with log.open("ab") as out:  # the child keeps its own descriptor
                self.processes[name] = subprocess.Popen(["sh", "-c", command], cwd=ROOT,
                                                        env={**env, **(own_env or {}).get(name, {})},
                                                        stdout=out, stderr=subprocess.STDOUT,
                                                        start_new_session=True)
        for name in self.processes:
            url = self.ready_url(name)
            if url is not None and (not names or name in names):
                self.wait_ready(url)

    def wait_ready(self, url: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{url}/readyz", timeout=2).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):  # a worker still booting
                pass
            time.sleep(0.1)
        raise AssertionError(f"{url} not ready in {timeout}s\n{self.dump_logs()}")

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        process = self.processes.pop(name)
        os.killpg(process.pid, sig)
        process.wait(timeout=30)

    def stop(self) -> dict[str, int]:
        """SIGTERM everything (as honcho does on Ctrl-C); the exit codes by process."""
        codes = {}
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for name, process in self.processes.items():
            try:
                codes[name] = process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                codes[name] = process.wait()
        self.processes.clear()
        return codes

    @contextmanager
    def running(self, *names: str) -> Iterator[Platform]:
        """The named processes started for the block, then stopped; each must exit cleanly."""
        try:
            self.start(*names)
            yield self
        finally:
            codes = self.stop()
            assert all(code == 0 for code in codes.values()), (codes, self.dump_logs())

    def dump_logs(self) -> str:
        return "\n".join(f"--- {name}\n{path.read_text(errors='replace')[-4000:]}" for name, path in self.logs.items())


def profile_env(profile: str, data_dir: Path, *, mongo: str | None = None, kafka: str | None = None) -> dict[str, str]:
    """The environment of a platform run: `embedded` (SQLite files in `data_dir`) or `real` (new
    databases on the MongoDB-wire server `mongo` and a new topic namespace on the broker `kafka`)."""
    from tests.backends import TEST_SECRETS
    env = {"CAREERLOOP_DATA_DIR": str(data_dir), **TEST_SECRETS, "LOG_LEVEL": "INFO", "TOPIC_PARTITIONS": "3"}
    for name in procfile():
        if name.endswith("-api") or name in SERVERS:
            env[f"{name.removesuffix('-api').upper()}_PORT"] = str(free_port())
    if profile == "real":
        assert mongo and kafka, "the real profile needs a MongoDB-wire server and a Kafka broker"
        run = uuid.uuid4().hex[:8]
        mongo = mongo.rstrip("/")
        env.update({"EVENT_STORE_URL": f"{mongo}/e2e_{run}_{{service}}", "READ_STORE_URL": f"{mongo}/e2e_{run}_read",
                    "KEY_STORE_URL": f"{mongo}/e2e_{run}_keys", "BUS_URL": f"kafka://{kafka}",
                    "BUS_NAMESPACE": f"e2e{run}.",
                    # the web front end starts with the rest; nobody signs in through it on this profile
                    # (Authlib reads the provider's metadata at the first sign-in, never at start-up)
                    "OIDC_ISSUER": "https://idp.careerloop.invalid/realms/e2e", "OIDC_CLIENT_ID": "careerloop-web"})
    return env
