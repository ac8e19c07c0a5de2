"""The platform as real processes: every Procfile entry started as `make run` starts it.

Each test gets its own data folder and free ports; `backends` picks the embedded profile or the real
one (MongoDB-wire + Kafka from the environment). Processes are stopped with SIGTERM and must exit
cleanly; their logs are printed when a test fails.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.backends import marked, require_env

ROOT = Path(__file__).resolve().parents[2]


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

    def start(self, *names: str) -> None:
        bin_dir = str(Path(sys.executable).parent)
        env = {**os.environ, **self.env, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
        for name, command in procfile().items():
            if names and name not in names:
                continue
            log = self.data_dir / f"{name}.log"
            self.logs[name] = log
            with log.open("ab") as out:  # the child keeps its own descriptor
                self.processes[name] = subprocess.Popen(["sh", "-c", command], cwd=ROOT, env=env,
                                                        stdout=out, stderr=subprocess.STDOUT,
                                                        start_new_session=True)
        for name in self.processes:
            if name.endswith("-api") and (not names or name in names):
                self.wait_ready(self.url(name.removesuffix("-api")))

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

    def dump_logs(self) -> str:
        return "\n".join(f"--- {name}\n{path.read_text(errors='replace')[-4000:]}" for name, path in self.logs.items())


@pytest.fixture(params=["embedded", marked("real", "mongo", "kafka")])
def platform(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Platform]:
    from tests.backends import TEST_SECRET
    env = {"CAREERLOOP_DATA_DIR": str(tmp_path), "CAREERLOOP_JWT_SECRET": TEST_SECRET, "LOG_LEVEL": "INFO",
           "TOPIC_PARTITIONS": "3"}
    for name in procfile():
        if name.endswith("-api"):
            env[f"{name.removesuffix('-api').upper()}_PORT"] = str(free_port())
    if request.param == "real":
        mongo = require_env("MONGODB_URI", "a MongoDB-wire server").rstrip("/")
        kafka = require_env("KAFKA_BOOTSTRAP_SERVERS", "a Kafka broker")
        run = uuid.uuid4().hex[:8]
        env.update({"EVENT_STORE_URL": f"{mongo}/e2e_{run}_{{service}}", "READ_STORE_URL": f"{mongo}/e2e_{run}_read",
                    "BUS_URL": f"kafka://{kafka}", "BUS_NAMESPACE": f"e2e{run}."})
    platform = Platform(tmp_path, env)
    yield platform
    platform.stop()
    if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
        print(platform.dump_logs())


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
