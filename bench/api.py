"""P1: a command API's throughput and latency against a bare Flask + gunicorn JSON endpoint (embedded).

Both servers run under gunicorn with the APIs' worker settings, read by both from the one place that
sets them for every deployment (./gunicorn.conf.py: workers, worker class, threads), and are loaded by
the same generator, `wrk` (Debian's package, installed by infra/tools.sh), with the same
connections, threads and duration:

- **command**: `POST /contacts/{id}/touchpoints` of the contacts service on the embedded backends —
  authentication, validation, load the contact's stream, decide, append one event, answer `{id, version}`;
- **ceiling**: `bench.bare_app`, a Flask app whose one route parses the same JSON body and answers
  201 with a small JSON object: what Flask and gunicorn cost with nothing else going on.

`command_vs_ceiling` is the command's requests per second over the ceiling's (goal >= 0.6). Then the
command endpoint at half the ceiling's rate, sent at fixed intervals by a paced client for a few
seconds, latency measured from each request's scheduled time (so a stall is not hidden): p50/p99
(goal: p99 <= 30 ms).
"""
from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from bench.freshness import percentile

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-secret-that-is-long-enough-for-hs256"
CONTACTS = 50  # commands spread over this many contacts' streams, as many students' work would be
WRK_SCRIPT = '''
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"
wrk.body = '{body}'
local paths = {{{paths}}}
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, paths[(n % #paths) + 1])
end
'''


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gunicorn(app: str, port: int, env: dict[str, str], log: Path, *, config: str | None = None) -> subprocess.Popen:
    """`app` with the Procfile's command line, so with ./gunicorn.conf.py's settings (or `config`'s)."""
    command = [str(Path(sys.executable).parent / "gunicorn"), "--bind", f"127.0.0.1:{port}",
               "--graceful-timeout", "10", *(["--config", config] if config else []), app]
    with log.open("ab") as out:
        server = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return server
        except requests.RequestException:
            time.sleep(0.2)
    server.terminate()
    raise RuntimeError(f"{app} did not start; see {log}")


def cpu_seconds(master: int) -> float:
    """CPU time (user + system) used so far by a gunicorn master and its workers, from /proc (Linux).
    On a machine shared with other work the rates move with the load; what a request costs moves less."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:  # a process that just ended
            continue
        pid, ppid = int(stat.parent.name), int(fields[1])
        if master in (pid, ppid):
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def gunicorn_settings() -> dict[str, Any]:
    """The worker settings both servers ran with: ./gunicorn.conf.py's, and GUNICORN_CMD_ARGS if set
    (gunicorn reads it too, over the file)."""
    conf = ROOT / "gunicorn.conf.py"
    settings: dict[str, Any] = {}
    for statement in ast.parse(conf.read_text(), str(conf)).body:  # read, not run: running it makes a temp dir
        if isinstance(statement, ast.Assign):
            for target in statement.targets:
                if isinstance(target, ast.Name) and target.id in ("workers", "worker_class", "threads"):
                    settings[target.id] = ast.literal_eval(statement.value)
    if os.environ.get("GUNICORN_CMD_ARGS"):
        settings["GUNICORN_CMD_ARGS"] = os.environ["GUNICORN_CMD_ARGS"]
    return settings


def wrk(url: str, script: Path, *, seconds: int, connections: int, server: int | None = None) -> dict[str, float]:
    """`server`: the gunicorn master's pid, to add the CPU milliseconds the server spent per request."""
    cpu = cpu_seconds(server) if server else 0.0
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
                         check=True, capture_output=True, text=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    result = {"requests_per_second": round(rate, 1), "non_2xx": int(errors.group(1)) if errors else 0,
              "p50_ms": _ms(out, "50%"), "p99_ms": _ms(out, "99%")}
    if server:
        result["server_cpu_ms_per_request"] = round((cpu_seconds(server) - cpu) * 1000 / max(requests, 1), 3)
    return result


def _ms(out: str, label: str) -> float:
    value, unit = re.search(rf"{re.escape(label)}\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    return round(float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit], 2)


def paced(urls: list[str], headers: dict[str, str], body: bytes, *, rate: float, seconds: float,
          grace: float = 10.0) -> dict[str, Any]:
    """Requests at fixed intervals for `seconds` (to `urls` in turn); latency from each request's
    scheduled send time, so a server that falls behind shows it. What is not answered `grace` seconds
    after the last send is cancelled and counted as `unanswered` (the run stays bounded when the rate
    is more than the server can take); p50/p99 then count those as slower than anything answered."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    local = threading.local()

    def one(url: str, scheduled: float) -> None:
        nonlocal errors
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        try:
            ok = session.post(url, data=body, headers=headers, timeout=grace).status_code < 300
        except requests.RequestException:
            ok = False
        with lock:
            latencies.append(time.perf_counter() - scheduled)
            errors += not ok

    count = int(rate * seconds)
    start = time.perf_counter() + 0.1
    pool = ThreadPoolExecutor(32)
    futures = []
    for n in range(count):
        scheduled = start + n / rate
        time.sleep(max(0.0, scheduled - time.perf_counter()))
        futures.append(pool.submit(one, urls[n % len(urls)], scheduled))
    wait(futures, timeout=grace)
    pool.shutdown(wait=True, cancel_futures=True)
    with lock:
        answered = list(latencies)
    unanswered = count - len(answered)
    ranked = answered + [float("inf")] * unanswered  # what never came counts as slower than anything

    def ms(share: float) -> float | None:
        value = percentile(ranked, share)
        return None if value == float("inf") else round(value * 1000, 2)

    return {"rate_per_second": round(rate, 1), "requests": count, "errors": errors, "unanswered": unanswered,
            "p50_ms": ms(0.50), "p99_ms": ms(0.99)}


def measure(*, seconds: int = 10, connections: int = 16, paced_seconds: float = 5.0,
            profile_dir: str | None = None) -> dict[str, Any]:
    """`profile_dir`: cProfile the command API's workers (bench/gunicorn_profile.py), a .prof file each."""
    from shared.auth import mint_token

    with tempfile.TemporaryDirectory(prefix="bench-api-") as folder:
        work = Path(folder)
        token = mint_token(SECRET, "bench-student", ["student"])
        env = {"CAREERLOOP_DATA_DIR": folder, "CAREERLOOP_JWT_SECRET": SECRET, "LOG_LEVEL": "WARNING",
               "EVENT_STORE_URL": f"sqlite:///{folder}/events-{{service}}.db",
               "READ_STORE_URL": f"sqlite:///{folder}/read-models.db", "BUS_URL": f"sqlite:///{folder}/bus.db"}
        subprocess.run([sys.executable, "-m", "services.init"], cwd=ROOT, env={**os.environ, **env}, check=True,
                       capture_output=True)
        api_port, bare_port = free_port(), free_port()
        profiling: dict[str, Any] = {}
        if profile_dir:
            Path(profile_dir).mkdir(parents=True, exist_ok=True)
            profiling = {"config": "bench/gunicorn_profile.py"}
            env = {**env, "BENCH_PROFILE_DIR": str(Path(profile_dir).resolve())}
        api = gunicorn("services.contacts.app:create_app()", api_port, env, work / "contacts-api.log", **profiling)
        bare = gunicorn("bench.bare_app:create_app()", bare_port, env, work / "bare.log")
        try:
            auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            paths = [f"/contacts/{contact}/touchpoints" for contact in (
                requests.post(f"http://127.0.0.1:{api_port}/contacts", headers=auth, timeout=10,
                              json={"name": f"Bench Contact {n}"}).json()["id"] for n in range(CONTACTS))]
            body = json.dumps({"kind": "outreach", "occurred_at": datetime.now(UTC).isoformat(), "text": "hello"})
            script = work / "post.lua"
            script.write_text(WRK_SCRIPT.format(token=token, body=body, paths=", ".join(f'"{p}"' for p in paths)))
            ceiling = wrk(f"http://127.0.0.1:{bare_port}/", script, seconds=seconds, connections=connections,
                          server=bare.pid)
            command = wrk(f"http://127.0.0.1:{api_port}/", script, seconds=seconds, connections=connections,
                          server=api.pid)
            urls = [f"http://127.0.0.1:{api_port}{path}" for path in paths]
            time.sleep(2)  # let wrk's last requests drain
            # the latency at a load the command can take (half its own throughput), then at the goal's
            sustainable = paced(urls, auth, body.encode(), rate=command["requests_per_second"] / 2,
                                seconds=paced_seconds)
            half = paced(urls, auth, body.encode(), rate=ceiling["requests_per_second"] / 2, seconds=paced_seconds)
        finally:
            for server in (api, bare):
                server.terminate()
                server.wait(30)
    return {"endpoint": "POST /contacts/{id}/touchpoints", "wrk": {"threads": 2, "connections": connections,
                                                                   "seconds": seconds},
            "gunicorn": gunicorn_settings(),
            "ceiling": ceiling, "command": command,
            "command_vs_ceiling": round(command["requests_per_second"] / ceiling["requests_per_second"], 3),
            "goal": ">= 0.6", "at_half_the_ceiling": half, "at_half_its_own_rate": sustainable, "p99_goal_ms": 30}


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
