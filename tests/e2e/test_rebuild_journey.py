"""End to end: an operator rebuilds the contact directory with the worker's command line while the
platform runs, and watches it through /metrics, as Prometheus scrapes it from gunicorn."""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.platform import ROOT, Platform
from tests.support import wait_until

pytestmark = pytest.mark.e2e


def metrics(api: str) -> dict[str, list[Any]]:
    response = requests.get(f"{api}/metrics", timeout=30)  # no token: internal, like /healthz
    assert response.status_code == 200, response.text
    return {f.name: f.samples for f in text_string_to_metric_families(response.text)}


def lag(api: str) -> float:
    return sum(s.value for s in metrics(api)["careerloop_projection_lag"])


def test_an_operator_rebuilds_the_directory_beside_the_live_one_and_the_platform_follows(
        platform: Platform, token: Callable[..., str]) -> None:
    # given the contacts service running, with a student's contacts projected
    platform.start("contacts-api", "contacts-relay", "contacts-directory")
    api, auth = platform.url("contacts"), {"Authorization": token("student-42")}
    for name in ("Ada Lovelace", "Grace Hopper", "Alan Turing"):
        assert requests.post(f"{api}/contacts", headers=auth, timeout=10, json={"name": name}).status_code == 201

    def names() -> list[str]:
        response = requests.get(f"{api}/contacts", headers=auth, timeout=10)
        assert response.status_code == 200, response.text
        return [c["name"] for c in response.json()["items"]]

    wait_until(lambda: names() == ["Ada Lovelace", "Alan Turing", "Grace Hopper"], what="the directory lists all three",
               seen=names)
    # and /metrics says generation 0 serves them, caught up
    wait_until(lambda: lag(api) == 0, what="the directory worker has no lag", seen=lambda: lag(api))
    assert [s.value for s in metrics(api)["careerloop_projection_generation"]] == [0]

    # when the operator rebuilds the directory (a short grace period before the old one is dropped)
    done = subprocess.run([sys.executable, "-m", "services.contacts.worker", "--rebuild", "--grace", "3",
                           "--progress-seconds", "0.5"], cwd=ROOT, env={**os.environ, **platform.env},
                          capture_output=True, text=True, timeout=120)

    # then it reports its progress, switches over and drops the old generation
    assert done.returncode == 0, done.stdout + done.stderr
    assert "rebuilding contact-directory into generation 1" in done.stdout, done.stdout
    assert "events applied" in done.stdout and "switched: queries read generation 1" in done.stdout, done.stdout
    assert "dropped generation 0" in done.stdout, done.stdout

    # and the API serves generation 1 with the same answers, and the live worker follows it
    wait_until(lambda: [s.value for s in metrics(api)["careerloop_projection_generation"]] == [1],
               what="/metrics reports generation 1")
    assert names() == ["Ada Lovelace", "Alan Turing", "Grace Hopper"]
    assert requests.post(f"{api}/contacts", headers=auth, timeout=10, json={"name": "Katherine Johnson"}).ok
    wait_until(lambda: "Katherine Johnson" in names(), what="the live worker projected the new contact", seen=names)
    wait_until(lambda: lag(api) == 0, what="the directory worker has no lag", seen=lambda: lag(api))
    assert {s.labels["generation"] for s in metrics(api)["careerloop_projection_committed_offset"]} == {"1"}
    assert "following the switch-over" in platform.logs["contacts-directory"].read_text()

    # and the status command shows where it is
    status = subprocess.run([sys.executable, "-m", "services.contacts.worker", "--status"], cwd=ROOT,
                            env={**os.environ, **platform.env}, capture_output=True, text=True, timeout=60)
    assert status.returncode == 0 and "generation 1 serves queries" in status.stdout, status.stdout + status.stderr

    # and every process, the API that opened a bus for /metrics too, stops cleanly
    codes = platform.stop()
    assert all(code == 0 for code in codes.values()), (codes, platform.dump_logs())
