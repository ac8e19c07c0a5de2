"""`make bench` keeps working: a tiny run of every measurement on the embedded profile gives the JSON
the README describes. (The figures themselves are never asserted: speed lives in benchmarks.)"""
from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from bench.workload import Workload
from shared.contracts import CATALOGS
from shared.events import parse_type

ROOT = Path(__file__).resolve().parents[2]


def test_the_synthetic_history_honours_every_contract_and_numbers_each_stream_from_one() -> None:
    catalogs = {(c.service, c.aggregate): c for c in CATALOGS}
    versions: dict[str, list[int]] = defaultdict(list)
    envelopes = list(Workload(3).envelopes())
    assert len(envelopes) == len(Workload(3))
    for envelope in envelopes:
        service = parse_type(envelope["type"])[0]
        catalogs[(service, envelope["streamtype"])].read(envelope)  # raises if the data breaks the contract
        versions[envelope["subject"]].append(envelope["streamversion"])
    assert all(v == list(range(1, len(v) + 1)) for v in versions.values())


def test_a_tiny_bench_run_writes_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    subprocess.run([sys.executable, "-m", "bench", "--profiles", "embedded", "--embedded-sizes", "400",
                    "--rate", "10", "--seconds", "2", "--embedded-translator-events", "400",
                    "--embedded-eventstore-commands", "100", "--embedded-api-seconds", "1",
                    "--embedded-funnel-students", "20", "--embedded-encryption-commands", "100",
                    "--out", str(out)], cwd=ROOT, check=True, capture_output=True)
    embedded = json.loads(out.read_text())["profiles"]["embedded"]
    rebuild = embedded["rebuild"]["400"]
    students = round(400 / len(Workload(1)))  # the bench rounds a size to whole students' histories
    assert (rebuild["students"], rebuild["events"]) == (students, len(Workload(students)))
    assert rebuild["peak_rss_mb"] > 0
    assert 0 < rebuild["apply_vs_ceiling"] < 1
    freshness = embedded["freshness"]
    assert freshness["commands"] >= 15 and freshness["not_visible_within_60s"] == 0
    assert 0 < freshness["p50_ms"] <= freshness["p99_ms"]
    translator = embedded["translator"]
    assert translator["events"] == len(Workload(round(400 / len(Workload(1)))))
    assert translator["integration_events"] > 0 and translator["translator_vs_raw"] > 0
    eventstore = embedded["eventstore"]
    assert eventstore["commands"] == 100 and eventstore["careerloop_vs_library"] > 0
    api = embedded["api"]
    assert api["ceiling"]["requests_per_second"] > 0 and api["command"]["non_2xx"] == 0
    assert api["command_vs_ceiling"] > 0 and api["at_half_its_own_rate"]["requests"] > 0
    encryption = embedded["encryption"]
    assert (encryption["commands"], encryption["contacts"]) == (100, 10)
    assert encryption["command_ratio"] > 0 and encryption["write_ratio"] > 0 and encryption["apply_ratio"] > 0
    funnel = embedded["funnel_query"]
    assert (funnel["students"], funnel["journey_events"]) == (20, 800) and funnel["queries"] == 120
    assert 0 < funnel["p50_ms"] <= funnel["p99_ms"]


def test_the_funnel_query_hook_times_every_call_after_the_warm_up() -> None:
    from bench.funnel import measure_funnel_query

    calls = []
    result = measure_funnel_query(lambda: calls.append(1), repeats=50, warmup=5)
    assert len(calls) == 55 and result["queries"] == 50
    assert 0 <= result["p50_ms"] <= result["p99_ms"] <= result["max_ms"]


def test_only_the_command_api_part_runs_with_only_api_under_the_apis_worker_settings(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    subprocess.run([sys.executable, "-m", "bench", "--profiles", "embedded", "--only", "api",
                    "--embedded-api-seconds", "1", "--out", str(out)], cwd=ROOT, check=True, capture_output=True)
    embedded = json.loads(out.read_text())["profiles"]["embedded"]
    assert list(embedded) == ["api"]
    api = embedded["api"]
    assert api["gunicorn"] == {"workers": 2, "worker_class": "gthread", "threads": 4}
    assert api["command"]["non_2xx"] == 0 and api["command"]["server_cpu_ms_per_request"] > 0
    assert api["ceiling"]["server_cpu_ms_per_request"] > 0


def test_only_refuses_a_part_it_does_not_know() -> None:
    refused = subprocess.run([sys.executable, "-m", "bench", "--only", "api,rebuilds"], cwd=ROOT,
                             capture_output=True, text=True)
    assert refused.returncode == 2 and "rebuilds" in refused.stderr
