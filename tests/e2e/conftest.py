"""The `platform` fixture: the whole platform as processes (`tests/platform.py`) on each profile,
embedded and real (MongoDB-wire + Kafka from the environment), with its own data folder and free
ports; its processes' logs are printed when a test fails.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backends import marked, require_env
from tests.platform import Platform, profile_env


@pytest.fixture(params=["embedded", marked("real", "mongo", "kafka")])
def platform(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Platform]:
    real = request.param == "real"
    env = profile_env(request.param, tmp_path,
                      mongo=require_env("MONGODB_URI", "a MongoDB-wire server") if real else None,
                      kafka=require_env("KAFKA_BOOTSTRAP_SERVERS", "a Kafka broker") if real else None)
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
