"""The funnel and engagement on a seeded history, on the embedded backends and on Kafka + a
MongoDB-wire server: every number as the scenario says (computed from the scenario, not by the code
under test), small cells suppressed with their complements, a student's steps under the program they
were in at the time, and a new definition applied by a rebuild."""
from __future__ import annotations

import csv
import functools
import io
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from typing import Any

import pytest

from services.analytics.domain import Definition
from services.analytics.projections import FunnelViews
from shared.rebuild import Rebuild
from tests.integration.analytics import scenario
from tests.integration.analytics.conftest import Journey
from tests.integration.conftest import InProcessPlatform

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def seeded(analytics: Any, pseudonyms: Any, token: Any) -> tuple[InProcessPlatform, Journey]:
    platform = analytics()
    admin = token("admin-1", "admin")
    first = platform.client.post("/analytics/roster?effective_from=2026-08-20&filename=roster.csv",
                                 data=scenario.roster_csv(), content_type="text/csv", headers={"Authorization": admin})
    assert first.status_code == 201, first.json
    assert first.json["counts"] == {"recorded": 27, "unchanged": 0, "invalid": 0}
    assert first.json["warnings"] == ["ignored columns: Advisor Name"]
    moved = platform.client.post(
        "/analytics/roster?effective_from=2026-09-15", content_type="text/csv", headers={"Authorization": admin},
        data="student_id,program,college,degree_level,class_year\r\ns05,History,Arts,undergraduate,2027\r\n")
    assert moved.json["counts"] == {"recorded": 1, "unchanged": 0, "invalid": 0}, moved.json
    journey = Journey(platform, pseudonyms)
    scenario.publish_history(journey)
    platform.sync()
    return platform, journey


def get(platform: InProcessPlatform, path: str, auth: str) -> Any:
    response = platform.client.get(path, headers={"Authorization": auth})
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response


def test_the_funnel_by_program_is_what_the_scenario_says_with_small_cells_suppressed(seeded: Any, token: Any) -> None:
    platform, journey = seeded
    answer = get(platform, "/analytics/funnel?by=program", token("analyst-1", "analyst")).json
    expected = scenario.expected_funnel(min_cell=5)
    assert answer["definition_version"] == 1 and answer["min_cell"] == 5
    assert answer["freshness"]["last_event_at"] == max(e["time"] for e in journey.published)
    assert [g["key"] for g in answer["groups"]] == [{"program": g} for g in expected["groups"]]
    rows = {g["key"]["program"]: g for g in answer["groups"]} | {"(total)": answer["total"]}
    hidden_seen = 0
    for group, row in rows.items():
        for cell in row["steps"]:
            want = expected["cells"].get((group, cell["step"]), {"students": 0, "pairs": 0, "conversion": None,
                                                                 "median_days_from_previous": None})
            if (group, cell["step"]) in expected["hidden"]:
                hidden_seen += 1
                assert cell["suppressed"] and cell["students"] is None and cell["pairs"] is None, (group, cell)
                assert cell["conversion"] is None and cell["median_days_from_previous"] is None
                continue
            assert not cell["suppressed"], (group, cell)
            assert (cell["students"], cell["pairs"]) == (want["students"], want["pairs"]), (group, cell["step"])
            if cell["step"] != "contacted" and (group, scenario.STEPS[scenario.STEPS.index(cell["step"]) - 1]) \
                    not in expected["hidden"]:
                assert cell["conversion"] == want["conversion"], (group, cell["step"])
                assert cell["median_days_from_previous"] == want["median_days_from_previous"], (group, cell["step"])
    # Physics (three students) is hidden wherever it has anyone, and never alone in its column
    assert hidden_seen == len(expected["hidden"]) > 0
    assert all(not rows["Physics"]["steps"][0][k] for k in ("students", "pairs"))
    for n, step in enumerate(scenario.STEPS):
        hidden_here = [g for g in expected["groups"] if rows[g]["steps"][n]["suppressed"]]
        assert len(hidden_here) != 1, step
    # interviews of the whole history: held, no-shows and cancellations by side
    interviews = scenario.expected_interviews()
    total = answer["total"]["interviews"]
    assert total["held"] == interviews["held"]
    assert total["missed"] == interviews["missed"]
    assert total["cancelled"]["contact"] == interviews["cancelled_by_contact"]
    assert total["no_show_rate"] == interviews["no_show_rate"]
    assert answer["total"]["thank_you_on_time_rate"] == expected["on_time"]["(total)"]


def test_a_student_who_changed_major_keeps_earlier_steps_under_the_old_one(seeded: Any, token: Any) -> None:
    platform, _ = seeded
    platform.client.application.extensions["analytics"].service.min_cell = 1  # every cell shown
    auth = token("analyst-1", "analyst")
    mover = [p for p in scenario.pairs() if p.student == scenario.MOVER]
    # the scenario: s05's outreach happened in Economics, every conversation in History
    assert all(p.steps["contacted"].date() < scenario.MOVED_ON for p in mover)
    held = [p for p in mover if "interview_held" in p.steps]
    assert held and all(p.steps["interview_held"].date() >= scenario.MOVED_ON for p in held)
    before = get(platform, "/analytics/funnel?by=program&to=2026-09-15", auth).json
    after = get(platform, "/analytics/funnel?by=program&from=2026-09-15", auth).json

    def pairs_at(answer: dict[str, Any], program: str, step: str) -> int:
        row = next(g for g in answer["groups"] if g["key"]["program"] == program)
        return next(c["pairs"] for c in row["steps"] if c["step"] == step)

    def counted(program: str, step: str, early: bool) -> int:
        return sum(1 for p in scenario.pairs() if step in p.steps
                   and scenario.program_of(p.student, p.steps[step].date()) == program
                   and (p.steps[step].date() < scenario.MOVED_ON) == early)

    assert pairs_at(before, "Economics", "contacted") == counted("Economics", "contacted", True)
    assert pairs_at(after, "History", "interview_held") == counted("History", "interview_held", False)
    assert pairs_at(before, "History", "contacted") == counted("History", "contacted", True)
    everything = get(platform, "/analytics/funnel?by=program", auth).json
    assert pairs_at(everything, "History", "interview_held") == sum(
        1 for p in scenario.pairs() if "interview_held" in p.steps and (12 <= int(p.student[1:]) < 24
                                                                        or p.student == scenario.MOVER))
    assert counted("Economics", "contacted", True) == sum(1 for p in scenario.pairs() if int(p.student[1:]) < 12
                                                          and p.steps["contacted"].date() < scenario.MOVED_ON)


def test_csv_and_svg_say_the_same_and_hide_the_same(seeded: Any, token: Any, pseudonyms: Any) -> None:
    platform, _ = seeded
    auth = token("analyst-1", "analyst")
    answer = get(platform, "/analytics/funnel?by=program", auth).json
    response = get(platform, "/analytics/funnel.csv?by=program", auth)
    assert response.mimetype == "text/csv" and response.headers["X-Funnel-Definition"] == "1"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == (len(answer["groups"]) + 1) * len(scenario.STEPS)
    for row in rows:
        source = answer["total"] if row["program"] == "(total)" else next(
            g for g in answer["groups"] if g["key"]["program"] == row["program"])
        cell = next(c for c in source["steps"] if c["step"] == row["step"])
        assert row["suppressed"] == str(cell["suppressed"]).lower()
        assert row["students"] == ("" if cell["students"] is None else str(cell["students"]))
        assert row["definition_version"] == "1" and row["data_last_event_at"] == answer["freshness"]["last_event_at"]
    svg = get(platform, "/analytics/funnel.svg?by=program", auth)
    assert svg.mimetype == "image/svg+xml"
    root = ET.fromstring(svg.get_data())
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    title, desc = root[0], root[1]
    assert (title.tag, desc.tag) == (f"{SVG}title", f"{SVG}desc")
    assert title.text == "Informational-interview funnel by program"
    assert "Physics: contacted suppressed" in desc.text
    economics = next(g for g in answer["groups"] if g["key"]["program"] == "Economics")
    shown = next(c for c in economics["steps"] if c["step"] == "contacted")
    assert f"Economics: contacted {shown['students']}" in desc.text or shown["suppressed"]
    texts = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    assert "funnel definition v1" in texts and "suppressed" in texts
    # no pseudonym (and so no per-student row) in any answer
    everything = response.get_data(as_text=True) + svg.get_data(as_text=True) + str(answer)
    for student in scenario.STUDENTS:
        assert pseudonyms.student(student) not in everything


def test_weekly_engagement_counts_active_students_and_conversations(seeded: Any, token: Any) -> None:
    platform, journey = seeded
    auth = token("analyst-1", "analyst")
    answer = get(platform, "/analytics/engagement", auth).json
    active: dict[str, set[str]] = {}
    talks: dict[str, list[str]] = {}
    for event in journey.published:
        day = event["time"][:10]
        monday = (date.fromisoformat(day) - timedelta(days=date.fromisoformat(day).weekday())).isoformat()
        active.setdefault(monday, set()).add(event["subject"])
        if event["type"] == "careerloop.analytics.InterviewHeld.v1":
            talks.setdefault(monday, []).append(event["subject"])
    assert answer["weeks"] == sorted(active)
    for point in answer["total"]:
        n = len(active[point["week"]])
        assert point["active_suppressed"] == (0 < n < 5)
        assert point["active_students"] == (None if 0 < n < 5 else n)
        held = talks.get(point["week"], [])
        assert point["conversations_suppressed"] == (0 < len(set(held)) < 5)
        if not point["conversations_suppressed"]:
            assert point["conversations"] == len(held)
    svg = ET.fromstring(get(platform, "/analytics/engagement.svg", auth).get_data())
    assert svg[0].text == "Weekly engagement" and "Weekly active students" in svg[1].text
    rows = list(csv.DictReader(io.StringIO(get(platform, "/analytics/engagement.csv", auth).get_data(as_text=True))))
    assert [r["week"] for r in rows] == answer["weeks"]


def test_a_new_definition_is_applied_by_the_generations_rebuild(seeded: Any, token: Any, pseudonyms: Any,
                                                                  settings: Any) -> None:
    platform, _ = seeded
    auth = token("analyst-1", "analyst")
    before = get(platform, "/analytics/funnel", auth).json
    assert before["definition_version"] == 1
    assert before["total"]["thank_you_on_time_rate"] == scenario.expected_funnel(5)["on_time"]["(total)"]
    # when: definition 2 (thank-yous on time within 48 hours) is rebuilt beside the live read models
    namespace = platform.client.application.extensions["careerloop"].settings.get("BUS_NAMESPACE")
    v2 = functools.partial(FunnelViews, rules=Definition(2, thank_you_within_hours=48), pseudonymiser=pseudonyms)
    out = io.StringIO()
    assert Rebuild(v2, platform.bus, platform.read_store, namespace=namespace, out=out).run(grace_seconds=0) == 0
    assert "switched" in out.getvalue()
    # then: the answers name definition 2 and follow it; everything else is unchanged
    after = get(platform, "/analytics/funnel", auth).json
    assert after["definition_version"] == 2
    assert after["total"]["thank_you_on_time_rate"] == scenario.expected_funnel(5, 48)["on_time"]["(total)"]
    assert after["total"]["thank_you_on_time_rate"] != before["total"]["thank_you_on_time_rate"]
    assert after["total"]["steps"] == before["total"]["steps"]
    definitions = get(platform, "/analytics/definitions", auth).json
    assert definitions["definition"]["version"] == 2 and definitions["configured"]["version"] == 1
    assert definitions["definition"]["thank_you_within_hours"] == 48


def test_in_a_cross_table_no_row_or_column_shows_a_single_hidden_cell(seeded: Any, token: Any) -> None:
    platform, _ = seeded
    answer = get(platform, "/analytics/funnel?by=program,industry", token("analyst-1", "analyst")).json
    programs = {g["key"]["program"] for g in answer["groups"]}
    industries = {g["key"]["industry"] for g in answer["groups"]}
    assert programs == {"Economics", "History", "Physics"} and industries == {"finance", "education", "technology"}
    for n, step in enumerate(scenario.STEPS):
        hidden = {(g["key"]["program"], g["key"]["industry"]) for g in answer["groups"] if g["steps"][n]["suppressed"]}
        lines = [{(p, i) for p in programs} for i in industries] + [{(p, i) for i in industries} for p in programs]
        present = {(g["key"]["program"], g["key"]["industry"]) for g in answer["groups"]
                   if g["steps"][n]["suppressed"] or g["steps"][n]["students"]}
        for line in [*lines, present]:
            assert len(line & hidden & present) != 1, (step, sorted(line & present), sorted(hidden))
        for group in answer["groups"]:
            cell = group["steps"][n]
            assert cell["suppressed"] or cell["students"] == 0 or cell["students"] >= 5


def test_the_term_is_the_term_of_each_step_and_a_term_filter_keeps_only_its_steps(seeded: Any, token: Any) -> None:
    platform, _ = seeded
    auth = token("analyst-1", "analyst")
    by_term = get(platform, "/analytics/funnel?by=term", auth).json
    assert [g["key"] for g in by_term["groups"]] == [{"term": "fall-2026"}]  # Sept to Nov 2026
    assert get(platform, "/analytics/funnel?by=academic_year", auth).json["groups"][0]["key"] == {
        "academic_year": "2026-27"}
    spring = get(platform, "/analytics/funnel?term=spring-2027", auth).json
    assert spring["groups"] == [] and all(c["students"] == 0 for c in spring["total"]["steps"])


def test_redelivered_and_replayed_journey_events_change_no_number(seeded: Any, token: Any) -> None:
    platform, journey = seeded
    auth = token("analyst-1", "analyst")
    before = get(platform, "/analytics/funnel?by=program,industry", auth).json
    engagement = get(platform, "/analytics/engagement?by=program", auth).json
    journey.publish(list(reversed(journey.published)))  # every event again, in the opposite order
    platform.sync()
    after = get(platform, "/analytics/funnel?by=program,industry", auth).json
    assert {k: v for k, v in after.items() if k != "freshness"} == {k: v for k, v in before.items() if k != "freshness"}
    assert get(platform, "/analytics/engagement?by=program", auth).json["series"] == engagement["series"]
