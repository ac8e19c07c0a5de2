"""The fault harness, small enough for `make test` (`make faults` runs it at full size): each
scenario's properties hold on a short run, so the harness and what it proves cannot rot."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults import scenarios
from tests.faults.servers import Servers

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    own = Servers(tmp_path_factory.mktemp("fault-servers")).start_all()
    yield own
    own.stop_all()


def test_r1_processes_killed_under_load_lose_nothing_and_apply_nothing_twice(servers: Servers, tmp_path: Path) -> None:
    r1 = scenarios.r1_chaos(servers, tmp_path, commands=150, students=4, kills=5, reminder_in=(5, 15))
    assert r1["kills"] == 5 and not r1["chaos_errors"], r1
    assert r1["stored"]["lost"] == 0 and r1["stored"]["duplicated"] == 0, r1["stored"]
    assert r1["stored"]["accepted"] > 80, r1  # the load really ran
    assert r1["visible"] == {"checked": r1["visible"]["checked"]}, r1["visible"]  # nothing missing
    assert r1["server_errors_500"] == 0 and r1["unavailable_without_retry_after"] == 0, r1
    assert r1["deliveries"]["emails"] == r1["deliveries"]["webhooks"] == r1["reminders_expected"] > 0, r1
    # the dispatcher's one crash window (sent, outcome not yet recorded) may repeat a send per kill
    repeats = r1["deliveries"]["emails_duplicated"] + r1["deliveries"]["webhooks_duplicated"]
    assert repeats <= r1["kills_by_kind"]["dispatcher"], r1["deliveries"]
    assert r1["rebuild"] and all(not p.get("error") and not p["differences"] for p in r1["rebuild"].values()), \
        r1["rebuild"]


def test_r2_broker_and_database_outages_answer_503_with_retry_after_never_500(servers: Servers,
                                                                                 tmp_path: Path) -> None:
    r2 = scenarios.r2_outages(servers, tmp_path, commands=200, students=4, outage=5)
    assert r2["server_errors_500"] == 0 and r2["unavailable_without_retry_after"] == 0, r2
    assert r2["stored"]["lost"] == 0 and r2["stored"]["duplicated"] == 0, r2["stored"]
    assert r2["converged_seconds"] is not None, r2["visible"]
    broker, database = r2["outages"]["kafka"], r2["outages"]["ferretdb"]
    # the broker down: commands are still accepted (the event store is the outbox)
    assert sum(v for k, v in broker["answers_while_down"].items() if k.startswith("2")) > 0, broker
    # the database down: not ready, and commands are refused with 503 (+ Retry-After, checked above)
    assert "200" not in database["readyz_answers"] and database["readyz_answers"].get("503"), database
    assert database["answers_while_down"].get("503"), database


def test_r4_concurrent_updates_with_if_match_one_wins_per_version_and_none_is_lost_without(
        servers: Servers, tmp_path: Path) -> None:
    r4 = scenarios.r4_if_match(servers, tmp_path, writers=20, rounds=2)
    for round_ in r4["if_match_rounds"]:
        assert round_ == {**round_, "succeeded": 1, "precondition_failed": 19, "other": []}, r4
    assert r4["without_if_match"] == {"succeeded": 20, "other": [], "tags_kept": 20}, r4
